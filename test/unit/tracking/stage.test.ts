import { describe, expect, it } from 'vitest';
import { createTrackingStage } from '../../../src/tracking/tracking-stage.js';
import { rewriteMessage } from '../../../src/transform/message-transform.js';
import {
  crlf,
  decodeBody,
  fixture,
  hasBareLineBreak,
  leaves,
  longestLine,
  parseMessage,
  recorder,
  recordingLogger,
  track,
  type Part,
} from './stage-helpers.js';

const PIXEL_URL = 'https://t.example/o/abc?s=1&k=2';
const PIXEL = '<img src="https://t.example/o/abc?s=1&amp;k=2" width="1" height="1" alt="" style="display:block;width:1px;height:1px;border:0" />';
const tracked = (n: number): string => `"https://t.example/c?n=${n}&amp;sig=x"`;

function htmlLeaf(p: Part): Part {
  const leaf = leaves(p).find((l) => /^text\/html/i.test(l.headers.get('content-type') ?? ''));
  if (!leaf) throw new Error('no html part');
  return leaf;
}

/** Replace each [from, to] once, failing when `from` is not there (so the expectation cannot silently drift). */
function replaceEach(s: string, pairs: ReadonlyArray<readonly [string, string]>): string {
  for (const [from, to] of pairs) {
    expect(s).toContain(from);
    s = s.replace(from, to);
  }
  return s;
}

