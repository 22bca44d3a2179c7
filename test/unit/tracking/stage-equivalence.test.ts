/**
 * The inline tracking rewriter writes what the stage built on mailsplit's Rewriter + Joiner +
 * CRLF pass wrote (reference-stage.ts), with the same result counters: every fixture,
 * hand-made edge cases (bare LF in decoded HTML, no final line break, 7bit and 8bit root
 * parts, several HTML parts, opt-outs, attached HTML and messages), random MIME trees
 * (fast-check), each with tracking on and off and fed in one chunk and split.
 *
 * "What it wrote" is byte for byte, except for one thing (changed on purpose, for speed): an
 * HTML part that is quoted-printable in the INPUT is no longer re-encoded whole by libqp; the
 * sender's lines are copied and only the edits encoded (mail/quoted-printable-lines.ts). For
 * such a part only, the bytes may differ; then the part's headers must be the same bytes, its
 * body must decode to the same bytes, and every line of it must be valid quoted-printable
 * (test/unit/mail/qp-check.ts). Everything else — the message's structure, every header
 * block, boundary, preamble and epilogue, every other part (7bit/8bit/binary HTML re-encoded
 * as quoted-printable, base64 HTML, text, attachments) — stays byte for byte.
 */
import fc from 'fast-check';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, expect, it } from 'vitest';
import { createTrackingStage, type TrackingStageOptions } from '../../../src/tracking/tracking-stage.js';
import { createMessageTransform } from '../../../src/transform/message-transform.js';
import { messageArb, splitAt, writeMessage } from '../transform/message-arbitraries.js';
import { qpDecodeValid, qpLineProblems } from '../mail/qp-check.js';
import { createReferenceStage } from './reference-stage.js';
import { crlf, hasBareLineBreak, leaves, parseMessage, type Part } from './stage-helpers.js';

const FIXTURE_DIRS = ['', 'tracking', 'bounces'].map((d) => join(import.meta.dirname, '..', '..', 'fixtures', d));

async function run(chunks: readonly Buffer[], stage: import('node:stream').Duplex): Promise<Buffer> {
  const out: Buffer[] = [];
  await pipeline(
    Readable.from(chunks, { objectMode: false }),
    createMessageTransform({ onHeaders: () => [], bodyStages: [stage] }),
    new Writable({
      write(c: Buffer, _e, cb) {
        out.push(c);
        cb();
      },
    }),
  );
  return Buffer.concat(out);
}

/** The text with each leaf's body replaced by a marker: the structure and every header block. */
function skeleton(text: string, parts: readonly Part[]): string {
  let out = '';
  let cursor = 0;
  for (const p of parts) {
    const at = text.indexOf(p.head, cursor);
    expect(at).toBeGreaterThanOrEqual(0);
    const bodyStart = at + p.head.length + (text.startsWith('\r\n\r\n', at + p.head.length) ? 4 : 0);
    expect(text.startsWith(p.body, bodyStart)).toBe(true);
    out += `${text.slice(cursor, bodyStart)}<body>`;
    cursor = bodyStart + p.body.length;
  }
  return out + text.slice(cursor);
}

/**
 * `got` says what `expected` says (see the header): the same bytes, or the same but for the
 * bodies of HTML parts that were quoted-printable in `input`, which decode alike and are valid.
 */
function expectSameOutput(input: Buffer, got: Buffer, expected: Buffer): void {
  expect(hasBareLineBreak(got)).toBe(false);
  const gotText = got.toString('latin1');
  const expectedText = expected.toString('latin1');
  if (gotText === expectedText) return;
  const inLeaves = leaves(parseMessage(crlf(input.toString('latin1'), 'latin1')));
  const gotLeaves = leaves(parseMessage(got));
  const expectedLeaves = leaves(parseMessage(expected));
  expect(gotLeaves.length).toBe(expectedLeaves.length);
  expect(inLeaves.length).toBe(expectedLeaves.length);
  expect(skeleton(gotText, gotLeaves)).toBe(skeleton(expectedText, expectedLeaves));
  gotLeaves.forEach((g, i) => {
    const e = expectedLeaves[i]!;
    if (g.body === e.body) return;
    // only an HTML part that came in quoted-printable may differ, and only in its encoding
    expect((inLeaves[i]!.headers.get('content-transfer-encoding') ?? '').toLowerCase()).toBe('quoted-printable');
    expect((g.headers.get('content-type') ?? '').toLowerCase()).toMatch(/^text\/html/);
    expect(qpLineProblems(g.body)).toEqual([]);
    expect(qpDecodeValid(g.body)).toBe(qpDecodeValid(e.body));
  });
}

