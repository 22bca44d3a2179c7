/**
 * Streaming quoted-printable decoder (RFC 2045 6.7) that decodes exactly as libqp 3.0.1's
 * `decode` (the one mailsplit's Decoder uses) given the whole input at once — libqp's Decoder
 * stream holds every chunk until the end; this one writes as it goes, in one pass over the
 * bytes with no strings and no regular expressions.
 *
 * libqp's decode, in three steps over the whole input as a latin1 string:
 *   1. every run of SP/TAB followed by CR, LF or the end of the input is removed;
 *   2. every `=` followed by CRLF, LF or the end of the input is removed with that line break
 *      (a soft line break);
 *   3. `=` + two hex digits (either case) becomes that byte; every other byte stays as it is
 *      (a lone `=`, `=G1`, raw 8-bit bytes).
 * Steps 1 and 2 only look ahead past a run of SP, TAB, `=` and CR: a chunk is decoded up to
 * its last byte that is none of those and the rest is held (`#held`, prepended to the next
 * chunk). Step 3 can join the two sides of a soft line break (`=4=\r\n1` is `A`), so an `=`
 * or `=h` at the end of step 2's output is held too (`#escape`). Held bytes are a few bytes
 * in any real message (a line ending in spaces or a soft break); a run of spaces, `=` or CR
 * without end is held whole, like libqp holds everything.
 *
 * Pure (no I/O); never throws.
 */

const SP = 0x20;
const TAB = 0x09;
const CR = 0x0d;
const LF = 0x0a;
const EQ = 0x3d;

/** 0-15 for a hex digit (either case), -1 otherwise. */
const HEX_VALUE = new Int8Array(256).fill(-1);
for (let i = 0; i < 10; i++) HEX_VALUE[0x30 + i] = i;
for (let i = 0; i < 6; i++) {
  HEX_VALUE[0x41 + i] = 10 + i;
  HEX_VALUE[0x61 + i] = 10 + i;
}

/** Bytes that may change meaning with what follows them (steps 1 and 2). */
function undecided(c: number): boolean {
  return c === SP || c === TAB || c === EQ || c === CR;
}

const EMPTY = Buffer.alloc(0);

function asBuffer(b: Uint8Array): Buffer {
  return Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength);
}

export class QuotedPrintableDecoder {
  /** Input bytes not decoded yet (a tail of SP, TAB, `=` and CR), in chunks (joined once, when decided). */
  #held: Buffer[] = [];
  /** Step 2 output not decoded yet: `=` or `=` + one hex digit. */
  #escape: number[] = [];

  /** Decodes what `chunk` settles; returns the decoded bytes (maybe none). */
  write(chunk: Uint8Array): Buffer {
    let cut = chunk.length;
    while (cut > 0 && undecided(chunk[cut - 1]!)) cut--;
    if (cut === 0) {
      // nothing settled yet: keep the chunk (a copy: the caller may reuse its buffer)
      if (chunk.length > 0) this.#held.push(Buffer.from(chunk));
      return EMPTY;
    }
    const held = this.#held;
    const start = held.length === 0 ? 0 : held.reduce((n, b) => n + b.length, 0);
    const input = start === 0 ? asBuffer(chunk) : Buffer.concat([...held, chunk]);
    this.#held = cut === chunk.length ? [] : [Buffer.from(chunk.subarray(cut))];
    return this.#decode(input, start + cut, false);
  }

  /** The input ended: decodes what is held. */
  end(): Buffer {
    const input = Buffer.concat(this.#held);
    this.#held = [];
    return this.#decode(input, input.length, true);
  }

  #decode(input: Buffer, n: number, last: boolean): Buffer {
    const escape = this.#escape;
    if (n === 0 && escape.length === 0) return EMPTY;
    const out = Buffer.allocUnsafe(escape.length + n);
    let o = 0;
    for (const c of escape) out[o++] = c;
    this.#escape = [];
    // steps 1 and 2, a line at a time (they never reach past an LF); the held escape is step 2
    // output already, so it is not looked at again
    let nextCr = input.indexOf(CR);
    for (let s = 0; s < n; ) {
      let lf = input.indexOf(LF, s);
      if (lf >= n) lf = -1;
      const next = lf < 0 ? n : lf + 1;
      if (nextCr >= 0 && nextCr < s) nextCr = input.indexOf(CR, s);
      const lineBreak = lf > s && input[lf - 1] === CR ? lf - 1 : lf < 0 ? n : lf;
      if (nextCr >= 0 && nextCr < lineBreak) {
        // a CR that is not part of a line break: byte by byte
        o = lineSteps(input, s, next, n, last, out, o);
        s = next;
        continue;
      }
      let t = lineBreak;
      const settled = lf >= 0 || last;
      if (settled) while (t > s && (input[t - 1] === SP || input[t - 1] === TAB)) t--; // step 1
      if (settled && t > s && input[t - 1] === EQ) {
        o += input.copy(out, o, s, t - 1); // step 2: a soft line break
      } else {
        o += input.copy(out, o, s, t);
        o += input.copy(out, o, lineBreak, next);
      }
      s = next;
    }
    return this.#escapes(out, o, last);
  }

  /** Step 3 in place over `out[0, n)`; holds a trailing partial escape unless `last`. */
  #escapes(out: Buffer, n: number, last: boolean): Buffer {
    // nothing to do before the first `=`
    let i = out.indexOf(EQ);
    if (i < 0 || i >= n) return out.subarray(0, n);
    let o = i;
    for (; i < n; i++) {
      const c = out[i]!;
      if (c === EQ) {
        if (i + 2 >= n) {
          // libqp needs both digits inside the input; before its end, wait for them
          if (!last && (i + 1 === n || HEX_VALUE[out[i + 1]!]! >= 0)) break;
        } else {
          const hi = HEX_VALUE[out[i + 1]!]!;
          const lo = HEX_VALUE[out[i + 2]!]!;
          if (hi >= 0 && lo >= 0) {
            out[o++] = hi * 16 + lo;
            i += 2;
            continue;
          }
        }
      }
      out[o++] = c;
    }
    for (; i < n; i++) this.#escape.push(out[i]!);
    return out.subarray(0, o);
  }
}

/**
 * Steps 1 and 2 byte by byte for the line `input[s, next)` (`next` is past its LF, or `n`):
 * the slow path for a line with a bare CR. Returns the new end of `out`.
 */
function lineSteps(input: Uint8Array, s: number, next: number, n: number, last: boolean, out: Uint8Array, o: number): number {
  const from = o;
  for (let i = s; i < next; i++) {
    const c = input[i]!;
    if (c === SP || c === TAB) {
      let j = i + 1;
      while (j < next && (input[j] === SP || input[j] === TAB)) j++;
      if (j === n ? last : input[j] === CR || input[j] === LF) {
        i = j - 1; // step 1: whitespace before a line break or the end
        continue;
      }
      for (; i < j; i++) out[o++] = input[i]!;
      i--;
      continue;
    }
    out[o++] = c;
  }
  // step 2 in place over this line's output
  const to = o;
  o = from;
  for (let i = from; i < to; i++) {
    const c = out[i]!;
    if (c === EQ) {
      if (i + 1 < to && out[i + 1] === LF) {
        i += 1;
        continue;
      }
      if (i + 2 < to && out[i + 1] === CR && out[i + 2] === LF) {
        i += 2;
        continue;
      }
      if (i + 1 === to && next === n && last) continue;
    }
    out[o++] = c;
  }
  return o;
}
