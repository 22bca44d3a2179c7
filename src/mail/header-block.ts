/**
 * The top-level header block as bytes: parse it into fields, apply HeaderEdits, write it back.
 *
 * RFC 5322 2.2 / 3.6: a field is `name ":" body CRLF`, a line starting with SP or HTAB
 * continues the field before it (folding). Parsing keeps byte offsets, so that every field the
 * edits do not touch is written back byte-for-byte; only `set` fields are newly written.
 *
 * Layout of a block (as mailsplit's Splitter hands it over, CRLF-normalised):
 *   Name: body CRLF            a field
 *    continued body CRLF       folding, belongs to the field above
 *   not a header line CRLF     "junk" (no colon, or a name with bytes outside 33..126): kept
 *                              where it is, never reported, never edited
 * A first line starting with whitespace is read as a field when it has a name and a colon
 * (see parseFieldLine).
 *   CRLF                       the empty line that ends the block (absent when the message
 *                              ends inside its header)
 *
 * Writing a field (`formatHeaderField`): `Name: value` as UTF-8, folded at whitespace outside
 * quoted strings and <angle-addr> (never inside an encoded word or an address) so that lines
 * stay at or under HEADER_FOLD_AT bytes where possible and never exceed MAX_HEADER_LINE_OCTETS.
 *
 * Pure: no I/O. Throws InvariantError for an edit that could inject a line (CR, LF or NUL in a
 * value), an invalid field name, or a value that cannot be folded under 998 octets — these are
 * bugs in the caller, which builds edits itself.
 */
import { foldPoints } from '../core/fold.js';
import type { HeaderEdit, HeaderField } from '../core/types.js';
import { InvariantError } from '../lib/errors.js';
import { HEADER_FOLD_AT, MAX_HEADER_LINE_OCTETS } from '../lib/limits.js';

const CR = 0x0d;
const LF = 0x0a;
const SP = 0x20;
const HT = 0x09;
const COLON = 0x3a;
const CRLF_BUF = Buffer.from('\r\n', 'latin1');

/** One piece of the block, as offsets into it: [start, end) including its line ending(s). */
interface Segment {
  readonly start: number;
  end: number;
  /** Lower-cased field name, or null for junk lines. */
  readonly key: string | null;
  /** Name as written (trailing WSP before the colon removed); '' for junk. */
  readonly name: string;
  /** Offset just past the colon (fields only). */
  readonly bodyStart: number;
}

