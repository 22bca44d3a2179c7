/**
 * Quoted-printable encoding (RFC 2045 6.7) of a whole part held in memory: the tracking
 * rewrite encodes a rewritten HTML part once.
 *
 * encodeQuotedPrintable(bytes) is byte-for-byte the output of one libqp 3.0.1 Encoder (lines
 * of at most 76, not binary) given `bytes` in one write — what mailsplit's Rewriter wrote:
 * the same escapes (whitespace before a line break or the end, a hyphen starting a line), the
 * same 64 KiB slices and the same soft line breaks (wrap/wrapLine below are libqp's, MIT
 * licence, Andris Reinman). Checked against libqp by test/unit/mail/quoted-printable.test.ts.
 * It takes about half the CPU time of the stream: one pass over the bytes into one buffer,
 * and only lines longer than 76 characters go through wrapLine.
 *
 * Pure; never throws.
 */

const LINE_LENGTH = 76;
const ENCODE_SLICE_SIZE = 64 * 1024;
const HEX = Buffer.from('0123456789ABCDEF', 'latin1');
/** 1 for bytes written as they are: TAB, LF, CR and printable ASCII except `=`. */
const LITERAL = new Uint8Array(256);
for (let i = 0; i < 256; i++) LITERAL[i] = i === 0x09 || i === 0x0a || i === 0x0d || (i >= 0x20 && i <= 0x7e && i !== 0x3d) ? 1 : 0;

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x41 && c <= 0x46) return c - 0x41 + 10;
  if (c >= 0x61 && c <= 0x66) return c - 0x61 + 10;
  return -1;
}

/**
 * libqp's encodeBytes (not binary): `next` is the byte after `bytes` (undefined: the end of the
 * input), `previous` the byte before (undefined: a line start). Returns a latin1 string.
 */
function encodeBytes(bytes: Uint8Array, next: number | undefined, previous: number | undefined): string {
  const len = bytes.length;
  const out = Buffer.allocUnsafe(len * 3);
  let pos = 0;
  let prev = previous;
  for (let i = 0; i < len; i++) {
    const ord = bytes[i]!;
    if (LITERAL[ord] === 1) {
      if (ord === 0x20 || ord === 0x09) {
        const following = i + 1 < len ? bytes[i + 1] : next;
        if (following !== undefined && following !== 0x0a && following !== 0x0d) {
          out[pos++] = ord;
          prev = ord;
          continue;
        }
      } else if (ord !== 0x2d || (prev !== undefined && prev !== 0x0a && prev !== 0x0d)) {
        out[pos++] = ord;
        prev = ord;
        continue;
      }
    }
    out[pos++] = 0x3d;
    out[pos++] = HEX[ord >> 4]!;
    out[pos++] = HEX[ord & 15]!;
    prev = ord;
  }
  return out.toString('latin1', 0, pos);
}

/** libqp's trimUtf8Sequence. */
function trimUtf8Sequence(line: string): string {
  let end = line.length;
  while (end >= 3 && line.charCodeAt(end - 3) === 0x3d) {
    const hi = hexValue(line.charCodeAt(end - 2));
    const lo = hexValue(line.charCodeAt(end - 1));
    if (hi < 0 || lo < 0) break;
    const code = hi * 16 + lo;
    if (code < 0x80) break;
    end -= 3;
    if (code >= 0xc0) break;
  }
  return end > (line.startsWith('=2D') ? 3 : 0) ? line.substring(0, end) : line;
}

const SOFT_BREAK_AT = /[ \t.,!?][^ \t.,!?]*$/;
const PARTIAL_ESCAPE_END = /[=][\da-f]{0,2}$/i;
const PARTIAL_ESCAPE = /[=][\da-f]?$/i;
const WHOLE_ESCAPE_END = /[=][\da-f]{2}$/i;

/** libqp's wrapLine with lineLength 76. */
function wrapLine(str: string): string {
  const lineLength = LINE_LENGTH;
  const len = str.length;
  const lineMargin = Math.floor(lineLength / 3);
  let pos = 0;
  let result = '';
  for (;;) {
    const escapeHyphen = pos > 0 && str.charCodeAt(pos) === 0x2d;
    if (len - pos + (escapeHyphen ? 2 : 0) <= lineLength) {
      result += escapeHyphen ? '=2D' + str.substring(pos + 1) : str.substring(pos);
      break;
    }
    let line = escapeHyphen ? '=2D' + str.substr(pos + 1, lineLength - 3) : str.substr(pos, lineLength);
    const match = SOFT_BREAK_AT.exec(line.substr(-lineMargin));
    if (match) {
      line = line.substring(0, line.length - (match[0].length - 1));
    } else if (PARTIAL_ESCAPE_END.test(line)) {
      line = trimUtf8Sequence(line.replace(PARTIAL_ESCAPE, ''));
    }
    if (line.length === lineLength) {
      line = line.substring(0, line.length - (WHOLE_ESCAPE_END.test(line) ? 3 : 1));
    }
    pos += escapeHyphen ? line.length - 2 : line.length;
    result += line + '=\r\n';
  }
  return result;
}

/** libqp's wrap with lineLength 76: every line (between CRLF or LF) wrapped on its own. */
function wrap(str: string): string {
  if (str.length <= LINE_LENGTH) return str;
  let out = '';
  let start = 0;
  for (;;) {
    const lf = str.indexOf('\n', start);
    if (lf < 0) {
      const last = str.substring(start);
      out += last.length <= LINE_LENGTH ? last : wrapLine(last);
      return out;
    }
    const end = lf > start && str.charCodeAt(lf - 1) === 0x0d ? lf - 1 : lf;
    const line = str.substring(start, end);
    out += (line.length <= LINE_LENGTH ? line : wrapLine(line)) + str.substring(end, lf + 1);
    start = lf + 1;
  }
}

/** The output of a libqp Encoder (lineLength 76) given `input` in one write, then ended. */
export function encodeQuotedPrintable(input: Uint8Array): Buffer {
  const parts: string[] = [];
  let curLine = '';
  let lastByte: number | undefined;
  const encodeSlices = (buf: Uint8Array, next: number | undefined): void => {
    for (let start = 0; start < buf.length; start += ENCODE_SLICE_SIZE) {
      const end = Math.min(start + ENCODE_SLICE_SIZE, buf.length);
      let qp = encodeBytes(buf.subarray(start, end), end < buf.length ? buf[end] : next, lastByte);
      lastByte = buf[end - 1];
      qp = curLine + qp;
      const cr = qp.endsWith('\r') ? '\r' : '';
      qp = wrap(cr ? qp.slice(0, -1) : qp);
      const lastLF = qp.lastIndexOf('\n');
      curLine = qp.substring(lastLF + 1) + cr;
      qp = qp.substring(0, lastLF + 1);
      if (qp) parts.push(qp);
    }
  };
  if (input.length === 0) return Buffer.alloc(0);
  const last = input[input.length - 1]!;
  const held = last === 0x20 || last === 0x09 ? last : undefined;
  encodeSlices(held === undefined ? input : input.subarray(0, input.length - 1), held);
  if (held !== undefined) encodeSlices(Uint8Array.of(held), undefined);
  if (curLine) parts.push(wrap(curLine));
  return Buffer.from(parts.join(''), 'latin1');
}
