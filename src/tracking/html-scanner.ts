/**
 * A small HTML tokenizer for the tracking rewrite: finds start tags (with their attributes and
 * exact offsets) and end tags, and steps over everything a browser does not read as markup.
 * It never changes the input; callers splice at the offsets it reports, so every byte they do
 * not replace stays as it was.
 *
 * Follows the WHATWG HTML tokenizer where it matters for finding links:
 *  - start tag: `<` + ASCII letter; name up to whitespace, `/` or `>`; attributes with
 *    double-quoted, single-quoted or unquoted values (a quoted value may hold `>`); names
 *    ASCII-lower-cased (only ASCII, as the spec does);
 *  - end tag: `</` + letter (attributes skipped the same way); `</>` is nothing; `</` + other
 *    is a bogus comment up to `>`;
 *  - comments `<!-- ... -->` (also `<!-->`, `<!--->`, `--!>`), which includes Outlook's
 *    conditional comments `<!--[if mso]> ... <![endif]-->`: everything inside is skipped.
 *    The "downlevel-revealed" form `<!--[if !mso]><!--> ... <!--<![endif]-->` is two comments
 *    with real markup between them, and that markup is scanned, as browsers render it;
 *  - `<![CDATA[ ... ]]>` skipped whole (conservatively, also outside SVG/MathML where a
 *    browser would end it at the first `>`); `<!DOCTYPE ...>`, `<![if ...]>`, `<? ... >` and
 *    other `<!` forms: skipped up to the next `>`;
 *  - raw text: after `<script>`, `<style>`, `<xmp>`, `<iframe>`, `<noembed>`, `<noframes>`,
 *    `<textarea>`, `<title>` everything up to the matching `</name` (case-insensitive, followed
 *    by whitespace, `/` or `>`) is text; `<plaintext>` makes the rest text. `<noscript>` is
 *    normal markup (mail readers run no scripts). Script-data escape states (`<!--` inside a
 *    script) are not modelled: the first `</script` ends the script, as in htmlparser2;
 *  - a tag, comment or raw-text element not closed before the end of input ends the scan
 *    (a browser drops an unterminated tag; the rest is left alone).
 *
 * Pure, linear in the input, never throws. Whitespace is HTML's: TAB, LF, FF, CR, SPACE.
 */

export interface HtmlAttribute {
  /** ASCII-lower-cased name. */
  readonly name: string;
  /** Offset of the first character of the name. */
  readonly start: number;
  /** Offset just past the attribute (past the closing quote, the unquoted value or the name). */
  readonly end: number;
  /** Offset of the value as written (opening quote included), or -1 when there is no `=`. */
  readonly valueStart: number;
  /** The value as written, without quotes, character references not decoded. */
  readonly rawValue: string;
}

export interface HtmlStartTag {
  /** ASCII-lower-cased tag name. */
  readonly name: string;
  /** Offset of the `<`. */
  readonly start: number;
  /** Offset just past the `>`. */
  readonly end: number;
  /** Attributes in document order (duplicates kept). */
  readonly attributes: readonly HtmlAttribute[];
}

export interface HtmlScanVisitor {
  /** Tag names (lower case) whose start tags are reported, with their attributes; other start tags are only stepped over. */
  readonly startTagsOf: ReadonlySet<string>;
  /** Tag names (lower case) whose end tags are reported. */
  readonly endTagsOf: ReadonlySet<string>;
  startTag?(tag: HtmlStartTag): void;
  /** `start` is the offset of the `<` of `</name`. */
  endTag?(name: string, start: number, end: number): void;
}

const RAW_TEXT = new Set(['script', 'style', 'xmp', 'iframe', 'noembed', 'noframes', 'textarea', 'title']);
/** Longer tag names are never reported nor special (raw text, plaintext); the visitor's names must fit. */
export const MAX_SPECIAL_NAME = 16;

const GT = 0x3e;
const SLASH = 0x2f;
const EQUALS = 0x3d;
const DQUOTE = 0x22;
const SQUOTE = 0x27;

export function isHtmlWhitespace(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0c || c === 0x0d;
}

