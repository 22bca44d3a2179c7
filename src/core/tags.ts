/**
 * X-Mxm-Tag: free-text tags stored with the send so reports can filter by them.
 *
 * Every X-Mxm-Tag field counts, in order. Each body is unfolded and RFC 2047 decoded
 * (lenient, libmime), then split on commas; every piece is trimmed of whitespace, empty
 * pieces are dropped and duplicates removed (first occurrence kept, exact comparison).
 * Limits: at most MAX_TAGS tags (checked first), each at most MAX_TAG_LENGTH code points.
 * Then no tag may hold a control character (C0 including CR, LF and TAB, DEL, C1) or a
 * Unicode line or paragraph separator (U+2028, U+2029): they reach tags through RFC 2047
 * (`=?UTF-8?Q?a=0D=0Ab?=`) or raw in the field, and would split a report line, a CSV cell or
 * a log line. The first such character is returned, so the reply can name it.
 *
 * Pure. Throws nothing; a limit breach is returned as a result.
 */
import { MAX_TAG_LENGTH, MAX_TAGS } from './limits.js';
import { decodeWordsSafe, unfold } from './address.js';
import type { HeaderField } from './types.js';

export const TAG_HEADER = 'x-mxm-tag';

export type TagsResult =
  | { readonly ok: true; readonly tags: readonly string[] }
  | { readonly ok: false; readonly problem: 'too-many'; readonly count: number }
  | { readonly ok: false; readonly problem: 'too-long' }
  | { readonly ok: false; readonly problem: 'control'; readonly codePoint: number };

/** C0 controls (TAB, CR, LF included), DEL, C1 controls, U+2028 LINE SEPARATOR, U+2029 PARAGRAPH SEPARATOR. */
const CONTROL_RE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/u;

export function parseTags(headers: readonly HeaderField[]): TagsResult {
  const seen = new Set<string>();
  const tags: string[] = [];
  for (const h of headers) {
    if (h.name.trim().toLowerCase() !== TAG_HEADER) continue;
    const decoded = decodeWordsSafe(unfold(h.value));
    for (const piece of decoded.split(',')) {
      const tag = piece.trim();
      if (tag === '' || seen.has(tag)) continue;
      seen.add(tag);
      tags.push(tag);
    }
  }
  if (tags.length > MAX_TAGS) return { ok: false, problem: 'too-many', count: tags.length };
  for (const tag of tags) {
    let n = 0;
    for (const _ of tag) {
      if (++n > MAX_TAG_LENGTH) return { ok: false, problem: 'too-long' };
    }
  }
  for (const tag of tags) {
    const bad = CONTROL_RE.exec(tag)?.[0];
    if (bad !== undefined) return { ok: false, problem: 'control', codePoint: bad.codePointAt(0) ?? 0 };
  }
  return { ok: true, tags };
}
