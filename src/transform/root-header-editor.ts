/**
 * Object-mode stage after mailsplit's Splitter: edits the top-level header block only.
 *
 * The first MIME node the Splitter emits is the root; its raw header block is parsed
 * (header-block.ts), handed to `onHeaders`, and the returned edits are applied. The node's
 * `headers` is replaced by a mailsplit Headers built from the new bytes, so the Joiner (and
 * any body stage, e.g. a Rewriter on a single-part HTML message) sees the edited block;
 * unchanged bytes stay unchanged. Every later object (nested parts, attached message/rfc822
 * headers, bodies) passes through untouched.
 *
 * Edits to Content-Type / Content-Transfer-Encoding change only the bytes written: the body
 * was already parsed by the original header.
 *
 * Errors: whatever `onHeaders` throws or rejects with (e.g. RejectError), and InvariantError
 * for invalid edits, become the stream's error.
 */
import { Headers } from '@zone-eu/mailsplit';
import type { SplitterChunk } from '@zone-eu/mailsplit';
import { Transform, type TransformCallback } from 'node:stream';
import type { HeaderEdit, HeaderField } from '../core/types.js';
import { InvariantError } from '../lib/errors.js';
import { applyHeaderEdits, parseHeaderBlock } from './header-block.js';

export type OnHeaders = (fields: readonly HeaderField[]) => readonly HeaderEdit[] | Promise<readonly HeaderEdit[]>;

type RootNode = Extract<SplitterChunk, { type: 'node' }>;

function isThenable(v: unknown): v is PromiseLike<unknown> {
  return typeof v === 'object' && v !== null && typeof (v as { then?: unknown }).then === 'function';
}

export class HeaderEditor extends Transform {
  readonly #onHeaders: OnHeaders;
  #rootDone = false;

  constructor(onHeaders: OnHeaders) {
    super({ objectMode: true });
    this.#onHeaders = onHeaders;
  }

  override _transform(chunk: SplitterChunk, _encoding: BufferEncoding, callback: TransformCallback): void {
    if (this.#rootDone || chunk.type !== 'node') {
      callback(null, chunk);
      return;
    }
    this.#rootDone = true;
    let parsed;
    let result: ReturnType<OnHeaders>;
    try {
      parsed = parseHeaderBlock(rawHeaderBlock(chunk));
      result = this.#onHeaders(parsed.fields);
    } catch (err: unknown) {
      callback(toError(err));
      return;
    }
    const finish = (edits: readonly HeaderEdit[]): void => {
      try {
        const block = applyHeaderEdits(parsed, edits);
        if (block !== parsed.block) chunk.headers = new Headers(block);
      } catch (err: unknown) {
        callback(toError(err));
        return;
      }
      callback(null, chunk);
    };
    if (isThenable(result)) {
      result.then(finish, (err: unknown) => {
        callback(toError(err));
      });
    } else {
      finish(result);
    }
  }
}

/** The root node's header block exactly as received. */
function rawHeaderBlock(node: RootNode): Buffer {
  if (!node.headers) node.parseHeaders();
  const raw = node.headers ? node.headers.headers : false;
  if (raw === false) return Buffer.alloc(0);
  if (typeof raw === 'string') return Buffer.from(raw, 'latin1');
  if (!Buffer.isBuffer(raw)) throw new InvariantError('mailsplit root node without a raw header block');
  return raw;
}

function toError(err: unknown): Error {
  return err instanceof Error ? err : new InvariantError('non-Error thrown by onHeaders', { cause: err });
}
