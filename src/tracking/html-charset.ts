/**
 * Which charsets of a text/html part the tracking rewrite handles, and how it reads the bytes
 * of an attribute value in them.
 *
 * The rewrite scans the part's bytes as latin1 (one character per byte), so every byte it does
 * not replace is written back unchanged, and inserts ASCII only. That is exact for charsets in
 * which every ASCII byte means its ASCII character and no multi-byte sequence contains one:
 *  - UTF-8 (`utf-8`, `utf8`);
 *  - ISO-8859-1..16 (`iso-8859-N`, `iso8859-N`, `iso_8859-N[:year]`, `latin1`..`latin10`, `l1`..);
 *  - Windows-1250..1258 (`windows-125N`, `cp125N`, `x-cp125N`);
 *  - US-ASCII and no charset at all (RFC 2045 says us-ascii; real senders put 8-bit text in
 *    such parts, so it is read leniently: as UTF-8 when the bytes are valid UTF-8, else as
 *    windows-1252 — the same bytes go back out either way).
 * Anything else (UTF-16/32, ISO-2022-*, Shift_JIS, GB18030, KOI8, ...) is unsupported: the part
 * passes through unrewritten (tracking-stage.ts logs it).
 *
 * Value decoding follows the WHATWG Encoding labels where they differ from the MIME names:
 * iso-8859-1 / latin1 / us-ascii bytes 0x80-0x9F are read as windows-1252.
 *
 * Pure (iconv-lite tables only); never throws.
 */
import iconv from 'iconv-lite';

export interface HtmlCharset {
  /** iconv-lite name used to read attribute values, or 'lenient' (UTF-8, else windows-1252). */
  readonly decodeAs: string;
}

const LATIN_N: Readonly<Record<string, number>> = { 1: 1, 2: 2, 3: 3, 4: 4, 5: 9, 6: 10, 7: 13, 8: 14, 9: 15, 10: 16 };

function isoName(n: number): string | null {
  if (n < 1 || n > 16 || n === 12) return null;
  return n === 1 ? 'windows-1252' : `iso-8859-${n}`;
}

/** The charset handling for a Content-Type charset parameter (false/undefined/'' = none), or null when unsupported. */
export function htmlCharset(label: string | false | undefined): HtmlCharset | null {
  const l = (label === false || label === undefined ? '' : label).trim().toLowerCase().replace(/^"(.*)"$/, '$1');
  if (l === '' || l === 'us-ascii' || l === 'ascii' || l === 'us' || l === 'ansi_x3.4-1968' || l === 'iso646-us') {
    return { decodeAs: 'lenient' };
  }
  if (l === 'utf-8' || l === 'utf8') return { decodeAs: 'utf-8' };
  let m = /^iso[-_ ]?8859[-_ ]?(\d{1,2})(?::\d{4})?$/.exec(l);
  if (m !== null) {
    const name = isoName(Number(m[1]));
    return name === null ? null : { decodeAs: name };
  }
  m = /^(?:latin|l)(\d{1,2})$/.exec(l);
  if (m !== null) {
    const n = LATIN_N[m[1] ?? ''];
    const name = n === undefined ? null : isoName(n);
    return name === null ? null : { decodeAs: name };
  }
  m = /^(?:windows-|x-cp|cp)(125[0-8])$/.exec(l);
  if (m !== null) return { decodeAs: `windows-${m[1] ?? ''}` };
  return null;
}

const ASCII_ONLY = /^[\x00-\x7f]*$/;
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Turn the bytes of an attribute value, given as a latin1 string (one char per byte), into
 * text in `charset`.
 */
export function decodeRawValue(raw: string, charset: HtmlCharset): string {
  if (ASCII_ONLY.test(raw)) return raw;
  const bytes = Buffer.from(raw, 'latin1');
  if (charset.decodeAs === 'lenient') {
    try {
      return strictUtf8.decode(bytes);
    } catch (err: unknown) {
      if (!(err instanceof TypeError)) throw err;
      return iconv.decode(bytes, 'windows-1252');
    }
  }
  return iconv.decode(bytes, charset.decodeAs);
}
