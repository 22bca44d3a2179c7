/**
 * Synchronous body rewriters: the fast form of a body stage for createMessageTransform.
 *
 * A BodyRewriter takes the mailsplit objects the Splitter emits (after the root header edit),
 * in order, and hands on the objects to write (a node whose header block is written, a body or
 * data chunk whose bytes are written) through `emit`, synchronously. Because nothing in it is a
 * stream, MessageStage can run it inline between the Splitter and its built-in Joiner: one
 * Node stream for the whole rewrite instead of five (MessageStage, Rewriter, Joiner,
 * CrlfNormaliser and the compose() glue), which is where most of the time of a rewrite of a
 * small HTML message went (stream callbacks, setImmediate, per-object bookkeeping).
 *
 * Contract for implementations: every byte they emit that they produced themselves has CRLF
 * line endings (the fused path has no CRLF pass after the Joiner); objects they pass on were
 * normalised on input already. Errors are thrown (the stream then fails with them).
 *
 * BodyRewriterStage wraps one as an object-mode Duplex, so it can also stand as an ordinary
 * body stage; createMessageTransform recognises it and runs the rewriter inline.
 */
import type { SplitterChunk } from '@zone-eu/mailsplit';
import { Transform, type TransformCallback } from 'node:stream';
import { InvariantError } from '../lib/errors.js';

/** An object to write: a node (its header block) or a chunk of bytes (body or data). */
export type BodyOutput = SplitterChunk;

export interface BodyRewriter {
  /** One object from the Splitter; hands what to write, in order, to `emit`. May throw. */
  write(obj: SplitterChunk, emit: (out: BodyOutput) => void): void;
  /** The input ended: hands what is still held to `emit`. May throw. */
  end(emit: (out: BodyOutput) => void): void;
}

function toError(err: unknown): Error {
  return err instanceof Error ? err : new InvariantError('non-Error thrown by a body rewriter', { cause: err });
}

/** A BodyRewriter as an object-mode Transform (mailsplit objects in, mailsplit objects out). */
export class BodyRewriterStage extends Transform {
  readonly rewriter: BodyRewriter;
  readonly #emit = (out: BodyOutput): void => {
    this.push(out);
  };

  constructor(rewriter: BodyRewriter) {
    super({ readableObjectMode: true, writableObjectMode: true });
    this.rewriter = rewriter;
  }

  override _transform(obj: SplitterChunk, _encoding: BufferEncoding, callback: TransformCallback): void {
    try {
      this.rewriter.write(obj, this.#emit);
    } catch (err: unknown) {
      callback(toError(err));
      return;
    }
    callback();
  }

  override _flush(callback: TransformCallback): void {
    try {
      this.rewriter.end(this.#emit);
    } catch (err: unknown) {
      callback(toError(err));
      return;
    }
    callback();
  }
}
