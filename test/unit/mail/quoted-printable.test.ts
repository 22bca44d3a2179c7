/**
 * mail/quoted-printable.ts writes exactly what libqp 3.0.1 writes (the library mailsplit's
 * encoder uses): encode === one libqp Encoder given the bytes in one write. Random bytes biased towards the characters the rules are about (SP,
 * TAB, CR, LF, `=`, `-`, hex digits, 8-bit), long lines, and sizes past the 64 KiB slice.
 */
import fc from 'fast-check';
import libqp from 'libqp';
import { describe, expect, it } from 'vitest';
import { encodeQuotedPrintable } from '../../../src/mail/quoted-printable.js';

function libqpEncode(input: Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const enc = new libqp.Encoder();
    const out: Buffer[] = [];
    enc.on('data', (c: Buffer) => out.push(c));
    enc.on('end', () => resolve(Buffer.concat(out).toString('latin1')));
    enc.on('error', reject);
    enc.end(input);
  });
}

const special = fc.constantFrom(0x20, 0x09, 0x0d, 0x0a, 0x3d, 0x2d, 0x2e, 0x2c, 0x41, 0x66, 0x30, 0x39, 0xc3, 0xa9, 0xe2, 0x80, 0xff, 0x00);
const byte = fc.oneof({ weight: 3, arbitrary: fc.integer({ min: 0x61, max: 0x7a }) }, { weight: 3, arbitrary: special }, { weight: 1, arbitrary: fc.integer({ min: 0, max: 255 }) });
const bytes = fc.array(byte, { maxLength: 600 }).map((a) => Buffer.from(a));
/** Long lines (no break for a while), to exercise the soft-break choices. */
const longLines = fc.array(fc.tuple(fc.array(byte, { minLength: 60, maxLength: 300 }), fc.constantFrom('\r\n', '\n', '', ' \r\n', '\r')), { maxLength: 6 }).map((ls) =>
  Buffer.concat(ls.map(([l, e]) => Buffer.concat([Buffer.from(l), Buffer.from(e, 'latin1')]))),
);

describe('quoted-printable = libqp', () => {
  it('encodes like a libqp Encoder given the bytes in one write', async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(bytes, longLines), async (b) => {
        expect(encodeQuotedPrintable(b).toString('latin1')).toBe(await libqpEncode(b));
      }),
      { numRuns: 2000, seed: 4243 },
    );
    for (const s of ['', ' ', '\t', 'a ', '-', '\n-x', '--b', 'x\r', `${'a'.repeat(75)}-b`, `${'\u00e9'.repeat(40)}`, `${'ab '.repeat(40)}`]) {
      const b = Buffer.from(s, 'utf8');
      expect(encodeQuotedPrintable(b).toString('latin1')).toBe(await libqpEncode(b));
    }
  });

  it('encodes inputs past the 64 KiB slice like libqp', async () => {
    const html = Buffer.from(`<p>caf\u00e9 -- <a href="https://x.example/?a=1&b=2">x</a>\t </p>\n`.repeat(4000), 'utf8');
    for (const end of [html.length, 65535, 65536, 65537, 131073]) {
      const b = html.subarray(0, end);
      expect(encodeQuotedPrintable(b).toString('latin1')).toBe(await libqpEncode(b));
    }
    expect(libqp.decode(encodeQuotedPrintable(html)).equals(html)).toBe(true);
  });
});
