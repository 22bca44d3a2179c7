/**
 * Independent builders for socketmap test traffic, written out by hand (never with the
 * production codec), and what Postfix 3.7.11 sent on one trivial-rewrite connection.
 */

/** A netstring: `<byte length>:<payload>,`. */
export function netstring(payload: string): string {
  return `${new TextEncoder().encode(payload).length}:${payload},`;
}

/** A request as Postfix's dict_sockmap.c writes it: `<map> <key>` in a netstring. */
export function request(map: string, key: string): string {
  return netstring(`${map} ${key}`);
}

/** Replies as Postfix expects them. */
export const ok = (value: string): string => netstring(`OK ${value}`);
export const notFound = (): string => netstring('NOTFOUND ');
export const temp = (reason: string): string => netstring(`TEMP ${reason}`);

/**
 * The requests one trivial-rewrite process sent, in order, while smtpd took
 * `MAIL FROM:<root@vm>` and then `RCPT TO:<Trx-1-A@Bounces.Shop.Example>`,
 * `RCPT TO:<x@sub.bounces.shop.example>` and `RCPT TO:<"a b"@bounces.shop.example>`, with
 * `relay_domains = …, socketmap:…:relay` and `transport_maps = …, socketmap:…:transport`
 * (recorded with a hand-written server; docs/protocols.md §6.3).
 */
export const POSTFIX_37_REQUESTS: readonly (readonly [string, string])[] = [
  ['transport', '*'],
  ['transport', '*'],
  ['relay', 'vm'],
  ['transport', 'root@vm'],
  ['relay', 'bounces.shop.example'],
  ['transport', 'Trx-1-A@Bounces.Shop.Example'],
  ['relay', 'sub.bounces.shop.example'],
  ['transport', 'x@sub.bounces.shop.example'],
  ['relay', 'bounces.shop.example'],
  ['transport', '"a b"@bounces.shop.example'],
];
