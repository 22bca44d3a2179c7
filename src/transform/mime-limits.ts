/**
 * checkMimeLimits: the transform's MIME limits for a message that is not rewritten (tracking
 * off), so MAX_MIME_NODES and MAX_HEADER_BLOCK_BYTES hold for every message, not only for the
 * ones the tracking rewrite reads. One pass of the same transform (createMessageTransform, no
 * edits, no body stages) whose output is thrown away: the same counting, the same replies.
 *
 * Limits: SPLITTER_OPTIONS (src/transform/splitter-limits.ts). Throws RejectError 'EMAXLEN'
 * (552 5.3.4) past one; the source's errors (spool I/O) unchanged.
 */
import { pumpThrough } from '../lib/pump.js';
import { createMessageTransform } from './message-transform.js';

/** Reads the whole message (header block, blank line, body) through the transform's splitter. */
export async function checkMimeLimits(message: AsyncIterable<Buffer>): Promise<void> {
  await pumpThrough(message, createMessageTransform({ onHeaders: () => [] }), () => undefined);
}
