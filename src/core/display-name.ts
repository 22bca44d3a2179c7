/**
 * Writing a mailbox back into a header: the display name kept byte-for-byte when it is
 * plain ASCII, RFC 2047-encoded (UTF-8, Q, encoded words of at most 75 characters) when it
 * holds raw 8-bit or control characters, as RFC 6532 names must stay ASCII for
 * non-SMTPUTF8 hops and an 8-bit header is otherwise ambiguous (UTF-8 or Latin-1?).
 *
 * Every value built here is re-parsed with the address parser and must give back exactly
 * the intended address; when it does not (a hostile display name that would swallow or
 * fake the address) the name is re-encoded, and as a last resort dropped. The result never
 * contains CR, LF or NUL.
 *
 * Pure. Throws nothing.
 */
import libmime from 'libmime';
import { parseAddressList, type ParsedMailbox } from './address.js';

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

/** True when `value` parses as exactly one mailbox with exactly `address`. */
export function isSingleMailbox(value: string, address: string): boolean {
  const parsed = parseAddressList(value);
  return (
    parsed.errors === 0 && parsed.groups === 0 && parsed.mailboxes.length === 1 && parsed.mailboxes[0]?.address === address
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
      if (isSingleMailbox(v, addr)) return v;
      if (mb.displayName !== null && mb.displayName !== '') {
        const encoded = `${encodePhrase(mb.displayName)} <${addr}>`;
        if (isSingleMailbox(encoded, addr)) return encoded;
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
  if ((isPlainAscii(raw) || isPlainAscii(outsideAddress)) && isSingleMailbox(raw, mb.address)) return raw;
  return mailboxValue(mb, mb.address);
}
