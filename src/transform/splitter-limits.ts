/**
 * mailsplit's Splitter with trxmail's limits, whose EMAXLEN errors become SMTP rejections.
 *
 * RFC 2045/2046 MIME parsing is mailsplit's. Limits (src/lib/limits.ts):
 *  - MAX_HEADER_BLOCK_BYTES: the header block of any MIME node (root or nested), counted as
 *    mailsplit counts it: bytes including line endings and the empty line, every non-empty
 *    line costing at least 64 bytes (this also bounds the number of parsed lines).
 *  - MAX_MIME_NODES: MIME nodes in the message, the root included.
 * Past either, the stream errors with RejectError 'EMAXLEN', 552 5.3.4 (RFC 3463: message too
 * big for system): "Message header block too large" / "Message has too many MIME parts".
 * Any other splitter error passes through unchanged.
 */
import { Splitter } from '@zone-eu/mailsplit';
import type { TransformCallback } from 'node:stream';
import { RejectError, type SmtpReply } from '../lib/errors.js';
import { MAX_HEADER_BLOCK_BYTES, MAX_MIME_NODES } from '../lib/limits.js';

export const HEADER_TOO_LARGE_REPLY: SmtpReply = { code: 552, enhanced: '5.3.4', text: 'Message header block too large' };
export const TOO_MANY_PARTS_REPLY: SmtpReply = { code: 552, enhanced: '5.3.4', text: 'Message has too many MIME parts' };

/** Map mailsplit's EMAXLEN to a RejectError; anything else unchanged. */
export function mapSplitterError(err: Error | null | undefined): Error | null | undefined {
  if (!err || (err as Error & { code?: unknown }).code !== 'EMAXLEN') return err;
  const reply = /child nodes/i.test(err.message) ? TOO_MANY_PARTS_REPLY : HEADER_TOO_LARGE_REPLY;
  return new RejectError('EMAXLEN', reply, { cause: err });
}

export class LimitedSplitter extends Splitter {
  constructor() {
    super({ maxHeadSize: MAX_HEADER_BLOCK_BYTES, maxChildNodes: MAX_MIME_NODES });
  }

  override _transform(chunk: Buffer, encoding: BufferEncoding, callback: TransformCallback): void {
    super._transform(chunk, encoding, (err, data) => {
      callback(mapSplitterError(err), data);
    });
  }

  override _flush(callback: TransformCallback): void {
    super._flush((err, data) => {
      callback(mapSplitterError(err), data);
    });
  }
}
