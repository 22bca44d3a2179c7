/**
 * Quoted-printable (RFC 2045 6.7) edited in place: the tracking rewrite decodes a QP part
 * keeping where each encoded line's bytes went (decodeQuotedPrintableLines), and writes the
 * rewritten part by copying the sender's encoded lines through and encoding only the bytes of
 * each edit, plus whatever of its line has to move (spliceQuotedPrintable). Most of a
 * newsletter is never decoded-and-re-encoded byte by byte; only its links and the pixel are.
 *
 * Decoding is exactly libqp 3.0.1's `decode` of the whole body (mail/quoted-printable-decoder.ts
 * describes it). The body is cut into units:
 *  - a CLEAN line: at most 76 characters, then CRLF (or the end of the body), made only of
 *    printable ASCII, SP and TAB, where every `=` is `=XX` with two upper-case hex digits
 *    (not CR or LF: those decode to line breaks that the stage writes as CRLF) or the last
 *    character before the CRLF (a soft line break); not ending in SP/TAB; a soft break on
 *    the body's last line is not clean. Such a line decodes on its own: its escapes and soft
 *    break are inside it, and libqp removes nothing else from it;
 *  - a DIRTY unit: every other line makes its whole hard line dirty (from after the previous
 *    line break that is not a soft break to the next one, which is where libqp's steps can
 *    reach: an escape can straddle a soft break, `=4=\r\n1`), decoded with
 *    QuotedPrintableDecoder on its own — the same as in context, as libqp never looks past a
 *    line break that survives its step 2.
 *
 * Splicing (mail/quoted-printable-splice.ts) takes edits in decoded offsets (sorted, not overlapping: html-rewrite.ts's) and
 * writes, in order: clean lines no edit touches, byte for byte; for each run of edits (plus
 * the dirty units, always re-encoded): the start of the first edit's line as written, the
 * decoded bytes up to and through the last edit of the run encoded (its encodeRange, lines of
 * at most 76 characters with soft breaks, `=` and 8-bit escaped, SP/TAB escaped before a line
 * break and at the end of the run, a `-` starting a line escaped so no line can look like a
 * MIME boundary, CR and LF written as CRLF), then the rest of the last line as written: after
 * the run when it fits in 76 characters, else on a line of its own after a soft break (encoded
 * instead only when it starts with `-`). An edit text the rewrite marks plain (QpEdit.plain: a
 * tracking URL) is written with a few native copies instead of byte by byte. The output decodes
 * to the decoded body with the edits applied, with every bare CR or LF as CRLF (what encoding
 * it whole with libqp and normalising line ends gives); every line is at most 76 characters,
 * ends in CRLF and has `=` only as an escape or a soft break; the last line never ends in a
 * soft break. It is not libqp's encoding of the whole part.
 *
 * Limits: none of its own; the caller bounds the body (tracking-stage.ts holds at most
 * MAX_TRACKED_HTML_BYTES). The decoded copy is at most the body's size, the output the body's
 * size plus about the edit texts' (three times theirs when not plain).
 *
 * Pure; never throws on input (edits out of order, overlapping or out of range are a bug:
 * InvariantError).
 */
import { QuotedPrintableDecoder } from './quoted-printable-decoder.js';

/** RFC 2045 6.7 (5): encoded lines are at most 76 characters, a soft break's `=` included. */
export const QP_LINE_LENGTH = 76;

export const CR = 0x0d;
export const LF = 0x0a;
export const EQ = 0x3d;
export const SP = 0x20;
export const TAB = 0x09;
export const HYPHEN = 0x2d;

/** Unit kinds. */
export const HARD = 0;
const SOFT = 1;
/** The body's last line, without a line break. */
export const LAST = 2;
export const DIRTY = 3;

