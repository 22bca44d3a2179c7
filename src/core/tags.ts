/**
 * X-Mxm-Tag: free-text tags stored with the send so reports can filter by them.
 *
 * Every X-Mxm-Tag field counts, in order. Each body is unfolded and RFC 2047 decoded
 * (lenient, libmime), then split on commas; every piece is trimmed of whitespace, empty
 * pieces are dropped and duplicates removed (first occurrence kept, exact comparison).
 * Limits: at most MAX_TAGS tags (checked first), each at most MAX_TAG_LENGTH code points.
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
  | { readonly ok: false; readonly problem: 'too-long' };

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
  return { ok: true, tags };
}
