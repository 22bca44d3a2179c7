/**
 * Throughput of the streaming header rewrite against a raw mailsplit pass-through.
 *
 * For 5 KB, 100 KB and 20 MB messages (written in 64 KB chunks, like milter body chunks) it
 * measures (a) Splitter -> Joiner and (b) createMessageTransform with the edits core makes
 * (set From and To, delete Cc/Bcc/X-Mxm-*), interleaved round by round after a warm-up, and
 * prints messages/s, MB/s and the ratio b/a (wall clock), plus the ratio of CPU time used,
 * which is steadier when other processes share the cores. Run: npx tsx bench/transform.ts
 * (BENCH_ROUNDS=n for more rounds).
 */
import { Joiner, Splitter } from '@zone-eu/mailsplit';
import { loadavg } from 'node:os';
import { Readable, Writable, type Duplex } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { HeaderEdit } from '../src/core/types.js';
import { createMessageTransform } from '../src/transform/message-transform.js';
import { chunksOf, makeMessage } from './lib/messages.js';

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