/** 1 for the bytes a clean line may hold as they are: printable ASCII but `=`, SP, TAB. */
const LITERAL = new Uint8Array(256);
for (let c = 0x21; c <= 0x7e; c++) LITERAL[c] = 1;
LITERAL[EQ] = 0;
LITERAL[SP] = 1;
LITERAL[TAB] = 1;
/** 0-15 for an upper-case hex digit, -1 otherwise (RFC 2045: "uppercase letters must be used"). */
const HEX_UPPER = new Int8Array(256).fill(-1);
for (let i = 0; i < 16; i++) HEX_UPPER['0123456789ABCDEF'.charCodeAt(i)] = i;
export const HEX = Buffer.from('0123456789ABCDEF', 'latin1');
/** How encodeRange writes a byte: 0 as it is, 1 SP/TAB (as it is unless a line break or the end follows), 2 `=XX`, 3 CR, 4 LF. */
export const ENCODE_KIND = new Uint8Array(256).fill(2);
for (let c = 0x21; c <= 0x7e; c++) ENCODE_KIND[c] = 0;
ENCODE_KIND[EQ] = 2;
ENCODE_KIND[SP] = 1;
ENCODE_KIND[TAB] = 1;
ENCODE_KIND[CR] = 3;
ENCODE_KIND[LF] = 4;

/** A replacement of decoded bytes [start, end) by `text` (ASCII). */
export interface QpEdit {
  readonly start: number;
  readonly end: number;
  readonly text: string;
  /** Set when `text` is known to be printable ASCII (SP included) without `=`: copied in slices. */
  readonly plain?: boolean;
}

/** A QP body decoded, with its units (see the header): parallel arrays, `count` long. */
export interface QpLines {
  /** libqp's decoding of the whole body. */
  readonly decoded: Buffer;
  readonly count: number;
  /** Encoded offset of the unit's first byte. */
  readonly eStart: Int32Array;
  /** Encoded offset just past a clean line's characters (a soft break's `=` included, its CRLF not); a dirty unit's end. */
  readonly eEnd: Int32Array;
  /** Decoded offset of the unit's first byte; dStart[count] is decoded.length. */
  readonly dStart: Int32Array;
  readonly kind: Uint8Array;
}

/** Growable parallel arrays for the units. */
class Units {
  count = 0;
  eStart: Int32Array;
  eEnd: Int32Array;
  dStart: Int32Array;
  kind: Uint8Array;

  constructor(capacity: number) {
    this.eStart = new Int32Array(capacity);
    this.eEnd = new Int32Array(capacity);
    this.dStart = new Int32Array(capacity + 1);
    this.kind = new Uint8Array(capacity);
  }

  push(eStart: number, eEnd: number, dStart: number, kind: number): void {
    const i = this.count++;
    if (i >= this.eStart.length) this.#grow();
    this.eStart[i] = eStart;
    this.eEnd[i] = eEnd;
    this.dStart[i] = dStart;
    this.kind[i] = kind;
  }

  #grow(): void {
    const size = this.eStart.length * 2 + 16;
    const grow32 = (a: Int32Array, n: number): Int32Array => {
      const b = new Int32Array(n);
      b.set(a);
      return b;
    };
    this.eStart = grow32(this.eStart, size);
    this.eEnd = grow32(this.eEnd, size);
    this.dStart = grow32(this.dStart, size + 1);
    const k = new Uint8Array(size);
    k.set(this.kind);
    this.kind = k;
  }
}

/** True when the LF at `lf` is a line break after libqp's steps 1 and 2 (not part of a soft break). */
function hardBreak(input: Uint8Array, lf: number): boolean {
  let q = lf - 1;
  if (q >= 0 && input[q] === CR) q--;
  while (q >= 0 && (input[q] === SP || input[q] === TAB)) q--;
  return !(q >= 0 && input[q] === EQ);
}

/**
 * Decodes a whole quoted-printable body (libqp's `decode`) and records its units. Linear in
 * the input; the decoded bytes are a new buffer of at most its size.
 */
export function decodeQuotedPrintableLines(input: Buffer): QpLines {
  const n = input.length;
  const out = Buffer.allocUnsafe(n);
  // a clean line holds at most 78 bytes: about n / 60 units for a typical body
  const units = new Units((n >> 6) + 16);
  const o = scanLines(input, out, units);
  units.dStart[units.count] = o;
  return { decoded: out.subarray(0, o), count: units.count, eStart: units.eStart, eEnd: units.eEnd, dStart: units.dStart, kind: units.kind };
}

