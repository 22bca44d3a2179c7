import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, expect, it } from 'vitest';
import { MAX_TRACKED_HTML_BYTES } from '../../../src/lib/limits.js';
import { createTrackingStage } from '../../../src/tracking/tracking-stage.js';
import { createMessageTransform } from '../../../src/transform/message-transform.js';
import { crlf, decodeBody, longestLine, parseMessage, qpDecode, recorder, recordingLogger, track } from './stage-helpers.js';

const PIXEL_URL = 'https://t.example/o/1';
const PIXEL = '<img src="https://t.example/o/1" width="1" height="1" alt="" style="display:block;width:1px;height:1px;border:0" />';

function base64Lines(b: Buffer): string {
  return b.toString('base64').replace(/.{76}/g, '$&\r\n');
}

/** An HTML document of exactly `size` bytes: one link, then padding. */
function htmlOfSize(size: number): Buffer {
  const head = '<html><body><a href="https://x.example/a?b=1&amp;c=2">x</a><p>';
  const tail = '</p></body></html>';
  return Buffer.from(head + 'y'.repeat(size - head.length - tail.length) + tail, 'latin1');
}

function base64HtmlMessage(html: Buffer): Buffer {
  return Buffer.concat([
    crlf('From: a@x.example\nContent-Type: text/html; charset=utf-8\nContent-Transfer-Encoding: base64\n\n'),
    Buffer.from(base64Lines(html), 'latin1'),
    Buffer.from('\r\n'),
  ]);
}

describe(`MAX_TRACKED_HTML_BYTES (${MAX_TRACKED_HTML_BYTES})`, () => {
  it('tracks an HTML part of exactly the cap (decoded bytes)', async () => {
    const html = htmlOfSize(MAX_TRACKED_HTML_BYTES);
    expect(html.length).toBe(MAX_TRACKED_HTML_BYTES);
    const rec = recorder();
    const { out, result } = await track(base64HtmlMessage(html), { pixelUrl: PIXEL_URL, clickUrl: rec.clickUrl });
    expect(result).toEqual({ rootHeaderEdits: [], htmlParts: 1, tracked: 1, linksRewritten: 1, pixelInserted: true, skipped: [] });
    expect(rec.seen).toEqual(['https://x.example/a?b=1&c=2']);
    const decoded = decodeBody(parseMessage(out)).toString('latin1');
    const expected = html
      .toString('latin1')
      .replace('"https://x.example/a?b=1&amp;c=2"', '"https://t.example/c?n=1&amp;sig=x"')
      .replace('</body>', `${PIXEL}</body>`);
    expect(decoded === expected).toBe(true);
  });

  it('passes an HTML part one byte over the cap through untracked, content unchanged, with a log line', async () => {
    const html = htmlOfSize(MAX_TRACKED_HTML_BYTES + 1);
    const rec = recorder();
    const logger = recordingLogger();
    const { out, result } = await track(base64HtmlMessage(html), { pixelUrl: PIXEL_URL, clickUrl: rec.clickUrl, logger });
    expect(result).toEqual({ rootHeaderEdits: [], htmlParts: 1, tracked: 0, linksRewritten: 0, pixelInserted: false, skipped: [{ reason: 'too-large' }] });
    expect(rec.seen).toEqual([]);
    const part = parseMessage(out);
    expect(part.headers.get('content-transfer-encoding')).toBe('base64');
    expect(longestLine(part.body)).toBeLessThanOrEqual(76);
    expect(decodeBody(part).equals(html)).toBe(true);
    expect(logger.lines.filter((l) => l.level === 'warn')).toEqual([
      { level: 'warn', obj: { limit: MAX_TRACKED_HTML_BYTES }, msg: 'tracking: HTML part larger than MAX_TRACKED_HTML_BYTES passed through untracked' },
    ]);
  });

  it('a part over the cap does not take the pixel: the next HTML part gets it', async () => {
    const big = htmlOfSize(MAX_TRACKED_HTML_BYTES + 1);
    const msg = Buffer.concat([
      crlf('Content-Type: multipart/mixed; boundary="b"\n\n--b\nContent-Type: text/html\nContent-Transfer-Encoding: base64\n\n'),
      Buffer.from(base64Lines(big), 'latin1'),
      crlf('\n--b\nContent-Type: text/html\n\n<html><body>small</body></html>\n--b--\n'),
    ]);
    const { out, result } = await track(msg, { pixelUrl: PIXEL_URL, clickUrl: null });
    expect(result).toEqual({ rootHeaderEdits: [], htmlParts: 2, tracked: 1, linksRewritten: 0, pixelInserted: true, skipped: [{ reason: 'too-large' }] });
    const [first, second] = parseMessage(out).children;
    expect(decodeBody(first!).equals(big)).toBe(true);
    expect(decodeBody(second!).toString()).toBe(`<html><body>small${PIXEL}</body></html>\r\n`);
  });
});

