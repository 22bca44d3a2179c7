/**
 * Memory stays bounded: a 100 MB message, generated as a stream, goes through the transform
 * with header edits while RSS grows by less than 50 MB. Measured in a child process of its
 * own (node --import tsx) so that nothing else in the test runner counts.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const MESSAGE_BYTES = 100 * 1024 * 1024;
const MAX_GROWTH_BYTES = 50 * 1024 * 1024;

describe('memory', () => {
  it('streams a 100 MB message with RSS growth under 50 MB', async () => {
    const child = fileURLToPath(new URL('./memory-child.ts', import.meta.url));
    const { stdout } = await promisify(execFile)(process.execPath, ['--expose-gc', '--import', 'tsx', child, String(MESSAGE_BYTES)], {
      cwd: fileURLToPath(new URL('../../..', import.meta.url)),
      timeout: 120_000,
      maxBuffer: 1024 * 1024,
    });
    const r = JSON.parse(stdout.trim().split('\n').at(-1)!) as { baseline: number; peak: number; bytesOut: number; head: string; gc: boolean };
    console.log(`rss baseline ${(r.baseline / 2 ** 20).toFixed(1)} MB, peak growth ${((r.peak - r.baseline) / 2 ** 20).toFixed(1)} MB for ${(r.bytesOut / 2 ** 20).toFixed(1)} MB`);
    expect(r.gc).toBe(true);
    // the edits make the header a few bytes shorter than the generated input
    expect(r.bytesOut).toBeGreaterThan(MESSAGE_BYTES - 1024);
    expect(r.head).toContain('\r\nFrom: "Oxford Stones" <orders@oxfordstones.example>\r\n');
    expect(r.head).toContain('\r\nTo: someone@example.net\r\n');
    expect(r.head).not.toMatch(/^Cc:/m);
    expect(r.peak - r.baseline).toBeLessThan(MAX_GROWTH_BYTES);
  });
});