/** Decodes `input` into `out` unit by unit (recorded in `units`); returns the decoded length. */
function scanLines(input: Buffer, out: Buffer, units: Units): number {
  const n = input.length;
  let o = 0;
  let pos = 0;
  /** Where the current hard line started: unit count, encoded and decoded offsets. */
  let hardUnit = 0;
  let hardE = 0;
  let hardD = 0;
  while (pos < n) {
    // one pass over the line: its bytes are decoded as they are checked (no indexOf: a clean
    // line ends at its CRLF, which is not a literal byte)
    const o0 = o;
    let i = pos;
    let clean = true;
    let kind = HARD;
    /** End of the line's characters, and where the next line starts. */
    let contentEnd = n;
    let next = n;
    for (;;) {
      // four literal bytes at a time (most of a line), then byte by byte
      while (i + 4 <= n) {
        const c0 = input[i]!;
        const c1 = input[i + 1]!;
        const c2 = input[i + 2]!;
        const c3 = input[i + 3]!;
        if ((LITERAL[c0]! & LITERAL[c1]! & LITERAL[c2]! & LITERAL[c3]!) === 0) break;
        out[o] = c0;
        out[o + 1] = c1;
        out[o + 2] = c2;
        out[o + 3] = c3;
        o += 4;
        i += 4;
      }
      if (i === n) {
        kind = LAST;
        break;
      }
      const c = input[i]!;
      if (LITERAL[c] === 1) {
        out[o++] = c;
        i++;
        continue;
      }
      if (c === EQ && i + 2 < n) {
        const hi = HEX_UPPER[input[i + 1]!]!;
        const lo = HEX_UPPER[input[i + 2]!]!;
        if (hi >= 0 && lo >= 0) {
          const v = hi * 16 + lo;
          out[o++] = v;
          i += 3;
          if (v !== CR && v !== LF) continue;
        } else if (input[i + 1] === CR && input[i + 2] === LF) {
          // a soft break: only before a CRLF that is not the body's last
          kind = SOFT;
          contentEnd = i + 1;
          next = i + 3;
          clean = next < n;
          break;
        }
      } else if (c === CR && i + 1 < n && input[i + 1] === LF) {
        contentEnd = i;
        next = i + 2;
        break;
      }
      clean = false;
      break;
    }
    if (clean) {
      if (kind === LAST) contentEnd = n;
      const last = input[contentEnd - 1];
      clean = contentEnd - pos <= QP_LINE_LENGTH && (kind === SOFT || contentEnd === pos || (last !== SP && last !== TAB));
    }
    if (clean) {
      units.push(pos, contentEnd, o0, kind);
      if (kind === HARD) {
        out[o++] = CR;
        out[o++] = LF;
        hardUnit = units.count;
        hardE = next;
        hardD = o;
      }
      pos = next;
      continue;
    }
    // dirty: the whole hard line (to the line break that ends it), decoded as libqp does
    const lf = input.indexOf(LF, i);
    units.count = hardUnit;
    o = dirtyUnit(input, out, units, hardE, hardD, lf);
    hardUnit = units.count;
    hardE = units.eEnd[hardUnit - 1]!;
    hardD = o;
    pos = hardE;
  }
  return o;
}

/**
 * Decodes the dirty unit from `from` (a hard line's start; decoded at `o`) to the line break
 * that ends its hard line, the first from `lf` on (libqp's decode, on its own: the same as in
 * context). Records it; returns the new decoded length.
 */
function dirtyUnit(input: Buffer, out: Buffer, units: Units, from: number, o: number, lf: number): number {
  let end = lf;
  while (end >= 0 && !hardBreak(input, end)) end = input.indexOf(LF, end + 1);
  const unitNext = end < 0 ? input.length : end + 1;
  const d = new QuotedPrintableDecoder();
  const a = d.write(input.subarray(from, unitNext));
  const b = d.end();
  units.push(from, unitNext, o, DIRTY);
  o += a.copy(out, o);
  o += b.copy(out, o);
  return o;
}
