/**
 * CPU cost of DKIM signing next to the header rewrite, per message.
 *
 * For 5 KB, 100 KB and 20 MB messages (bench/lib/messages.ts, in 64 KB chunks like milter
 * body chunks) it measures, interleaved round by round after a warm-up:
 *  (a) signMessage with an RSA-2048 and an Ed25519 key: header block, streaming relaxed body
 *      hash, both signatures — what signing a whole message costs;
 *  (b) createMessageTransform with a From edit, as bench/transform.ts runs it — the header
 *      rewrite alone;
 * and prints the CPU time per message (process.cpuUsage, user + system) of each, the ratio
 * a/b, and the parts of (a) measured on their own: the body hash, one RSA-2048 signature and
 * one Ed25519 signature (signatureFields over a precomputed body hash). Figures only.
 * Run: npx tsx bench/dkim.ts (BENCH_ROUNDS=n for more rounds).
 */
import { loadavg } from 'node:os';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { HeaderEdit } from '../src/core/types.js';
import { generateDkimKey, privateKeyFromPem } from '../src/dkim/keys.js';
import { createBodyHasher, signatureFields, signMessage, type SigningKey } from '../src/dkim/signer.js';
import { parseHeaderBlock } from '../src/mail/header-block.js';
import { createMessageTransform } from '../src/transform/message-transform.js';
import { chunksOf, makeMessage } from './lib/messages.js';

const EDITS: readonly HeaderEdit[] = [{ op: 'set', name: 'From', value: '"Oxford Stones" <orders@oxfordstones.example>' }];
const TIME = new Date('2025-06-03T10:00:00Z');

const [r, e] = await Promise.all([generateDkimKey('rsa-sha256'), generateDkimKey('ed25519-sha256')]);
const RSA: SigningKey = { domain: 'oxfordstones.example', selector: 'trx20250603r', algorithm: 'rsa-sha256', privateKey: privateKeyFromPem(r.privateKeyPem, 'rsa-sha256') };
const ED: SigningKey = { domain: 'oxfordstones.example', selector: 'trx20250603e', algorithm: 'ed25519-sha256', privateKey: privateKeyFromPem(e.privateKeyPem, 'ed25519-sha256') };

async function rewrite(chunks: readonly Buffer[]): Promise<void> {
  await pipeline(
    Readable.from(chunks, { objectMode: false }),
    createMessageTransform({ onHeaders: () => EDITS }),
    new Writable({
      write(_chunk: Buffer, _e, cb) {
        cb();
      },
    }),
  );
}

/** CPU seconds (user + system) spent by `count` runs of `f`. */
async function cpu(count: number, f: () => unknown): Promise<number> {
  const c0 = process.cpuUsage();
  for (let i = 0; i < count; i++) await f();
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / 1e6;
}

const SIZES = [
  { label: '5 KB', size: 5 * 1024, perRound: 400 },
  { label: '100 KB', size: 100 * 1024, perRound: 80 },
  { label: '20 MB', size: 20 * 1024 * 1024, perRound: 2 },
];
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 6);
const ms = (s: number, n: number): string => `${((s / n) * 1000).toFixed(3).padStart(9)} ms`;

console.log(`node ${process.version}, ${ROUNDS} interleaved rounds after 1 warm-up round, load average ${loadavg()[0]!.toFixed(2)}`);
console.log('CPU time per message: a) DKIM sign (body hash + RSA-2048 + Ed25519)  b) header rewrite (From edit)');
for (const { label, size, perRound } of SIZES) {
  const msg = makeMessage(size);
  const chunks = chunksOf(msg, 64 * 1024);
  const bodyStart = msg.indexOf('\r\n\r\n') + 4;
  const headers = parseHeaderBlock(msg.subarray(0, bodyStart)).fields;
  const bodyChunks = chunksOf(msg.subarray(bodyStart), 64 * 1024);

  const sign = (): Promise<unknown> => signMessage(chunks, [RSA, ED], TIME);
  const rw = (): Promise<void> => rewrite(chunks);
  await cpu(perRound, sign);
  await cpu(perRound, rw);
  let a = 0;
  let b = 0;
  for (let round = 0; round < ROUNDS; round++) {
    // alternate which goes first so neither always gets the warmer turn
    if (round % 2 === 0) {
      a += await cpu(perRound, sign);
      b += await cpu(perRound, rw);
    } else {
      b += await cpu(perRound, rw);
      a += await cpu(perRound, sign);
    }
  }
  const n = perRound * ROUNDS;

  // the parts of (a) on their own
  let bodyHash = '';
  const hash = await cpu(n, () => {
    const h = createBodyHasher();
    for (const c of bodyChunks) h.update(c);
    bodyHash = h.digest();
  });
  const signs = Math.max(n, 200);
  const rsa = await cpu(signs, () => signatureFields({ headers, bodyHash, keys: [RSA], time: TIME }));
  const ed = await cpu(signs, () => signatureFields({ headers, bodyHash, keys: [ED], time: TIME }));

  console.log(
    `${label.padStart(6)} (${n} msgs)  a) ${ms(a, n)}  b) ${ms(b, n)}  a/b ${(a / b).toFixed(2).padStart(6)}` +
      `   | parts of a): body hash ${ms(hash, n)}, RSA-2048 sign ${ms(rsa, signs)}, Ed25519 sign ${ms(ed, signs)}`,
  );
}
