/**
 * HTML character references in attribute values (WHATWG HTML "character reference state"),
 * and the escaping trxmail uses for the attribute values it writes.
 *
 * Decoding follows the tokenizer as it runs inside an attribute value:
 *  - numeric `&#38;` / `&#x26;` (the `;` is optional): 0, surrogates and values past U+10FFFF
 *    become U+FFFD; 0x80-0x9F map through windows-1252 as browsers do;
 *  - named: the longest known name wins; a name matched without its `;` is decoded only when
 *    it is one of the legacy names that may stand without it (`&amp`, `&copy`, ... the 106 of
 *    the spec) AND the next character is neither `=` nor ASCII alphanumeric, so a query like
 *    `?a=1&copy=2` stays as written, as it does in a browser.
 *  - the table holds every legacy name (the Latin-1 range plus amp/lt/gt/quot/AMP/...) and the
 *    named references that can appear in URLs or common text (`&apos;`, `&sol;`, `&quest;`,
 *    `&equals;`, `&num;`, `&percnt;`, typographic quotes and dashes, ...). A name outside the
 *    table is left as written (`&` included): such a link is then signed with that text,
 *    which is the most that can go wrong, and only for names no real link uses.
 *
 * Pure; never throws. Input length is whatever the caller holds (bounded by the HTML cap).
 */

/** The legacy names of the HTML spec that are decoded even without `;` (Latin-1 range, A0..FF). */
const LATIN1_NAMES = [
  'nbsp', 'iexcl', 'cent', 'pound', 'curren', 'yen', 'brvbar', 'sect', 'uml', 'copy', 'ordf', 'laquo', 'not', 'shy', 'reg', 'macr',
  'deg', 'plusmn', 'sup2', 'sup3', 'acute', 'micro', 'para', 'middot', 'cedil', 'sup1', 'ordm', 'raquo', 'frac14', 'frac12', 'frac34', 'iquest',
  'Agrave', 'Aacute', 'Acirc', 'Atilde', 'Auml', 'Aring', 'AElig', 'Ccedil', 'Egrave', 'Eacute', 'Ecirc', 'Euml', 'Igrave', 'Iacute', 'Icirc', 'Iuml',
  'ETH', 'Ntilde', 'Ograve', 'Oacute', 'Ocirc', 'Otilde', 'Ouml', 'times', 'Oslash', 'Ugrave', 'Uacute', 'Ucirc', 'Uuml', 'Yacute', 'THORN', 'szlig',
  'agrave', 'aacute', 'acirc', 'atilde', 'auml', 'aring', 'aelig', 'ccedil', 'egrave', 'eacute', 'ecirc', 'euml', 'igrave', 'iacute', 'icirc', 'iuml',
  'eth', 'ntilde', 'ograve', 'oacute', 'ocirc', 'otilde', 'ouml', 'divide', 'oslash', 'ugrave', 'uacute', 'ucirc', 'uuml', 'yacute', 'thorn', 'yuml',
] as const;

/** Names that may stand without `;` → their text. */
const LEGACY = new Map<string, string>([
  ...LATIN1_NAMES.map((name, i): [string, string] => [name, String.fromCharCode(0xa0 + i)]),
  ['amp', '&'], ['AMP', '&'], ['lt', '<'], ['LT', '<'], ['gt', '>'], ['GT', '>'], ['quot', '"'], ['QUOT', '"'],
  ['COPY', '\u00a9'], ['REG', '\u00ae'],
]);

/** Names that must end with `;` → their text. */
const WITH_SEMICOLON = new Map<string, string>([
  ['apos', "'"], ['Tab', '\t'], ['NewLine', '\n'], ['excl', '!'], ['num', '#'], ['dollar', '$'], ['percnt', '%'],
  ['lpar', '('], ['rpar', ')'], ['ast', '*'], ['midast', '*'], ['plus', '+'], ['comma', ','], ['period', '.'], ['sol', '/'],
  ['colon', ':'], ['semi', ';'], ['equals', '='], ['quest', '?'], ['commat', '@'], ['lsqb', '['], ['lbrack', '['],
  ['bsol', '\\'], ['rsqb', ']'], ['rbrack', ']'], ['Hat', '^'], ['lowbar', '_'], ['UnderBar', '_'], ['grave', '`'],
  ['lcub', '{'], ['lbrace', '{'], ['verbar', '|'], ['vert', '|'], ['VerticalLine', '|'], ['rcub', '}'], ['rbrace', '}'],
  ['OElig', '\u0152'], ['oelig', '\u0153'], ['Scaron', '\u0160'], ['scaron', '\u0161'], ['Yuml', '\u0178'], ['fnof', '\u0192'],
  ['circ', '\u02c6'], ['tilde', '\u02dc'], ['ensp', '\u2002'], ['emsp', '\u2003'], ['thinsp', '\u2009'], ['zwnj', '\u200c'],
  ['zwj', '\u200d'], ['lrm', '\u200e'], ['rlm', '\u200f'], ['ndash', '\u2013'], ['mdash', '\u2014'], ['lsquo', '\u2018'],
  ['rsquo', '\u2019'], ['sbquo', '\u201a'], ['ldquo', '\u201c'], ['rdquo', '\u201d'], ['bdquo', '\u201e'], ['dagger', '\u2020'],
  ['Dagger', '\u2021'], ['bull', '\u2022'], ['hellip', '\u2026'], ['permil', '\u2030'], ['lsaquo', '\u2039'], ['rsaquo', '\u203a'],
  ['euro', '\u20ac'], ['trade', '\u2122'], ['TRADE', '\u2122'],
]);

