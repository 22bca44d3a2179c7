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
 * Splicing takes edits in decoded offsets (sorted, not overlapping: html-rewrite.ts's) and
 * writes, in order: clean lines no edit touches, byte for byte; for each run of edits (plus
 * the dirty units, always re-encoded): the start of the first edit's line as written, the
 * decoded bytes up to and through the last edit of the run encoded (encodeRange below, lines of
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
import { InvariantError } from '../lib/errors.js';
import { QuotedPrintableDecoder } from './quoted-printable-decoder.js';

/** RFC 2045 6.7 (5): encoded lines are at most 76 characters, a soft break's `=` included. */
export const QP_LINE_LENGTH = 76;

const CR = 0x0d;
const LF = 0x0a;
const EQ = 0x3d;
const SP = 0x20;
const TAB = 0x09;
const HYPHEN = 0x2d;

/** Unit kinds. */
const HARD = 0;
const SOFT = 1;
/** The body's last line, without a line break. */
const LAST = 2;
const DIRTY = 3;

/** 1 for the bytes a clean line may hold as they are: printable ASCII but `=`, SP, TAB. */
const LITERAL = new Uint8Array(256);
for (let c = 0x21; c <= 0x7e; c++) LITERAL[c] = 1;
LITERAL[EQ] = 0;
LITERAL[SP] = 1;
LITERAL[TAB] = 1;
/** 0-15 for an upper-case hex digit, -1 otherwise (RFC 2045: "uppercase letters must be used"). */
const HEX_UPPER = new Int8Array(256).fill(-1);
for (let i = 0; i < 16; i++) HEX_UPPER['0123456789ABCDEF'.charCodeAt(i)] = i;
const HEX = Buffer.from('0123456789ABCDEF', 'latin1');
/** How encodeRange writes a byte: 0 as it is, 1 SP/TAB (as it is unless a line break or the end follows), 2 `=XX`, 3 CR, 4 LF. */
const ENCODE_KIND = new Uint8Array(256).fill(2);
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

/** A growable output buffer. */
class Output {
  buf: Buffer;
  o = 0;
  /** Characters on the current output line (tracked by the encoder and after verbatim copies). */
  col = 0;

  constructor(size: number) {
    this.buf = Buffer.allocUnsafe(size);
  }

  room(more: number): Buffer {
    if (this.o + more > this.buf.length) {
      const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.o + more));
      this.buf.copy(next, 0, 0, this.o);
      this.buf = next;
    }
    return this.buf;
  }

  copy(src: Buffer, from: number, to: number): void {
    if (to <= from) return;
    this.room(to - from);
    this.o += src.copy(this.buf, this.o, from, to);
  }

  /**
   * Takes back a soft break that ends the output (a sender's soft line copied before a run
   * that deleted everything after it): the body's last line must not end in one. SP/TAB it
   * leaves last on the line is escaped (on a line of its own when the line has no room).
   */
  dropSoftBreak(): void {
    const buf = this.buf;
    let o = this.o;
    if (o < 3 || buf[o - 3] !== EQ || buf[o - 2] !== CR || buf[o - 1] !== LF) return;
    // (an empty soft line is only a soft break: take back all of them)
    while (o >= 3 && buf[o - 3] === EQ && buf[o - 2] === CR && buf[o - 1] === LF) o -= 3;
    this.o = o;
    this.col = o === 0 ? 0 : o - (buf.lastIndexOf(LF, o - 1) + 1);
    const c = o === 0 ? -1 : buf[o - 1]!;
    if (c !== SP && c !== TAB) return;
    this.o = --o;
    this.col--;
    if (this.col + 3 > QP_LINE_LENGTH) this.softBreak();
    const b = this.room(3);
    b[this.o++] = EQ;
    b[this.o++] = HEX[c >> 4]!;
    b[this.o++] = HEX[c & 15]!;
    this.col += 3;
  }

  softBreak(): void {
    const buf = this.room(3);
    buf[this.o++] = EQ;
    buf[this.o++] = CR;
    buf[this.o++] = LF;
    this.col = 0;
  }
}

/**
 * Encodes `src[from, to)` onto `out` from its current column: lines of at most 76 with the
 * soft break's `=` (75 characters and `=`, or up to 75 before a CRLF), tokens never cut.
 */