export interface ParsedHeaderBlock {
  readonly block: Buffer;
  /** Header fields in order, as given to onHeaders. */
  readonly fields: readonly HeaderField[];
  /** @internal segment table, fields and junk in order */
  readonly segments: readonly Segment[];
  /** Offset of the empty line that ends the block (block.length when there is none). */
  readonly terminatorStart: number;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** UTF-8 when the bytes are valid UTF-8, else Latin-1 (every byte one code point). */
export function decodeFieldBytes(bytes: Uint8Array): string {
  let ascii = true;
  for (let i = 0; i < bytes.length; i++) {
    if ((bytes[i] as number) >= 0x80) {
      ascii = false;
      break;
    }
  }
  if (ascii) return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
  try {
    return utf8.decode(bytes);
  } catch {
    // not UTF-8: the documented fallback, nothing to log
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
  }
}

/** RFC 5322 ftext: printable US-ASCII except colon. */
function isFieldNameByte(b: number): boolean {
  return b >= 33 && b <= 126 && b !== COLON;
}

function isValidFieldName(name: string): boolean {
  if (name.length === 0) return false;
  for (let i = 0; i < name.length; i++) {
    if (!isFieldNameByte(name.charCodeAt(i))) return false;
  }
  return true;
}

/** Length of the line ending that ends at `end` (exclusive): 2 for CRLF, 1 for LF or CR, 0. */
function lineEndingLength(block: Buffer, start: number, end: number): number {
  if (end > start && block[end - 1] === LF) return end - 1 > start && block[end - 2] === CR ? 2 : 1;
  if (end > start && block[end - 1] === CR) return 1;
  return 0;
}

/** Parse a header block. Never throws: any bytes are a header block of fields and junk. */
export function parseHeaderBlock(block: Buffer): ParsedHeaderBlock {
  const segments: Segment[] = [];
  const n = block.length;
  let pos = 0;
  let terminatorStart = n;
  while (pos < n) {
    const lf = block.indexOf(LF, pos);
    const end = lf === -1 ? n : lf + 1;
    const first = block[pos] as number;
    if ((first === LF) || (first === CR && end - pos === 2 && block[pos + 1] === LF)) {
      // the empty line: end of the block (anything after it is not ours, keep it verbatim)
      terminatorStart = pos;
      break;
    }
    const last = segments[segments.length - 1];
    if ((first === SP || first === HT) && last !== undefined) {
      last.end = end;
    } else {
      segments.push(parseFieldLine(block, pos, end, last === undefined));
    }
    pos = end;
  }
  const fields: HeaderField[] = [];
  for (const s of segments) {
    if (s.key === null) continue;
    const bodyEnd = s.end - lineEndingLength(block, s.start, s.end);
    fields.push({ name: s.name, value: decodeFieldBytes(block.subarray(s.bodyStart, Math.max(bodyEnd, s.bodyStart))) });
  }
  return { block, fields, segments, terminatorStart };
}

function parseFieldLine(block: Buffer, start: number, end: number, firstLine: boolean): Segment {
  let i = start;
  // A first line that starts with whitespace continues nothing. Lax readers (mailsplit's
  // Headers among them) take " From: x" there as a From field, so it is read as one: an edit
  // of From must not leave a second From behind for them.
  if (firstLine) while (i < end && (block[i] === SP || block[i] === HT)) i++;
  const nameStart = i;
  while (i < end && isFieldNameByte(block[i] as number)) i++;
  let nameEnd = i;
  // obsolete syntax (RFC 5322 4.5): WSP between the name and the colon
  while (i < end && (block[i] === SP || block[i] === HT)) i++;
  if (nameEnd === nameStart || i >= end || block[i] !== COLON) {
    return { start, end, key: null, name: '', bodyStart: end };
  }
  const name = block.toString('latin1', nameStart, nameEnd);
  nameEnd = i + 1;
  return { start, end, key: name.toLowerCase(), name, bodyStart: nameEnd };
}

/** Refuse what could inject a header line or break the 998-octet limit (caller bugs). */
function checkEdit(edit: HeaderEdit): void {
  if (!isValidFieldName(edit.name)) {
    throw new InvariantError(`header edit: invalid field name ${JSON.stringify(edit.name.slice(0, 80))}`);
  }
  if (edit.op === 'set' && /[\r\n\0]/.test(edit.value)) {
    throw new InvariantError(`header edit: value of ${edit.name} contains CR, LF or NUL`);
  }
}

/** True when the char at `i` of `s` is SP or HTAB. */
function isWsp(s: string, i: number): boolean {
  const c = s.charCodeAt(i);
  return c === SP || c === HT;
}

/**
 * Write one field as `Name: value` + CRLF in UTF-8, folded (CRLF inserted before a run of
 * whitespace) when longer than HEADER_FOLD_AT bytes. Break points are whitespace runs that
 * are followed by more text and lie outside "quoted strings" and <angle addresses>, and not
 * the space right after the colon, so no written line is whitespace only and no encoded word
 * or address is split. Throws InvariantError on a bad name/value or a line over 998 octets.
 */
export function formatHeaderField(name: string, value: string): Buffer {
  checkEdit({ op: 'set', name, value });
  const line = `${name}: ${value}`;
  const whole = Buffer.from(line, 'utf8');
  if (whole.length <= HEADER_FOLD_AT) return Buffer.concat([whole, CRLF_BUF]);

  // split into pieces: the first runs to the first break point, each other starts with its WSP run
  // fold points followed by more text (never leave a line of whitespace only)
  const breaks = foldPoints(line, name.length + 2).filter((i) => {
    let j = i;
    while (j < line.length && isWsp(line, j)) j++;
    return j < line.length;
  });
  const out: Buffer[] = [];
  let cur = '';
  let curBytes = 0;
  let from = 0;
  const emit = (): void => {
    if (curBytes > MAX_HEADER_LINE_OCTETS) {
      throw new InvariantError(`header edit: ${name} has a line of ${curBytes} octets that cannot be folded`);
    }
    out.push(Buffer.from(cur, 'utf8'), CRLF_BUF);
  };
  for (let k = 0; k <= breaks.length; k++) {
    const to = k < breaks.length ? (breaks[k] as number) : line.length;
    const piece = line.slice(from, to);
    const pieceBytes = Buffer.byteLength(piece, 'utf8');
    if (cur !== '' && curBytes + pieceBytes > HEADER_FOLD_AT) {
      emit();
      cur = piece;
      curBytes = pieceBytes;
    } else {
      cur += piece;
      curBytes += pieceBytes;
    }
    from = to;
  }
  emit();
  return Buffer.concat(out);
}

/**
 * Apply edits in order to a parsed block and return the new block bytes.
 * - delete: remove every field of that name (with its continuation lines).
 * - set: replace the first field of that name in place, delete the others; append at the
 *   end of the header block (before the empty line) when there is none.
 * Names compare case-insensitively. Untouched fields and junk lines keep their bytes.
 * Returns the original buffer when `edits` is empty.
 */
export function applyHeaderEdits(parsed: ParsedHeaderBlock, edits: readonly HeaderEdit[]): Buffer {
  for (const e of edits) checkEdit(e);
  const { block } = parsed;
  if (edits.length === 0) return block;
  // items: an original segment or a newly written field
  type Item = { readonly seg: Segment; readonly key: string | null } | { readonly raw: Buffer; readonly key: string };
  let items: Item[] = parsed.segments.map((seg) => ({ seg, key: seg.key }));
  for (const e of edits) {
    const key = e.name.toLowerCase();
    if (e.op === 'delete') {
      items = items.filter((it) => it.key !== key);
      continue;
    }
    const raw = formatHeaderField(e.name, e.value);
    const first = items.findIndex((it) => it.key === key);
    if (first === -1) {
      items.push({ raw, key });
    } else {
      items = items.filter((it, idx) => idx <= first || it.key !== key);
      items[first] = { raw, key };
    }
  }
  const out: Buffer[] = [];
  for (let i = 0; i < items.length; i++) {
    const it = items[i] as Item;
    if ('raw' in it) {
      out.push(it.raw);
      continue;
    }
    out.push(block.subarray(it.seg.start, it.seg.end));
    // an original last line without a line ending now has something after it
    if (i < items.length - 1 && lineEndingLength(block, it.seg.start, it.seg.end) === 0) out.push(CRLF_BUF);
  }
  out.push(block.subarray(parsed.terminatorStart));
  return Buffer.concat(out);
}

/**
 * The header fields a block holds after `edits`, from fields as an adapter received them
 * (values after the colon; `leadingSpace`: each value keeps its own leading whitespace, else
 * one space is written after the colon). The fields the edits leave alone keep their values;
 * the ones they write are folded as formatHeaderField folds them.
 */
export function applyEditsToFields(fields: readonly HeaderField[], leadingSpace: boolean, edits: readonly HeaderEdit[]): HeaderField[] {
  const block = Buffer.from(`${fields.map((f) => `${f.name}:${leadingSpace ? '' : ' '}${f.value}\r\n`).join('')}\r\n`, 'utf8');
  return [...parseHeaderBlock(applyHeaderEdits(parseHeaderBlock(block), edits)).fields];
}