describe('memory bound of a part over the cap', () => {
  it('starts writing the part out once it passes the cap, long before the input ends (no unbounded buffering)', async () => {
    const head = crlf('Content-Type: text/html; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n<html><body>\n');
    const line = Buffer.from(`${'y'.repeat(98)}\r\n`);
    const chunk = Buffer.concat(Array.from({ length: 640 }, () => line)); // 64,000 bytes
    const total = 2 * MAX_TRACKED_HTML_BYTES;
    let fed = 0;
    let first = true;
    const source = new Readable({
      read() {
        if (first) {
          first = false;
          this.push(head);
        } else if (fed < total) {
          fed += chunk.length;
          this.push(Buffer.from(chunk));
        } else {
          this.push(null);
        }
      },
    });
    let out = 0;
    let fedAtFirstBody = -1;
    const t = createTrackingStage({ pixelUrl: PIXEL_URL, clickUrl: null });
    await pipeline(
      source,
      createMessageTransform({ onHeaders: () => [], bodyStages: [t.stage] }),
      new Writable({
        write(c: Buffer, _e, cb) {
          out += c.length;
          if (fedAtFirstBody < 0 && out > head.length + 1000) fedAtFirstBody = fed;
          cb();
        },
      }),
    );
    expect(t.result().skipped).toEqual([{ reason: 'too-large' }]);
    expect(fed).toBeGreaterThanOrEqual(total);
    // the cap, plus what sits in stream buffers between the stages (generously 1 MiB)
    expect(fedAtFirstBody).toBeGreaterThan(MAX_TRACKED_HTML_BYTES - 1024 * 1024);
    expect(fedAtFirstBody).toBeLessThan(MAX_TRACKED_HTML_BYTES + 1024 * 1024);
  });
});

describe('a 4 MB HTML newsletter in quoted-printable (acceptance)', () => {
  it('tracks all 5,000 links and the pixel; QP lines <= 76; decoded text is the original plus the edits', async () => {
    const rows: string[] = [];
    for (let i = 0; i < 5000; i++) {
      rows.push(
        `<TR><TD style="padding:4px;font-family:Arial">Artikel ${i} \u2013 Gr\u00f6\u00dfe M, Preis ${i},99 \u20ac ${'Beschreibung '.repeat(55)}</TD>` +
          `<TD><a href="https://shop.example/p/${i}?utm_source=mail&amp;utm_medium=email&amp;ref=${i}#top">Kaufen</a></TD></TR>\n`,
      );
    }
    const html = `<html><body><TABLE>\n${rows.join('')}</TABLE></body></html>\n`;
    const bytes = Buffer.from(html, 'utf8');
    expect(bytes.length).toBeGreaterThan(4 * 1024 * 1024);
    expect(bytes.length).toBeLessThan(MAX_TRACKED_HTML_BYTES);
    // quoted-printable: '=' escaped, non-ASCII as =XX, soft breaks keep lines at 76
    let qp = '';
    for (const line of html.split('\n')) {
      const enc = Buffer.from(line, 'utf8')
        .toString('latin1')
        .replace(/[=\x7f-\xff]/g, (c) => `=${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`);
      let rest = enc;
      while (rest.length > 75) {
        let cut = 75;
        // never split an =XX escape
        const eq = rest.lastIndexOf('=', cut - 1);
        if (eq > cut - 3) cut = eq;
        qp += `${rest.slice(0, cut)}=\r\n`;
        rest = rest.slice(cut);
      }
      qp += `${rest}\r\n`;
    }
    // the test's own encoder is right (the body before the closing delimiter is the CRLF text)
    expect(qpDecode(qp).toString('utf8') === `${html.replace(/\n/g, '\r\n')}\r\n`).toBe(true);
    const msg = Buffer.concat([
      crlf('From: a@x.example\nContent-Type: multipart/alternative; boundary="b"\n\n--b\nContent-Type: text/plain\n\nplain\n--b\n'),
      crlf('Content-Type: text/html; charset=UTF-8\nContent-Transfer-Encoding: quoted-printable\n\n'),
      Buffer.from(qp, 'latin1'),
      Buffer.from('--b--\r\n'),
    ]);
    const rec = recorder();
    const { out, result } = await track(msg, { pixelUrl: PIXEL_URL, clickUrl: rec.clickUrl });
    expect(result).toEqual({ rootHeaderEdits: [], htmlParts: 1, tracked: 1, linksRewritten: 5000, pixelInserted: true, skipped: [] });
    expect(rec.seen[4999]).toBe('https://shop.example/p/4999?utm_source=mail&utm_medium=email&ref=4999#top');
    const part = parseMessage(out).children[1]!;
    expect(longestLine(part.body)).toBeLessThanOrEqual(76);
    let n = 0;
    const expected = html
      .replace(/\n/g, '\r\n')
      .replace(/href="https:\/\/shop\.example\/p\/\d+\?utm_source=mail&amp;utm_medium=email&amp;ref=\d+#top"/g, () => `href="https://t.example/c?n=${++n}&amp;sig=x"`)
      .replace('</body>', `${PIXEL}</body>`);
    expect(n).toBe(5000);
    expect(decodeBody(part).toString('utf8') === expected).toBe(true);
  });
});