function isAsciiAlpha(c: number): boolean {
  return (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
}

/** Lower-case A-Z only (the HTML spec's "ASCII lowercase"). */
export function asciiLower(s: string): string {
  let upper = false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    // toLowerCase would also fold non-ASCII letters (and U+212A KELVIN SIGN to "k")
    if (c >= 0x80) return s.replace(/[A-Z]+/g, (m) => m.toLowerCase());
    if (c >= 0x41 && c <= 0x5a) upper = true;
  }
  return upper ? s.toLowerCase() : s;
}

/**
 * Step over the attributes of a tag from `i` (just past the name) to its `>`.
 * Returns the offset just past `>`, or -1 when the input ends first.
 */
function scanAttributes(html: string, i: number, into: HtmlAttribute[] | null): number {
  const n = html.length;
  for (;;) {
    // before attribute name: whitespace and stray `/` (self-closing marks) are skipped
    let c = html.charCodeAt(i);
    while (i < n && (isHtmlWhitespace(c) || c === SLASH)) c = html.charCodeAt(++i);
    if (i >= n) return -1;
    if (c === GT) return i + 1;
    const nameStart = i;
    // a leading `=` belongs to the name (spec: unexpected-equals-sign-before-attribute-name)
    if (c === EQUALS) i++;
    for (; i < n; i++) {
      c = html.charCodeAt(i);
      if (isHtmlWhitespace(c) || c === SLASH || c === GT || c === EQUALS) break;
    }
    const nameEnd = i;
    // after attribute name
    let j = i;
    while (j < n && isHtmlWhitespace(html.charCodeAt(j))) j++;
    if (j >= n) return -1;
    if (html.charCodeAt(j) !== EQUALS) {
      into?.push({ name: asciiLower(html.slice(nameStart, nameEnd)), start: nameStart, end: nameEnd, valueStart: -1, rawValue: '' });
      i = j;
      continue;
    }
    j++;
    while (j < n && isHtmlWhitespace(html.charCodeAt(j))) j++;
    if (j >= n) return -1;
    const q = html.charCodeAt(j);
    let rawValue: string;
    let end: number;
    if (q === DQUOTE || q === SQUOTE) {
      const close = html.indexOf(q === DQUOTE ? '"' : "'", j + 1);
      if (close < 0) return -1;
      rawValue = html.slice(j + 1, close);
      end = close + 1;
    } else if (q === GT) {
      // `<a href=>`: missing value, the attribute is empty and `>` ends the tag
      rawValue = '';
      end = j;
    } else {
      end = j;
      while (end < n && !isHtmlWhitespace(html.charCodeAt(end)) && html.charCodeAt(end) !== GT) end++;
      if (end >= n) return -1;
      rawValue = html.slice(j, end);
    }
    into?.push({ name: asciiLower(html.slice(nameStart, nameEnd)), start: nameStart, end, valueStart: q === GT ? -1 : j, rawValue });
    i = end;
  }
}

/** End of a tag name started at `i`: first whitespace, `/` or `>` (or the end of input). */
function tagNameEnd(html: string, i: number): number {
  const n = html.length;
  for (; i < n; i++) {
    const c = html.charCodeAt(i);
    if (isHtmlWhitespace(c) || c === SLASH || c === GT) break;
  }
  return i;
}

/** Offset of the `<` of the `</name` that ends raw text started at `from`, or -1. */
function rawTextEnd(html: string, from: number, name: string): number {
  let k = from;
  for (;;) {
    k = html.indexOf('</', k);
    if (k < 0) return -1;
    const after = k + 2 + name.length;
    if (after < html.length && asciiLower(html.slice(k + 2, after)) === name) {
      const c = html.charCodeAt(after);
      if (isHtmlWhitespace(c) || c === SLASH || c === GT) return k;
    }
    k += 2;
  }
}

/** Offset just past the comment that starts with `<!--` at `lt`, or -1 when it never ends. */
function commentEnd(html: string, lt: number): number {
  const p = lt + 4;
  if (html.charCodeAt(p) === GT) return p + 1; // <!-->
  if (html.startsWith('->', p)) return p + 2; // <!--->
  let k = html.indexOf('--', p);
  while (k >= 0) {
    if (html.charCodeAt(k + 2) === GT) return k + 3;
    if (html.charCodeAt(k + 2) === 0x21 && html.charCodeAt(k + 3) === GT) return k + 4; // --!>
    k = html.indexOf('--', k + 1);
  }
  return -1;
}

