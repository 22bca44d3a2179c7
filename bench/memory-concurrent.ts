/**
 * Memory under load, two cases (the acceptance figures of issue 15), each through
 * createMessageTransform with the core's header edits and the tracking stage (pixel, signed
 * links), messages generated as streams, never held whole (multipart/alternative text +
 * quoted-printable HTML with a link, then a base64 attachment):
 *  - one 100 MB message: peak RSS growth under 50 MB;
 *  - 50 messages of 25 MB each, all in flight at once as 50 concurrent milter sessions
 *    would be: peak RSS growth under 300 MB.
 * Prints, per case, the RSS baseline (after a collection), the peak growth (sampled at every
 * output chunk and every 10 ms) and the limit. Too slow for `npm test` (1.35 GB through the
 * splitter: tens of seconds on a loaded 2-core machine), hence a bench: npm run bench:memory
 * (exit code 1 when a case is over). MESSAGES=n MESSAGE_MB=m runs one case of your own
 * (limit 300 MB). Run with --expose-gc (the npm script does) so baselines are settled.
 */
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { HeaderEdit } from '../src/core/types.js';
import { TrackingLinks } from '../src/tracking/links.js';
import { createTrackingStage } from '../src/tracking/tracking-stage.js';
import { createMessageTransform } from '../src/transform/message-transform.js';
import { messageStream } from './lib/messages.js';

const MB = 1024 * 1024;
interface Case {
  readonly messages: number;
  readonly messageBytes: number;
  readonly maxGrowthBytes: number;
}
/** One 100 MB message under 50 MB of growth; 50 concurrent 25 MB messages under 300 MB. */
const CASES: readonly Case[] =
  process.env.MESSAGES !== undefined || process.env.MESSAGE_MB !== undefined
    ? [{ messages: Number(process.env.MESSAGES ?? 50), messageBytes: Number(process.env.MESSAGE_MB ?? 25) * MB, maxGrowthBytes: 300 * MB }]
    : [
        { messages: 1, messageBytes: 100 * MB, maxGrowthBytes: 50 * MB },
        { messages: 50, messageBytes: 25 * MB, maxGrowthBytes: 300 * MB },
      ];

const EDITS: readonly HeaderEdit[] = [
  { op: 'set', name: 'From', value: '"Oxford Stones" <orders@oxfordstones.example>' },
  { op: 'set', name: 'To', value: 'someone@example.net' },
  { op: 'delete', name: 'Cc' },
  { op: 'delete', name: 'Bcc' },
  { op: 'delete', name: 'X-Mxm-Flags' },
  { op: 'delete', name: 'X-Mxm-Tag' },
];
const LINKS = new TrackingLinks('https://t.oxfordstones.example', [{ id: 'bench-key', secret: 'bench-secret-'.repeat(3) }]);

async function one(i: number, size: number, onChunk: (c: Buffer) => void): Promise<number> {
  const sendId = `bench${i}`;
  const t = createTrackingStage({
    pixelUrl: LINKS.pixelUrl(sendId, 'someone@example.net'),
    clickUrl: (u) => LINKS.clickUrl(sendId, 'someone@example.net', u),
  });
  await pipeline(
    messageStream(size),
    createMessageTransform({ onHeaders: () => EDITS, bodyStages: [t.stage] }),
    new Writable({
      write(c: Buffer, _e, cb) {
        onChunk(c);
        cb();
      },
    }),
  );
  return t.result().linksRewritten;
}

const gc = (globalThis as { gc?: () => void }).gc;
// warm up the code paths and the allocator, then settle
await one(-1, 2 * 1024 * 1024, () => undefined);
const mb = (n: number): string => (n / 2 ** 20).toFixed(1);

for (const { messages, messageBytes, maxGrowthBytes } of CASES) {
  gc?.();
  const baseline = process.memoryUsage.rss();
  let peak = baseline;
  let bytesOut = 0;
  const sample = (): void => {
    const rss = process.memoryUsage.rss();
    if (rss > peak) peak = rss;
  };
  const timer = setInterval(sample, 10);
  const c0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  const links = await Promise.all(
    Array.from({ length: messages }, (_, i) =>
      one(i, messageBytes, (c) => {
        bytesOut += c.length;
        sample();
      }),
    ),
  );
  clearInterval(timer);
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(c0);
  const growth = peak - baseline;
  console.log(
    `${messages} concurrent message(s) of ${mb(messageBytes)} MB (tracking on, ${links.reduce((a, b) => a + b, 0)} links signed): ${mb(bytesOut)} MB out in ${wall.toFixed(1)} s (CPU ${((cpu.user + cpu.system) / 1e6).toFixed(1)} s); ` +
      `RSS baseline ${mb(baseline)} MB, peak ${mb(peak)} MB, growth ${mb(growth)} MB (limit ${mb(maxGrowthBytes)} MB)${gc ? '' : ' [no --expose-gc: baseline not settled]'}`,
  );
  if (growth >= maxGrowthBytes) {
    console.log('FAIL: peak RSS growth over the limit');
    process.exitCode = 1;
  }
}
