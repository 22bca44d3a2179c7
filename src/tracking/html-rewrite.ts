/**
 * Open and click tracking in one HTML document (docs/architecture.md "The rules being enforced": flags 1 and 2). Pure: string
 * in, string out; the streaming part (MIME, charsets, transfer encodings, size cap) is
 * tracking-stage.ts.
 *
 * Open tracking (`pixelUrl`): one
 *   <img src="…" width="1" height="1" alt="" style="display:block;width:1px;height:1px;border:0" />
 * inserted before the LAST `</body>` end tag (case-insensitive; not one inside a comment,
 * conditional comment, CDATA or raw text such as <script>), or appended at the end when there
 * is none (before trailing whitespace, so a final line break stays last).
 *
 * Click tracking (`clickUrl`): the `href` of `<a>` and `<area>` start tags (the first `href`
 * of a tag counts, as in a browser; double-, single- or un-quoted, any case):
 *  - the value is entity-decoded (html-entities.ts: `&amp;`, `&quot;`, `&#38;`, `&#x26;`, ...),
 *    C0 controls and spaces are trimmed from both ends and TAB/LF/CR removed inside — exactly
 *    what a browser's URL parser does first, and nothing more: no `new URL().href`, so
 *    percent-encoding, query order, case and fragment reach `clickUrl` as written;
 *  - tracked: values starting with `http://` or `https://` (any case) that are valid URLs;
 *  - with a `<base href="…">` (the first base element with an href, wherever it stands) whose
 *    value is an absolute http(s) URL, relative hrefs (`/p`, `p?q`, `//host/p`) are resolved
 *    against it (WHATWG URL) and the RESOLVED URL is tracked; without one they are left alone;
 *  - left alone: `mailto:`, `tel:`, any other scheme, `http:foo` / `http:\\x` shapes, `#fragment`,
 *    empty values, values that are not valid URLs, links `clickUrl` answers null for, and
 *    links past MAX_TRACKED_LINKS in one document;
 *  - opt-out: an `<a>`/`<area>` carrying `data-trx-notrack` (any value, any case) keeps its
 *    href and loses the attribute (every copy of it, with the whitespace before it). The
 *    attribute is removed from every document this function sees, tracking on or off.
 *  - the tracking URL replaces the value (quotes included) as `"…"`, escaped by
 *    escapeAttributeValue (`&` → `&amp;`, `"` → `&quot;`, `<`/`>`, non-ASCII as `&#x…;`); the
 *    attribute name keeps its spelling.
 * Links in comments (conditional comments included), <script>, <style>, CDATA are untouched
 * (the markup between the two comments of a "downlevel-revealed" `<!--[if !mso]><!--> …
 * <!--<![endif]-->` is real markup that non-Outlook readers render, and is tracked);
 * so is everything that is not an edited attribute or the pixel: every other character of
 * the input is in the output, in place.
 *
 * `rewriteHtmlDetailed` is the same with a hook for the stage: it scans the part's bytes as a
 * latin1 string (byte-exact for every ASCII-compatible charset) and passes `decodeRaw` to turn
 * the raw bytes of an attribute value into text in the part's real charset. All text it
 * inserts is ASCII, so the output is valid in that charset too.
 *
 * Limits: MAX_TRACKED_LINKS per document. Throws only what `clickUrl` throws.
 */
import { MAX_TRACKED_LINKS } from '../lib/limits.js';
import { decodeAttributeValue, escapeAttributeValue } from '../mail/html-entities.js';
import { canParseUrl } from './can-parse-url.js';
import { isHtmlWhitespace, scanHtml, type HtmlAttribute } from './html-scanner.js';

export interface HtmlRewriteOptions {
  /** Absolute URL of the open pixel, or null for no open tracking. */
  readonly pixelUrl: string | null;
  /** Returns the tracking URL for an original absolute http(s) URL, or null to leave the
   *  link alone (e.g. too long). null function = no click tracking. */
  readonly clickUrl: ((originalUrl: string) => string | null) | null;
}

export interface HtmlRewriteResult {
  readonly html: string;
  readonly linksRewritten: number;
  readonly pixelInserted: boolean;
}

export interface HtmlRewriteDetails extends HtmlRewriteResult {
  /** Trackable links left alone because MAX_TRACKED_LINKS was reached. */
  readonly linksOverCap: number;
  /** `<a>`/`<area>` tags whose opt-out attribute was removed. */
  readonly optOuts: number;
}

/** The opt-out attribute (any value) on `<a>` / `<area>`. */
export const NOTRACK_ATTRIBUTE = 'data-trx-notrack';

