/**
 * rewriteHtmlBytes (the tracking stage's path: bytes in, bytes out) writes exactly the latin1
 * bytes of rewriteHtmlDetailed's string, with the same counts: opt-outs, the pixel before
 * </body> or at the end, links with entities, 8-bit bytes, nothing to change (then the input
 * buffer itself).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { rewriteHtmlBytes, rewriteHtmlDetailed, type HtmlRewriteOptions } from '../../../src/tracking/html-rewrite.js';

const OPTS: HtmlRewriteOptions[] = [
  { pixelUrl: 'https://t.example/o/x?a=1&b="2"', clickUrl: (u) => `https://t.example/c/${Buffer.from(u).toString('base64url')}` },
  { pixelUrl: null, clickUrl: (u) => (u.includes('skip') ? null : `https://t.example/c?u=${encodeURIComponent(u)}&x=<1>`) },
  { pixelUrl: null, clickUrl: null },
];

const piece = fc.constantFrom(
  '<a href="https://a.example/x?a=1&amp;b=2">x</a>',
  "<A HREF='https://b.example/skip'>s</A>",
  '<a data-trx-notrack href="https://c.example/">n</a>',
  '<area href=https://d.example/p>',
  '<base href="https://e.example/dir/"><a href="rel">r</a>',
  '</body>',
  '<!-- <a href="https://f.example/"> -->',
  'caf\u00e9 \u00ff text ',
  '\r\n',
  '<p style="x">',
);
const doc = fc.array(piece, { maxLength: 12 }).map((a) => a.join(''));

describe('rewriteHtmlBytes', () => {
  it('writes the bytes of rewriteHtmlDetailed, with the same counts', () => {
    fc.assert(
      fc.property(doc, fc.constantFrom(...OPTS), (html, opts) => {
        const bytes = Buffer.from(html, 'latin1');
        const want = rewriteHtmlDetailed(html, opts);
        const got = rewriteHtmlBytes(bytes, html, opts);
        expect(got.bytes.toString('latin1')).toBe(want.html);
        expect({ ...got, bytes: undefined }).toEqual({ ...want, html: undefined });
        if (want.html === html && want.linksRewritten === 0 && !want.pixelInserted && want.optOuts === 0) expect(got.bytes).toBe(bytes);
      }),
      { numRuns: 1000, seed: 2026 },
    );
  });
});
