/**
 * URL.canParse (WHATWG URL) remembering its last answer: a tracked link's URL is checked by the
 * rewrite (html-rewrite.ts trackableUrl) and, the next moment, by the signer (token.ts
 * redirectLocation) — one parse instead of two for each of a message's hundreds of links.
 *
 * Pure (the answer depends on the string only); never throws.
 */
let lastUrl: string | null = null;
let lastAnswer = false;

export function canParseUrl(url: string): boolean {
  if (url === lastUrl) return lastAnswer;
  const answer = URL.canParse(url);
  lastUrl = url;
  lastAnswer = answer;
  return answer;
}