function encodeRange(out: Output, src: Uint8Array, from: number, to: number): void {
  // worst case: every byte an escape, plus a soft break every 25 of them
  const buf = out.room((to - from) * 4 + 8);
  let o = out.o;
  let col = out.col;
  const limit = QP_LINE_LENGTH - 1;
  for (let i = from; i < to; i++) {
    const c = src[i]!;
    let k = ENCODE_KIND[c]!;
    if (k === 3 || k === 4) {
      // CRLF, or a bare CR or LF written as CRLF
      if (k === 3 && i + 1 < to && src[i + 1] === LF) i++;
      buf[o++] = CR;
      buf[o++] = LF;
      col = 0;
      continue;
    }
    if (k === 1) {
      const after = i + 1 < to ? src[i + 1]! : -1;
      k = after === -1 || after === CR || after === LF ? 2 : 0;
    }
    if (k === 0 && col + 1 > limit) {
      buf[o++] = EQ;
      buf[o++] = CR;
      buf[o++] = LF;
      col = 0;
    }
    if (k === 0 && !(c === HYPHEN && col === 0)) {
      buf[o++] = c;
      col++;
      continue;
    }
    if (col + 3 > limit) {
      buf[o++] = EQ;
      buf[o++] = CR;
      buf[o++] = LF;
      col = 0;
    }
    buf[o++] = EQ;
    buf[o++] = HEX[c >> 4]!;
    buf[o++] = HEX[c & 15]!;
    col += 3;
  }
  out.o = o;
  out.col = col;
}

/** Encoded offset of decoded offset `x` inside clean unit `u` (a character boundary). */
function encodedAt(input: Uint8Array, lines: QpLines, u: number, x: number): number {
  let e = lines.eStart[u]!;
  for (let d = lines.dStart[u]!; d < x; d++) e += input[e] === EQ ? 3 : 1;
  return e;
}

/** The decoded bytes of one run, gathered before they are encoded (reused from run to run). */
class RunBytes {
  buf: Buffer = Buffer.allocUnsafe(1024);
  len = 0;

  take(decoded: Buffer, from: number, to: number): void {
    if (to <= from) return;
    if (this.len + (to - from) > this.buf.length) this.buf = grown(this.buf, this.len, to - from);
    this.len += decoded.copy(this.buf, this.len, from, to);
  }

  put(text: string): void {
    if (text.length === 0) return;
    if (this.len + text.length > this.buf.length) this.buf = grown(this.buf, this.len, text.length);
    this.len += this.buf.write(text, this.len, 'latin1');
  }
}

/**
 * Adds a plain edit text (QpEdit.plain) to the run: written whole into the output buffer ahead
 * of where it goes (one native call), then moved into place a line's room at a time
 * (copyWithin); a `-` starting a line and a SP ending the text escaped.
 */
function putPlainText(out: Output, run: RunBytes, text: string): void {
  const n = text.length;
  if (n === 0) return;
  if (run.len > 0) {
    encodeRange(out, run.buf, 0, run.len);
    run.len = 0;
  }
  const limit = QP_LINE_LENGTH - 1;
  // at most one soft break and one "=2D" per line of at least limit - 2 characters of text
  const lines = Math.ceil(n / (limit - 2)) + 1;
  const most = n + 5 * lines + 3;
  const buf = out.room(most + n);
  let o = out.o;
  const at = o + most;
  buf.write(text, at, 'latin1');
  const end = buf[at + n - 1] === SP ? n - 1 : n;
  let col = out.col;
  let p = 0;
  while (p < end) {
    if (col >= limit) {
      buf[o++] = EQ;
      buf[o++] = CR;
      buf[o++] = LF;
      col = 0;
    }
    if (col === 0 && buf[at + p] === HYPHEN) {
      buf[o++] = EQ;
      buf[o++] = 0x32;
      buf[o++] = 0x44;
      col = 3;
      p++;
      continue;
    }
    const k = Math.min(limit - col, end - p);
    buf.copyWithin(o, at + p, at + p + k);
    o += k;
    col += k;
    p += k;
  }
  out.o = o;
  out.col = col;
  if (end < n) putText(out, run, ' ');
}

