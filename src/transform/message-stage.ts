/**
 * One stream that does the work of CrlfNormaliser -> Splitter -> root header edit
 * [-> body rewriters] [-> Joiner].
 *
 * Bytes in; out either bytes (`join: true`, the whole pipeline when there are no body stages)
 * or mailsplit objects (`join: false`, to feed body stages and a Joiner). Doing it in one
 * stream instead of four saves the per-stage cost of Node streams, which dominates for small
 * messages. mailsplit's Splitter is driven directly: its `_transform`/`_flush` are called with
 * the normalised bytes and its `push` is redirected here; it is never piped.
 *
 * Only the first node (the root) is given to `editRootHeaders`; nested parts and attached
 * message/rfc822 headers pass untouched. When `onHeaders` answers with a promise, objects the
 * splitter emits meanwhile are queued (at most one input chunk's worth, because the write
 * callback waits too) and released in order once the edits are applied.
 *
 * Body rewriters (body-rewriter.ts) run inline after the root header edit, each feeding the
 * next; their `end` runs once the splitter has flushed. What the last one emits is joined
 * (or pushed as objects).
 *
 * Limits: SPLITTER_OPTIONS (MAX_HEADER_BLOCK_BYTES, MAX_MIME_NODES). Errors: RejectError
 * 'EMAXLEN' 552 5.3.4, whatever onHeaders throws, InvariantError for bad edits; the stream is
 * destroyed with the error.
 */
import { Splitter } from '@zone-eu/mailsplit';
import type { SplitterChunk } from '@zone-eu/mailsplit';
import { Transform, type TransformCallback } from 'node:stream';
import { InvariantError } from '../lib/errors.js';
import type { BodyOutput, BodyRewriter } from './body-rewriter.js';
import { CrlfState } from './crlf-normaliser.js';
import { editRootHeaders, type OnHeaders } from './root-header-editor.js';
import { mapSplitterError, SPLITTER_OPTIONS } from './splitter-limits.js';

export interface MessageStageOptions {
  readonly onHeaders: OnHeaders;
  /** true: write message bytes (Joiner built in); false: write mailsplit objects. */
  readonly join: boolean;
  /** Synchronous body rewriters, in order (none by default). */
  readonly rewriters?: readonly BodyRewriter[];
}

function toError(err: unknown): Error {
  return err instanceof Error ? err : new InvariantError('non-Error thrown while editing headers', { cause: err });
}

export class MessageStage extends Transform {
  readonly #onHeaders: OnHeaders;
  readonly #join: boolean;
  readonly #normaliser = new CrlfState();
  readonly #splitter = new Splitter({ ...SPLITTER_OPTIONS });
  #rootSeen = false;
  /** Set while an asynchronous onHeaders answer is awaited; objects wait in #queue. */
  #editing: Promise<void> | null = null;
  #queue: SplitterChunk[] = [];
  /** First error from an edit; reported by the next write callback. */
  #failure: Error | null = null;
  readonly #rewriters: readonly BodyRewriter[];
  /** #sinks[i] takes what rewriter i emits; #sinks[n] writes out. */
  readonly #sinks: Array<(out: BodyOutput) => void>;

  constructor(opts: MessageStageOptions) {
    super({ readableObjectMode: !opts.join, writableObjectMode: false, decodeStrings: true });
    this.#onHeaders = opts.onHeaders;
    this.#join = opts.join;
    this.#rewriters = opts.rewriters ?? [];
    const sinks: Array<(out: BodyOutput) => void> = [];
    sinks[this.#rewriters.length] = (out) => {
      this.#write(out);
    };
    for (let i = this.#rewriters.length - 1; i >= 0; i--) {
      const rewriter = this.#rewriters[i]!;
      const next = sinks[i + 1]!;
      sinks[i] = (out) => {
        rewriter.write(out, next);
      };
    }
    this.#sinks = sinks;
    this.#splitter.push = (obj: unknown): boolean => {
      // the splitter calls this from its own setImmediate callbacks: an exception here
      // would be uncaught and end the process, so it becomes the stream's error instead
      try {
        this.#receive(obj as SplitterChunk);
      } catch (err: unknown) {
        this.#failure ??= toError(err);
      }
      return true;
    };
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    const bytes = this.#normaliser.normalise(chunk);
    if (bytes === null) {
      callback();
      return;
    }
    this.#splitter._transform(bytes, 'binary', (err?: Error | null) => {
      this.#done(err, callback);
    });
  }

  override _flush(flushed: TransformCallback): void {
    const callback: TransformCallback = (err?: Error | null) => {
      if (err) {
        flushed(err);
        return;
      }
      try {
        for (let i = 0; i < this.#rewriters.length; i++) this.#rewriters[i]!.end(this.#sinks[i + 1]!);
      } catch (e: unknown) {
        flushed(toError(e));
        return;
      }
      flushed();
    };
    const tail = this.#normaliser.takePending();
    const flushSplitter = (): void => {
      this.#splitter._flush((err?: Error | null) => {
        this.#done(err, callback);
      });
    };
    if (tail === null) {
      flushSplitter();
      return;
    }
    this.#splitter._transform(tail, 'binary', (err?: Error | null) => {
      if (err) this.#done(err, callback);
      else flushSplitter();
    });
  }

  /** Called when the splitter finished a chunk: wait for a pending edit, then report. */
  #done(err: Error | null | undefined, callback: TransformCallback): void {
    if (err) {
      callback(mapSplitterError(err));
      return;
    }
    if (this.#editing !== null) {
      this.#editing.then(
        () => {
          callback(this.#failure);
        },
        (e: unknown) => {
          callback(toError(e));
        },
      );
      return;
    }
    callback(this.#failure);
  }

  #receive(obj: SplitterChunk): void {
    if (this.#failure !== null || this.destroyed) return;
    if (this.#editing !== null) {
      this.#queue.push(obj);
      return;
    }
    if (!this.#rootSeen && obj.type === 'node') {
      this.#rootSeen = true;
      let pending: Promise<void> | undefined;
      try {
        pending = editRootHeaders(obj, this.#onHeaders);
      } catch (err: unknown) {
        this.#failure = toError(err);
        return;
      }
      if (pending !== undefined) {
        this.#queue.push(obj);
        this.#editing = pending.then(
          () => {
            this.#editing = null;
            const queued = this.#queue;
            this.#queue = [];
            for (const q of queued) this.#emit(q);
          },
          (err: unknown) => {
            this.#editing = null;
            this.#queue = [];
            this.#failure = toError(err);
          },
        );
        return;
      }
    }
    this.#emit(obj);
  }

  #emit(obj: SplitterChunk): void {
    this.#sinks[0]!(obj);
  }

  #write(obj: BodyOutput): void {
    if (!this.#join) {
      this.push(obj);
    } else if (obj.type === 'node') {
      this.push(obj.getHeaders());
    } else if (obj.value.length > 0) {
      this.push(obj.value);
    }
  }
}
