/**
 * Group commit: the store writes that arrive together go to the backend as one batch, one
 * transaction, instead of one transaction each (issue 15, item 3). Used for recordSend, the
 * one write on the SMTP reply path of every message.
 *
 * - submit(item) queues the item; when no batch is being written, a flush is scheduled for
 *   the end of this event-loop turn (setImmediate), so every item submitted in the same turn
 *   is in it. While a batch is being written (a network database), new items wait and go in
 *   the next batch as soon as it is done. A batch holds at most `maxBatch` items; the rest go
 *   in the next one.
 * - Each caller's promise settles only after ITS batch was written: with its own result (the
 *   backend reports per item: a duplicate id in one send does not fail the others), or, when
 *   the batch failed as a whole (the transaction rolled back: database down, timeout, a bug),
 *   with that same error for every item of the batch — never silently, never resolved.
 * - A write that returns a result count other than the item count is a bug: InvariantError
 *   for every item of the batch.
 *
 * No clock, no timer beyond setImmediate: the batch is what arrived in one turn, so a lone
 * send waits for nothing but the end of its turn.
 *
 * Throws: nothing itself; submit() rejects with what the write rejected with.
 */
import { InvariantError } from '../../lib/errors.js';

interface Pending<I, R> {
  readonly item: I;
  readonly resolve: (result: R) => void;
  readonly reject: (err: unknown) => void;
}

export class GroupCommit<I, R> {
  #queue: Pending<I, R>[] = [];
  #writing = false;
  #scheduled = false;

  /**
   * @param write writes a batch in ONE transaction and resolves with one result per item, in
   *   order; rejects (having written nothing) when the batch failed.
   * @param maxBatch most items per batch (≥ 1).
   */
  constructor(
    private readonly write: (items: readonly I[]) => Promise<readonly R[]>,
    private readonly maxBatch: number,
  ) {
    if (!Number.isInteger(maxBatch) || maxBatch < 1) throw new InvariantError(`group commit batch size must be a positive integer, got ${maxBatch}`);
  }

  submit(item: I): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.#queue.push({ item, resolve, reject });
      this.#schedule();
    });
  }

  /** Items waiting for a batch (not counting the batch being written). */
  get waiting(): number {
    return this.#queue.length;
  }

  #schedule(): void {
    if (this.#writing || this.#scheduled || this.#queue.length === 0) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      void this.#flush();
    });
  }

  async #flush(): Promise<void> {
    if (this.#writing || this.#queue.length === 0) return;
    const batch = this.#queue.splice(0, this.maxBatch);
    this.#writing = true;
    try {
      let results: readonly R[];
      try {
        results = await this.write(batch.map((p) => p.item));
      } catch (err: unknown) {
        for (const p of batch) p.reject(err);
        return;
      }
      if (results.length !== batch.length) {
        const err = new InvariantError(`group commit: ${batch.length} items written, ${results.length} results`);
        for (const p of batch) p.reject(err);
        return;
      }
      batch.forEach((p, i) => p.resolve(results[i] as R));
    } finally {
      this.#writing = false;
      this.#schedule();
    }
  }
}
