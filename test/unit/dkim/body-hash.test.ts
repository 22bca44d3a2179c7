import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { createRequire } from 'node:module';
import { beforeAll, describe, expect, it } from 'vitest';
import { createBodyHasher } from '../../../src/dkim/body-hash.js';
import { InvariantError } from '../../../src/lib/errors.js';
import { pythonBodyHashes } from '../../helpers/dkim-python.js';

const require = createRequire(import.meta.url);
// mailauth's own streaming relaxed body hasher (deep import: the package has no exports map)
const { dkimBody } = require('mailauth/lib/dkim/body/index.js') as {
  dkimBody: (c: string, algo: string) => { update(b: Buffer | null, final?: boolean): void; digest(enc: 'base64'): string };
};

/** RFC 6376 3.4.4 relaxed, written independently with regular expressions over a whole CRLF body. */
function referenceHash(body: Buffer): string {
  let s = body.toString('latin1').replace(/[ \t]+\r\n/g, '\r\n').replace(/[ \t]+/g, ' ');
  while (s.endsWith('\r\n\r\n')) s = s.slice(0, -2);
  if (s === '\r\n') s = '';
  return createHash('sha256').update(Buffer.from(s, 'latin1')).digest('base64');
}

function hashChunks(chunks: readonly Uint8Array[]): string {
  const h = createBodyHasher();
  for (const c of chunks) h.update(c);
  return h.digest();
}

function mailauthHash(body: Buffer): string {
  const h = dkimBody('relaxed', 'sha256');
  h.update(body);
  return h.digest('base64');
}

const b = (s: string): Buffer => Buffer.from(s, 'latin1');

/** Bodies with the traps of relaxed canonicalisation; every one ends with CRLF. */
const BODIES: Record<string, Buffer> = {
  'plain lines': b('Hello world\r\nSecond line\r\n'),
  'trailing blank lines': b('Hello\r\n\r\n\r\n\r\n'),
  'trailing whitespace-only lines': b('Hello\r\n \r\n\t\r\n  \t \r\n\r\n'),
  'leading and inner blank lines': b('\r\n\r\nfirst\r\n\r\n\r\nsecond\r\n\r\n'),
  'whitespace runs and trailing whitespace': b('a  b\t\tc \t d   \r\n\tindented\r\n  two spaces\r\nend \r\n'),
  'blank lines only': b('\r\n\r\n\r\n'),
  'one blank line': b('\r\n'),
  'empty': b(''),
  'base64 lines': b('QmFzZTY0IGF0dGFjaG1lbnQgZGF0YSBmb3IgdGhl\r\nIGJlbmNobWFyayBvZiB0aGUgdHJhbnNmb3Jt\r\n\r\n'),
  'quoted-printable': b('Caf=C3=A9 na=C3=AFve =\r\nsoft break   =\r\n\r\n'),
  '8bit UTF-8': Buffer.from('Grüße aus Köln — ok \u00a0 \r\n€100\t\r\n', 'utf8'),
};

/** Bodies whose relaxed form is also asked of dkimpy (in one run of the script). */
const UNTERMINATED: Record<string, [Buffer, Buffer]> = {
  'trailing whitespace': [b('x\r\nabc \t'), b('x\r\nabc \t\r\n')],
  'whitespace only': [b('x\r\n \t'), b('x\r\n \t\r\n')],
};
const BARE_CR = b('a\rb\r\nc \rd\r\ne\r \r\n');
const python = new Map<Buffer, string>();

beforeAll(() => {
  const asked = [...Object.values(BODIES), ...Object.values(UNTERMINATED).map(([, t]) => t), BARE_CR];
  const hashes = pythonBodyHashes(asked);
  asked.forEach((body, i) => python.set(body, hashes[i]!));
});

