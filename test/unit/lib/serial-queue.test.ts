import { describe, expect, it } from 'vitest';
import { SerialQueue } from '../../../src/lib/serial-queue.js';

describe('SerialQueue', () => {
  it('runs one item at a time in arrival order, refuses past maxWaiting, settles, and forgets on close', async () => {
    const started: number[] = [];
    const finish: Array<() => void> = [];
    const q = new SerialQueue<number>((n) => {
      started.push(n);
      return new Promise<void>((resolve) => finish.push(resolve));
    }, 2);
    expect(q.push(1)).toBe(true);
    q.pump();
    expect(q.push(2)).toBe(true);
    expect(q.push(3)).toBe(true);
    expect(q.push(4)).toBe(false); // 1 running + 2 waiting: one more is refused
    q.pump();
    expect(started).toEqual([1]);
    expect([q.busy, q.queued]).toEqual([true, 2]);
    const settled = q.whenSettled();
    finish.shift()?.();
    await Promise.resolve();
    await Promise.resolve();
    expect(started).toEqual([1, 2]);
    finish.shift()?.();
    await new Promise((r) => setImmediate(r));
    finish.shift()?.();
    await settled;
    expect(started).toEqual([1, 2, 3]);
    expect([q.busy, q.queued]).toEqual([false, 0]);
    q.push(5);
    q.close();
    q.pump();
    expect(started).toEqual([1, 2, 3]);
    await expect(q.whenSettled()).resolves.toBeUndefined();
  });

  it('a run that rejects does not stop the queue', async () => {
    const seen: number[] = [];
    const q = new SerialQueue<number>((n) => {
      seen.push(n);
      return n === 1 ? Promise.reject(new Error('boom')) : Promise.resolve();
    }, 5);
    q.push(1);
    q.push(2);
    q.pump();
    await q.whenSettled();
    expect(seen).toEqual([1, 2]);
  });
});
