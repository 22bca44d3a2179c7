/**
 * A small, bounded, synchronous MIME reader for bounce and complaint messages.
 *
 * Why not mailsplit: analyseMessage is a pure, synchronous function over a Buffer that already
 * holds the (capped) message, and it needs random access to a few parts (the delivery-status
 * part, the returned original's header); a stream splitter would force it to be async and to
 * collect the same parts anyway. Bounce messages are small; the cap is MAX_BOUNCE_BYTES.
 *
 * What it reads:
 *  - RFC 5322 header blocks, with mail/header-block.ts's field parser; values unfolded
 *    (CR/LF removed) and trimmed, bytes read as UTF-8 when valid, else Latin-1 (RFC 6532 allows
 *    UTF-8). An entity whose first line is neither a field nor an mbox "From " line has no
 *    header: all of it is body (garbage, or a MIME part that skipped its blank line).
 *  - RFC 2045 Content-Type (parameters with RFC 2231 continuations, via libmime) and
 *    Content-Transfer-Encoding: base64 and quoted-printable are decoded leniently (bad
 *    characters skipped, a bad `=` kept), anything else passes as it is.
 *  - RFC 2046 multipart: delimiter lines `--boundary` (transport padding allowed) at a line
 *    start, preamble and epilogue ignored, the CRLF before a delimiter belongs to it, and a
 *    missing close delimiter ends the last part at the end of the data (truncated bounces).
 *    multipart/digest parts default to message/rfc822.
 *  - Embedded messages: message/rfc822, message/global (RFC 6532), text/rfc822-headers
 *    (RFC 6522) and message/global-headers (RFC 6533) are decoded and parsed as a message
 *    (`embedded`); the last two are a header block only.
 *
 * Limits (src/lib/limits.ts): MAX_MIME_NODES entities in all; MAX_BOUNCE_MIME_DEPTH levels of
 * nesting (the root is depth 0, an embedded message is one level below its part); a header
 * block ends after MAX_HEADER_BLOCK_BYTES at the latest. Past a limit the entity is kept
 * without children (or the header is cut) and `limited` is set on the result.
 *
 * Pure: no I/O. Never throws on input.
 */
import iconv from 'iconv-lite';
import libmime from 'libmime';
import { MAX_BOUNCE_MIME_DEPTH, MAX_HEADER_BLOCK_BYTES, MAX_MIME_NODES } from '../lib/limits.js';
import { decodeFieldBytes, parseHeaderBlock } from './header-block.js';

const CR = 0x0d;
const LF = 0x0a;
const SP = 0x20;
const HT = 0x09;
const COLON = 0x3a;
const DASH = 0x2d;
const EQUALS = 0x3d;

export interface MimeField {
  /** Name as written. */
  readonly name: string;
  /** Lower-cased name. */
  readonly key: string;
  /** Unfolded (CR and LF removed) and trimmed; not RFC 2047 decoded. */
  readonly value: string;
}

export interface MimeEntity {
  readonly fields: readonly MimeField[];
  /** Lower-case `type/subtype` (RFC 2045 default text/plain). */
  readonly contentType: string;
  /** Content-Type parameters, lower-cased names. */
  readonly params: Readonly<Record<string, string>>;
  /** Lower-case Content-Transfer-Encoding, '' when absent. */
  readonly transferEncoding: string;
  /** Body bytes as transferred (still encoded). */
  readonly body: Buffer;
  /** The parts of a multipart entity, in order. */
  readonly children: readonly MimeEntity[];
  /** The message inside message/rfc822, message/global, text/rfc822-headers, message/global-headers. */
  readonly embedded: MimeEntity | null;
  readonly depth: number;
}

export interface ParsedMime {
  readonly root: MimeEntity;
  /** True when a MIME limit cut the parse short (some entities were left unparsed). */
  readonly limited: boolean;
}

/** Types whose body is a message (or a message header) parsed into `embedded`. */
export const EMBEDDED_MESSAGE_TYPES: ReadonlySet<string> = new Set([
  'message/rfc822',
  'message/global',
  'text/rfc822-headers',
  'message/global-headers',
]);

/** Parse a whole message. Never throws. */
export function parseMime(raw: Buffer): ParsedMime {
  const reader = new Reader();
  const root = reader.entity(raw, 0, 'text/plain');
  return { root, limited: reader.limited };
}

class Reader {
  nodes = 0;
  limited = false;