describe('createBodyHasher', () => {
  it.each(Object.entries(BODIES))('hashes %s like the reference, mailauth and dkimpy', (_label, body) => {
    const ours = hashChunks([body]);
    expect(ours).toBe(referenceHash(body));
    expect(ours).toBe(mailauthHash(body));
    expect(ours).toBe(python.get(body));
  });

  it('takes a bare CR inside a line as an ordinary byte, like dkimpy (mailauth differs)', () => {
    expect(hashChunks([BARE_CR])).toBe(python.get(BARE_CR));
    expect(hashChunks([BARE_CR])).toBe(referenceHash(BARE_CR));
  });

  it.each(Object.entries(BODIES))('gives the same hash for %s split at every offset (and every pair of offsets)', (_label, body) => {
    const want = referenceHash(body);
    for (let i = 0; i <= body.length; i++) {
      expect(hashChunks([body.subarray(0, i), body.subarray(i)]), `split at ${i}`).toBe(want);
      if (body.length <= 48) {
        for (let j = i; j <= body.length; j++) {
          expect(hashChunks([body.subarray(0, i), body.subarray(i, j), body.subarray(j)]), `split at ${i},${j}`).toBe(want);
        }
      }
    }
    expect(hashChunks([...body].map((x) => Uint8Array.of(x))), 'byte by byte').toBe(want);
  });

  it('agrees with the reference on random bodies cut into random chunks (seeded)', () => {
    const token = fc.constantFrom('a', 'b', ' ', '  ', '\t', '\r', '\r\n', '\r\n\r\n', 'xyz ');
    fc.assert(
      fc.property(fc.array(token, { maxLength: 60 }), fc.array(fc.nat(), { maxLength: 6 }), (tokens, cutsSeed) => {
        const body = b(`${tokens.join('')}\r\n`);
        const cuts = [...new Set(cutsSeed.map((c) => c % (body.length + 1)))].sort((x, y) => x - y);
        const chunks = [0, ...cuts].map((from, i) => body.subarray(from, [...cuts, body.length][i]));
        expect(hashChunks(chunks)).toBe(referenceHash(body));
      }),
      { seed: 6376, numRuns: 2000 },
    );
  });

  it('knows the hashes of RFC 6376 3.4.5 example and of the empty body', () => {
    // RFC 6376 3.4.5: " C \r\nD \t E\r\n\r\n\r\n" relaxed is " C\r\nD E\r\n"
    expect(hashChunks([b(' C \r\nD \t E\r\n\r\n\r\n')])).toBe(createHash('sha256').update(' C\r\nD E\r\n').digest('base64'));
    expect(hashChunks([])).toBe('47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=');
  });

  it('reads a bare LF as a line end (what arrives after Postfix is CRLF)', () => {
    expect(hashChunks([b('a \nb\n\n\n')])).toBe(referenceHash(b('a \r\nb\r\n\r\n\r\n')));
  });

  it.each(Object.entries(UNTERMINATED))('treats an unterminated last line (%s) as terminated, as it is after SMTP', (_label, [body, sent]) => {
    // SMTP delivers "abc \t" with a CRLF added; every verifier then hashes "abc\r\n"
    expect(hashChunks([body])).toBe(python.get(sent));
  });

  it('does not keep the caller\'s chunks: reusing one buffer for every update gives the right hash', () => {
    // a hasher that kept slices of pending blank lines (as mailauth's does) would hash the overwritten bytes
    const body = Buffer.concat([b('text\r\n'), b('\r\n'.repeat(5000)), b('more  text\t\r\n'), b('\r\n'.repeat(5000))]);
    const h = createBodyHasher();
    const reused = Buffer.alloc(1000);
    for (let i = 0; i < body.length; i += reused.length) {
      const n = body.copy(reused, 0, i, i + reused.length);
      h.update(reused.subarray(0, n));
      reused.fill(0x41);
    }
    expect(h.digest()).toBe(referenceHash(body));
  });

  it('streams a 100 MB body in 64 KB chunks of one reused buffer', () => {
    // every line needs fixing (tab, double space, trailing space), so the byte loop does all the work
    const line = 'field one\t two  three \r\n';
    const canonical = 'field one two three\r\n';
    const perChunk = Math.floor((64 * 1024) / line.length);
    const chunk = Buffer.from(line.repeat(perChunk), 'latin1');
    const chunks = Math.ceil((100 * 1024 * 1024) / chunk.length);
    const h = createBodyHasher();
    const ref = createHash('sha256');
    const canonicalChunk = Buffer.from(canonical.repeat(perChunk), 'latin1');
    for (let i = 0; i < chunks; i++) {
      h.update(chunk);
      ref.update(canonicalChunk);
    }
    // and a tail of blank lines, dropped
    h.update(b('\r\n'.repeat(100_000)));
    expect(h.digest()).toBe(ref.digest('base64'));
  });

  it('refuses to be used after digest', () => {
    const h = createBodyHasher();
    h.update(b('x\r\n'));
    h.digest();
    expect(() => h.digest()).toThrow(InvariantError);
    expect(() => h.update(b('y'))).toThrow(InvariantError);
  });
});
