/**
 * trxmail's limits for mailsplit's Splitter, and its EMAXLEN errors as SMTP rejections.
 *
 * RFC 2045/2046 MIME parsing is mailsplit's. Limits (src/lib/limits.ts):
 *  - MAX_HEADER_BLOCK_BYTES: the header block of any MIME node (root or nested), counted as
 *    mailsplit counts it: bytes including line endings and the empty line, every non-empty
 *    line costing at least MAILSPLIT_HEADER_LINE_MIN_COST bytes (which also bounds the number
 *    of lines parsed).
 *  - MAX_MIME_NODES: MIME nodes in the message, the root included.
 * Past either, mailsplit fails with code EMAXLEN; `mapSplitterError` turns that into
 * RejectError 'EMAXLEN', 552 5.3.4 (RFC 3463: message too big for system) with the text
 * "Message header block too large" or "Message has too many MIME parts". Other errors pass.
 */
import type { SplitterOptions } from '@zone-eu/mailsplit';
import { RejectError, type SmtpReply } from '../lib/errors.js';
import { MAX_HEADER_BLOCK_BYTES, MAX_MIME_NODES } from '../lib/limits.js';

/** The least one header line counts for against MAX_HEADER_BLOCK_BYTES (mailsplit's HEADER_LINE_MIN_COST). */
export const MAILSPLIT_HEADER_LINE_MIN_COST = 64;

export const SPLITTER_OPTIONS: Readonly<SplitterOptions> = Object.freeze({
  maxHeadSize: MAX_HEADER_BLOCK_BYTES,
  maxChildNodes: MAX_MIME_NODES,
});

export const HEADER_TOO_LARGE_REPLY: SmtpReply = Object.freeze({ code: 552, enhanced: '5.3.4', text: 'Message header block too large' });
export const TOO_MANY_PARTS_REPLY: SmtpReply = Object.freeze({ code: 552, enhanced: '5.3.4', text: 'Message has too many MIME parts' });

/** Map mailsplit's EMAXLEN to a RejectError; anything else unchanged. */
export function mapSplitterError(err: Error): Error {
  if ((err as Error & { code?: unknown }).code !== 'EMAXLEN') return err;
  const reply = /child nodes/i.test(err.message) ? TOO_MANY_PARTS_REPLY : HEADER_TOO_LARGE_REPLY;
  return new RejectError('EMAXLEN', reply, { cause: err });
}
