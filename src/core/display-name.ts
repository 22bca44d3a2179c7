/**
 * Writing a mailbox back into a header: the display name kept byte-for-byte when it is
 * plain ASCII, RFC 2047-encoded (UTF-8, Q, encoded words of at most 75 characters) when it
 * holds raw 8-bit or control characters, as RFC 6532 names must stay ASCII for
 * non-SMTPUTF8 hops and an 8-bit header is otherwise ambiguous (UTF-8 or Latin-1?).
 *
 * Every value built here is re-parsed with the address parser and must give back exactly
 * the intended address, and must be foldable: the transform folds only at whitespace outside
 * quoted strings and angle brackets, so no such unbreakable piece may pass
 * MAX_HEADER_LINE_OCTETS (minus the field name). When a value fails either check (a hostile
 * display name that would swallow or fake the address, a 2000-character quoted name) the
 * name is re-encoded as encoded words (short, space-separated), and as a last resort
 * dropped. The result never contains CR, LF or NUL.
 *
 * Pure. Throws nothing.
 */
import libmime from 'libmime';
import { MAX_HEADER_LINE_OCTETS } from './limits.js';
import { foldPoints } from './fold.js';
import { parseAddressList, type ParsedMailbox } from './address.js';
import { utf8Length } from './utf8.js';

/** libmime's `maxLength` counts encoded text; 52 keeps `=?UTF-8?Q?...?=` well under 75. */
const ENCODED_TEXT_MAX = 52;

/** Printable ASCII plus SP and HTAB: what may be written back unchanged. */
export function isPlainAscii(s: string): boolean {
  return /^[\x20-\x7e\t]*$/.test(s);
}

/** A decoded name as RFC 2047 encoded words (phrase-safe Q encoding); '' for an empty name. */
export function encodePhrase(decoded: string): string {
  if (decoded === '') return '';
  return libmime.encodeWord(decoded, 'Q', ENCODED_TEXT_MAX);
}

/** A decoded name as a phrase: a quoted string when it is printable ASCII, else encoded words. */
export function formatPhrase(decoded: string): string {
  if (decoded === '') return '';
  if (isPlainAscii(decoded) && !decoded.includes('\t')) {
    return '"' + decoded.replace(/(["\\])/g, '\\$1') + '"';
  }
  return encodePhrase(decoded);
}

/** The display name to write for `mb`, or null for none. */
function displayFor(mb: ParsedMailbox): string | null {
  if (mb.displayRaw !== null && isPlainAscii(mb.displayRaw)) return mb.displayRaw;
  if (mb.displayName === null || mb.displayName === '') return null;
  return mb.displayRaw !== null ? encodePhrase(mb.displayName) : formatPhrase(mb.displayName);
}

/** Room on a header line for the value: 998 octets less the longest `Name: ` we write. */
const MAX_UNBREAKABLE_OCTETS = MAX_HEADER_LINE_OCTETS - 'From: '.length;

/**
 * True when every piece between fold points (whitespace outside quoted strings and angle
 * brackets, the transform's rule) fits on one header line with its leading whitespace.
 */
export function isFoldable(value: string): boolean {
  let pieceStart = 0;
  for (const point of foldPoints(value)) {
    if (utf8Length(value.slice(pieceStart, point)) > MAX_UNBREAKABLE_OCTETS) return false;
    pieceStart = point;
  }
  return utf8Length(value.slice(pieceStart)) <= MAX_UNBREAKABLE_OCTETS;
}

/** True when `value` parses as exactly one mailbox with exactly `address`, and can be folded. */
export function isSafeMailboxValue(value: string, address: string): boolean {
  const parsed = parseAddressList(value);
  return (
    parsed.errors === 0 &&
    parsed.groups === 0 &&
    parsed.mailboxes.length === 1 &&
    parsed.mailboxes[0]?.address === address &&
    isFoldable(value)
  );
}

function noBreaks(s: string): string {
  return s.replace(/[\r\n\0]/g, '');
}

/**
 * `display <address>` (or the bare address) for a new header value, where the display name
 * comes from `mb` (null: none).
 */
export function mailboxValue(mb: ParsedMailbox | null, address: string): string {
  const addr = noBreaks(address);
  if (mb) {
    const display = displayFor(mb);
    if (display !== null) {
      const v = noBreaks(`${display} <${addr}>`);
      if (isSafeMailboxValue(v, addr)) return v;
      if (mb.displayName !== null && mb.displayName !== '') {
        const encoded = `${encodePhrase(mb.displayName)} <${addr}>`;
        if (isSafeMailboxValue(encoded, addr)) return encoded;
      }
    }
  }
  return addr;
}

/**
 * A mailbox written as it was (raw source text, unfolded) when that is plain ASCII (or its
 * only non-ASCII is in the address) and parses back to the same address; otherwise rebuilt.
 */
export function rawMailboxValue(mb: ParsedMailbox): string {
  const raw = noBreaks(mb.raw);
  const outsideAddress = raw.split(mb.address).join('');
  if ((isPlainAscii(raw) || isPlainAscii(outsideAddress)) && isSafeMailboxValue(raw, mb.address)) return raw;
  return mailboxValue(mb, mb.address);
}
