/**
 * Memory under concurrency: 50 messages of 25 MB each (generated as streams, never held whole:
 * multipart/alternative text + quoted-printable HTML with a link, then a base64 attachment),
 * all in flight at once through createMessageTransform with the core's header edits and the
 * tracking stage (pixel, signed links), as 50 concurrent milter sessions would. Prints the RSS
 * baseline, the peak RSS growth (sampled at every output chunk and every 10 ms) and whether it
 * stayed under 300 MB. Too slow for `npm test` (1.25 GB through the splitter: tens of seconds
 * on a loaded 2-core machine), hence a bench: npm run bench:memory (exit code 1 when over).
 * Run with --expose-gc (the npm script does) so the baseline is taken after a collection.
 */
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { HeaderEdit } from '../src/core/types.js';
import { TrackingLinks } from '../src/tracking/links.js';
import { createTrackingStage } from '../src/tracking/tracking-stage.js';
import { createMessageTransform } from '../src/transform/message-transform.js';
import { messageStream } from './lib/messages.js';

const MESSAGES = Number(process.env.MESSAGES ?? 50);
const MESSAGE_BYTES = Number(process.env.MESSAGE_MB ?? 25) * 1024 * 1024;
const MAX_GROWTH_BYTES = 300 * 1024 * 1024;

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
  Array.from({ length: MESSAGES }, (_, i) =>
    one(i, MESSAGE_BYTES, (c) => {
      bytesOut += c.length;
      sample();
    }),
  ),
);
clearInterval(timer);
const wall = Number(process.hrtime.bigint() - t0) / 1e9;
const cpu = process.cpuUsage(c0);
const growth = peak - baseline;
const mb = (n: number): string => (n / 2 ** 20).toFixed(1);
console.log(
  `${MESSAGES} concurrent messages of ${mb(MESSAGE_BYTES)} MB (tracking on, ${links.reduce((a, b) => a + b, 0)} links signed): ${mb(bytesOut)} MB out in ${wall.toFixed(1)} s (CPU ${((cpu.user + cpu.system) / 1e6).toFixed(1)} s); ` +
    `RSS baseline ${mb(baseline)} MB, peak ${mb(peak)} MB, growth ${mb(growth)} MB (limit ${mb(MAX_GROWTH_BYTES)} MB)${gc ? '' : ' [no --expose-gc: baseline not settled]'}`,
);
if (growth >= MAX_GROWTH_BYTES) {
  console.log('FAIL: peak RSS growth over the limit');
  process.exitCode = 1;
}
