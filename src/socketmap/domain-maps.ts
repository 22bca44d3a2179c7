/**
 * The socketmap lookup that lets Postfix take mail for customers' return-path domains
 * without a reload: main.cf names two maps on trxmail's socketmap server,
 *
 *   relay_domains  = $bounce_domain, socketmap:unix:private/trxmail-socketmap:relay
 *   transport_maps = inline:{ $bounce_domain=<bounce transport> }, socketmap:unix:private/trxmail-socketmap:transport
 *
 * and this module answers both (docs/protocols.md §6.3 says what Postfix 3.7 asks):
 *
 * - `relay`: the key is a domain, case-folded by Postfix but in whatever label form the
 *   client typed (U-labels are not converted). Found, with the domain as the value (relay
 *   lookups only need a non-empty one), when it is the bounce domain or a return-path domain.
 * - `transport`: the key is a whole address, `local@domain`, with the case the client typed
 *   and a quoted local part in quotes (`"a b"@domain`); Postfix does not look the bare domain
 *   up in a socketmap. Found, with the bounce transport (`lmtp:unix:private/trxmail-lmtp`), when the
 *   domain after the last `@` is the bounce domain or a return-path domain. A key without
 *   `@` is taken as a domain. The key `*` (Postfix's wildcard probe, sent at start and every
 *   30 s) is never found: answering it would route all mail to the bounce intake.
 * - Any other map name: not found.
 *
 * Domains are compared as lower-case A-labels (src/core/domain.ts); only exact domains match,
 * not their subdomains, like the bounce-MX listener in postfix/master.cf. A key that is not
 * a valid domain is not found, without asking isReturnPathDomain.
 *
 * Pure apart from the injected isReturnPathDomain, whose TransientError passes through (the
 * session answers TEMP). Throws ConfigError from domainMapsLookup() for a bounce domain or
 * transport that cannot be used.
 */
import { normaliseDomain } from '../core/domain.js';
import { ConfigError } from '../lib/errors.js';
import type { SocketmapLookup } from './session.js';

/** The map name for relay_domains (`socketmap:…:relay`). */
export const RELAY_MAP = 'relay';
/** The map name for transport_maps (`socketmap:…:transport`). */
export const TRANSPORT_MAP = 'transport';
/**
 * The map name for the bounce MX listener's check_recipient_access (`socketmap:…:access`):
 * the key is the recipient address, the answer `OK` for an address in one of our domains.
 */
export const ACCESS_MAP = 'access';
/** The key Postfix's transport_maps looks up when nothing else matched (trivial-rewrite transport.c). */
export const TRANSPORT_WILDCARD = '*';

/** `transport:nexthop` as transport(5) wants it, e.g. `lmtp:unix:private/trxmail-lmtp` or `trxmail-bounce:`. */
const TRANSPORT_RE = /^[A-Za-z0-9][A-Za-z0-9._-]*:[^\0\r\n]*$/;

export interface DomainMapsOptions {
  /** True when `domain` (a lower-case A-label domain) is a configured return-path domain. May reject with TransientError. */
  readonly isReturnPathDomain: (domain: string) => Promise<boolean>;
  /** trxmail's own bounce domain; always found. */
  readonly bounceDomain: string;
  /** Where mail for these domains goes, as transport_maps wants it: `lmtp:unix:private/trxmail-lmtp`. */
  readonly bounceTransport: string;
}

/** The domain a transport key names: the part after the last `@`, or the whole key without one. */
function transportKeyDomain(key: string): string {
  const at = key.lastIndexOf('@');
  return at < 0 ? key : key.slice(at + 1);
}

/** Builds the lookup for the `relay`, `transport` and `access` maps. */
export function domainMapsLookup(options: DomainMapsOptions): SocketmapLookup {
  const bounceDomain = normaliseDomain(options.bounceDomain);
  if (bounceDomain === null) throw new ConfigError(`bounce domain ${JSON.stringify(options.bounceDomain)} is not a domain name`);
  const transport = options.bounceTransport;
  if (!TRANSPORT_RE.test(transport)) {
    throw new ConfigError(`bounce transport ${JSON.stringify(transport)} is not "transport:nexthop" (e.g. lmtp:inet:127.0.0.1:8894)`);
  }
  const isReturnPathDomain = options.isReturnPathDomain;

  /** The normalised domain when it is ours (bounce or return-path domain), else null. */
  const ours = async (raw: string): Promise<string | null> => {
    const domain = normaliseDomain(raw);
    if (domain === null) return null;
    if (domain === bounceDomain) return domain;
    return (await isReturnPathDomain(domain)) ? domain : null;
  };

  return async (map, key) => {
    switch (map) {
      case RELAY_MAP:
        return ours(key);
      case TRANSPORT_MAP:
        if (key === TRANSPORT_WILDCARD) return null;
        return (await ours(transportKeyDomain(key))) === null ? null : transport;
      case ACCESS_MAP:
        return key.includes('@') && (await ours(transportKeyDomain(key))) !== null ? 'OK' : null;
      default:
        return null;
    }
  };
}