/** NOTRACK_ATTRIBUTE anywhere, A-Z as a-z (a non-Unicode /i folds ASCII letters only, as asciiLower). */
const NOTRACK_ANYWHERE = /data-trx-notrack/i;
const LINK_TAGS = new Set(['a', 'area']);
const START_TAGS: ReadonlySet<string> = new Set(['a', 'area', 'base']);
const END_TAGS: ReadonlySet<string> = new Set(['body']);

/** What the browser's URL parser strips first: leading/trailing C0 controls and spaces, inner TAB/LF/CR. */
export function stripUrlWhitespace(value: string): string {
  let s = 0;
  let e = value.length;
  while (s < e && value.charCodeAt(s) <= 0x20) s++;
  while (e > s && value.charCodeAt(e - 1) <= 0x20) e--;
  const trimmed = s === 0 && e === value.length ? value : value.slice(s, e);
  return URL_INNER_WHITESPACE.test(trimmed) ? trimmed.replace(URL_INNER_WHITESPACE_ALL, '') : trimmed;
}

const URL_INNER_WHITESPACE = /[\t\n\r]/;
const URL_INNER_WHITESPACE_ALL = /[\t\n\r]/g;

const SCHEME = /^[A-Za-z][A-Za-z0-9+.-]*:/;
const HTTP_ABSOLUTE = /^https?:\/\//i;

/**
 * The URL to track for an href value (already entity-decoded), or null to leave the link
 * alone. Absolute http(s): the value itself (whitespace stripped as a browser does).
 * Relative with a base: the resolved URL.
 */
export function trackableUrl(decodedValue: string, base: URL | null): string | null {
  const v = stripUrlWhitespace(decodedValue);
  if (v === '' || v.startsWith('#')) return null;
  if (SCHEME.test(v)) return HTTP_ABSOLUTE.test(v) && canParseUrl(v) ? v : null;
  if (base === null) return null;
  let resolved: URL;
  try {
    resolved = new URL(v, base);
  } catch (err: unknown) {
    if (err instanceof TypeError) return null; // not a URL: the browser would not follow it either
    throw err;
  }
  return resolved.protocol === 'http:' || resolved.protocol === 'https:' ? resolved.href : null;
}

/** The document base URL from the first `<base href>` value, when it is absolute http(s). */
function baseUrl(decodedValue: string): URL | null {
  const v = stripUrlWhitespace(decodedValue);
  if (!HTTP_ABSOLUTE.test(v) || !URL.canParse(v)) return null;
  return new URL(v);
}

/** The pixel markup for an absolute URL. */
export function pixelTag(pixelUrl: string): string {
  return `<img src="${escapeAttributeValue(pixelUrl)}" width="1" height="1" alt="" style="display:block;width:1px;height:1px;border:0" />`;
}

/** One change of the rewrite: `html[start, end)` becomes `text` (ASCII). */
export interface HtmlEdit {
  readonly start: number;
  readonly end: number;
  readonly text: string;
  /** Set when `text` is known to be printable ASCII (SP included) without `=`. */
  readonly plain?: boolean;
}

type Edit = HtmlEdit;

/**
 * What keeps a tracking URL from being written as it is: what escapeAttributeValue escapes
 * (a superset of it), `=`, controls (HtmlEdit.plain).
 */