describe('tracking stage on real-world-shaped messages', () => {
  it('newsletter: table layout in multipart/mixed > alternative, QP UTF-8; links, pixel, opt-out; other parts byte-for-byte', async () => {
    const msg = fixture('newsletter.eml');
    const rec = recorder();
    const { out, result } = await track(msg, { pixelUrl: PIXEL_URL, clickUrl: rec.clickUrl });

    expect(result).toEqual({ rootHeaderEdits: [], htmlParts: 1, tracked: 1, linksRewritten: 6, pixelInserted: true, skipped: [] });
    expect(rec.seen).toEqual([
      'https://shop.example/orders/123?b=2&a=1#details',
      'https://shop.example/track?id=9&lang=fr',
      'https://shop.example/unquoted',
      'https://r.example/redirect?u=https%3A%2F%2Fx.example%2Fp%2Fq&s=1',
      'https://nonmso.example/',
      'https://shop.example/area',
    ]);

    const before = parseMessage(msg);
    const after = parseMessage(out);
    // the root header block and every non-HTML part are untouched
    expect(after.head).toBe(before.head);
    const [plainIn, , pdfIn] = leaves(before);
    const [plainOut, htmlOut, pdfOut] = leaves(after);
    expect(plainOut!.head).toBe(plainIn!.head);
    expect(plainOut!.body).toBe(plainIn!.body);
    expect(pdfOut!.head).toBe(pdfIn!.head);
    expect(pdfOut!.body).toBe(pdfIn!.body);

    // the HTML part: still QP, lines <= 76, decoded = original with exactly these edits
    expect(htmlOut!.headers.get('content-transfer-encoding')).toBe('quoted-printable');
    expect(htmlOut!.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(longestLine(htmlOut!.body)).toBeLessThanOrEqual(76);
    const original = decodeBody(htmlLeaf(before)).toString('utf8');
    const expected = replaceEach(original, [
      ['HREF="https://shop.example/orders/123?b=2&amp;a=1#details"', `HREF=${tracked(1)}`],
      ["href='https://shop.example/track?id=9&amp;lang=fr'", `href=${tracked(2)}`],
      ['href=https://shop.example/unquoted>', `href=${tracked(3)}>`],
      ['href="https://r.example/redirect?u=https%3A%2F%2Fx.example%2Fp%2Fq&amp;s=1"', `href=${tracked(4)}`],
      ['<a data-trx-notrack href="https://shop.example/account">', '<a href="https://shop.example/account">'],
      ['href="https://nonmso.example/"', `href=${tracked(5)}`],
      ['HREF="https://shop.example/area"', `HREF=${tracked(6)}`],
      ['</BODY>', `${PIXEL}</BODY>`],
    ]);
    expect(decodeBody(htmlOut!).toString('utf8')).toBe(expected);
    // left alone: conditional comment, comment, title, style, script, mailto, tel, #fragment
    for (const u of ['mso.example/only', 'comment.example', 'title.example', 'style.example', 'script.example', 'mailto:help', 'tel:+44', '"#top"']) {
      expect(expected).toContain(u);
    }
    expect(hasBareLineBreak(out)).toBe(false);
  });

  it('ISO-8859-1 HTML in quoted-printable: bytes stay latin1, URLs reach clickUrl as text', async () => {
    const msg = fixture('latin1-qp.eml');
    const rec = recorder();
    const { out, result } = await track(msg, { pixelUrl: PIXEL_URL, clickUrl: rec.clickUrl });
    expect(result).toMatchObject({ htmlParts: 1, tracked: 1, linksRewritten: 3, pixelInserted: true });
    expect(rec.seen).toEqual([
      'https://boutique.example/caf\u00e9?q=cr\u00e8me&x=1',
      'https://boutique.example/?a=1&b=2&c=3',
      'HTTPS://Boutique.Example/Path%2Fencoded?z=1&y=2',
    ]);
    const before = parseMessage(msg);
    const after = parseMessage(out);
    expect(after.head).toBe(before.head);
    expect(longestLine(after.body)).toBeLessThanOrEqual(76);
    const original = decodeBody(before).toString('latin1');
    expect(original).toContain('Caf\u00e9 cr\u00e8me');
    const expected = replaceEach(original, [
      ['href="https://boutique.example/caf\u00e9?q=cr\u00e8me&amp;x=1"', `href=${tracked(1)}`],
      ['href="https://boutique.example/?a=1&#38;b=2&#x26;c=3"', `href=${tracked(2)}`],
      ['href="HTTPS://Boutique.Example/Path%2Fencoded?z=1&y=2"', `href=${tracked(3)}`],
      ['</body>', `${PIXEL}</body>`],
    ]);
    expect(decodeBody(after).toString('latin1')).toBe(expected);
  });

  it('UTF-8 HTML in base64 with <base href>: relative links resolved, base64 lines <= 76, text part byte-for-byte', async () => {
    const msg = fixture('utf8-base64.eml');
    const rec = recorder();
    const { out, result } = await track(msg, { pixelUrl: PIXEL_URL, clickUrl: rec.clickUrl });
    expect(result).toMatchObject({ htmlParts: 1, tracked: 1, linksRewritten: 3, pixelInserted: true });
    expect(rec.seen).toEqual([
      'https://base.example/dir/angebote/heute?x=1&y=2',
      'https://base.example/impressum',
      'https://m\u00fcnchen.example/stra\u00dfe?q=\u00fc',
    ]);
    const before = parseMessage(msg);
    const after = parseMessage(out);
    expect(leaves(after)[0]).toEqual(leaves(before)[0]);
    const html = htmlLeaf(after);
    expect(html.headers.get('content-transfer-encoding')).toBe('base64');
    expect(longestLine(html.body)).toBeLessThanOrEqual(76);
    const original = decodeBody(htmlLeaf(before)).toString('utf8');
    const expected = replaceEach(original, [
      ['href="angebote/heute?x=1&amp;y=2"', `href=${tracked(1)}`],
      ['href="/impressum"', `href=${tracked(2)}`],
      ['href="https://m\u00fcnchen.example/stra\u00dfe?q=\u00fc"', `href=${tracked(3)}`],
      ['</body>', `${PIXEL}</body>`],
    ]);
    const decoded = decodeBody(html);
    expect(decoded.toString('utf8')).toBe(expected);
    expect(decoded.toString('utf8')).toContain('Hallo J\u00fcrgen \u{1F44B}');
    expect(hasBareLineBreak(out)).toBe(false);
  });

  it('leaves attached messages alone (inline and attachment), byte-for-byte, and does not count their HTML', async () => {
    const msg = fixture('attached-message.eml');
    const rec = recorder();
    const { out, result } = await track(msg, { pixelUrl: PIXEL_URL, clickUrl: rec.clickUrl });
    expect(result).toEqual({ rootHeaderEdits: [], htmlParts: 1, tracked: 1, linksRewritten: 1, pixelInserted: true, skipped: [] });
    expect(rec.seen).toEqual(['https://shop.example/outer']);
    const before = parseMessage(msg);
    const after = parseMessage(out);
    expect(after.children).toHaveLength(3);
    expect(after.children[1]).toEqual(before.children[1]);
    expect(after.children[2]).toEqual(before.children[2]);
    expect(after.children[1]!.body).toContain('<a href="https://inner.example/html">');
    expect(after.children[2]!.body).toContain('<a href="https://older.example/html">');
    // the 7bit outer HTML part became quoted-printable, same text plus tracking
    const outer = after.children[0]!;
    expect(outer.headers.get('content-transfer-encoding')).toBe('quoted-printable');
    expect(decodeBody(outer).toString('latin1')).toBe(
      `<html><body><p>See <a href=${tracked(1)}>our shop</a> and the forwarded message.</p>${PIXEL}</body></html>\r\n`,
    );
  });

  it('passes an HTML part in an unsupported charset through byte-for-byte and logs it', async () => {
    const msg = fixture('shift-jis.eml');
    const rec = recorder();
    const logger = recordingLogger();
    const { out, result } = await track(msg, { pixelUrl: PIXEL_URL, clickUrl: rec.clickUrl, logger });
    expect(out.equals(msg)).toBe(true);
    expect(rec.seen).toEqual([]);
    expect(result).toEqual({ rootHeaderEdits: [], htmlParts: 1, tracked: 0, linksRewritten: 0, pixelInserted: false, skipped: [{ reason: 'charset', charset: 'Shift_JIS' }] });
    expect(logger.lines).toEqual([
      { level: 'warn', obj: { charset: 'Shift_JIS' }, msg: 'tracking: HTML part in an unsupported charset passed through untracked' },
    ]);
  });

  it('escapes a hostile charset label in the log and in skipped', async () => {
    const label = `x-evil\u00e9${'z'.repeat(60)}`;
    const msg = crlf(`Content-Type: text/html; charset="${label}"\n\n<a href="https://x.example/">x</a>\n`);
    const logger = recordingLogger();
    const { result } = await track(msg, { pixelUrl: null, clickUrl: recorder().clickUrl, logger });
    const skipped = result.skipped[0]!;
    expect(skipped.reason).toBe('charset');
    expect(skipped.charset).toMatch(/^[\x20-\x7e]+\.\.\.$/);
    expect(skipped.charset!.length).toBeLessThan(50);
    expect(logger.lines[0]!.obj).toEqual({ charset: skipped.charset });
  });
});

describe('which parts, which tracking', () => {
  const twoHtml = crlf(
    'Content-Type: multipart/mixed; boundary="b"\n\n' +
      '--b\nContent-Type: text/html; charset=utf-8\n\n<html><body><a href="https://one.example/">1</a></body></html>\n' +
      '--b\nContent-Type: text/plain\n\nhttps://plain.example/ is not tracked\n' +
      '--b\nContent-Type: text/html; charset=utf-8\n\n<html><body><a href="https://two.example/">2</a></body></html>\n' +
      '--b--\n',
  );

  it('puts the pixel only in the first HTML part; links in every part; text/plain untouched', async () => {
    const rec = recorder();
    const { out, result } = await track(twoHtml, { pixelUrl: PIXEL_URL, clickUrl: rec.clickUrl });
    expect(result).toEqual({ rootHeaderEdits: [], htmlParts: 2, tracked: 2, linksRewritten: 2, pixelInserted: true, skipped: [] });
    expect(rec.seen).toEqual(['https://one.example/', 'https://two.example/']);
    const [first, plain, second] = parseMessage(out).children;
    expect(decodeBody(first!).toString()).toBe(`<html><body><a href=${tracked(1)}>1</a>${PIXEL}</body></html>\r\n`);
    expect(plain!.body).toBe('https://plain.example/ is not tracked');
    expect(decodeBody(second!).toString()).toBe(`<html><body><a href=${tracked(2)}>2</a></body></html>\r\n`);
  });

  it('skipped parts do not take the pixel: it goes to the first part that is rewritten', async () => {
    const msg = crlf(
      'Content-Type: multipart/mixed; boundary="b"\n\n' +
        '--b\nContent-Type: text/html; charset=koi8-r\n\n<html><body>a</body></html>\n' +
        '--b\nContent-Type: text/html\n\n<html><body>b</body></html>\n--b--\n',
    );
    const { out, result } = await track(msg, { pixelUrl: PIXEL_URL, clickUrl: null });
    expect(result).toEqual({ rootHeaderEdits: [], htmlParts: 2, tracked: 1, linksRewritten: 0, pixelInserted: true, skipped: [{ reason: 'charset', charset: 'koi8-r' }] });
    const [a, b] = parseMessage(out).children;
    expect(a!.body).toBe('<html><body>a</body></html>');
    expect(decodeBody(b!).toString()).toBe(`<html><body>b${PIXEL}</body></html>\r\n`);
  });

  it('open tracking only: links stay, the opt-out attribute still goes', async () => {
    const msg = crlf('Content-Type: text/html\n\n<p><a href="https://x.example/">x</a><a data-trx-notrack="1" href="https://y.example/">y</a></p>\n');
    const { out, result } = await track(msg, { pixelUrl: PIXEL_URL, clickUrl: null });
    expect(result).toMatchObject({ tracked: 1, linksRewritten: 0, pixelInserted: true });
    expect(decodeBody(parseMessage(out)).toString()).toBe(
      `<p><a href="https://x.example/">x</a><a href="https://y.example/">y</a></p>${PIXEL}\r\n`,
    );
  });

  it('no tracking at all (the BCC rendering): tracked 0, same text, opt-out attribute removed alike', async () => {
    const msg = crlf('Content-Type: text/html\n\n<p><a href="https://x.example/">x</a><a data-trx-notrack href="https://y.example/">y</a></p>\n');
    const { out, result } = await track(msg, { pixelUrl: null, clickUrl: null });
    const qp = { op: 'set', name: 'Content-Transfer-Encoding', value: 'quoted-printable' };
    expect(result).toEqual({ rootHeaderEdits: [qp], htmlParts: 1, tracked: 0, linksRewritten: 0, pixelInserted: false, skipped: [] });
    expect(decodeBody(parseMessage(out)).toString()).toBe('<p><a href="https://x.example/">x</a><a href="https://y.example/">y</a></p>\r\n');
  });

  it('a message without HTML passes byte-for-byte', async () => {
    const msg = crlf('From: a@x\nContent-Type: text/plain; charset=utf-8\n\nVisit https://x.example/?a=1&b=2\n');
    const { out, result } = await track(msg, { pixelUrl: PIXEL_URL, clickUrl: recorder().clickUrl });
    expect(out.equals(msg)).toBe(true);
    expect(result).toEqual({ rootHeaderEdits: [], htmlParts: 0, tracked: 0, linksRewritten: 0, pixelInserted: false, skipped: [] });
  });

  it('a single-part 8bit root becomes quoted-printable with the header updated in place', async () => {
    const msg = crlf('From: a@x\nContent-Type: text/html; charset=utf-8\nContent-Transfer-Encoding: 8bit\nSubject: s\n\n<b>gr\u00fc\u00dfe</b> <a href="https://x.example/\u00fc">x</a>\n');
    const rec = recorder();
    const { out, result } = await track(msg, { pixelUrl: null, clickUrl: rec.clickUrl });
    expect(rec.seen).toEqual(['https://x.example/\u00fc']);
    const p = parseMessage(out);
    expect(p.head).toBe('From: a@x\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\nSubject: s');
    expect(decodeBody(p).toString('utf8')).toBe(`<b>gr\u00fc\u00dfe</b> <a href=${tracked(1)}>x</a>\r\n`);
    // The change is reported as an edit, so an adapter editing the message in place applies the same.
    expect(result.rootHeaderEdits).toEqual([{ op: 'set', name: 'Content-Transfer-Encoding', value: 'quoted-printable' }]);
  });

  it('a single-part base64 or quoted-printable root keeps its header: no root edit reported', async () => {
    for (const cte of ['base64', 'quoted-printable']) {
      const body = cte === 'base64' ? Buffer.from('<a href="https://x.example/">x</a>').toString('base64') : '<a href=3D"https://x.example/">x</a>';
      const msg = crlf(`From: a@x\nContent-Type: text/html\nContent-Transfer-Encoding: ${cte}\n\n${body}\n`);
      const { result } = await track(msg, { pixelUrl: null, clickUrl: recorder().clickUrl });
      expect(result).toMatchObject({ tracked: 1, rootHeaderEdits: [] });
    }
  });
});

describe('charsets', () => {
  it.each([
    ['windows-1251', 'https://x.example/\u043f\u0440\u0438\u0432\u0435\u0442'],
    ['iso-8859-2', 'https://x.example/\u0142\u00f3d\u017a'],
    ['ISO-8859-15', 'https://x.example/\u20ac'],
    ['windows-1252', 'https://x.example/\u2019s'],
    ['cp1252', 'https://x.example/\u00e9'],
    ['latin1', 'https://x.example/\u00e9'],
    ['utf-8', 'https://x.example/\u65e5\u672c'],
  ])('reads the href in %s and keeps every other byte', async (charset, url) => {
    const iconv = (await import('iconv-lite')).default;
    const html = `<p>${url.slice(-2)}</p><a href="${url}">x</a>\n`;
    const body = iconv.encode(html, charset);
    const msg = Buffer.concat([crlf(`Content-Type: text/html; charset=${charset}\nContent-Transfer-Encoding: 8bit\n\n`), body]);
    const rec = recorder();
    const { out } = await track(msg, { pixelUrl: null, clickUrl: rec.clickUrl });
    expect(rec.seen).toEqual([url]);
    const decoded = decodeBody(parseMessage(out));
    const expected = Buffer.concat([iconv.encode(`<p>${url.slice(-2)}</p><a href=`, charset), Buffer.from(`${tracked(1)}>x</a>\r\n`)]);
    expect(decoded.equals(expected)).toBe(true);
  });

  it('no charset: UTF-8 bytes read as UTF-8, other 8-bit bytes as windows-1252 (lenient)', async () => {
    const utf8 = Buffer.concat([crlf('Content-Type: text/html\n\n'), Buffer.from('<a href="https://x.example/\u00e9">x</a>\r\n', 'utf8')]);
    const cp1252 = Buffer.concat([crlf('Content-Type: text/html; charset=us-ascii\n\n'), Buffer.from('<a href="https://x.example/\u00e9\u0080">x</a>\r\n', 'latin1')]);
    const rec = recorder();
    await track(utf8, { pixelUrl: null, clickUrl: rec.clickUrl });
    await track(cp1252, { pixelUrl: null, clickUrl: rec.clickUrl });
    expect(rec.seen).toEqual(['https://x.example/\u00e9', 'https://x.example/\u00e9\u20ac']);
  });

  it.each(['utf-16', 'iso-2022-jp', 'gb18030', 'koi8-r', 'big5', 'iso-8859-12', 'windows-1259'])(
    'skips %s with a log line',
    async (charset) => {
      const msg = crlf(`Content-Type: text/html; charset=${charset}\n\n<a href="https://x.example/">x</a>\n`);
      const logger = recordingLogger();
      const { out, result } = await track(msg, { pixelUrl: PIXEL_URL, clickUrl: recorder().clickUrl, logger });
      expect(out.equals(msg)).toBe(true);
      expect(result.skipped).toEqual([{ reason: 'charset', charset }]);
      expect(logger.lines.filter((l) => l.level === 'warn')).toHaveLength(1);
    },
  );
});

describe('transfer encodings', () => {
  it.each(['x-uuencode', '"base64"', 'x-unknown'])('passes an HTML part in %s through byte-for-byte with a log line', async (cte) => {
    const msg = crlf(`Content-Type: text/html\nContent-Transfer-Encoding: ${cte}\n\n<a href="https://x.example/">x</a>\n`);
    const logger = recordingLogger();
    const { out, result } = await track(msg, { pixelUrl: PIXEL_URL, clickUrl: recorder().clickUrl, logger });
    expect(out.equals(msg)).toBe(true);
    expect(result).toEqual({ rootHeaderEdits: [], htmlParts: 1, tracked: 0, linksRewritten: 0, pixelInserted: false, skipped: [] });
    expect(logger.lines.map((l) => [l.level, l.msg])).toEqual([['warn', 'tracking: HTML part in an unknown transfer encoding passed through untracked']]);
  });

  it.each(['7bit', '8bit', 'binary', 'BASE64', 'Quoted-Printable'])('rewrites an HTML part in %s', async (cte) => {
    const body = /base64/i.test(cte) ? `${Buffer.from('<a href="https://x.example/">x</a>').toString('base64')}\n` : '<a href="https://x.example/">x</a>\n';
    const msg = crlf(`Content-Type: text/html\nContent-Transfer-Encoding: ${cte}\n\n${body}`);
    const { out, result } = await track(msg, { pixelUrl: null, clickUrl: recorder().clickUrl });
    expect(result.linksRewritten).toBe(1);
    expect(decodeBody(parseMessage(out)).toString()).toContain(`<a href=${tracked(1)}>x</a>`);
  });
});

describe('errors', () => {
  it('ends the transform with the error clickUrl throws', async () => {
    const t = createTrackingStage({
      pixelUrl: null,
      clickUrl: () => {
        throw new Error('signing failed');
      },
    });
    const msg = crlf('Content-Type: text/html\n\n<a href="https://x.example/">x</a>\n');
    await expect(rewriteMessage(msg, { onHeaders: () => [], bodyStages: [t.stage] })).rejects.toThrow('signing failed');
  });

  it('a clickUrl answering null leaves that link alone', async () => {
    const msg = crlf('Content-Type: text/html\n\n<a href="https://x.example/long">x</a> <a href="https://x.example/ok">y</a>\n');
    const { out, result } = await track(msg, { pixelUrl: null, clickUrl: (u) => (u.endsWith('long') ? null : 'https://t.example/1') });
    expect(result).toMatchObject({ tracked: 1, linksRewritten: 1 });
    expect(decodeBody(parseMessage(out)).toString()).toBe('<a href="https://x.example/long">x</a> <a href="https://t.example/1">y</a>\r\n');
  });
});
