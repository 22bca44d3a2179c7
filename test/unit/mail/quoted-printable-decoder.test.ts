/**
 * mail/quoted-printable-decoder.ts decodes exactly what libqp 3.0.1's decode gives for the
 * whole input (the decoder mailsplit uses), however the input is cut into chunks: random bytes
 * biased towards the characters the rules are about, every split of hand-picked edge cases,
 * and byte-by-byte feeding.
 */
import fc from 'fast-check';
import libqp from 'libqp';
import { describe, expect, it } from 'vitest';
import { QuotedPrintableDecoder } from '../../../src/mail/quoted-printable-decoder.js';

function decodeInPieces(input: Buffer, cuts: readonly number[]): Buffer {
  const d = new QuotedPrintableDecoder();
  const out: Buffer[] = [];
  let at = 0;
  for (const c of [...cuts].sort((a, b) => a - b)) {
    out.push(d.write(input.subarray(at, c)));
    at = c;
  }
  out.push(d.write(input.subarray(at)), d.end());
  return Buffer.concat(out);
}

const special = fc.constantFrom(0x20, 0x09, 0x0d, 0x0a, 0x3d, 0x41, 0x66, 0x30, 0x39, 0x47, 0x2d, 0xc3, 0xff);
const input = fc.array(fc.oneof({ weight: 4, arbitrary: special }, { weight: 1, arbitrary: fc.integer({ min: 0, max: 255 }) }), { maxLength: 300 }).map((a) => Buffer.from(a));

const EDGE_CASES = [
  '',
  '=',
  '=4',
  '=41',
  '=4=\r\n1',
  '=4=\n1',
  '==\r\n41',
  'a= \r\nb',
  'a=\r \nb',
  'a=\r \r\nb',
  'a \t \r\nb  \n c \t',
  '= ',
  'x=\r',
  '=\r\n',
  '=3d=3D=g1=G1=',
  'caf=C3=A9 -- <a href=3D"https://x.example/?a=3D1&amp;b=3D2">x</a>=\r\n',
  '  leading\r\n\r\n   \r\n',
];

describe('QuotedPrintableDecoder = libqp.decode', () => {
  it('decodes random input cut anywhere like libqp decodes it whole', () => {
    fc.assert(
      fc.property(input, fc.array(fc.nat(300), { maxLength: 6 }), (b, cuts) => {
        const got = decodeInPieces(b, cuts.map((c) => c % (b.length + 1)));
        expect(got.toString('latin1')).toBe(libqp.decode(b).toString('latin1'));
      }),
      { numRuns: 5000, seed: 20261202 },
    );
  });

  it('decodes the edge cases at every split and byte by byte', () => {
    for (const text of EDGE_CASES) {
      const b = Buffer.from(text, 'latin1');
      const want = libqp.decode(b).toString('latin1');
      for (let cut = 0; cut <= b.length; cut++) expect(decodeInPieces(b, [cut]).toString('latin1')).toBe(want);
      expect(decodeInPieces(b, Array.from({ length: b.length }, (_, i) => i)).toString('latin1')).toBe(want);
    }
  });

  it('writes a chunk that ends in a settled byte at once, holding only an undecided tail', () => {
    const d = new QuotedPrintableDecoder();
    expect(d.write(Buffer.from('<a href=3D"x">', 'latin1')).toString('latin1')).toBe('<a href="x">');
    // a soft break may follow: "=" and a line-end space wait for the next chunk
    expect(d.write(Buffer.from('ok =', 'latin1')).toString('latin1')).toBe('ok');
    expect(d.write(Buffer.from('\r\nmore', 'latin1')).toString('latin1')).toBe(' more');
    expect(d.end().length).toBe(0);
  });

  it('holds a long run of spaces without copying it per chunk, and decodes it once settled', () => {
    const d = new QuotedPrintableDecoder();
    const spaces = Buffer.alloc(64 * 1024, 0x20);
    for (let i = 0; i < 20; i++) expect(d.write(spaces).length).toBe(0);
    expect(d.write(Buffer.from('x')).length).toBe(20 * spaces.length + 1);
    for (let i = 0; i < 3; i++) d.write(spaces);
    expect(d.write(Buffer.from('\r\n')).toString('latin1')).toBe('\r\n');
  });
});
