/**
 * The interface between the milter protocol layer and whoever decides (the rules engine,
 * wired in elsewhere): the handler, its replies and its end-of-message edits. Types only,
 * plus small reply constructors.
 *
 * Protocol: Sendmail milter v6 as spoken by Postfix (docs/protocols.md §1).
 *
 * Contract the session (src/milter/session.ts) keeps:
 * - one handler instance per milter connection (MilterHandlerFactory);
 * - calls are strictly sequential: no call starts before the previous one settled;
 * - every method but eom() is optional; an absent method means "not interested": the session
 *   then asks the MTA not to send the event (NOHELO, NODATA, NOEOH, NOBODY, NOUNKNOWN) or
 *   not to wait for a reply to it (NR_CONN, NR_MAIL, NR_RCPT, NR_HDR); without connect() and
 *   with `needsConnectInfo: false`, not to send C at all (NOCONNECT);
 * - an event named in `replyLater` is not waited for either (NR_*), though its method is
 *   called: a refusal it returns is given at the next event the MTA waits for (at the latest
 *   end-of-message), and after such a refusal further body chunks are not handed over;
 * - a method returning undefined means `continue`;
 * - every message that reached mail() ends with exactly one eom() or abort(); close() comes
 *   last, once, when the connection ends;
 * - a method that throws (or rejects) gets the MTA the reply of smtpReplyFor(err): the
 *   RejectError's own reply, otherwise 451 4.3.0 (a tempfail); it never crashes the server.
 *
 * Throws nothing.
 */

import type { HeaderField } from '../core/types.js';
import type { ConnectFamily } from './decode.js';
import type { CustomReply } from './encode.js';
import type { MilterMacros } from './macros.js';

/** The answer to one event. Postfix maps r to 550 5.7.1 and t to 451 4.7.1. */
export type MilterReply =
  | { readonly kind: 'continue' }
  | { readonly kind: 'accept' }
  | { readonly kind: 'reject' }
  | { readonly kind: 'tempfail' }
  | { readonly kind: 'discard' }
  | ({ readonly kind: 'custom' } & CustomReply);

export const MilterReplies = {
  continue: { kind: 'continue' },
  accept: { kind: 'accept' },
  reject: { kind: 'reject' },
  tempfail: { kind: 'tempfail' },
  discard: { kind: 'discard' },
  custom(code: number, enhanced: string, text: string | readonly string[]): MilterReply {
    return { kind: 'custom', code, enhanced, text };
  },
} as const satisfies Record<string, MilterReply | ((...a: never[]) => MilterReply)>;

/** Body bytes for a replacement: a Node Readable, an async generator, or an array of chunks. */
export type MilterBodySource = AsyncIterable<Uint8Array> | Iterable<Uint8Array>;

/**
 * An end-of-message edit. Header values are written as they should appear after "Name:"
 * without the usual single leading space (the session adds it when HDR_LEADSPC is in use);
 * folded values use CRLF or LF followed by space/tab. Addresses are sent as given.
 */
export type MilterEdit =
  /** SMFIF_CHGFROM. `args` are ESMTP parameters such as "ENVID=x"; Postfix keeps RET/ENVID. */
  | { readonly kind: 'chgfrom'; readonly address: string; readonly args?: readonly string[] | undefined }
  /** SMFIF_ADDRCPT, or SMFIF_ADDRCPT_PAR when args are given (Postfix keeps NOTIFY/ORCPT). */
  | { readonly kind: 'addrcpt'; readonly address: string; readonly args?: readonly string[] | undefined }
  /** SMFIF_DELRCPT. Matched against the original recipient as given in RCPT TO. */
  | { readonly kind: 'delrcpt'; readonly address: string }
  /** SMFIF_CHGHDRS. `index` is 1-based among fields of this name; value "" deletes the field. */
  | { readonly kind: 'chgheader'; readonly name: string; readonly index: number; readonly value: string }
  /** SMFIF_ADDHDRS. Appended after the last header. */
  | { readonly kind: 'addheader'; readonly name: string; readonly value: string }
  /** SMFIF_ADDHDRS. `index` 0 is the very top (above Postfix's own Received:). */
  | { readonly kind: 'insheader'; readonly index: number; readonly name: string; readonly value: string }
  /** SMFIF_CHGBODY. CRLF lines; at most one per message; streamed in <= 65535-byte packets. */
  | { readonly kind: 'replbody'; readonly body: MilterBodySource };

export interface MilterEomResult {
  /** Applied in order, and only when `reply` is continue or accept. */
  readonly edits: readonly MilterEdit[];
  readonly reply: MilterReply;
}

