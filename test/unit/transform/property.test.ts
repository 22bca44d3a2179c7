/**
 * Property tests of the message transform (fast-check, seeded: FC_SEED=<n> to replay; the
 * seed is printed on failure).
 */
import fc from 'fast-check';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, expect, it } from 'vitest';
import type { HeaderEdit } from '../../../src/core/types.js';
import { MAX_HEADER_LINE_OCTETS } from '../../../src/lib/limits.js';
import { createMessageTransform } from '../../../src/transform/message-transform.js';
import { editsArb, messageArb, splitAt, writeMessage } from './message-arbitraries.js';

const SEED = Number(process.env.FC_SEED ?? 0x7278_6d61);
const RUNS = Number(process.env.FC_RUNS ?? 300);

async function assertSeeded<T>(prop: fc.IAsyncProperty<T>): Promise<void> {
  try {
    await fc.assert(prop, { seed: SEED, numRuns: RUNS });
  } catch (err: unknown) {
    console.error(`property failed with seed ${SEED} (replay: FC_SEED=${SEED})`);
    throw err;
  }
}

async function transform(chunks: readonly Buffer[], edits: readonly HeaderEdit[]): Promise<Buffer> {
  const out: Buffer[] = [];
  await pipeline(
    Readable.from(chunks, { objectMode: false }),
    createMessageTransform({ onHeaders: () => edits }),
    new Writable({
      write(c: Buffer, _e, cb) {
        out.push(c);
        cb();
      },
    }),
  );
  return Buffer.concat(out);
}

/** Independent reader of the root header block: [fields (unfolded), rest of the message]. */
function readRoot(b: Buffer): { fields: { name: string; value: string }[]; head: string; rest: Buffer } {
  const end = b.indexOf('\r\n\r\n');
  const headEnd = end === -1 ? b.length : end + 2;
  const head = b.subarray(0, headEnd).toString('utf8');
  const fields = head
    .replace(/\r\n(?=[ \t])/g, '')
    .split('\r\n')
    .filter((l) => l !== '')
    .map((l) => {
      const i = l.indexOf(':');
      return { name: l.slice(0, i).trim(), value: l.slice(i + 1) };
    });
  return { fields, head, rest: b.subarray(headEnd) };
}

/** Token soup: structure-looking pieces, line breaks of every kind, NUL and 8-bit bytes. */
const garbageArb = fc
  .array(
    fc.oneof(
      fc.constantFrom('\r\n', '\n', '\r', '\r\n\r\n', '--b', '--b--', '--c\r\n', ' ', '\t', ':', 'From: x@y', 'Cc: z', 'text', '=?utf-8?b?w6k=?=', '\0', '\u00ff'),
      fc.constantFrom('Content-Type: multipart/mixed; boundary=b', 'Content-Type: multipart/alternative; boundary="c"', 'Content-Type: message/rfc822', 'Content-Disposition: inline', 'Content-Transfer-Encoding: base64', 'Content-Type: text/plain; format=flowed; delsp=yes'),
      fc.uint8Array({ maxLength: 20 }).map((b) => Buffer.from(b).toString('latin1')),
    ),
    { maxLength: 120 },
  )
  .map((ts) => Buffer.from(ts.join(''), 'latin1'));

describe('message transform properties', () => {
  it('never crashes on garbage: no-edit output is the input with CRLF line endings; edits apply', async () => {
    await assertSeeded(
      fc.asyncProperty(garbageArb, fc.array(fc.nat({ max: 600 }), { maxLength: 3 }), async (msg, cuts) => {
        const out = await transform(splitAt(msg, cuts), []);
        expect(out.toString('latin1')).toBe(msg.toString('latin1').replace(/\r\n|\r|\n/g, '\r\n'));
        const edited = await transform(splitAt(msg, cuts), [
          { op: 'set', name: 'From', value: 'new@x' },
          { op: 'delete', name: 'Cc' },
        ]);
        expect(/\r(?!\n)|(?<!\r)\n/.test(edited.toString('latin1'))).toBe(false);
        expect(readRoot(edited).fields.filter((f) => f.name.toLowerCase() === 'from')).toEqual([{ name: 'From', value: ' new@x' }]);
      }),
    );
  });

  it('with no edits, output is byte-identical to the CRLF input, however it is chunked', async () => {
    await assertSeeded(
      fc.asyncProperty(messageArb, fc.array(fc.nat({ max: 4000 }), { maxLength: 4 }), async (m, cuts) => {
        const msg = writeMessage(m);
        const out = await transform(splitAt(msg, cuts), []);
        expect(out.toString('latin1')).toBe(msg.toString('latin1'));
      }),
    );
  });

  it('with random edits, the result parses, set fields appear once with their value, the rest is unchanged', async () => {
    await assertSeeded(
      fc.asyncProperty(messageArb, editsArb, fc.array(fc.nat({ max: 4000 }), { maxLength: 3 }), async (m, edits, cuts) => {
        const msg = writeMessage(m);
        const out = await transform(splitAt(msg, cuts), edits);
        const before = readRoot(msg);
        const after = readRoot(out);

        // the model: last edit per name wins
        const final = new Map<string, HeaderEdit>();
        for (const e of edits) final.set(e.name.toLowerCase(), e);
        for (const [key, e] of final) {
          const got = after.fields.filter((f) => f.name.toLowerCase() === key);
          if (e.op === 'delete') expect(got).toEqual([]);
          else expect(got).toEqual([{ name: e.name, value: ` ${e.value}` }]);
        }
        // fields nobody edited keep their order and bytes; the body is unchanged
        const untouched = (fs: { name: string; value: string }[]): typeof fs => fs.filter((f) => !final.has(f.name.toLowerCase()));
        expect(untouched(after.fields)).toEqual(untouched(before.fields));
        expect(after.rest.equals(before.rest)).toBe(true);
        // CRLF only, and no written line over 998 octets
        const text = out.toString('latin1');
        expect(/\r(?!\n)|(?<!\r)\n/.test(text)).toBe(false);
        for (const line of after.head.split('\r\n')) expect(Buffer.byteLength(line, 'utf8')).toBeLessThanOrEqual(MAX_HEADER_LINE_OCTETS);
      }),
    );
  });
});
