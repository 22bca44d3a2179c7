/**
 * Where a header value may be folded (RFC 5322 2.2.3: a CRLF inserted before whitespace),
 * by the rule both the rules engine and the transform use: at the start of a run of SP/HTAB
 * that follows other text, outside "quoted strings" (with their backslash pairs) and outside
 * <angle brackets> — so no encoded word, quoted display name or address is ever split.
 *
 * Pure. Throws nothing.
 */

const isWsp = (c: string | undefined): boolean => c === ' ' || c === '\t';

/** Indexes in `text`, from `from` on, where a whitespace run that may be folded begins. */
export function foldPoints(text: string, from = 0): number[] {
  const points: number[] = [];
  let inQuote = false;
  let angle = 0;
  for (let i = from; i < text.length; i++) {
    const c = text[i];
    if (inQuote) {
      if (c === '\\') i++;
      else if (c === '"') inQuote = false;
      continue;
    }
    if (c === '"') inQuote = true;
    else if (c === '<') angle++;
    else if (c === '>' && angle > 0) angle--;
    else if (angle === 0 && isWsp(c) && i > 0 && !isWsp(text[i - 1])) points.push(i);
  }
  return points;
}
