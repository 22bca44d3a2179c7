/**
 * RFC 5321 envelope paths (MAIL FROM / RCPT TO as an adapter received them; RFC 6531 UTF-8
 * local parts): parseEnvelopeAddress. The header address lists are in address.ts.
 *
 * Postfix hands an address over in two forms: the milter gets the path as the client typed
 * it (`<"john smith"@example.com>`), the policy service gets Postfix's *internal* form, with
 * the local part unquoted (`sender=john smith@example.com`). smtpPathFromPostfixInternal turns
 * the second into the first (Postfix's own quote_822_local rule: quote the part before the
 * last `@` when it is not a dot-atom), so one parser gives both adapters one answer.
 *
 * Limits: MAX_ADDRESS_LENGTH, MAX_LOCAL_PART_LENGTH (octets, RFC 5321 §4.5.3.1).
 * Pure; never throws.
 */
import { isDotAtom, localPartText } from './address.js';
import { normaliseDomain, withAsciiDots } from './domain.js';
import { MAX_ADDRESS_LENGTH, MAX_LOCAL_PART_LENGTH } from './limits.js';
import { utf8Length } from './utf8.js';


export type EnvelopeAddress =
  | { readonly kind: 'null' }
  | {
      readonly kind: 'address';
      /** `local@domain` as given (brackets, route and needless quotes removed; the domain as below). */
      readonly address: string;
      readonly local: string;
      /**
       * Domain as given, except that IDNA's other full stops (U+3002, U+FF0E, U+FF61) are
       * written `.` (withAsciiDots); a literal keeps its brackets.
       */
      readonly domain: string;
      /** Normalised domain (lower-case A-label), null for an address literal. */
      readonly normalisedDomain: string | null;
    }
  | { readonly kind: 'invalid' };

const INVALID: EnvelopeAddress = { kind: 'invalid' };
const QTEXT_RE = /^(?:[\x20\x21\x23-\x5b\x5d-\x7e\u0080-\u{10FFFF}]|\\[\x20-\x7e])*$/u;
const LITERAL_RE = /^\[[\x21-\x5a\x5e-\x7e]+\]$/;

/**
 * The RFC 5321 form of an address in Postfix's internal form (policy delegation `sender=`,
 * `recipient=`): the local part, everything before the last `@`, quoted (with `"` and `\`
 * escaped) when it is not a dot-atom; `""` (the null sender) and text without `@` unchanged.
 */
export function smtpPathFromPostfixInternal(internal: string): string {
  const at = internal.lastIndexOf('@');
  if (at <= 0) return internal;
  return localPartText(internal.slice(0, at), true) + internal.slice(at);
}

/**
 * Parse a MAIL FROM / RCPT TO path as an adapter received it: with or without the angle
 * brackets, with an obsolete source route tolerated. `""` and `<>` are the null path.
 * Checks RFC 5321 lengths (path 256, local part 64 octets) and that the domain is a valid
 * host name (IDN allowed) or an address literal. Never throws.
 */
export function parseEnvelopeAddress(input: string): EnvelopeAddress {
  if (input.length > MAX_ADDRESS_LENGTH + 2 + 2 * 64) return INVALID;
  let s = input.replace(/^[ \t]+|[ \t]+$/g, '');
  const open = s.startsWith('<');
  const close = s.endsWith('>');
  if (open !== close) return INVALID;
  if (open) s = s.slice(1, -1);
  if (s === '') return { kind: 'null' };
  if (s.startsWith('@')) {
    const colon = s.indexOf(':');
    if (colon < 0) return INVALID;
    s = s.slice(colon + 1);
  }
  if (utf8Length(s) > MAX_ADDRESS_LENGTH) return INVALID;

  let local: string;
  let rest: string;
  if (s.startsWith('"')) {
    let j = 1;
    while (j < s.length && s[j] !== '"') j += s[j] === '\\' ? 2 : 1;
    if (j >= s.length) return INVALID;
    const content = s.slice(1, j);
    if (!QTEXT_RE.test(content)) return INVALID;
    rest = s.slice(j + 1);
    local = localPartText(content.replace(/\\(.)/g, '$1'), true);
  } else {
    const at = s.indexOf('@');
    if (at < 0) return INVALID;
    local = s.slice(0, at);
    rest = s.slice(at);
    if (!isDotAtom(local)) return INVALID;
  }
  if (!rest.startsWith('@')) return INVALID;
  const given = rest.slice(1);
  const domain = given.startsWith('[') ? given : withAsciiDots(given);
  if (local === '' || utf8Length(local) > MAX_LOCAL_PART_LENGTH) return INVALID;
  if (LITERAL_RE.test(domain)) {
    return { kind: 'address', address: `${local}@${domain}`, local, domain, normalisedDomain: null };
  }
  const normalisedDomain = normaliseDomain(domain);
  if (normalisedDomain === null || /\s/.test(domain)) return INVALID;
  return { kind: 'address', address: `${local}@${domain}`, local, domain, normalisedDomain };
}