/** The longest name in either table; a run of alphanumerics is only looked up this far. */
const MAX_NAME = 12;

/** windows-1252 meanings of numeric references 0x80-0x9F (HTML "numeric character reference end state"). */
const C1_REMAP = new Map<number, number>([
  [0x80, 0x20ac], [0x82, 0x201a], [0x83, 0x0192], [0x84, 0x201e], [0x85, 0x2026], [0x86, 0x2020], [0x87, 0x2021],
  [0x88, 0x02c6], [0x89, 0x2030], [0x8a, 0x0160], [0x8b, 0x2039], [0x8c, 0x0152], [0x8e, 0x017d], [0x91, 0x2018],
  [0x92, 0x2019], [0x93, 0x201c], [0x94, 0x201d], [0x95, 0x2022], [0x96, 0x2013], [0x97, 0x2014], [0x98, 0x02dc],
  [0x99, 0x2122], [0x9a, 0x0161], [0x9b, 0x203a], [0x9c, 0x0153], [0x9e, 0x017e], [0x9f, 0x0178],
]);

function isAlnum(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
}

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x41 && c <= 0x46) return c - 0x41 + 10;
  if (c >= 0x61 && c <= 0x66) return c - 0x61 + 10;
  return -1;
}

function codePointText(cp: number): string {
  if (cp === 0 || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return '\ufffd';
  return String.fromCodePoint(C1_REMAP.get(cp) ?? cp);
}

/** Decode a numeric reference at `at` (the `&`); null when there is none (no digits). */
function numericAt(s: string, at: number): { text: string; end: number } | null {
  let i = at + 2;
  const hex = s.charCodeAt(i) === 0x78 || s.charCodeAt(i) === 0x58;
  if (hex) i++;
  const digitsStart = i;
  let value = 0;
  for (; i < s.length; i++) {
    const c = s.charCodeAt(i);
    const d = hex ? hexValue(c) : c >= 0x30 && c <= 0x39 ? c - 0x30 : -1;
    if (d < 0) break;
    // saturate: anything past U+10FFFF is replaced anyway
    value = Math.min(value * (hex ? 16 : 10) + d, 0x110000);
  }
  if (i === digitsStart) return null;
  if (s.charCodeAt(i) === 0x3b) i++;
  return { text: codePointText(value), end: i };
}

/** Decode a named reference at `at` (the `&`) as inside an attribute value; null: leave the `&` as text. */
function namedAt(s: string, at: number): { text: string; end: number } | null {
  let runEnd = at + 1;
  while (runEnd < s.length && runEnd - at - 1 < MAX_NAME + 1 && isAlnum(s.charCodeAt(runEnd))) runEnd++;
  if (runEnd === at + 1) return null;
  const run = s.slice(at + 1, runEnd);
  if (s.charCodeAt(runEnd) === 0x3b) {
    const full = WITH_SEMICOLON.get(run) ?? LEGACY.get(run);
    if (full !== undefined) return { text: full, end: runEnd + 1 };
  }
  // longest legacy prefix without `;`
  for (let len = Math.min(run.length, MAX_NAME); len >= 2; len--) {
    const text = LEGACY.get(run.slice(0, len));
    if (text === undefined) continue;
    const next = s.charCodeAt(at + 1 + len);
    // the attribute-value rule: `&copy=2`, `&ampx` stay as written
    if (next === 0x3d || isAlnum(next)) return null;
    return { text, end: at + 1 + len };
  }
  return null;
}

/** The value of an attribute as the browser sees it: character references decoded. */
export function decodeAttributeValue(raw: string): string {
  let amp = raw.indexOf('&');
  if (amp < 0) return raw;
  let out = '';
  let pos = 0;
  while (amp >= 0) {
    const ref = raw.charCodeAt(amp + 1) === 0x23 ? numericAt(raw, amp) : namedAt(raw, amp);
    if (ref !== null) {
      out += raw.slice(pos, amp) + ref.text;
      pos = ref.end;
      amp = raw.indexOf('&', pos);
    } else {
      amp = raw.indexOf('&', amp + 1);
    }
  }
  return out + raw.slice(pos);
}

const NEEDS_ESCAPE = /[&"<>\u0080-\uffff]/;

/**
 * Escape text for a double-quoted attribute value: `&` → `&amp;`, `"` → `&quot;`, `<`/`>` too,
 * and every non-ASCII character as a numeric reference, so the written value is pure ASCII
 * and means the same in every ASCII-compatible charset the part may be in.
 */
export function escapeAttributeValue(text: string): string {
  if (!NEEDS_ESCAPE.test(text)) return text;
  let out = '';
  for (const ch of text) {
    switch (ch) {
      case '&':
        out += '&amp;';
        break;
      case '"':
        out += '&quot;';
        break;
      case '<':
        out += '&lt;';
        break;
      case '>':
        out += '&gt;';
        break;
      default: {
        const cp = ch.codePointAt(0) ?? 0;
        out += cp < 0x80 ? ch : `&#x${cp.toString(16).toUpperCase()};`;
      }
    }
  }
  return out;
}