/** Offset just past the next `>` from `from`, or -1. */
function bogusEnd(html: string, from: number): number {
  const gt = html.indexOf('>', from);
  return gt < 0 ? -1 : gt + 1;
}

/** Names (lower case, at most MAX_SPECIAL_NAME long) grouped by length. */
function byLength(names: Iterable<string>): Array<string[] | undefined> {
  const out: Array<string[] | undefined> = [];
  for (const name of names) {
    if (name.length === 0 || name.length > MAX_SPECIAL_NAME) continue;
    (out[name.length] ??= []).push(name);
  }
  return out;
}

/**
 * The name of `names` that `html[start, end)` spells (A-Z folded to lower case, the spec's
 * "ASCII lowercase"), or '' — compared in place, so the many tags nobody looks for cost no
 * string.
 */
function matchName(html: string, start: number, end: number, names: Array<string[] | undefined>): string {
  const len = end - start;
  const candidates = len <= MAX_SPECIAL_NAME ? names[len] : undefined;
  if (candidates === undefined) return '';
  for (const name of candidates) {
    let k = 0;
    for (; k < len; k++) {
      let c = html.charCodeAt(start + k);
      if (c >= 0x41 && c <= 0x5a) c += 0x20;
      if (c !== name.charCodeAt(k)) break;
    }
    if (k === len) return name;
  }
  return '';
}

export function scanHtml(html: string, visitor: HtmlScanVisitor): void {
  const n = html.length;
  const startNames = byLength([...visitor.startTagsOf, ...RAW_TEXT, 'plaintext']);
  const endNames = byLength(visitor.endTagsOf);
  let i = 0;
  while (i < n) {
    const lt = html.indexOf('<', i);
    if (lt < 0) return;
    const c = html.charCodeAt(lt + 1);
    if (isAsciiAlpha(c)) {
      const nameEnd = tagNameEnd(html, lt + 1);
      if (nameEnd >= n) return;
      // only the names somebody looks for are recognised (raw text, plaintext, the visitor's)
      const name = matchName(html, lt + 1, nameEnd, startNames);
      const attributes: HtmlAttribute[] | null = visitor.startTagsOf.has(name) ? [] : null;
      const end = scanAttributes(html, nameEnd, attributes);
      if (end < 0) return;
      if (attributes !== null) visitor.startTag?.({ name, start: lt, end, attributes });
      if (name === 'plaintext') return;
      if (RAW_TEXT.has(name)) {
        const close = rawTextEnd(html, end, name);
        if (close < 0) return;
        i = close;
      } else {
        i = end;
      }
    } else if (c === SLASH) {
      const c2 = html.charCodeAt(lt + 2);
      if (isAsciiAlpha(c2)) {
        const nameEnd = tagNameEnd(html, lt + 2);
        if (nameEnd >= n) return;
        const end = scanAttributes(html, nameEnd, null);
        if (end < 0) return;
        const name = matchName(html, lt + 2, nameEnd, endNames);
        if (name !== '') visitor.endTag?.(name, lt, end);
        i = end;
      } else if (c2 === GT) {
        i = lt + 3;
      } else if (lt + 2 >= n) {
        return;
      } else {
        const end = bogusEnd(html, lt + 2);
        if (end < 0) return;
        i = end;
      }
    } else if (c === 0x21) {
      let end: number;
      if (html.startsWith('<!--', lt)) end = commentEnd(html, lt);
      else if (html.startsWith('<![CDATA[', lt)) {
        const k = html.indexOf(']]>', lt + 9);
        end = k < 0 ? -1 : k + 3;
      } else end = bogusEnd(html, lt + 2);
      if (end < 0) return;
      i = end;
    } else if (c === 0x3f) {
      const end = bogusEnd(html, lt + 2);
      if (end < 0) return;
      i = end;
    } else {
      i = lt + 1;
    }
  }
}
