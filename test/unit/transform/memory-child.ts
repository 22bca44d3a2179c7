/**
 * Child process of memory.test.ts: streams a generated message of argv[2] bytes (never held
 * whole) through the transform with From/To edits and prints one JSON line with the RSS
 * baseline, the peak RSS sampled at every output chunk, the bytes out and the edited header.
 * Run with: node --expose-gc --import tsx test/unit/transform/memory-child.ts <bytes>
 */
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { messageStream } from '../../../bench/lib/messages.js';
import type { HeaderEdit } from '../../../src/core/types.js';
import { createMessageTransform } from '../../../src/transform/message-transform.js';

const EDITS: readonly HeaderEdit[] = [
  { op: 'set', name: 'From', value: '"Oxford Stones" <orders@oxfordstones.example>' },
  { op: 'set', name: 'To', value: 'someone@example.net' },
  { op: 'delete', name: 'Cc' },
];

async function run(size: number, onChunk: (c: Buffer) => void): Promise<void> {
  await pipeline(
    messageStream(size),
    createMessageTransform({ onHeaders: () => EDITS }),
    new Writable({
      write(c: Buffer, _e, cb) {
        onChunk(c);
        cb();
      },
    }),
  );
}

const size = Number(process.argv[2] ?? 100 * 1024 * 1024);
const gc = (globalThis as { gc?: () => void }).gc;
// warm up code paths and allocator, then settle
await run(2 * 1024 * 1024, () => undefined);
gc?.();
const baseline = process.memoryUsage.rss();
let peak = baseline;
let bytesOut = 0;
let head = '';
await run(size, (c) => {
  bytesOut += c.length;
  if (head.length < 2048) head += c.toString('latin1', 0, Math.min(c.length, 2048));
  const rss = process.memoryUsage.rss();
  if (rss > peak) peak = rss;
});
process.stdout.write(`${JSON.stringify({ baseline, peak, bytesOut, head: head.slice(0, 2048), gc: gc !== undefined })}\n`);
