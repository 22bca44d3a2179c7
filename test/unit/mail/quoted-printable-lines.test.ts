/**
 * mail/quoted-printable-lines.ts: decodeQuotedPrintableLines decodes exactly as libqp 3.0.1's
 * decode; spliceQuotedPrintable writes a valid quoted-printable body (qp-check.ts) that decodes
 * to the decoded body with the edits applied (bare CR/LF as CRLF), copying lines no edit
 * touches byte for byte. Random bodies (libqp-encoded text, the sender's odd encodings, junk)
 * with random edits, and hand-picked edge cases.
 */
import fc from 'fast-check';
import libqp from 'libqp';
import { describe, expect, it } from 'vitest';
import { encodeQuotedPrintable } from '../../../src/mail/quoted-printable.js';
import { decodeQuotedPrintableLines, QP_LINE_LENGTH, type QpEdit } from '../../../src/mail/quoted-printable-lines.js';
import { spliceQuotedPrintable } from '../../../src/mail/quoted-printable-splice.js';
import { crlfText, qpDecodeValid, qpLineProblems } from './qp-check.js';

/** The decoded text a spliced body must decode to: edits applied, line breaks CRLF. */
function expectedText(decoded: Buffer, edits: readonly QpEdit[]): string {
  let s = '';
  let pos = 0;
  const text = decoded.toString('latin1');
  for (const e of edits) {
    s += text.slice(pos, e.start) + e.text;
    pos = e.end;
  }
  return crlfText(s + text.slice(pos));
}

/** Splices and checks the result; returns it (latin1). */
function spliceChecked(encoded: Buffer, edits: readonly QpEdit[]): string {
  const lines = decodeQuotedPrintableLines(encoded);
  expect(lines.decoded.toString('latin1')).toBe(libqp.decode(encoded).toString('latin1'));
  const out = spliceQuotedPrintable(encoded, lines, edits).toString('latin1');
  expect(qpLineProblems(out)).toEqual([]);
  // as the stage: a body that does not end in a line break gets one
  const ended = /\n$/.test(out) ? out : `${out}\r\n`;
  const want = expectedText(lines.decoded, edits);
  expect(qpDecodeValid(ended)).toBe(/\n$/.test(want) ? want : `${want}\r\n`);
  return out;
}

const special = fc.constantFrom(0x20, 0x09, 0x0d, 0x0a, 0x3d, 0x2d, 0x41, 0x66, 0x30, 0x44, 0xc3, 0xa9, 0xff, 0x00, 0x3c, 0x22);
const byte = fc.oneof({ weight: 4, arbitrary: fc.integer({ min: 0x61, max: 0x7a }) }, { weight: 2, arbitrary: special }, { weight: 1, arbitrary: fc.integer({ min: 0, max: 255 }) });
const text = fc.array(byte, { maxLength: 400 }).map((a) => Buffer.from(a));
/** What senders write: libqp's encoding (CRLF), odd but decodable forms, junk. */
const senderLine = fc.oneof(
  { weight: 6, arbitrary: text.map((t) => encodeQuotedPrintable(t).toString('latin1').replace(/\r?\n/g, '\r\n')) },
  { weight: 1, arbitrary: fc.constantFrom('caf=c3=a9', 'a   ', 'b\t=  ', '=4=\r\n1', '=\r\n', '=', 'x=', '=0D=0A', '\n', '\r', 'y'.repeat(80), '-- x', '==41', '=G1') },
  { weight: 1, arbitrary: fc.array(byte, { maxLength: 90 }).map((a) => Buffer.from(a).toString('latin1')) },
);
const body = fc.array(fc.tuple(senderLine, fc.constantFrom('\r\n', '\r\n', '=\r\n', '', '\n')), { maxLength: 12 }).map((ls) => Buffer.from(ls.map(([l, e]) => l + e).join(''), 'latin1'));
const editText = fc.constantFrom('', 'x', '"https://t.example/c/AbC-dEf_123"', ' ', '-', '=', '- -', 'a \r\nb', 'z'.repeat(200), '<img src="https://t.example/o/x" width="1" />', `"${'-'.repeat(80)}"`, 'a b ');

/** Sorted, non-overlapping edits inside [0, size]. */
function editsArb(size: number): fc.Arbitrary<QpEdit[]> {
  return fc.array(fc.tuple(fc.nat(size), fc.nat(12), editText, fc.boolean()), { maxLength: 6 }).map((raw) => {
    const edits: QpEdit[] = [];
    let at = 0;
    for (const [start, len, t, flag] of [...raw].sort((a, b) => a[0] - b[0])) {
      if (start < at) continue;
      const end = Math.min(size, start + len);
      // texts the rewrite marks plain (printable ASCII without `=`), sometimes marked
      edits.push(flag && /^[\x20-\x3c\x3e-\x7e]*$/.test(t) ? { start, end, text: t, plain: true } : { start, end, text: t });
      at = end;
    }
    return edits;
  });
}

