/**
 * The splicing half of mail/quoted-printable-lines.ts (whose header describes both): the
 * rewritten quoted-printable body from the sender's encoded lines, the units
 * decodeQuotedPrintableLines found and the edits in decoded offsets. Lines no edit touches are
 * copied byte for byte; each run of edits (and every dirty unit) is encoded again.
 *
 * Pure; edits out of order, overlapping or out of range are a bug: InvariantError.
 */
import { InvariantError } from '../lib/errors.js';
import { CR, DIRTY, ENCODE_KIND, EQ, HARD, HEX, HYPHEN, LAST, LF, SP, TAB, QP_LINE_LENGTH, type QpEdit, type QpLines } from './quoted-printable-lines.js';

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
