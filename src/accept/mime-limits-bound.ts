/**
 * A cheap, sound test that a message cannot break the transform's MIME limits, so that the
 * accept step can skip the full counting pass (src/transform/mime-limits.ts, a whole mailsplit
 * parse: about half a millisecond of CPU for a 5 KB message) for the messages that obviously
 * fit — most of them. When the test says "maybe", the full pass runs as before; the limits and
 * the replies do not change.
 *
 * The bound, from how mailsplit counts (src/transform/splitter-limits.ts):
 *  - MAX_MIME_NODES: every MIME node starts on a line of its own (the root at the first line, a
 *    part at its boundary line, an embedded message/rfc822 after its part's header block), so
 *    a message has at most lines + 1 nodes. Lines are counted as CR plus LF bytes: an upper
 *    bound whatever the line ending.
 *  - MAX_HEADER_BLOCK_BYTES: a header block counts its bytes, every line at least
 *    MAILSPLIT_HEADER_LINE_MIN_COST; no block is larger than the whole message counted that way,
 *    bytes + (lines + 1) × MAILSPLIT_HEADER_LINE_MIN_COST.
 * Only a body held in memory is looked at (one indexOf scan); a body spooled to disk is large
 * enough that the full pass decides.
 */
import type { HeaderField } from '../core/types.js';
import { MAX_HEADER_BLOCK_BYTES, MAX_MIME_NODES } from '../lib/limits.js';
import type { Spool } from '../lib/spool.js';
import { MAILSPLIT_HEADER_LINE_MIN_COST } from '../transform/splitter-limits.js';

const CR = 0x0d;
const LF = 0x0a;

function countByte(chunk: Buffer, byte: number): number {
  let n = 0;
  for (let i = chunk.indexOf(byte); i >= 0; i = chunk.indexOf(byte, i + 1)) n++;
  return n;
}

/** True when the message (these header fields, a blank line, this body) cannot exceed MAX_MIME_NODES or MAX_HEADER_BLOCK_BYTES. */
export async function withinMimeLimitsBound(headers: readonly HeaderField[], body: Spool): Promise<boolean> {
  if (body.onDisk) return false;
  // Each field: name, ':', an optional space, value, CRLF; then the blank line.
  let bytes = 2;
  let lines = 1;
  for (const f of headers) {
    const value = Buffer.from(f.value, 'utf8');
    bytes += Buffer.byteLength(f.name, 'utf8') + 3 + value.length + 2;
    lines += 1 + countByte(value, CR) + countByte(value, LF);
  }
  for await (const chunk of body.read()) {
    bytes += chunk.length;
    lines += countByte(chunk, CR) + countByte(chunk, LF);
  }
  return lines + 1 <= MAX_MIME_NODES && bytes + (lines + 1) * MAILSPLIT_HEADER_LINE_MIN_COST <= MAX_HEADER_BLOCK_BYTES;
}