describe('decodeQuotedPrintableLines + spliceQuotedPrintable', () => {
  it('random bodies, random edits: libqp decoding, valid lines, the edited content', () => {
    fc.assert(
      fc.property(
        body.chain((b) => fc.tuple(fc.constant(b), editsArb(libqp.decode(b).length))),
        ([b, edits]) => {
          spliceChecked(b, edits);
        },
      ),
      { numRuns: 3000, seed: 20261202 },
    );
  });

  it('copies untouched clean lines byte for byte and returns the input when nothing changes', () => {
    const encoded = encodeQuotedPrintable(Buffer.from(`${'<p>caf\u00e9 na\u00efve</p> '.repeat(30)}\n<a href="https://x.example/">x</a>\n${'tail '.repeat(40)}\n`, 'utf8'));
    const b = Buffer.from(encoded.toString('latin1').replace(/\r?\n/g, '\r\n'), 'latin1');
    const lines = decodeQuotedPrintableLines(b);
    expect(spliceQuotedPrintable(b, lines, [])).toBe(b);
    const at = lines.decoded.indexOf('"https://x.example/"');
    const out = spliceChecked(b, [{ start: at, end: at + 20, text: '"https://t.example/c/TOKEN"' }]);
    const before = b.toString('latin1').split('\r\n');
    const after = out.split('\r\n');
    // the lines before the link's line and after it are the sender's
    const linkLine = before.findIndex((l) => l.includes('href'));
    expect(after.slice(0, linkLine)).toEqual(before.slice(0, linkLine));
    const tail = before.length - linkLine - 1;
    expect(after.slice(-tail)).toEqual(before.slice(-tail));
  });

  it('an href across a soft line break, a link on the last line, no final CRLF, =\\r\\n at the end, lines of exactly 76', () => {
    const full = 'a'.repeat(QP_LINE_LENGTH);
    const cases: Array<[string, string, string]> = [
      // [encoded body, decoded text to replace, replacement]
      ['<a href=3D"https://shop.exam=\r\nple/p/1">x</a>\r\n', '"https://shop.example/p/1"', '"https://t.example/c/1"'],
      ['<p>x</p>\r\n<a href=3D"https://x.example/">x</a>', '"https://x.example/"', '"https://t.example/c/2"'],
      ['<a href=3D"https://x.example/">x</a>=\r\n', '"https://x.example/"', '"https://t.example/c/3"'],
      ['<a href=3D"https://x.example/">x</a>=', '"https://x.example/"', '"T"'],
      [`${full}\r\n${full}\r\n`, 'a'.repeat(QP_LINE_LENGTH) + '\r\n' + 'a', '-'],
      [`${full.slice(0, 75)}=\r\n${full}`, 'aaaa', '"https://t.example/c/4"'],
      ['caf=C3=A9 =E2=82=AC <a href=3D"https://x.example/=C3=A9">x</a>\r\n', '"https://x.example/\u00c3\u00a9"', '"https://t.example/c/5"'],
      ['--x =\r\n-- <a href=3D"x">\r\n', 'x', '-'],
    ];
    for (const [enc, find, replace] of cases) {
      const b = Buffer.from(enc, 'latin1');
      const decoded = decodeQuotedPrintableLines(b).decoded.toString('latin1');
      const at = decoded.indexOf(find);
      expect(at, enc).toBeGreaterThanOrEqual(0);
      spliceChecked(b, [{ start: at, end: at + find.length, text: replace }]);
      // an insertion at the very end and at the very start too
      spliceChecked(b, [
        { start: 0, end: 0, text: '<img src="https://t.example/o/x" />' },
        { start: decoded.length, end: decoded.length, text: '<img src="https://t.example/o/y" />' },
      ]);
    }
  });

  it('a soft break at the end of the body is not copied (the content must end as libqp decodes it)', () => {
    const b = Buffer.from('abc=\r\n', 'latin1');
    const out = spliceChecked(b, []);
    expect(out).toBe('abc');
    // an edit deleting all after the sender's soft lines takes their breaks back; a space left
    // last is escaped; everything deleted leaves nothing
    expect(spliceChecked(Buffer.from('abc=\r\n=\r\ndef\r\n', 'latin1'), [{ start: 3, end: 8, text: '' }])).toBe('abc');
    expect(spliceChecked(Buffer.from('ab =\r\ndef\r\n', 'latin1'), [{ start: 3, end: 8, text: '' }])).toBe('ab=20');
    expect(spliceChecked(Buffer.from('abc=\r\ndef\r\n', 'latin1'), [{ start: 0, end: 8, text: '' }])).toBe('');
  });

  it('refuses edits that overlap', () => {
    const b = Buffer.from('abcdef\r\n', 'latin1');
    const lines = decodeQuotedPrintableLines(b);
    expect(() =>
      spliceQuotedPrintable(b, lines, [
        { start: 1, end: 4, text: 'x' },
        { start: 2, end: 3, text: 'y' },
      ]),
    ).toThrow(/overlap/);
  });
});
