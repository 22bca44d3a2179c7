/**
 * Quoted-printable encoding (RFC 2045 6.7) of a whole part held in memory: the tracking
 * rewrite encodes a rewritten HTML part once.
 *
 * encodeQuotedPrintable(bytes) is byte-for-byte the output of one libqp 3.0.1 Encoder (lines
 * of at most 76, not binary) given `bytes` in one write — what mailsplit's Rewriter wrote:
 * the same escapes (whitespace before a line break or the end, a hyphen starting a line) and
 * the same soft line breaks (wrapLine below is libqp's wrapLine, MIT licence, Andris Reinman,
 * done on bytes). libqp encodes 64 KiB slices and re-wraps the unfinished last line of each
 * with the next; that gives what wrapping each whole line gives, which is what is done here.
 * Checked against libqp by test/unit/mail/quoted-printable.test.ts.
 *
 * One pass over the input, line by line, into one growing buffer: no strings, no regular
 * expressions; a line whose encoding is longer than 76 characters is encoded, then wrapped
 * from a scratch copy.
 *
 * Pure; never throws.
 */

const LINE_LENGTH = 76;
/** libqp's wrapLine looks for a soft-break place in the last third of a line. */
const LINE_MARGIN = Math.floor(LINE_LENGTH / 3);
const HEX = Buffer.from('0123456789ABCDEF', 'latin1');
const EQ = 0x3d;
const CR = 0x0d;
const LF = 0x0a;
const HYPHEN = 0x2d;
/** 1 for bytes written as they are: TAB, LF, CR and printable ASCII except `=`. */
const LITERAL = new Uint8Array(256);
for (let i = 0; i < 256; i++) LITERAL[i] = i === 0x09 || i === 0x0a || i === 0x0d || (i >= 0x20 && i <= 0x7e && i !== 0x3d) ? 1 : 0;
/** 1 for the characters libqp breaks a long line after: SP, TAB, `.`, `,`, `!`, `?`. */
const BREAK = new Uint8Array(256);
for (const c of ' \t.,!?') BREAK[c.charCodeAt(0)] = 1;
const HEX_VALUE = new Int8Array(256).fill(-1);
for (let i = 0; i < 16; i++) {
  HEX_VALUE['0123456789ABCDEF'.charCodeAt(i)] = i;
  HEX_VALUE['0123456789abcdef'.charCodeAt(i)] = i;
}
const ESCAPED_HYPHEN = [EQ, 0x32, 0x44]; // "=2D"

/** A byte buffer that grows. */
class Out {
  buf: Buffer;
  pos = 0;

  constructor(size: number) {
    this.buf = Buffer.allocUnsafe(Math.max(size, 64));
  }

  ensure(more: number): void {
    if (this.pos + more <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + more));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }
}

/**
 * libqp's encodeBytes for `input[start, end)`, the whole input being `input` (the bytes
 * around the range decide whether whitespace before a line break and a hyphen starting a
 * line are escaped).
 */
function encodeRange(input: Uint8Array, start: number, end: number, out: Out): void {
  out.ensure((end - start) * 3);
  const buf = out.buf;
  let pos = out.pos;
  const n = input.length;
  for (let i = start; i < end; i++) {
    const ord = input[i]!;
    if (LITERAL[ord] === 1) {
      if (ord === 0x20 || ord === 0x09) {
        const following = i + 1 < n ? input[i + 1]! : -1;
        if (following !== -1 && following !== LF && following !== CR) {
          buf[pos++] = ord;
          continue;
        }
      } else if (ord !== HYPHEN || (i > 0 && input[i - 1] !== LF && input[i - 1] !== CR)) {
        buf[pos++] = ord;
        continue;
      }
    }
    buf[pos++] = EQ;
    buf[pos++] = HEX[ord >> 4]!;
    buf[pos++] = HEX[ord & 15]!;
  }
  out.pos = pos;
}

/**
 * libqp's wrapLine (lineLength 76) for the encoded line `src[0, len)`, written to `out`.
 * Each output line is a window of 76 characters from `pos` — "=2D" and the rest when a hyphen
 * starts a continuation line — cut after its last SP, TAB, `.`, `,`, `!` or `?` in the last
 * third, else before a trailing partial escape (and the UTF-8 sequence it ends), else one
 * character (or one whole escape) short, and ended with a soft break.
 */