const NOT_PLAIN_URL = /[&"<>=\x00-\x1f\x7f-\uffff]/;

interface LinkTag {
  readonly href: HtmlAttribute | undefined;
  readonly optOut: readonly HtmlAttribute[];
}

const NO_ATTRIBUTES: readonly HtmlAttribute[] = [];

/** Start of the run of whitespace before `at` (the attribute's name). */
function whitespaceBefore(html: string, at: number): number {
  while (at > 0 && isHtmlWhitespace(html.charCodeAt(at - 1))) at--;
  return at;
}

/**
 * The edits of the rewrite, in document order (sorted by start, not overlapping), and its
 * counts: for a caller that applies them itself (the stage splices them into a part's
 * quoted-printable, mail/quoted-printable-lines.ts).
 */
export function htmlEdits(
  html: string,
  opts: HtmlRewriteOptions,
  decodeRaw: (raw: string) => string,
): Omit<HtmlRewriteDetails, 'html'> & { readonly edits: readonly Edit[] } {
  // no tracking (the untracked BCC rendering): only opt-out attributes are edited, and a
  // document that does not spell the name anywhere (ASCII case-insensitively) has none
  if (opts.pixelUrl === null && opts.clickUrl === null && !NOTRACK_ANYWHERE.test(html)) {
    return { edits: [], linksRewritten: 0, pixelInserted: false, linksOverCap: 0, optOuts: 0 };
  }
  const links: LinkTag[] = [];
  let baseRaw: string | null = null;
  let lastBodyEnd = -1;
  scanHtml(html, {
    startTagsOf: START_TAGS,
    endTagsOf: END_TAGS,
    startTag(tag) {
      // (loops, not filter/find: a closure per tag costs more than the search)
      let href: HtmlAttribute | undefined;
      let optOut: HtmlAttribute[] | null = null;
      for (const a of tag.attributes) {
        if (a.name === 'href') href ??= a;
        else if (a.name === NOTRACK_ATTRIBUTE) (optOut ??= []).push(a);
      }
      if (LINK_TAGS.has(tag.name)) {
        if (href !== undefined || optOut !== null) links.push({ href, optOut: optOut ?? NO_ATTRIBUTES });
      } else if (tag.name === 'base' && baseRaw === null) {
        if (href !== undefined) baseRaw = href.rawValue;
      }
    },
    endTag(name, start) {
      if (name === 'body') lastBodyEnd = start;
    },
  });

  const edits: Edit[] = [];
  let linksRewritten = 0;
  let linksOverCap = 0;
  let optOuts = 0;
  const clickUrl = opts.clickUrl;
  const base = clickUrl !== null && baseRaw !== null ? baseUrl(decodeAttributeValue(decodeRaw(baseRaw))) : null;
  for (const link of links) {
    if (link.optOut.length > 0) {
      optOuts++;
      for (const a of link.optOut) edits.push({ start: whitespaceBefore(html, a.start), end: a.end, text: '' });
      continue;
    }
    const href = link.href;
    if (clickUrl === null || href === undefined || href.valueStart < 0) continue;
    const original = trackableUrl(decodeAttributeValue(decodeRaw(href.rawValue)), base);
    if (original === null) continue;
    if (linksRewritten >= MAX_TRACKED_LINKS) {
      linksOverCap++;
      continue;
    }
    const tracking = clickUrl(original);
    if (tracking === null) continue;
    // (one check for both: nothing to escape and nothing a quoted-printable splice must look at)
    if (NOT_PLAIN_URL.test(tracking)) edits.push({ start: href.valueStart, end: href.end, text: `"${escapeAttributeValue(tracking)}"` });
    else edits.push({ start: href.valueStart, end: href.end, text: `"${tracking}"`, plain: true });
    linksRewritten++;
  }

  let pixelInserted = false;
  if (opts.pixelUrl !== null) {
    pixelInserted = true;
    // no </body>: at the end, before the trailing whitespace so a final line break stays last
    const at = lastBodyEnd >= 0 ? lastBodyEnd : whitespaceBefore(html, html.length);
    edits.push({ start: at, end: at, text: pixelTag(opts.pixelUrl) });
  }

  // opt-out removals of one tag come in document order, but the pixel may land anywhere
  if (opts.pixelUrl !== null) edits.sort((a, b) => a.start - b.start);
  return { edits, linksRewritten, pixelInserted, linksOverCap, optOuts };
}

export function rewriteHtmlDetailed(
  html: string,
  opts: HtmlRewriteOptions,
  decodeRaw: (raw: string) => string = (raw) => raw,
): HtmlRewriteDetails {
  const { edits, ...r } = htmlEdits(html, opts, decodeRaw);
  if (edits.length === 0) return { html, ...r };
  const parts: string[] = [];
  let pos = 0;
  for (const e of edits) {
    parts.push(html.slice(pos, e.start), e.text);
    pos = e.end;
  }
  parts.push(html.slice(pos));
  return { html: parts.join(''), ...r };
}

/**
 * The same rewrite on bytes (the part's bytes, which `html` spells as latin1): unchanged
 * ranges are copied from `bytes`, the inserted text (ASCII) written as latin1; `bytes` itself
 * when nothing changed. The tracking stage's path: no string of the whole rewritten part.
 */
export function rewriteHtmlBytes(
  bytes: Buffer,
  html: string,
  opts: HtmlRewriteOptions,
  decodeRaw: (raw: string) => string = (raw) => raw,
): Omit<HtmlRewriteDetails, 'html'> & { readonly bytes: Buffer } {
  const { edits, ...r } = htmlEdits(html, opts, decodeRaw);
  if (edits.length === 0) return { bytes, ...r };
  let size = bytes.length;
  for (const e of edits) size += e.text.length - (e.end - e.start);
  const out = Buffer.allocUnsafe(size);
  let pos = 0;
  let o = 0;
  for (const e of edits) {
    o += bytes.copy(out, o, pos, e.start);
    o += out.write(e.text, o, 'latin1');
    pos = e.end;
  }
  bytes.copy(out, o, pos);
  return { bytes: out, ...r };
}

/** Insert the open pixel and rewrite trackable links of one HTML document (see the header). */
export function rewriteHtml(html: string, opts: HtmlRewriteOptions): HtmlRewriteResult {
  const r = rewriteHtmlDetailed(html, opts);
  return { html: r.html, linksRewritten: r.linksRewritten, pixelInserted: r.pixelInserted };
}
