/**
 * Domain and address normalisation (IDNA, RFC 5890/3492 via the `punycode` package).
 *
 * Domains compare case-insensitively, with U-labels and A-labels equal
 * (`bücher.example` == `xn--bcher-kva.example`) and a trailing dot ignored.
 * The normal form is the lower-case A-label without trailing dot. Local parts have no
 * ASCII form and are kept as they are, except where a caller asks for the lower-cased key
 * (listKey) used by suppression lists and by the To/RCPT TO comparison.
 *
 * Pure: no I/O. Returns null for input that is not a domain rather than throwing.
 */
import punycode from 'punycode/punycode.js';
import { MAX_DOMAIN_LENGTH } from './limits.js';

const LABEL_RE = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;
/** Only ASCII letters, digits, hyphens and dots: NFC and IDNA's ToASCII leave it as it is, but for case. */
const ASCII_HOST_RE = /^[A-Za-z0-9.-]+$/;

/**
 * The label separators IDNA maps to `.` (UTS #46 §4, RFC 3490 §3.1): IDEOGRAPHIC FULL STOP
 * U+3002, FULLWIDTH FULL STOP U+FF0E, HALFWIDTH IDEOGRAPHIC FULL STOP U+FF61.
 */
const IDNA_DOTS_RE = /[\u3002\uff0e\uff61]/g;

/**
 * A domain as written, with every IDNA label separator written as `.` (`demo．example` →
 * `demo.example`); nothing else changes (letter case and U-labels stay as written). This is
 * the spelling trxmail writes into a message: a receiver that does not map those dots would
 * see another domain.
 */
export function withAsciiDots(domain: string): string {
  return domain.replace(IDNA_DOTS_RE, '.');
}

/** Most inputs normaliseDomain remembers; past it the memory starts again (a plain bound, no LRU bookkeeping). */
export const MAX_NORMALISED_DOMAINS_REMEMBERED = 4096;
/** Longest input remembered (longer ones are computed each time): the memory stays under ~1 MB. */
export const MAX_REMEMBERED_DOMAIN_INPUT = 300;
/** normaliseDomain's answers by input: the same few domains are asked many times per message. */
const normalised = new Map<string, string | null>();

/**
 * Normalise a domain to lower-case A-labels without trailing dot; null when it is not a
 * valid host name (empty labels, bad characters, too long, address literals). A pure
 * function; its answers are remembered (MAX_NORMALISED_DOMAINS_REMEMBERED inputs).
 */
export function normaliseDomain(input: string): string | null {
  const known = normalised.get(input);
  if (known !== undefined) return known;
  const answer = computeNormalisedDomain(input);
  if (input.length > MAX_REMEMBERED_DOMAIN_INPUT) return answer;
  if (normalised.size >= MAX_NORMALISED_DOMAINS_REMEMBERED) normalised.clear();
  normalised.set(input, answer);
  return answer;
}

function computeNormalisedDomain(input: string): string | null {
  let d = withAsciiDots(input.trim());
  if (d.endsWith('.')) d = d.slice(0, -1);
  if (d === '' || d.startsWith('[')) return null;
  let ascii: string;
  if (ASCII_HOST_RE.test(d)) {
    // Nothing for NFC or IDNA to change (the common case, asked several times per message).
    ascii = d.toLowerCase();
  } else {
    // NFC first so composed and decomposed forms of the same U-label agree; then lower-case.
    d = d.normalize('NFC').toLowerCase();
    try {
      ascii = punycode.toASCII(d);
    } catch {
      return null;
    }
  }
  if (ascii.length > MAX_DOMAIN_LENGTH) return null;
  const labels = ascii.split('.');
  for (const label of labels) {
    if (!LABEL_RE.test(label)) return null;
  }
  // Punycode that does not decode is not a valid A-label.
  for (const label of labels) {
    if (label.startsWith('xn--')) {
      try {
        const u = punycode.decode(label.slice(4));
        if (u === '') return null;
      } catch {
        return null;
      }
    }
  }
  return ascii;
}

/** The Unicode (U-label) form of a normalised domain, for display. */
export function displayDomain(normalised: string): string {
  try {
    return punycode.toUnicode(normalised);
  } catch {
    return normalised;
  }
}

/**
 * True when `domain` (normalised) is one of `allowed` (normalised), or a subdomain of one
 * when `allowSubdomains`. Lookalikes (`a.com.evil.test`, `evil-a.com`, `a.co`) never match:
 * the comparison is on whole labels.
 */
export function domainAllowed(domain: string, allowed: readonly string[], allowSubdomains: boolean): boolean {
  return allowingDomain(domain, allowed, allowSubdomains) !== null;
}

/**
 * The configured domain that allows `domain`: itself when listed, else (with subdomains
 * allowed) the longest listed parent; null when none. Its DKIM keys sign the message
 * (relaxed DMARC alignment: d= may be the organisational parent of the From domain).
 */
export function allowingDomain(domain: string, allowed: readonly string[], allowSubdomains: boolean): string | null {
  let best: string | null = null;
  for (const a of allowed) {
    if (domain === a) return a;
    if (allowSubdomains && domain.endsWith('.' + a) && (best === null || a.length > best.length)) best = a;
  }
  return best;
}

/** Split an addr-spec at its last `@`; null when there is none or either side is empty. */
export function splitAddress(address: string): { local: string; domain: string } | null {
  const at = address.lastIndexOf('@');
  if (at <= 0 || at === address.length - 1) return null;
  return { local: address.slice(0, at), domain: address.slice(at + 1) };
}

/**
 * The address with its domain normalised and the local part kept as written. Null when not
 * an address.
 */
export function canonicalAddress(address: string): string | null {
  const parts = splitAddress(address.trim());
  if (!parts) return null;
  const domain = normaliseDomain(parts.domain);
  if (!domain) return null;
  return `${parts.local}@${domain}`;
}

/**
 * Key for lists (suppression, per-from defaults) and for the To/RCPT TO comparison: canonical
 * address with the local part lower-cased too, so `John@X` and `john@x` are one entry (one
 * mailbox). Null when not an address.
 */
export function listKey(address: string): string | null {
  const c = canonicalAddress(address);
  if (!c) return null;
  const parts = splitAddress(c);
  return parts ? `${parts.local.toLowerCase()}@${parts.domain}` : null;
}
