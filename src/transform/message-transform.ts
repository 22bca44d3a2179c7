/**
 * Streaming message rewrite (docs/architecture.md, "The tree of src/"): bytes in, bytes out.
 *
 *   no body stages:  MessageStage(join)                     (one stream: normalise, split, edit, join)
 *   only BodyRewriterStages: MessageStage(join, rewriters)   (one stream: the rewriters run inline)
 *   other body stages: MessageStage -> ...bodyStages -> Joiner -> CrlfNormaliser
 *
 * - Input line endings are normalised to CRLF first (LF-only and mixed input, across chunk
 *   boundaries). For CRLF input every untouched header line and the whole body leave
 *   byte-for-byte.
 * - Only the top-level header block is given to `onHeaders` and edited (HeaderEdit semantics in
 *   src/core/types.ts); nested parts and attached messages are never touched.
 * - Body stages (object mode, e.g. a mailsplit Rewriter for tracking) sit between the header
 *   editor and the Joiner; when there are any, the output is normalised to CRLF again
 *   (the Rewriter writes a bare LF after a re-encoded base64 part).
 * - Memory is bounded: nothing collects the message; each stage holds at most a chunk or a
 *   header block (MAX_HEADER_BLOCK_BYTES).
 *
 * Errors (the returned Duplex errors, every stage is destroyed, nothing hangs):
 *  - RejectError 'EMAXLEN' 552 5.3.4 past MAX_HEADER_BLOCK_BYTES / MAX_MIME_NODES;
 *  - whatever `onHeaders` throws or rejects with;
 *  - InvariantError for an invalid edit (CR/LF/NUL in a value, bad name, unfoldable line).
 * An `onHeaders` promise that never settles stalls the stream: callers bound it with their
 * own timeout (and destroy the stream).
 * Body stages must be object-mode Duplexes that pass mailsplit objects on (as a Rewriter does).
 */
import { Joiner } from '@zone-eu/mailsplit';
import * as nodeStream from 'node:stream';
import { Readable, Writable, type Duplex } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { HeaderEdit, HeaderField } from '../core/types.js';
import { BodyRewriterStage } from './body-rewriter.js';
import { CrlfNormaliser } from './crlf-normaliser.js';
import { MessageStage } from './message-stage.js';

export interface MessageTransformOptions {
  /** Called once with the top-level header fields; returns the edits to apply. May throw
   *  (e.g. RejectError) — the stream then errors with that error. */
  onHeaders(fields: readonly HeaderField[]): readonly HeaderEdit[] | Promise<readonly HeaderEdit[]>;
  /** Extra object-mode stages between the header editor and the Joiner (e.g. the tracking
   *  stage). When every one is a BodyRewriterStage they run inline in one stream. Optional. */
  bodyStages?: readonly import('node:stream').Duplex[];
}

// stream.compose exists at runtime since Node 16.9 but @types/node 20 does not declare it.
const compose = (nodeStream as unknown as { compose: (...streams: Duplex[]) => Duplex }).compose;

/** A Duplex that takes message bytes and gives the rewritten message bytes. */
export function createMessageTransform(opts: MessageTransformOptions): Duplex {
  const onHeaders = (fields: readonly HeaderField[]): readonly HeaderEdit[] | Promise<readonly HeaderEdit[]> =>
    opts.onHeaders(fields);
  const bodyStages = opts.bodyStages ?? [];
  if (bodyStages.length === 0) return new MessageStage({ onHeaders, join: true });
  if (bodyStages.every((s) => s instanceof BodyRewriterStage)) {
    // synchronous rewriters: run inline, no stream per stage (body-rewriter.ts)
    return new MessageStage({ onHeaders, join: true, rewriters: bodyStages.map((s) => s.rewriter) });
  }
  return compose(
    new MessageStage({ onHeaders, join: false }),
    ...bodyStages,
    new Joiner() as unknown as Duplex,
    // body stages may write bare LF (mailsplit's Rewriter does after base64): CRLF again
    new CrlfNormaliser(),
  );
}

/** Rewrite a message held in memory (tests, small messages). Rejects with the stream's error. */
export async function rewriteMessage(input: Buffer, opts: MessageTransformOptions): Promise<Buffer> {
  const chunks: Buffer[] = [];
  await pipeline(
    Readable.from([input], { objectMode: false }),
    createMessageTransform(opts),
    new Writable({
      write(chunk: Buffer, _encoding, callback) {
        chunks.push(chunk);
        callback();
      },
    }),
  );
  return Buffer.concat(chunks);
}
