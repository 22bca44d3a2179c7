/**
 * Seeded property tests (fast-check prints the seed and the shrunk input on failure): whatever
 * the MTA sends, codec + session either work or refuse with ProtocolError — never another
 * error, never a hang — and every handler gets close() exactly once.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ProtocolError } from '../../../src/lib/errors.js';
import { decodeCommand, MilterFrameDecoder } from '../../../src/milter/decode.js';
import { MilterSession } from '../../../src/milter/session.js';
import { mta, parseResponses, recorder } from './helpers.js';

async function drive(chunks: Buffer[], omit: string[] = []): Promise<{ error: unknown; calls: string[] }> {
  const r = recorder({ omit, eom: () => ({ edits: [{ kind: 'addheader', name: 'X', value: 'y' }], reply: { kind: 'continue' } }) });
  const session = new MilterSession(r.handler);
  const decoder = new MilterFrameDecoder();
  const out: Buffer[] = [];
  let error: unknown = null;
  try {
    for (const c of chunks) for (const f of decoder.push(c)) await session.handle(decodeCommand(f), (b) => void out.push(b));
  } catch (err: unknown) {
    error = err;
  }
  await session.close();
  parseResponses(Buffer.concat(out)); // every response is a whole, well-formed packet
  return { error, calls: r.calls };
}

/** Valid frames, weighted towards the message commands so that runs get deep into messages. */
const validFrame = fc.oneof(
  { arbitrary: fc.constant(mta.O()), weight: 1 },
  { arbitrary: fc.constant(mta.C('h', '4', 25, '192.0.2.1')), weight: 2 },
  { arbitrary: fc.constant(mta.H('helo.example')), weight: 2 },
  { arbitrary: fc.constant(mta.D('M', ['{auth_authen}', 'u'])), weight: 3 },
  { arbitrary: fc.constant(mta.M('<a@b.example>', 'SIZE=1')), weight: 8 },
  { arbitrary: fc.constant(mta.R('<c@d.example>')), weight: 8 },
  { arbitrary: fc.constant(mta.T()), weight: 4 },
  { arbitrary: fc.constant(mta.L('Subject', ' x\n y')), weight: 5 },
  { arbitrary: fc.constant(mta.N()), weight: 3 },
  { arbitrary: fc.constant(mta.B('body\r\n')), weight: 4 },
  { arbitrary: fc.constant(mta.E()), weight: 5 },
  { arbitrary: fc.constant(mta.A()), weight: 4 },
  { arbitrary: fc.constant(mta.U('XFOO')), weight: 1 },
  { arbitrary: fc.constant(mta.Q()), weight: 1 },
);
const methods = fc.subarray(['connect', 'helo', 'mail', 'rcpt', 'data', 'header', 'eoh', 'body', 'unknown', 'abort', 'close']);

describe('fuzz', () => {
  it('random bytes after a valid negotiation: success or ProtocolError', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 200 }), fc.nat(200), async (bytes, cut) => {
        const all = Buffer.concat([mta.O(), Buffer.from(bytes)]);
        const { error, calls } = await drive([all.subarray(0, cut), all.subarray(cut)]);
        if (error !== null) expect(error).toBeInstanceOf(ProtocolError);
        expect(calls.filter((c) => c === 'close')).toHaveLength(1);
      }),
      { seed: 20260822, numRuns: 400 },
    );
  });

  it('valid frames in random order, any handler shape: success or EMILTER_STATE', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(validFrame, { maxLength: 40 }), methods, async (frames, omit) => {
        const { error, calls } = await drive([Buffer.concat([mta.O(), ...frames])], omit);
        if (error !== null) {
          expect(error).toBeInstanceOf(ProtocolError);
          expect((error as ProtocolError).code).toBe('EMILTER_STATE');
        }
        // Every message that reached mail() ended with exactly one eom() or abort().
        if (!omit.includes('abort') && !omit.includes('mail')) {
          let open = false;
          for (const c of calls) {
            if (c.startsWith('mail ')) {
              expect(open).toBe(false);
              open = true;
            } else if (c.startsWith('eom ') || c === 'abort') {
              expect(open).toBe(true);
              open = false;
            }
          }
          expect(open).toBe(false);
        }
        if (!omit.includes('close')) expect(calls.at(-1)).toBe('close');
      }),
      { seed: 20260823, numRuns: 1000 },
    );
  });
});
