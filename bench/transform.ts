/**
 * Throughput of the streaming header rewrite against a raw mailsplit pass-through.
 *
 * For 5 KB, 100 KB and 20 MB messages (written in 64 KB chunks, like milter body chunks) it
 * measures (a) Splitter -> Joiner and (b) createMessageTransform with the edits core makes
 * (set From and To, delete Cc/Bcc/X-Mxm-*), interleaved round by round after a warm-up, and
 * prints messages/s, MB/s and the ratio b/a (wall clock), plus the ratio of CPU time used,
 * which is steadier when other processes share the cores. Run: npx tsx bench/transform.ts
 * (BENCH_ROUNDS=n for more rounds).
 *
 * Then, for a 100 KB HTML newsletter (multipart/alternative, quoted-printable UTF-8 HTML with
 * 300 links), the same pass-through (a) next to (c) the header rewrite plus the tracking stage
 * (open pixel and every link signed by trxmail's own TrackingLinks: HMAC-SHA256 tokens), and
 * (d) the accept step's two renderings (accept/render-copies.ts: the tracked To body and the
 * untracked BCC copy, into memory spools), in the same interleaved rounds, with the ratios c/a
 * and d/a. BENCH_PROFILE=1 adds an unmeasured, profiled run of (c) and prints where the time
 * went (self time by file and by function; the .cpuprofile is saved in the temp directory).
 */
import { Joiner, Splitter } from '@zone-eu/mailsplit';
import { writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Writable, type Duplex } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { renderCopies } from '../src/accept/render-copies.js';
import type { HeaderEdit } from '../src/core/types.js';
import { Spool } from '../src/lib/spool.js';
import { parseHeaderBlock } from '../src/mail/header-block.js';
import { TrackingLinks } from '../src/tracking/links.js';
import { createTrackingStage } from '../src/tracking/tracking-stage.js';
import { createMessageTransform } from '../src/transform/message-transform.js';
import { CpuProfiler, summariseProfile } from './lib/cpu-profile.js';
import { chunksOf, HEADER, makeMessage, qpEncodeText } from './lib/messages.js';

const EDITS: readonly HeaderEdit[] = [
  { op: 'set', name: 'From', value: '"Oxford Stones" <orders@oxfordstones.example>' },
  { op: 'set', name: 'To', value: '"Some One" <someone@example.net>' },
  { op: 'delete', name: 'Cc' },
  { op: 'delete', name: 'Bcc' },
  { op: 'delete', name: 'X-Mxm-Flags' },
  { op: 'delete', name: 'X-Mxm-Tag' },
];

async function run(chunks: readonly Buffer[], stages: () => Duplex[]): Promise<number> {
  let bytes = 0;
  await pipeline(
    Readable.from(chunks, { objectMode: false }),
    ...(stages() as [Duplex]),
    new Writable({
      write(chunk: Buffer, _e, cb) {
        bytes += chunk.length;
        cb();
      },
    }),
  );
  return bytes;
}

const raw = (): Duplex[] => [new Splitter() as unknown as Duplex, new Joiner() as unknown as Duplex];
const ours = (): Duplex[] => [createMessageTransform({ onHeaders: () => EDITS })];

interface Timing {
  wall: number;
  cpu: number;
}

async function timeRound(chunks: readonly Buffer[], stages: () => Duplex[], count: number, into: Timing): Promise<void> {
  const c0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < count; i++) await run(chunks, stages);
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  const c = process.cpuUsage(c0);
  into.wall += wall;
  into.cpu += (c.user + c.system) / 1e6;
}

const SIZES = [
  { label: '5 KB', size: 5 * 1024, perRound: 400 },
  { label: '100 KB', size: 100 * 1024, perRound: 60 },
  { label: '20 MB', size: 20 * 1024 * 1024, perRound: 2 },
];
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 6);