/**
 * Adds an edit's text to the run: encoded at once (after what the run gathered so far), from
 * the string, while it is printable ASCII (what the rewrite inserts); from the first other
 * character on (CR, LF, TAB, `=`, 8-bit) it is gathered with the decoded bytes instead.
 */
function putText(out: Output, run: RunBytes, text: string): void {
  const n = text.length;
  if (n === 0) return;
  if (run.len > 0) {
    encodeRange(out, run.buf, 0, run.len);
    run.len = 0;
  }
  const buf = out.room(n * 2 + 16);
  const limit = QP_LINE_LENGTH - 1;
  let o = out.o;
  let col = out.col;
  let i = 0;
  for (; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === SP) {
      // as it is unless a line break or the end of the text follows
      const after = i + 1 < n ? text.charCodeAt(i + 1) : -1;
      if (after !== -1 && after !== CR && after !== LF) {
        if (col >= limit) {
          buf[o++] = EQ;
          buf[o++] = CR;
          buf[o++] = LF;
          col = 0;
        }
        buf[o++] = c;
        col++;
        continue;
      }
      if (col + 3 > limit) {
        buf[o++] = EQ;
        buf[o++] = CR;
        buf[o++] = LF;
        col = 0;
      }
      buf[o++] = EQ;
      buf[o++] = 0x32;
      buf[o++] = 0x30;
      col += 3;
      continue;
    }
    if (c < 0x21 || c > 0x7e || c === EQ) break;
    if (col >= limit) {
      buf[o++] = EQ;
      buf[o++] = CR;
      buf[o++] = LF;
      col = 0;
    }
    if (c === HYPHEN && col === 0) {
      buf[o++] = EQ;
      buf[o++] = 0x32;
      buf[o++] = 0x44;
      col = 3;
      continue;
    }
    buf[o++] = c;
    col++;
  }
  out.o = o;
  out.col = col;
  if (i < n) run.put(i === 0 ? text : text.slice(i));
}

/** The unit holding decoded offset `x` (count at the end), from a cursor that moves either way. */
class UnitCursor {
  #u = 0;
  readonly #dStart: Int32Array;
  readonly #count: number;

  constructor(lines: QpLines) {
    this.#dStart = lines.dStart;
    this.#count = lines.count;
  }

