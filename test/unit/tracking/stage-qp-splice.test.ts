/**
 * The tracking stage on HTML parts that come in quoted-printable: the sender's encoded lines
 * are kept and only the edits are encoded (mail/quoted-printable-lines.ts). Every part is
 * checked three ways: its body decodes to the rewritten HTML (plus the line break the stage
 * adds when there is none), every line of it is valid quoted-printable (qp-check.ts), and the
 * lines away from the edits are the sender's, byte for byte. The quoted-printable input is
 * written by a small encoder (bench/lib/messages.ts, not the production one), with hand-made
 * odd lines.
 */
import { describe, expect, it } from 'vitest';
import { MAX_TRACKED_HTML_BYTES } from '../../../src/lib/limits.js';
import { qpDecodeValid, qpLineProblems } from '../mail/qp-check.js';
import { qpEncodeText as qp } from '../../../bench/lib/messages.js';
import { crlf, htmlLeafOf, parseMessage, recorder, track } from './stage-helpers.js';

const PIXEL_URL = 'https://t.example/o/abc';
const PIXEL = '<img src="https://t.example/o/abc" width="1" height="1" alt="" style="display:block;width:1px;height:1px;border:0" />';
const tracked = (n: number): string => `"https://t.example/c?n=${n}&amp;sig=x"`;

function message(body: string): Buffer {
  return Buffer.concat([
    crlf('From: a@x.example\nContent-Type: multipart/alternative; boundary="b"\n\n--b\nContent-Type: text/plain\n\nplain\n--b\nContent-Type: text/html; charset=utf-8\nContent-Transfer-Encoding: quoted-printable\n\n'),
    Buffer.from(body, 'latin1'),
    crlf('\n--b--\n'),
  ]);
}

/** The HTML part's body as written, checked: valid lines, and its decoded text. */
function htmlBody(out: Buffer): { body: string; decoded: string } {
  const leaf = htmlLeafOf(parseMessage(out));
  expect(leaf.headers.get('content-transfer-encoding')).toBe('quoted-printable');
  expect(qpLineProblems(leaf.body)).toEqual([]);
  return { body: leaf.body, decoded: Buffer.from(qpDecodeValid(leaf.body), 'latin1').toString('utf8') };
}

