/**
 * Edits the header block of the root MIME node that mailsplit's Splitter emitted.
 *
 * The raw block is parsed (header-block.ts), handed to `onHeaders`, and the returned edits are
 * applied. The node's `headers` is replaced by a mailsplit Headers built from the new bytes,
 * so the Joiner (and any body stage, e.g. a Rewriter on a single-part HTML message) sees the
 * edited block; with no edits the node is left as it is. Edits of Content-Type or
 * Content-Transfer-Encoding change only the bytes written: the body was parsed by the
 * original header.
 *
 * Throws (or rejects with) whatever `onHeaders` throws, and InvariantError for invalid edits.
 */
import { Headers } from '@zone-eu/mailsplit';
import type { SplitterChunk } from '@zone-eu/mailsplit';
import type { HeaderEdit, HeaderField } from '../core/types.js';
import { InvariantError } from '../lib/errors.js';
import { applyHeaderEdits, parseHeaderBlock, type ParsedHeaderBlock } from '../mail/header-block.js';

export type OnHeaders = (fields: readonly HeaderField[]) => readonly HeaderEdit[] | Promise<readonly HeaderEdit[]>;

export type MimeNodeChunk = Extract<SplitterChunk, { type: 'node' }>;

function isThenable(v: unknown): v is PromiseLike<unknown> {
  return typeof v === 'object' && v !== null && typeof (v as { then?: unknown }).then === 'function';
}

/**
 * Edit the root node in place. Returns undefined when done synchronously, or a promise when
 * `onHeaders` answered with one. Throws synchronously for a synchronous failure.
 */
export function editRootHeaders(node: MimeNodeChunk, onHeaders: OnHeaders): Promise<void> | undefined {
  const parsed = parseHeaderBlock(rawHeaderBlock(node));
  const result = onHeaders(parsed.fields);
  if (isThenable(result)) {
    return Promise.resolve(result).then((edits) => {
      apply(node, parsed, edits);
    });
  }
  apply(node, parsed, result);
  return undefined;
}

function apply(node: MimeNodeChunk, parsed: ParsedHeaderBlock, edits: readonly HeaderEdit[]): void {
  if (!Array.isArray(edits)) throw new InvariantError('onHeaders did not return a list of edits');
  const block = applyHeaderEdits(parsed, edits);
  if (block !== parsed.block) node.headers = new Headers(block);
}

/** The root node's header block exactly as received. */
function rawHeaderBlock(node: MimeNodeChunk): Buffer {
  if (!node.headers) node.parseHeaders();
  const raw = node.headers ? node.headers.headers : false;
  if (raw === false) return Buffer.alloc(0);
  if (typeof raw === 'string') return Buffer.from(raw, 'latin1');
  if (!Buffer.isBuffer(raw)) throw new InvariantError('mailsplit root node without a raw header block');
  return raw;
}