  entity(buf: Buffer, depth: number, defaultType: string): MimeEntity {
    this.nodes++;
    const { header, body, cut } = splitHeader(buf);
    if (cut) this.limited = true;
    const fields = readFields(header);
    const { contentType, params } = readContentType(fields, defaultType);
    const cte = (firstValue(fields, 'content-transfer-encoding') ?? '').toLowerCase().split(/[\s;(]/)[0] ?? '';
    let children: MimeEntity[] = [];
    let embedded: MimeEntity | null = null;
    const canDescend = depth < MAX_BOUNCE_MIME_DEPTH && this.nodes < MAX_MIME_NODES;
    if (contentType.startsWith('multipart/')) {
      const boundary = params['boundary'];
      if (boundary !== undefined && boundary !== '') {
        if (!canDescend) {
          this.limited = true;
        } else {
          const childType = contentType === 'multipart/digest' ? 'message/rfc822' : 'text/plain';
          children = [];
          for (const part of splitMultipart(body, boundary)) {
            if (this.nodes >= MAX_MIME_NODES) {
              this.limited = true;
              break;
            }
            children.push(this.entity(part, depth + 1, childType));
          }
        }
      }
    } else if (EMBEDDED_MESSAGE_TYPES.has(contentType)) {
      if (!canDescend) this.limited = true;
      else embedded = this.entity(decodeTransfer(body, cte), depth + 1, 'text/plain');
    }
    return { fields, contentType, params, transferEncoding: cte, body, children, embedded, depth };
  }
}

/** True when the line [start, end) reads `name:` with a valid field name (WSP before the colon allowed). */
function isFieldLine(buf: Buffer, start: number, end: number): boolean {
  let i = start;
  while (i < end) {
    const b = buf[i] as number;
    if (b < 33 || b > 126 || b === COLON) break;
    i++;
  }
  if (i === start) return false;
  while (i < end && (buf[i] === SP || buf[i] === HT)) i++;
  return i < end && buf[i] === COLON;
}

/**
 * Split an entity into its header block (without the empty line) and its body. No header
 * when the first line is empty (the body follows it) or is neither a field nor "From ".
 */
function splitHeader(buf: Buffer): { header: Buffer; body: Buffer; cut: boolean } {
  const n = buf.length;
  if (n === 0) return { header: buf.subarray(0, 0), body: buf, cut: false };
  const firstLf = buf.indexOf(LF);
  const firstEnd = firstLf === -1 ? n : firstLf;
  const firstEmpty = firstEnd === 0 || (firstEnd === 1 && buf[0] === CR);
  if (firstEmpty) return { header: buf.subarray(0, 0), body: buf.subarray(Math.min(firstEnd + 1, n)), cut: false };
  const fromLine = buf.subarray(0, Math.min(5, n)).toString('latin1') === 'From ';
  if (!fromLine && !isFieldLine(buf, 0, firstEnd)) return { header: buf.subarray(0, 0), body: buf, cut: false };
  let pos = 0;
  while (pos < n) {
    if (pos > MAX_HEADER_BLOCK_BYTES) return { header: buf.subarray(0, pos), body: buf.subarray(pos), cut: true };
    const lf = buf.indexOf(LF, pos);
    const lineEnd = lf === -1 ? n : lf;
    const empty = lineEnd === pos || (lineEnd === pos + 1 && buf[pos] === CR);
    if (empty) return { header: buf.subarray(0, pos), body: buf.subarray(Math.min(lineEnd + 1, n)), cut: false };
    pos = lf === -1 ? n : lf + 1;
  }
  return { header: buf, body: buf.subarray(n), cut: false };
}

function readFields(header: Buffer): MimeField[] {
  if (header.length === 0) return [];
  const out: MimeField[] = [];
  for (const f of parseHeaderBlock(header).fields) {
    out.push({ name: f.name, key: f.name.toLowerCase(), value: f.value.replace(/[\r\n]/g, '').trim() });
  }
  return out;
}

function readContentType(fields: readonly MimeField[], defaultType: string): { contentType: string; params: Record<string, string> } {
  const value = firstValue(fields, 'content-type');
  if (value === null) return { contentType: defaultType, params: {} };
  let parsed: { value: string; params: Record<string, string> };
  try {
    parsed = libmime.parseHeaderValue(value, { stripComments: true });
  } catch {
    // libmime does not document a throw; a value it cannot read is no Content-Type at all
    return { contentType: defaultType, params: {} };
  }
  const type = parsed.value.trim().toLowerCase();
  // RFC 2045 5.2: a syntactically invalid Content-Type means text/plain.
  if (!/^[a-z0-9!#$&^_.+-]+\/[a-z0-9!#$&^_.+-]+$/.test(type)) return { contentType: 'text/plain', params: {} };
  const params: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const [k, v] of Object.entries(parsed.params)) params[k.toLowerCase()] = String(v);
  return { contentType: type, params };
}

/**
 * Split a multipart body at its delimiter lines. Returns the parts' bytes (subarrays of
 * `body`), preamble and epilogue excluded; a missing close delimiter ends the last part at
 * the end of `body`.
 */
export function splitMultipart(body: Buffer, boundary: string): Buffer[] {
  const delimiter = Buffer.from('--' + boundary, 'utf8');
  const n = body.length;
  const parts: Buffer[] = [];
  let partStart = -1;
  let pos = 0;
  for (;;) {
    const i = body.indexOf(delimiter, pos);
    if (i < 0) break;
    if (i !== 0 && body[i - 1] !== LF) {
      pos = i + 1;
      continue;
    }
    let j = i + delimiter.length;
    const close = body[j] === DASH && body[j + 1] === DASH;
    if (close) j += 2;
    while (j < n && (body[j] === SP || body[j] === HT)) j++;
    if (j < n && body[j] !== CR && body[j] !== LF) {
      // a longer line that merely starts with the delimiter (another boundary, or text)
      pos = i + 1;
      continue;
    }
    if (body[j] === CR) j++;
    if (body[j] === LF) j++;
    if (partStart >= 0) {
      let end = i;
      if (end > partStart && body[end - 1] === LF) end--;
      if (end > partStart && body[end - 1] === CR) end--;
      parts.push(body.subarray(partStart, end));
    }
    if (close) return parts;
    partStart = Math.min(j, n);
    pos = partStart;
  }
  if (partStart >= 0) parts.push(body.subarray(partStart));
  return parts;
}

function hexValue(b: number | undefined): number {
  if (b === undefined) return -1;
  if (b >= 0x30 && b <= 0x39) return b - 0x30;
  if (b >= 0x41 && b <= 0x46) return b - 0x37;
  if (b >= 0x61 && b <= 0x66) return b - 0x57;
  return -1;
}

/** RFC 2045 6.7 quoted-printable, lenient: `=XX` (either case), soft line breaks, any other `=` kept. */
export function decodeQuotedPrintable(src: Buffer): Buffer {
  const n = src.length;
  const out = Buffer.allocUnsafe(n);
  let o = 0;
  for (let i = 0; i < n; i++) {
    const b = src[i] as number;
    if (b !== EQUALS) {
      out[o++] = b;
      continue;
    }
    const h1 = hexValue(src[i + 1]);
    const h2 = hexValue(src[i + 2]);
    if (h1 >= 0 && h2 >= 0) {
      out[o++] = h1 * 16 + h2;
      i += 2;
      continue;
    }
    let j = i + 1;
    while (j < n && (src[j] === SP || src[j] === HT)) j++;
    if (j >= n) {
      i = j;
      continue;
    }
    if (src[j] === CR && src[j + 1] === LF) {
      i = j + 1;
      continue;
    }
    if (src[j] === LF) {
      i = j;
      continue;
    }
    out[o++] = b;
  }
  return Buffer.from(out.subarray(0, o));
}

/** RFC 2045 6.8 base64, lenient: characters outside the alphabet (line breaks, junk, padding) are skipped. */
export function decodeBase64(src: Buffer): Buffer {
  return Buffer.from(src.toString('latin1').replace(/[^A-Za-z0-9+/]/g, ''), 'base64');
}

/** The body with its transfer encoding undone (base64 / quoted-printable); other encodings as they are. */
export function decodeTransfer(body: Buffer, transferEncoding: string): Buffer {
  if (transferEncoding === 'base64') return decodeBase64(body);
  if (transferEncoding === 'quoted-printable') return decodeQuotedPrintable(body);
  return body;
}

/** The decoded body of an entity. */
export function decodedBody(entity: MimeEntity): Buffer {
  return decodeTransfer(entity.body, entity.transferEncoding);
}

const UTF8_LABELS = new Set(['', 'utf-8', 'utf8', 'us-ascii', 'ascii', 'iso-8859-1', 'latin1', 'x-unknown', 'unknown-8bit']);

/**
 * Bytes as text in `charset`: UTF-8 and the ASCII/Latin-1 labels (and unknown or missing
 * ones) are read as UTF-8 when valid, else Latin-1; other charsets through iconv-lite.
 */
export function decodeCharset(bytes: Buffer, charset: string | undefined): string {
  const label = (charset ?? '').trim().toLowerCase();
  if (!UTF8_LABELS.has(label) && iconv.encodingExists(label)) {
    try {
      return iconv.decode(bytes, label);
    } catch {
      // iconv-lite only throws for unknown encodings, checked above; fall back to the lenient read
    }
  }
  return decodeFieldBytes(bytes);
}

/** The text of an entity (transfer and charset decoded), at most `maxBytes` decoded bytes of it. */
export function entityText(entity: MimeEntity, maxBytes: number): string {
  const bytes = decodedBody(entity);
  return decodeCharset(bytes.length > maxBytes ? bytes.subarray(0, maxBytes) : bytes, entity.params['charset']);
}

/** First value of a field (lower-case `key`), or null. */
export function firstValue(fields: readonly MimeField[], key: string): string | null {
  for (const f of fields) if (f.key === key) return f.value;
  return null;
}

/** Every value of a field (lower-case `key`), in order. */
export function allValues(fields: readonly MimeField[], key: string): string[] {
  const out: string[] = [];
  for (const f of fields) if (f.key === key) out.push(f.value);
  return out;
}

/**
 * Entities in document order (depth first), the root included. Embedded messages are entered
 * only when `intoEmbedded`; the report parts of a bounce are found without entering the
 * returned original, which may itself be a bounce.
 */
export function walkEntities(root: MimeEntity, intoEmbedded: boolean): MimeEntity[] {
  const out: MimeEntity[] = [];
  const stack: MimeEntity[] = [root];
  while (stack.length > 0) {
    const e = stack.pop() as MimeEntity;
    out.push(e);
    if (intoEmbedded && e.embedded !== null) stack.push(e.embedded);
    for (let i = e.children.length - 1; i >= 0; i--) stack.push(e.children[i] as MimeEntity);
  }
  return out;
}