/** The C (connect) event: the SMTP client as Postfix saw it. */
export interface MilterConnectInfo {
  /** Client host name, or "[addr]" when unknown. */
  readonly hostname: string;
  readonly family: ConnectFamily;
  readonly port: number | null;
  readonly address: string | null;
}

/** An envelope address with its ESMTP arguments. */
export interface MilterEnvelopeAddress {
  /** Exactly as the client typed it, e.g. "<a@b>" or "<>". */
  readonly raw: string;
  /** `raw` without surrounding whitespace and one pair of angle brackets ("" = null sender). */
  readonly address: string;
  /** ESMTP arguments, e.g. ["SIZE=1234", "BODY=8BITMIME"]. */
  readonly args: readonly string[];
}

/** Everything the session gathered for one message, handed to eom(). */
export interface MilterMessageContext {
  /** The C event, or null when not sent (no connect() method and `needsConnectInfo: false`). */
  readonly connect: MilterConnectInfo | null;
  /** HELO/EHLO name, or null when not sent (the handler has no helo() method). */
  readonly helo: string | null;
  readonly sender: MilterEnvelopeAddress;
  /** Recipients the MTA reported and the handler did not refuse at RCPT, in order. */
  readonly recipients: readonly MilterEnvelopeAddress[];
  /**
   * Header fields in order, excluding Postfix's own first Received:. Values keep their
   * leading whitespace when HDR_LEADSPC was negotiated (`headerLeadingSpace`), and folds
   * are CRLF + WSP (Postfix's bare-LF folding converted back).
   */
  readonly headers: readonly HeaderField[];
  /** Macros visible at end-of-message (all stages of this connection and message). */
  readonly macros: MilterMacros;
  /** The queue id (macro `i`), or null. */
  readonly queueId: string | null;
  /** The SASL login ({auth_authen}, kept from MAIL), or null when not authenticated. */
  readonly authUser: string | null;
  /** SMFIF_* actions the MTA granted: edits needing others are refused with a tempfail. */
  readonly actions: number;
  readonly headerLeadingSpace: boolean;
}

/** The reply to give; undefined (or an async method without a return) means continue. */
export type MilterHandlerResult = MilterReply | void | Promise<MilterReply | void>;

/** Events whose reply the MTA can be told not to wait for (SMFIP_NR_*). */
export type MilterDeferrableEvent = 'connect' | 'helo' | 'mail' | 'rcpt' | 'data' | 'header' | 'eoh' | 'body' | 'unknown';

export interface MilterHandler {
  /**
   * Events this handler has a method for but need not answer at once (the method only
   * collects, say): the MTA is told not to wait (NR_*), which saves a round trip per event.
   */
  readonly replyLater?: readonly MilterDeferrableEvent[];
  /** false: eom() does not read ctx.connect, so without connect() C is not sent (NOCONNECT). Default true. */
  readonly needsConnectInfo?: boolean;
  connect?(info: MilterConnectInfo, macros: MilterMacros): MilterHandlerResult;
  helo?(name: string, macros: MilterMacros): MilterHandlerResult;
  /** `sender` without angle brackets ("" for the null sender); `args` ESMTP parameters. */
  mail?(sender: string, args: readonly string[], macros: MilterMacros): MilterHandlerResult;
  rcpt?(recipient: string, args: readonly string[], macros: MilterMacros): MilterHandlerResult;
  data?(macros: MilterMacros): MilterHandlerResult;
  /** `value` as in MilterMessageContext.headers (CRLF folds, leading space kept). */
  header?(name: string, value: string): MilterHandlerResult;
  eoh?(macros: MilterMacros): MilterHandlerResult;
  /** One body chunk (<= 65535 bytes from Postfix); the handler's own (the session keeps no reference to it). */
  body?(chunk: Buffer): MilterHandlerResult;
  unknown?(line: string, macros: MilterMacros): MilterHandlerResult;
  eom(ctx: MilterMessageContext): MilterEomResult | Promise<MilterEomResult>;
  /** The current message ended without eom() (A, RSET, HELO mid-message, refusal, disconnect). */
  abort?(): void | Promise<void>;
  /** The connection ended. */
  close?(): void | Promise<void>;
}

/** Facts about a milter connection (the MTA side, not the SMTP client). */
export interface MilterPeerInfo {
  /** Per-server connection number, for logs. */
  readonly id: number;
  /** "tcp" or "unix". */
  readonly transport: 'tcp' | 'unix';
  /** "addr:port" of the MTA for TCP, the socket path for unix sockets. */
  readonly remote: string;
}

export type MilterHandlerFactory = (peer: MilterPeerInfo) => MilterHandler;
