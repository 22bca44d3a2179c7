import { PassThrough, Transform } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { pumpThrough } from '../../../src/lib/pump.js';

async function* chunks(parts: readonly string[], onDone?: () => void): AsyncGenerator<Buffer> {
  try {
    for (const p of parts) {
      await Promise.resolve();
      yield Buffer.from(p);
    }
  } finally {
    onDone?.();
  }
}

const upper = (): Transform =>
  new Transform({
    transform(chunk: Buffer, _enc, cb) {
      cb(null, Buffer.from(chunk.toString('latin1').toUpperCase(), 'latin1'));
    },
  });

describe('pumpThrough', () => {
  it('passes every byte through the duplex to the sink, in order', async () => {
    const out: Buffer[] = [];
    await pumpThrough(chunks(['ab', 'cd', 'ef']), upper(), (c) => {
      out.push(c);
    });
    expect(Buffer.concat(out).toString()).toBe('ABCDEF');
  });

  it('resolves only after every pending sink call has resolved', async () => {
    const done: string[] = [];
    await pumpThrough(chunks(['a', 'b', 'c']), upper(), async (c) => {
      await new Promise((r) => setImmediate(r));
      done.push(c.toString());
    });
    expect(done).toEqual(['A', 'B', 'C']);
  });

  it('holds the duplex while a sink call is pending, and reads the source only as the duplex takes more', async () => {
    // a tiny highWaterMark: the source may run ahead of the sink by a few chunks, not all of them
    const duplex = new PassThrough({ highWaterMark: 4 });
    let read = 0;
    let maxAhead = 0;
    let sunk = 0;
    async function* counted(): AsyncGenerator<Buffer> {
      for (let i = 0; i < 200; i++) {
        await Promise.resolve();
        read++;
        maxAhead = Math.max(maxAhead, read - sunk);
        yield Buffer.alloc(4, 0x61);
      }
    }
    await pumpThrough(counted(), duplex, async () => {
      await new Promise((r) => setImmediate(r));
      sunk++;
    });
    expect(sunk).toBe(200);
    expect(maxAhead).toBeLessThan(10);
  });

  it('rejects with the source error, destroys the duplex', async () => {
    const duplex = upper();
    async function* broken(): AsyncGenerator<Buffer> {
      await Promise.resolve();
      yield Buffer.from('x');
      throw new Error('disk gone');
    }
    await expect(pumpThrough(broken(), duplex, () => undefined)).rejects.toThrow('disk gone');
    expect(duplex.destroyed).toBe(true);
  });

  it('rejects with the duplex error and closes the source (its finally runs)', async () => {
    let closed = false;
    const duplex = new Transform({
      transform(_chunk, _enc, cb) {
        cb(new Error('EMAXLEN'));
      },
    });
    await expect(pumpThrough(chunks(['a', 'b', 'c', 'd'], () => (closed = true)), duplex, () => undefined)).rejects.toThrow('EMAXLEN');
    expect(closed).toBe(true);
  });

  it('rejects with the first sink error (thrown or rejected), destroys the duplex', async () => {
    const d1 = upper();
    await expect(
      pumpThrough(chunks(['a', 'b']), d1, () => {
        throw new Error('spool full');
      }),
    ).rejects.toThrow('spool full');
    expect(d1.destroyed).toBe(true);
    const d2 = upper();
    await expect(pumpThrough(chunks(['a', 'b']), d2, () => Promise.reject(new Error('EIO')))).rejects.toThrow('EIO');
    expect(d2.destroyed).toBe(true);
  });

  it('rejects when the duplex is destroyed before it ends (a premature close)', async () => {
    const duplex = new PassThrough();
    const pending = pumpThrough(
      (async function* () {
        await Promise.resolve();
        yield Buffer.from('a');
        duplex.destroy();
        yield Buffer.from('b');
      })(),
      duplex,
      () => undefined,
    );
    await expect(pending).rejects.toThrow(/closed before it ended/);
  });

  it('ends an empty source with an ended duplex', async () => {
    const out: Buffer[] = [];
    await pumpThrough(chunks([]), upper(), (c) => {
      out.push(c);
    });
    expect(out).toEqual([]);
  });
});
