/**
 * One request at a time, in arrival order: the queue behind a line-protocol session whose
 * peer may send the next request before reading the last reply (Postfix's policy and
 * socketmap clients do not, but a peer may). `run` handles one item and must not reject;
 * the queue starts the next item when it settles.
 *
 * Limits: `maxWaiting` items waiting or running; one more makes push() return false (the
 * session then drops the peer: it sent requests without reading replies).
 * Throws nothing.
 */
export class SerialQueue<T> {
  readonly #items: T[] = [];
  #busy = false;
  #closed = false;
  #settledWaiters: Array<() => void> = [];

  constructor(
    private readonly run: (item: T) => Promise<void>,
    private readonly maxWaiting: number,
  ) {}

  /** Queues `item`; false (nothing queued) when `maxWaiting` items wait or run already. */
  push(item: T): boolean {
    if (this.#items.length + (this.#busy ? 1 : 0) > this.maxWaiting) return false;
    this.#items.push(item);
    return true;
  }

  /** Starts the next item unless one is running (call after push). */
  pump(): void {
    if (this.#busy || this.#closed) return;
    const item = this.#items.shift();
    if (item === undefined) {
      this.#wakeSettled();
      return;
    }
    this.#busy = true;
    void this.run(item).then(
      () => this.#next(),
      () => this.#next(),
    );
  }

  #next(): void {
    this.#busy = false;
    this.pump();
  }

  /** Forgets the waiting items; one still running finishes unheard. */
  close(): void {
    this.#closed = true;
    this.#items.length = 0;
    this.#wakeSettled();
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** An item is running. */
  get busy(): boolean {
    return this.#busy;
  }

  /** Items waiting behind the running one. */
  get queued(): number {
    return this.#items.length;
  }

  /** Resolves once every queued item has run (or the queue is closed). */
  whenSettled(): Promise<void> {
    if (this.#closed || (!this.#busy && this.#items.length === 0)) return Promise.resolve();
    return new Promise((resolve) => this.#settledWaiters.push(resolve));
  }

  #wakeSettled(): void {
    const waiters = this.#settledWaiters;
    this.#settledWaiters = [];
    for (const wake of waiters) wake();
  }
}