console.log(`node ${process.version}, ${ROUNDS} interleaved rounds after 1 warm-up round, load average ${loadavg()[0]!.toFixed(2)}`);
for (const { label, size, perRound } of SIZES) {
  const msg = makeMessage(size);
  const chunks = chunksOf(msg, 64 * 1024);
  const warm: Timing = { wall: 0, cpu: 0 };
  await timeRound(chunks, raw, perRound, warm);
  await timeRound(chunks, ours, perRound, warm);
  const a: Timing = { wall: 0, cpu: 0 };
  const b: Timing = { wall: 0, cpu: 0 };
  for (let r = 0; r < ROUNDS; r++) {
    // alternate which goes first so neither always gets the warmer turn
    if (r % 2 === 0) {
      await timeRound(chunks, raw, perRound, a);
      await timeRound(chunks, ours, perRound, b);
    } else {
      await timeRound(chunks, ours, perRound, b);
      await timeRound(chunks, raw, perRound, a);
    }
  }
  const n = perRound * ROUNDS;
  const mb = (msg.length * n) / 1e6;
  const fmt = (t: Timing): string => `${(n / t.wall).toFixed(1).padStart(8)} msg/s ${(mb / t.wall).toFixed(1).padStart(6)} MB/s`;
  console.log(
    `${label.padStart(6)}  a) splitter->joiner ${fmt(a)} | b) header rewrite ${fmt(b)} | b/a ${(a.wall / b.wall).toFixed(3)} (CPU time: ${(a.cpu / b.cpu).toFixed(3)})`,
  );
}

// ---- tracking: a 100 KB HTML message, pass-through vs header rewrite + tracking stage ----

/** A newsletter of about `size` bytes: table layout, `links` links, UTF-8 text. */
function makeHtmlMessage(size: number, links: number): Buffer {
  const rows: string[] = [];
  const row = (i: number): string =>
    `<tr><td style="padding:8px;font-family:Arial,sans-serif;color:#333">Article ${i} \u2013 na\u00efve caf\u00e9 pricing, only \u20ac${i},99.</td>` +
    `<td align="right"><a href="https://shop.example/p/${i}?utm_source=newsletter&amp;utm_medium=email&amp;utm_campaign=june#buy" style="color:#06c">Buy now</a></td></tr>\n`;
  for (let i = 0; i < links; i++) rows.push(row(i));
  let html = `<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>June offers</title></head>\n<body style="margin:0">\n<table width="600" cellpadding="0" cellspacing="0" border="0">\n${rows.join('')}`;
  const pad = '<tr><td colspan="2" style="font-size:12px;color:#999">You receive this newsletter because you bought from Oxford Stones.</td></tr>\n';
  const tail = '</table>\n</body>\n</html>\n';
  while (html.length + tail.length < size * 0.85) html += pad;
  html += tail;
  const text = 'June offers: https://shop.example/june\n'.repeat(40);
  return Buffer.from(
    `${HEADER}Content-Type: multipart/alternative; boundary="alt-1"\r\n\r\n` +
      `--alt-1\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n${qpEncodeText(text)}\r\n` +
      `--alt-1\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n${qpEncodeText(html)}\r\n` +
      '--alt-1--\r\n',
    'latin1',
  );
}

const LINKS = new TrackingLinks('https://t.oxfordstones.example', [{ id: 'bench-key', secret: 'bench-secret-'.repeat(3) }]);
const SEND_ID = '4Xk2pQ7vYzT1';
const RECIPIENT = 'someone@example.net';
const PIXEL_URL = LINKS.pixelUrl(SEND_ID, RECIPIENT);
const clickUrl = (u: string): string | null => LINKS.clickUrl(SEND_ID, RECIPIENT, u);

let lastLinks = 0;
const tracked = (): Duplex[] => {
  const t = createTrackingStage({ pixelUrl: PIXEL_URL, clickUrl });
  const d = createMessageTransform({ onHeaders: () => EDITS, bodyStages: [t.stage] });
  d.on('finish', () => {
    lastLinks = t.result().linksRewritten;
  });
  return [d];
};

