/**
 * Coalesces the response frames of one reply into as few socket writes as possible: every
 * end-of-message edit and the final reply go out together, so the MTA reads them at once
 * instead of waking up per frame (and a small frame never waits behind Nagle's algorithm).
 * No I/O of its own: it hands the joined bytes to the sink the server provides.
 *
 * Protocol: Sendmail milter, replies to `E` (docs/protocols.md §1.5). Frames keep their order
 * and bytes; only the write boundaries change.
 *
 * Limits: a batch is written once it holds MILTER_WRITE_BATCH_BYTES or more (so a large
 * replacement body streams in pieces of about that size instead of sitting in memory).
 *
 * Throws whatever the sink throws.
 */
import { MILTER_WRITE_BATCH_BYTES } from '../lib/limits.js';

/** Receives response bytes in order; may return a promise to apply backpressure. */
export type MilterFrameSink = (frame: Buffer) => void | Promise<void>;

export class FrameBatch {
  private frames: Buffer[] = [];
  private bytes = 0;

  constructor(
    private readonly write: MilterFrameSink,
    private readonly limit: number = MILTER_WRITE_BATCH_BYTES,
  ) {}

  /** Queues a frame; writes the batch once it reached the limit. */
  async add(frame: Buffer): Promise<void> {
    this.frames.push(frame);
    this.bytes += frame.length;
    if (this.bytes >= this.limit) await this.flush();
  }

  /** Writes what is queued (nothing when empty) in one call of the sink. */
  async flush(): Promise<void> {
    if (this.frames.length === 0) return;
    const data = this.frames.length === 1 ? (this.frames[0] as Buffer) : Buffer.concat(this.frames, this.bytes);
    this.frames = [];
    this.bytes = 0;
    await this.write(data);
  }
}
