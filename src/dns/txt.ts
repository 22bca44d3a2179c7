/**
 * TXT record text: splitting a value into character-strings, writing them in zone-file
 * syntax, and making text that came from the DNS safe to show.
 *
 * RFC 1035 3.3 (a character-string is one length octet and at most 255 octets of data; a
 * TXT record holds one or more, which DKIM and SPF read concatenated without separator,
 * RFC 6376 3.6.2.2 and RFC 7208 3.3) and RFC 1035 5.1 (zone-file quoting: `\"`, `\\`, `\DDD`).
 *
 * Limits: TXT_CHARACTER_STRING_MAX_OCTETS, MAX_FOUND_VALUE_LENGTH. Pure; throws nothing.
 */
import { MAX_FOUND_VALUE_LENGTH, TXT_CHARACTER_STRING_MAX_OCTETS } from './limits.js';

const utf8 = new TextEncoder();

/**
 * Split `value` into character-strings of at most `max` octets of UTF-8 each, never inside a
 * code point. The empty value is one empty string (a TXT record has at least one).
 */
export function splitCharacterStrings(value: string, max = TXT_CHARACTER_STRING_MAX_OCTETS): string[] {
  const out: string[] = [];
  let current = '';
  let octets = 0;
  for (const ch of value) {
    const n = utf8.encode(ch).length;
    if (octets + n > max) {
      out.push(current);
      current = '';
      octets = 0;
    }
    current += ch;
    octets += n;
  }
  if (current !== '' || out.length === 0) out.push(current);
  return out;
}

/** One character-string in zone-file syntax: quoted, `"` and `\` escaped, octets outside printable ASCII as `\DDD`. */
export function quoteCharacterString(s: string): string {
  let out = '"';
  for (const byte of utf8.encode(s)) {
    if (byte === 0x22 || byte === 0x5c) out += '\\' + String.fromCharCode(byte);
    else if (byte >= 0x20 && byte <= 0x7e) out += String.fromCharCode(byte);
    else out += '\\' + String(byte).padStart(3, '0');
  }
  return out + '"';
}

/**
 * Text from the DNS made safe to print: control characters (C0, DEL, C1) as `\xNN`, cut to
 * `max` code units with "..." added. The comparison always uses the raw text.
 */
export function displayText(s: string, max = MAX_FOUND_VALUE_LENGTH): string {
  const escaped = s.replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => '\\x' + c.charCodeAt(0).toString(16).padStart(2, '0'));
  return escaped.length > max ? escaped.slice(0, max) + '...' : escaped;
}
