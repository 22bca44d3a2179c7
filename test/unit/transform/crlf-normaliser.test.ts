import fc from 'fast-check';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, expect, it } from 'vitest';
import { CrlfNormaliser, CrlfState } from '../../../src/transform/crlf-normaliser.js';
import { rewriteMessage, createMessageTransform } from '../../../src/transform/message-transform.js';

/** Reference: every CR, LF or CRLF becomes CRLF. */
const reference = (s: string): string => s.replace(/\r\n|\r|\n/g, '\r\n');

async function normaliseChunks(chunks: readonly Buffer[]): Promise<string> {
  const out: Buffer[] = [];
  await pipeline(
    Readable.from(chunks, { objectMode: false }),
    new CrlfNormaliser(),
    new Writable({
      write(c: Buffer, _e, cb) {
        out.push(c);
        cb();
      },
    }),
  );
  return Buffer.concat(out).toString('latin1');
}

async function transformChunks(chunks: readonly Buffer[]): Promise<Buffer> {
  const out: Buffer[] = [];
  await pipeline(
    Readable.from(chunks, { objectMode: false }),
    createMessageTransform({ onHeaders: () => [] }),
    new Writable({
      write(c: Buffer, _e, cb) {
        out.push(c);
        cb();
      },
    }),
  );
  return Buffer.concat(out);
}

const CASES = ['', 'a', '\r', '\n', '\r\n', '\n\r', '\r\r\n', 'a\nb\r\nc\rd', 'x\r\n\r\n\n\n\r\r', 'end\r'];

describe('CrlfNormaliser', () => {
  it.each(CASES)('normalises %j in one chunk', async (s) => {
    expect(await normaliseChunks([Buffer.from(s, 'latin1')])).toBe(reference(s));
  });

  it('gives back the input chunk itself when it is already CRLF', () => {
    const n = new CrlfState();
    const buf = Buffer.from('a\r\nb\r\n');
    expect(n.normalise(buf)).toBe(buf);
  });

  it('never doubles a CRLF split across chunks, at every split of every case, and byte by byte', async () => {
    const s = 'H: 1\r\nG: 2\n\r\nbody\rline\n\r\r\n\n';
    for (let i = 0; i <= s.length; i++) {
      for (let j = i; j <= s.length; j++) {
        const parts = [s.slice(0, i), s.slice(i, j), s.slice(j)].map((p) => Buffer.from(p, 'latin1'));
        expect(await normaliseChunks(parts), `split at ${i},${j}`).toBe(reference(s));
      }
    }
    expect(await normaliseChunks([...s].map((c) => Buffer.from(c, 'latin1')))).toBe(reference(s));
  });
});

describe('CrlfState on random line endings', () => {
  it('equals the reference for random CR/LF/CRLF text split anywhere (clean chunks are passed on as they are)', () => {
    const text = fc.array(fc.constantFrom('a', 'b', '\r', '\n', '\r\n', '\r\n', '\r\n'), { maxLength: 60 }).map((p) => p.join(''));
    fc.assert(
      fc.property(text, fc.array(fc.nat(80), { maxLength: 5 }), (s, cuts) => {
        const buf = Buffer.from(s, 'latin1');
        const at = [...new Set(cuts.map((c) => Math.min(c, buf.length)))].sort((x, y) => x - y);
        const n = new CrlfState();
        let out = '';
        let prev = 0;
        for (const c of [...at, buf.length]) {
          const chunk = buf.subarray(prev, c);
          const r = n.normalise(chunk);
          if (r !== null) out += r.toString('latin1');
          prev = c;
        }
        const tail = n.takePending();
        if (tail !== null) out += tail.toString('latin1');
        expect(out).toBe(reference(s));
      }),
      { numRuns: 2000, seed: 1202 },
    );
  });
});

describe('line endings through the message transform', () => {
  const lf = 'From: a@x.example\nTo: b@y.example\nSubject: folded\n value\n\nline one\nline two\n';
  const crlf = reference(lf);

  it('turns an LF-only message into the CRLF message, split at every byte offset', async () => {
    const src = Buffer.from(lf);
    for (let i = 0; i <= src.length; i++) {
      const out = await transformChunks([src.subarray(0, i), src.subarray(i)]);
      expect(out.toString('latin1'), `split at ${i}`).toBe(crlf);
    }
  });

  it('passes the CRLF message unchanged, split at every byte offset', async () => {
    const src = Buffer.from(crlf);
    for (let i = 0; i <= src.length; i++) {
      const out = await transformChunks([src.subarray(0, i), src.subarray(i)]);
      expect(out.equals(src), `split at ${i}`).toBe(true);
    }
  });

  it('normalises mixed endings, and a bare CR before edits are decided', async () => {
    const seen: string[] = [];
    const out = await rewriteMessage(Buffer.from('From: a@x\r\nSubject: hi\rBcc: sneaky@x\nTo: b@y\n\nbody\r'), {
      onHeaders: (f) => {
        seen.push(...f.map((x) => x.name));
        return [{ op: 'delete', name: 'Bcc' }];
      },
    });
    expect(seen).toEqual(['From', 'Subject', 'Bcc', 'To']);
    expect(out.toString()).toBe('From: a@x\r\nSubject: hi\r\nTo: b@y\r\n\r\nbody\r\n');
  });
});