const click = (u: string): string => `https://t.example/c?u=${encodeURIComponent(u)}&s=1`;
const OPTIONS: Array<Pick<TrackingStageOptions, 'pixelUrl' | 'clickUrl'>> = [
  { pixelUrl: 'https://t.example/o/x', clickUrl: click },
  { pixelUrl: null, clickUrl: null },
  { pixelUrl: null, clickUrl: click },
];

async function expectSame(msg: Buffer, chunkSizes: readonly number[] = [msg.length || 1, 7]): Promise<void> {
  for (const opts of OPTIONS) {
    for (const size of chunkSizes) {
      const chunks: Buffer[] = [];
      for (let i = 0; i < msg.length; i += size) chunks.push(msg.subarray(i, i + size));
      const ref = createReferenceStage(opts);
      const expected = await run(chunks, ref.stage);
      const t = createTrackingStage(opts);
      const got = await run(chunks, t.stage);
      expectSameOutput(msg, got, expected);
      expect(t.result()).toEqual(ref.result());
    }
  }
}

const HTML = '<html><body><p>caf\u00e9 <a href="https://a.example/x?a=1&amp;b=2">x</a> <a data-trx-notrack href="https://b.example/">y</a></p>\n<a href=mailto:x@y>m</a></body></html>';

const CASES: Record<string, string> = {
  'root 7bit, no final line break': `From: a@b\nContent-Type: text/html\nContent-Transfer-Encoding: 7bit\n\n${HTML}`,
  'root 8bit utf-8': `From: a@b\nContent-Type: text/html; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n${HTML}\n`,
  'root without transfer encoding': `From: a@b\nContent-Type: text/html; charset=utf-8\n\n${HTML}\n\n`,
  'base64 with bare LF inside': `From: a@b\nContent-Type: text/html; charset=utf-8\nContent-Transfer-Encoding: base64\n\n${Buffer.from(`${HTML}\n${HTML}\r\n\n`, 'utf8').toString('base64').replace(/.{76}/g, '$&\n')}\n`,
  'quoted-printable with trailing spaces and hyphens': `From: a@b\nContent-Type: text/html; charset=utf-8\nContent-Transfer-Encoding: quoted-printable\n\n-- <a href=3D"https://x.example/-">a</a>   =\n  \n--x <b>  </b>\t\n`,
  'two HTML parts, one attached': `From: a@b\nContent-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/html\n\n${HTML}\n--b\nContent-Type: text/html\n\n${HTML}\n--b\nContent-Type: text/html\nContent-Disposition: attachment\n\n${HTML}\n--b--\n`,
  'attached message': `From: a@b\nContent-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: message/rfc822\n\nFrom: c@d\nContent-Type: text/html\n\n${HTML}\n--b\nContent-Type: text/html; charset=iso-8859-1\nContent-Transfer-Encoding: 8bit\n\n<a href="https://x.example/\u00e9">\u00e9</a>\n--b--\n`,
  'empty HTML part': `From: a@b\nContent-Type: multipart/alternative; boundary=b\n\n--b\nContent-Type: text/html\nContent-Transfer-Encoding: quoted-printable\n\n--b--\n`,
  'unsupported charset and encoding': `From: a@b\nContent-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/html; charset=shift_jis\n\n${HTML}\n--b\nContent-Type: text/html\nContent-Transfer-Encoding: x-uuencode\n\n${HTML}\n--b--\n`,
};

describe('inline tracking rewriter = mailsplit Rewriter stage (quoted-printable parts: same decoded bytes)', () => {
  for (const dir of FIXTURE_DIRS) {
    const names = readdirSync(dir).filter((n) => n.endsWith('.eml'));
    it(`every fixture in ${dir.replace(/.*test\//, 'test/')} (${names.length})`, async () => {
      expect(names.length).toBeGreaterThan(0);
      for (const name of names) await expectSame(readFileSync(join(dir, name)));
    });
  }

  for (const [name, text] of Object.entries(CASES)) {
    it(name, async () => {
      await expectSame(crlf(text, 'latin1'), [1, 5, 64]);
    });
  }

  it('random MIME trees, split anywhere', { timeout: 600_000 }, async () => {
    await fc.assert(
      fc.asyncProperty(messageArb, fc.array(fc.nat(4000), { maxLength: 4 }), async (m, cuts) => {
        const msg = writeMessage(m);
        for (const opts of OPTIONS.slice(0, 2)) {
          const ref = createReferenceStage(opts);
          // the same chunks on both sides: where the Splitter cuts body objects depends on them
          const expected = await run(splitAt(msg, cuts), ref.stage);
          const t = createTrackingStage(opts);
          const got = await run(splitAt(msg, cuts), t.stage);
          expectSameOutput(msg, got, expected);
          expect(t.result()).toEqual(ref.result());
        }
      }),
      { numRuns: 100, seed: 20261202 },
    );
  });
});