function wrapLine(src: Uint8Array, len: number, out: Out): void {
  let pos = 0;
  for (;;) {
    const hyphen = pos > 0 && src[pos] === HYPHEN;
    if (len - pos + (hyphen ? 2 : 0) <= LINE_LENGTH) {
      writeWindow(src, pos, hyphen, len - pos + (hyphen ? 2 : 0), out, false);
      return;
    }
    // the window: v(k) is character k of libqp's `line`
    const base = hyphen ? pos - 2 : pos;
    let lineLen = LINE_LENGTH;
    let brk = -1;
    for (let k = LINE_LENGTH - 1; k >= LINE_LENGTH - LINE_MARGIN; k--) {
      if (BREAK[at(src, base, hyphen, k)] === 1) {
        brk = k;
        break;
      }
    }
    if (brk >= 0) {
      lineLen = brk + 1;
    } else {
      const c73 = at(src, base, hyphen, 73);
      const c74 = at(src, base, hyphen, 74);
      const c75 = at(src, base, hyphen, 75);
      let escapeEnd = true;
      if (c75 === EQ) lineLen = 75;
      else if (c74 === EQ && HEX_VALUE[c75]! >= 0) lineLen = 74;
      else escapeEnd = c73 === EQ && HEX_VALUE[c74]! >= 0 && HEX_VALUE[c75]! >= 0;
      if (escapeEnd) {
        // libqp's trimUtf8Sequence: drop trailing escaped continuation bytes and their lead byte
        let end = lineLen;
        while (end >= 3 && at(src, base, hyphen, end - 3) === EQ) {
          const hi = HEX_VALUE[at(src, base, hyphen, end - 2)]!;
          const lo = HEX_VALUE[at(src, base, hyphen, end - 1)]!;
          if (hi < 0 || lo < 0) break;
          const code = hi * 16 + lo;
          if (code < 0x80) break;
          end -= 3;
          if (code >= 0xc0) break;
        }
        const startsEscapedHyphen = at(src, base, hyphen, 0) === EQ && at(src, base, hyphen, 1) === 0x32 && at(src, base, hyphen, 2) === 0x44;
        if (end > (startsEscapedHyphen ? 3 : 0)) lineLen = end;
      }
    }
    if (lineLen === LINE_LENGTH) {
      lineLen -= at(src, base, hyphen, 73) === EQ && HEX_VALUE[at(src, base, hyphen, 74)]! >= 0 && HEX_VALUE[at(src, base, hyphen, 75)]! >= 0 ? 3 : 1;
    }
    writeWindow(src, pos, hyphen, lineLen, out, true);
    pos += hyphen ? lineLen - 2 : lineLen;
  }
}

/** Character `k` of the window that starts at `base + 2` after an escaped hyphen, else at `base`. */
function at(src: Uint8Array, base: number, hyphen: boolean, k: number): number {
  return hyphen && k < 3 ? ESCAPED_HYPHEN[k]! : src[base + k]!;
}

/** Writes the first `count` characters of the window at `pos` (and a soft break). */
function writeWindow(src: Uint8Array, pos: number, hyphen: boolean, count: number, out: Out, softBreak: boolean): void {
  out.ensure(count + 3);
  const buf = out.buf;
  let o = out.pos;
  let from = pos;
  let n = count;
  if (hyphen) {
    buf[o++] = EQ;
    buf[o++] = 0x32;
    buf[o++] = 0x44;
    from = pos + 1;
    n = count - 3;
  }
  for (let i = 0; i < n; i++) buf[o++] = src[from + i]!;
  if (softBreak) {
    buf[o++] = EQ;
    buf[o++] = CR;
    buf[o++] = LF;
  }
  out.pos = o;
}

/** The output of a libqp Encoder (lineLength 76) given `input` in one write, then ended. */
export function encodeQuotedPrintable(input: Uint8Array): Buffer {
  const n = input.length;
  if (n === 0) return Buffer.alloc(0);
  const bytes = Buffer.isBuffer(input) ? input : Buffer.from(input.buffer, input.byteOffset, input.byteLength);
  const out = new Out(n + (n >> 3) + 16);
  let scratch = Buffer.allocUnsafe(256);
  let start = 0;
  while (start < n) {
    const lf = bytes.indexOf(LF, start);
    const lineEnd = lf < 0 ? n : lf;
    // a CR before the LF belongs to the line break, not to the line (libqp's wrap)
    const end = lf > start && bytes[lf - 1] === CR ? lf - 1 : lineEnd;
    const at = out.pos;
    encodeRange(bytes, start, end, out);
    const len = out.pos - at;
    if (len > LINE_LENGTH) {
      if (scratch.length < len) scratch = Buffer.allocUnsafe(len * 2);
      out.buf.copy(scratch, 0, at, out.pos);
      out.pos = at;
      wrapLine(scratch, len, out);
    }
    if (lf < 0) break;
    out.ensure(2);
    if (end < lf) out.buf[out.pos++] = CR;
    out.buf[out.pos++] = LF;
    start = lf + 1;
  }
  return out.buf.subarray(0, out.pos);
}