/** The accept step's two renderings of one message (To body tracked, BCC copy untracked). */
async function twoCopies(msg: Buffer): Promise<number> {
  const split = msg.indexOf('\r\n\r\n') + 2;
  const headers = parseHeaderBlock(msg.subarray(0, split)).fields;
  const body = new Spool();
  await body.write(msg.subarray(split + 2));
  await body.end();
  const copies = await renderCopies({
    headers,
    leadingSpace: true,
    body,
    headerEdits: EDITS,
    tracking: { pixelUrl: PIXEL_URL, clickUrl },
    wantBccCopy: true,
    bccHeaderEdits: [{ op: 'set', name: 'X-Trxmail-Ref', value: 'bench' }],
    newSpool: () => new Spool(),
  });
  const bytes = (copies.toBody?.size ?? 0) + (copies.bccMessage?.size ?? 0);
  await copies.dispose();
  await body.dispose();
  return bytes;
}

async function timeCopies(msg: Buffer, count: number, into: Timing): Promise<void> {
  const c0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < count; i++) await twoCopies(msg);
  into.wall += Number(process.hrtime.bigint() - t0) / 1e9;
  const c = process.cpuUsage(c0);
  into.cpu += (c.user + c.system) / 1e6;
}

{
  const msg = makeHtmlMessage(100 * 1024, 300);
  const chunks = chunksOf(msg, 64 * 1024);
  const perRound = 60;
  const warm: Timing = { wall: 0, cpu: 0 };
  await timeRound(chunks, raw, perRound, warm);
  await timeRound(chunks, tracked, perRound, warm);
  await timeCopies(msg, perRound / 2, warm);
  const a: Timing = { wall: 0, cpu: 0 };
  const c: Timing = { wall: 0, cpu: 0 };
  const d: Timing = { wall: 0, cpu: 0 };
  for (let r = 0; r < ROUNDS; r++) {
    if (r % 2 === 0) {
      await timeRound(chunks, raw, perRound, a);
      await timeRound(chunks, tracked, perRound, c);
      await timeCopies(msg, perRound, d);
    } else {
      await timeCopies(msg, perRound, d);
      await timeRound(chunks, tracked, perRound, c);
      await timeRound(chunks, raw, perRound, a);
    }
  }
  const outBytes = await run(chunks, tracked);
  const copyBytes = await twoCopies(msg);
  const n = perRound * ROUNDS;
  const mb = (msg.length * n) / 1e6;
  const fmt = (t: Timing): string => `${(n / t.wall).toFixed(1).padStart(8)} msg/s ${(mb / t.wall).toFixed(1).padStart(6)} MB/s`;
  console.log(
    `${'100 KB HTML'.padStart(6)} (${(msg.length / 1024).toFixed(0)} KB in, ${(outBytes / 1024).toFixed(0)} KB out, ${lastLinks} links)  a) splitter->joiner ${fmt(a)} | c) header rewrite + tracking ${fmt(c)} | c/a ${(a.wall / c.wall).toFixed(3)} (CPU time: ${(a.cpu / c.cpu).toFixed(3)})`,
  );
  console.log(
    `${'100 KB HTML'.padStart(6)} (${(copyBytes / 1024).toFixed(0)} KB out for both)  d) two copies (To tracked + BCC untracked) ${fmt(d)} | d/a ${(a.wall / d.wall).toFixed(3)} (CPU time: ${(a.cpu / d.cpu).toFixed(3)})`,
  );

  if (process.env.BENCH_PROFILE) {
    const profiler = new CpuProfiler();
    await profiler.start(200);
    const count = perRound * 2;
    try {
      for (let i = 0; i < count; i++) await run(chunks, tracked);
    } finally {
      const profile = await profiler.stop();
      const file = join(tmpdir(), `trx-bench-transform-${Date.now()}.cpuprofile`);
      writeFileSync(file, JSON.stringify(profile));
      const sum = summariseProfile(profile, 20);
      console.log(`\nprofile of (c), ${count} messages: busy ${sum.busyMs.toFixed(0)} ms (${(sum.busyMs / count).toFixed(2)} ms/msg); saved ${file}`);
      console.log('  self time by file:');
      for (const e of sum.byFile) console.log(`    ${(e.share * 100).toFixed(1).padStart(5)}%  ${e.ms.toFixed(0).padStart(6)} ms  ${e.name}`);
      console.log('  self time by function:');
      for (const e of sum.byFunction) console.log(`    ${(e.share * 100).toFixed(1).padStart(5)}%  ${e.ms.toFixed(0).padStart(6)} ms  ${e.name}`);
    }
  }
}
