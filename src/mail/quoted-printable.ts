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
 * One pass over the input into one growing buffer, no strings, no regular expressions: bytes
 * are encoded straight into the output and, each time the current output line passes 76
 * characters, libqp's cut is made in place (the few characters after the cut move right to
 * make room for the soft break, and for "=2D" when a hyphen starts the next line).
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
/** How a byte is written: as it is (PLAIN: LF, CR, printable ASCII but SP, `-` and `=`), as
 *  it is unless a line break or the end follows (BLANK: SP, TAB), as it is unless it starts a
 *  line (DASH: `-`), or as `=XX` (ESCAPE). */
const PLAIN = 0;
const BLANK = 1;
const DASH = 2;
const ESCAPE = 3;
const KIND = new Uint8Array(256).fill(ESCAPE);
for (let i = 0x21; i <= 0x7e; i++) KIND[i] = PLAIN;
KIND[LF] = PLAIN;
KIND[CR] = PLAIN;
KIND[EQ] = ESCAPE;
KIND[0x20] = BLANK;
KIND[0x09] = BLANK;
KIND[HYPHEN] = DASH;
/** 1 for the characters libqp breaks a long line after: SP, TAB, `.`, `,`, `!`, `?`. */
const BREAK = new Uint8Array(256);
for (const c of ' \t.,!?') BREAK[c.charCodeAt(0)] = 1;
const HEX_VALUE = new Int8Array(256).fill(-1);
for (let i = 0; i < 16; i++) {
  HEX_VALUE['0123456789ABCDEF'.charCodeAt(i)] = i;
  HEX_VALUE['0123456789abcdef'.charCodeAt(i)] = i;
}

/**
 * libqp's wrapLine decision for the output line starting at `win` in `buf` (more than 76
 * characters of it are written): how many characters stay on it before the soft break. Cut
 * after the last SP, TAB, `.`, `,`, `!` or `?` in its last third; else before a trailing
 * partial escape (and the escaped UTF-8 sequence it ends); else one character (or one whole
 * escape) short of 76.
 */
function cutAt(buf: Buffer, win: number): number {
  for (let k = LINE_LENGTH - 1; k >= LINE_LENGTH - LINE_MARGIN; k--) {
    if (BREAK[buf[win + k]!] === 1) return k + 1 === LINE_LENGTH ? k : k + 1;
  }
  const c73 = buf[win + 73]!;
  const c74 = buf[win + 74]!;
  const c75 = buf[win + 75]!;
  const wholeEscape = c73 === EQ && HEX_VALUE[c74]! >= 0 && HEX_VALUE[c75]! >= 0;
  let len = LINE_LENGTH;
  if (c75 === EQ) len = 75;
  else if (c74 === EQ && HEX_VALUE[c75]! >= 0) len = 74;
  if (len < LINE_LENGTH || wholeEscape) {
    // libqp's trimUtf8Sequence: drop trailing escaped continuation bytes and their lead byte
    let end = len;
    while (end >= 3 && buf[win + end - 3] === EQ) {
      const hi = HEX_VALUE[buf[win + end - 2]!]!;
      const lo = HEX_VALUE[buf[win + end - 1]!]!;
      if (hi < 0 || lo < 0) break;
      const code = hi * 16 + lo;
      if (code < 0x80) break;
      end -= 3;
      if (code >= 0xc0) break;
    }
    const startsEscapedHyphen = buf[win] === EQ && buf[win + 1] === 0x32 && buf[win + 2] === 0x44;
    if (end > (startsEscapedHyphen ? 3 : 0)) len = end;
  }
  if (len === LINE_LENGTH) len -= wholeEscape ? 3 : 1;
  return len;
}

/** `buf`, or a bigger copy of its first `used` bytes, with room for `more` bytes after them. */
function room(buf: Buffer, used: number, more: number): Buffer {
  if (used + more <= buf.length) return buf;
  const next = Buffer.allocUnsafe(Math.max(buf.length * 2, used + more));
  buf.copy(next, 0, 0, used);
  return next;
}

/** The output of a libqp Encoder (lineLength 76) given `input` in one write, then ended. */
export function encodeQuotedPrintable(input: Uint8Array): Buffer {
  const n = input.length;
  if (n === 0) return Buffer.alloc(0);
  const bytes = Buffer.isBuffer(input) ? input : Buffer.from(input.buffer, input.byteOffset, input.byteLength);
  // HTML text encodes to about 1.1-1.4 times its size: one buffer, rarely grown
  let buf: Buffer = Buffer.allocUnsafe(n + (n >> 1) + 64);
  let o = 0;
  let start = 0;
  while (start < n) {
    const lf = bytes.indexOf(LF, start);
    const lineEnd = lf < 0 ? n : lf;
    // a CR before the LF belongs to the line break, not to the line (libqp's wrap)
    const end = lf > start && bytes[lf - 1] === CR ? lf - 1 : lineEnd;
    buf = room(buf, o, (end - start) * 3 + 8);
    /** Start of the current output line. */
    let win = o;
    for (let i = start; i < end; i++) {
      const ord = bytes[i]!;
      const kind = KIND[ord]!;
      let literal = kind === PLAIN;
      if (kind === BLANK) {
        const following = i + 1 < n ? bytes[i + 1]! : -1;
        literal = following !== -1 && following !== LF && following !== CR;
      } else if (kind === DASH) {
        literal = i > 0 && bytes[i - 1] !== LF && bytes[i - 1] !== CR;
      }
      if (literal) {
        buf[o++] = ord;
      } else {
        buf[o++] = EQ;
        buf[o++] = HEX[ord >> 4]!;
        buf[o++] = HEX[ord & 15]!;
      }
      while (o - win > LINE_LENGTH) {
        // the line is too long whatever follows: cut it as libqp does, in place
        const cut = win + cutAt(buf, win);
        buf = room(buf, o, 5 + (end - i) * 3);
        buf.copyWithin(cut + 3, cut, o);
        buf[cut] = EQ;
        buf[cut + 1] = CR;
        buf[cut + 2] = LF;
        o += 3;
        win = cut + 3;
        if (buf[win] === HYPHEN) {
          // a literal hyphen starting a line is written "=2D"
          buf.copyWithin(win + 3, win + 1, o);
          buf[win] = EQ;
          buf[win + 1] = 0x32;
          buf[win + 2] = 0x44;
          o += 2;
        }
      }
    }
    if (lf < 0) break;
    if (end < lf) buf[o++] = CR;
    buf[o++] = LF;
    start = lf + 1;
  }
  return buf.subarray(0, o);
}