describe('quoted-printable HTML parts: the sender lines kept, the edits spliced in', () => {
  it('a newsletter: links (one across a soft break), UTF-8, lines of exactly 76, the pixel; untouched lines byte for byte', async () => {
    const rows: string[] = [];
    for (let i = 0; i < 20; i++) rows.push(`<tr><td>Caf\u00e9 na\u00efve \u2013 \u20ac${i},99 ${'x'.repeat(i * 3)}</td><td><a href="https://shop.example/p/${i}?a=1&amp;b=2">Buy</a></td></tr>`);
    const html = `<html><body>\n<p>${'y'.repeat(200)}</p>\n${rows.join('\n')}\n<p>end</p></body></html>\n`;
    const body = qp(html);
    // the encoder above makes lines of 76 (75 and the soft break's "="): there must be some
    expect(body.split('\r\n').some((l) => l.length === 76)).toBe(true);
    // and an href split by a soft break
    expect(body).toMatch(/href=3D"https:\/\/shop\.exam[^\r]*=\r\n|href=3D"[^"\r]*=\r\n[^"\r]*"/);
    const rec = recorder();
    const { out, result } = await track(message(body), { pixelUrl: PIXEL_URL, clickUrl: rec.clickUrl });
    expect(result).toEqual({ rootHeaderEdits: [], htmlParts: 1, tracked: 1, linksRewritten: 20, pixelInserted: true, skipped: [] });
    expect(rec.seen).toEqual(rows.map((_r, i) => `https://shop.example/p/${i}?a=1&b=2`));
    let want = html;
    rows.forEach((_r, i) => {
      want = want.replace(`"https://shop.example/p/${i}?a=1&amp;b=2"`, tracked(i + 1));
    });
    want = want.replace('</body>', `${PIXEL}</body>`);
    const got = htmlBody(out);
    expect(got.decoded).toBe(want.replace(/\n/g, '\r\n'));
    // every sender line no edit reaches (no quote of an href value on it, not </body>'s) is
    // still there
    const sent = body.split('\r\n').filter((l) => !l.includes('"') && !l.includes('/body'));
    expect(sent.length).toBeGreaterThan(20);
    const written = new Set(got.body.split('\r\n'));
    for (const l of sent) expect(written.has(l), l).toBe(true);
    // the first lines (before any link) are the same bytes
    expect(got.body.slice(0, 100)).toBe(body.slice(0, 100));
  });

  it('plain tracking URLs (nothing to escape, no "=": as TrackingLinks writes them) longer than a line, hyphens and all', async () => {
    const rows: string[] = [];
    for (let i = 0; i < 30; i++) rows.push(`<p>${'w'.repeat(i * 5)}<a href="https://x.example/${i}">${i}</a></p>`);
    const html = `<html><body>\n${rows.join('\n')}\n</body></html>`;
    const body = qp(html);
    const plain = (n: number): string => `https://t.example/c/${'-'.repeat(n % 7)}${'A-b_'.repeat(40)}${n}`;
    let n = 0;
    const { out, result } = await track(message(body), { pixelUrl: null, clickUrl: () => plain(++n) });
    expect(result.linksRewritten).toBe(30);
    let want = html;
    rows.forEach((_r, i) => {
      want = want.replace(`"https://x.example/${i}"`, `"${plain(i + 1)}"`);
    });
    const got = htmlBody(out);
    expect(got.decoded).toBe(`${want.replace(/\n/g, '\r\n')}\r\n`);
    // the URLs were cut into lines: some line starts with a hyphen, escaped
    expect(got.body).toMatch(/\r\n=2D/);
  });

  it('a link on the last line of a part without a final line break', async () => {
    const body = qp('<p>x</p>\n<a href="https://x.example/last">last</a>');
    const rec = recorder();
    const { out, result } = await track(message(body), { pixelUrl: null, clickUrl: rec.clickUrl });
    expect(result.linksRewritten).toBe(1);
    expect(htmlBody(out).decoded).toBe(`<p>x</p>\r\n<a href=${tracked(1)}>last</a>\r\n`);
  });

  it('a soft break at the very end of the part ("=\\r\\n" before the boundary) decodes as before and is not left last', async () => {
    const body = `${qp('<a href="https://x.example/">x</a>')}=\r\n`;
    const rec = recorder();
    const { out } = await track(message(body), { pixelUrl: PIXEL_URL, clickUrl: rec.clickUrl });
    expect(htmlBody(out).decoded).toBe(`<a href=${tracked(1)}>x</a>${PIXEL}\r\n`);
  });

  it("the sender's odd lines (lower-case escapes, trailing spaces, a bare =, a long line) are re-encoded, decoding as libqp did", async () => {
    const body = ['<p>caf=c3=a9   ', `<p>${'z'.repeat(100)}</p>`, '<a href=3D"https://x.example/a=3Db">a = b</a>', '<p>end</p>'].join('\r\n');
    const rec = recorder();
    const { out } = await track(message(body), { pixelUrl: null, clickUrl: rec.clickUrl });
    expect(rec.seen).toEqual(['https://x.example/a=b']);
    expect(htmlBody(out).decoded).toBe(`<p>caf\u00e9\r\n<p>${'z'.repeat(100)}</p>\r\n<a href=${tracked(1)}>a = b</a>\r\n<p>end</p>\r\n`);
  });

  it('with tracking off and nothing to remove, the part is the sender bytes (and a line break)', async () => {
    const body = qp('<p>caf\u00e9 <a href="https://x.example/">x</a></p>');
    const { out, result } = await track(message(body), { pixelUrl: null, clickUrl: null });
    expect(result.tracked).toBe(0);
    expect(htmlBody(out).body).toBe(`${body}\r\n`);
  });

  it(`encoded bytes past MAX_TRACKED_HTML_BYTES (${MAX_TRACKED_HTML_BYTES}) that decode to less: decoded as they come, tracked, encoded whole`, async () => {
    // "=" is written "=3D": about 3 encoded bytes for each decoded one
    const filler = '='.repeat(Math.floor(MAX_TRACKED_HTML_BYTES / 2.5));
    const html = `<html><body><a href="https://x.example/big">x</a><p>${filler}</p></body></html>`;
    const body = qp(html);
    expect(body.length).toBeGreaterThan(MAX_TRACKED_HTML_BYTES);
    expect(html.length).toBeLessThan(MAX_TRACKED_HTML_BYTES);
    const rec = recorder();
    const { out, result } = await track(message(body), { pixelUrl: PIXEL_URL, clickUrl: rec.clickUrl });
    expect(result).toEqual({ rootHeaderEdits: [], htmlParts: 1, tracked: 1, linksRewritten: 1, pixelInserted: true, skipped: [] });
    const got = htmlBody(out);
    expect(got.decoded === `<html><body><a href=${tracked(1)}>x</a><p>${filler}</p>${PIXEL}</body></html>\r\n`).toBe(true);
  });
});
