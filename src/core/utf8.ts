/**
 * UTF-8 size of a string without encoding it (core/ is pure: no Buffer). Lone surrogates
 * count as 3 octets, as the WHATWG encoder writes them (U+FFFD).
 */

/** Octets `s` takes in UTF-8. */
export function utf8Length(s: string): number {
  let n = 0;
  for (const ch of s) {
    const c = ch.codePointAt(0) ?? 0;
    n += c < 0x80 ? 1 : c < 0x800 ? 2 : c < 0x10000 ? 3 : 4;
  }
  return n;
}