  at(x: number): number {
    const dStart = this.#dStart;
    let u = this.#u;
    while (u > 0 && dStart[u]! > x) u--;
    while (u < this.#count && dStart[u + 1]! <= x) u++;
    this.#u = u;
    return u;
  }
}

/**
 * The body `input` (decoded by decodeQuotedPrintableLines into `lines`) with `edits` applied,
 * as quoted-printable (see the header). `input` itself when there is nothing to do.
 */
export function spliceQuotedPrintable(input: Buffer, lines: QpLines, edits: readonly QpEdit[]): Buffer {
  const { decoded, count, eStart, eEnd, dStart, kind } = lines;
  const total = decoded.length;
  let dirty = 0;
  while (dirty < count && kind[dirty] !== DIRTY) dirty++;
  if (edits.length === 0 && dirty === count) return input;
  // room for the texts as they encode (plain ones grow by a soft break a line; others may
  // triple) and the breaks around them; Output grows if a dirty unit needs more
  let extra = 64;
  let largest = 0;
  for (const e of edits) {
    extra += (e.plain === true ? e.text.length + 5 * Math.ceil(e.text.length / 70) : e.text.length * 3) + 12;
    largest = Math.max(largest, e.text.length);
  }
  // (putPlainText stages a text past where it goes)
  extra += 2 * largest;
  const out = new Output(input.length + extra);
  const run = new RunBytes();
  const units = new UnitCursor(lines);
  /** Input copied to the output up to here. */
  let epos = 0;
  let ei = 0;
  for (;;) {
    while (dirty < count && (kind[dirty] !== DIRTY || eStart[dirty]! < epos)) dirty++;
    const edit = ei < edits.length ? edits[ei]! : null;
    if (edit === null && dirty === count) break;
    // where the run starts: the decoded offset S, the encoded offset eS and its column
    let s: number;
    let es: number;
    let col: number;
    /** The run starts with an edit (else with a dirty unit). */
    let withEdit = false;
    if (edit === null || (dirty < count && dStart[dirty]! <= edit.start)) {
      s = dStart[dirty]!;
      es = eStart[dirty]!;
      col = 0;
    } else {
      s = edit.start;
      withEdit = true;
      if (s > total) throw new InvariantError('quoted-printable splice: edit out of range');
      const u = units.at(s);
      if (u < count && kind[u] === DIRTY) {
        s = dStart[u]!;
        es = eStart[u]!;
        col = 0;
      } else {
        // the line the run starts in: unit u, or at the very end of the body the last line
        // when it has no line break
        const line = u < count ? u : count > 0 && kind[count - 1] === LAST ? count - 1 : -1;
        if (line >= 0 && kind[line] === HARD && s === dStart[line + 1]! - 1) s--; // between CR and LF
        es = line < 0 ? input.length : encodedAt(input, lines, line, s);
        col = line < 0 ? 0 : es - eStart[line]!;
        // SP/TAB just before the run is encoded with it (it may end up last on its line),
        // and a run after a whole 76-character line starts one character earlier
        for (let step = 0; step < 2; step++) {
          const ws = input[es - 1] === SP || input[es - 1] === TAB;
          if (col === 0 || !(step === 0 ? ws : col > QP_LINE_LENGTH - 1)) continue;
          s--;
          es = encodedAt(input, lines, line, s);
          col = es - eStart[line]!;
        }
      }
    }
    out.copy(input, epos, es);
    out.col = col;
    // gather the run's decoded bytes: edits and dirty units until the rest of a line is left
    run.len = 0;
    let x = s;
    for (;;) {
      const u = units.at(x);
      const uEnd = u < count ? dStart[u + 1]! : total;
      const inside = u < count && x > dStart[u]!;
      // a dirty unit the run reached (or began with) is covered whole
      const cover = u < count && kind[u] === DIRTY;
      const next = ei < edits.length ? edits[ei]! : null;
      if (next !== null && next.start < x) throw new InvariantError('quoted-printable splice: edits overlap or are out of order');
      // the next edit joins the run when it starts where the run ends or on the line it ends in
      const joins = next !== null && (withEdit || next.start === x || u === count || (next.start < uEnd && (inside || cover)) || (inside && uEnd === total && next.start === total));
      if (joins) {
        if (next.end < next.start || next.end > total) throw new InvariantError('quoted-printable splice: edit out of range');
        run.take(decoded, x, next.start);
        if (next.plain === true) putPlainText(out, run, next.text);
        else putText(out, run, next.text);
        x = next.end;
        ei++;
        withEdit = false;
        continue;
      }
      if (cover) {
        run.take(decoded, x, uEnd);
        x = uEnd;
        continue;
      }
      break;
    }
    let u = units.at(x);
    if (u < count && kind[u] === HARD && x > dStart[u]! && x === dStart[u + 1]! - 1) {
      // between the CR and the LF of a line break: the LF too
      run.take(decoded, x, x + 1);
      x++;
      u = units.at(x);
    }
    encodeRange(out, run.buf, 0, run.len);
    // how the run ends
    if (u < count && x > dStart[u]!) {
      // inside clean unit u: the rest of its line as written, when it fits after the run
      const ex = encodedAt(input, lines, u, x);
      const rest = eEnd[u]! - ex;
      if (out.col + rest <= QP_LINE_LENGTH && !(out.col === 0 && input[ex] === HYPHEN)) {
        epos = ex;
        continue;
      }
      if (input[ex] !== HYPHEN) {
        // too long for the run's last line: on a line of its own (it was part of one)
        out.softBreak();
        epos = ex;
        continue;
      }
      encodeRange(out, decoded, x, dStart[u + 1]!);
      x = dStart[u + 1]!;
      u = units.at(x);
    }
    if (u === count) {
      // the end of the body: no soft break (the stage ends the part with a line break)
      out.dropSoftBreak();
      epos = input.length;
      continue;
    }
    // at the start of unit u: end the run's line if it is open, then the input from unit u
    if (out.col > 0) out.softBreak();
    epos = eStart[u]!;
  }
  out.copy(input, epos, input.length);
  return out.buf.subarray(0, out.o);
}

function grown(buf: Buffer, used: number, more: number): Buffer {
  const next = Buffer.allocUnsafe(Math.max(buf.length * 2, used + more));
  buf.copy(next, 0, 0, used);
  return next;
}
