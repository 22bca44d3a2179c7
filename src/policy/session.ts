/**
 * One Postfix policy-delegation connection (docs/protocols.md §2), as a state machine without
 * I/O: bytes in through receive(), replies out through the injected send(), decisions from
 * the injected decide().
 *
 * - Requests are answered one at a time, in order; a connection carries many requests (one
 *   smtpd process keeps it for many SMTP sessions). Postfix never sends a request before it
 *   has the previous reply; should a client pipeline anyway, up to
 *   MAX_POLICY_QUEUED_REQUESTS complete requests wait their turn, one more is an error.
 * - A malformed request (see codec.ts) makes receive() throw ProtocolError: the caller logs
 *   it and drops the connection WITHOUT replying, as the protocol asks. Replies still owed
 *   for earlier requests are not sent either.
 * - decide() rejecting, or returning an action the wire cannot carry, is logged and the
 *   connection is dropped without a reply (through the injected drop()). Postfix then
 *   retries on a new connection and, when its tries run out, applies
 *   `smtpd_policy_service_default_action` (451 4.3.5 by default): a temporary failure,
 *   which is what "fail closed" asks for. We never invent an action ourselves.
 * - After close(), late decide() results are discarded.
 */
import { ProtocolError } from '../lib/errors.js';
import { MAX_POLICY_QUEUED_REQUESTS } from '../lib/limits.js';
import { escapeLogValue, silentLogger, type Logger } from '../lib/logger.js';
import { POLICY_ERROR, PolicyRequestReader, serialisePolicyAction, type PolicyRequest } from './codec.js';

/** Decides one request; resolves with the access(5) action text, e.g. `DUNNO` or `550 5.7.1 Sender not allowed`. */
export type PolicyDecider = (request: PolicyRequest) => Promise<string>;

export interface PolicySessionOptions {
  readonly decide: PolicyDecider;
  /** Writes to the peer. */
  readonly send: (data: string) => void;
  /** Drops the connection without a reply (after a decide() failure). */
  readonly drop: (err: Error) => void;
  readonly logger?: Logger;
}

export class PolicySession {
  readonly #decide: PolicyDecider;
  readonly #send: (data: string) => void;
  readonly #drop: (err: Error) => void;
  readonly #log: Logger;
  readonly #reader = new PolicyRequestReader();
  readonly #queue: PolicyRequest[] = [];
  #busy = false;
  #closed = false;
  #settledWaiters: (() => void)[] = [];

  constructor(options: PolicySessionOptions) {
    this.#decide = options.decide;
    this.#send = options.send;
    this.#drop = options.drop;
    this.#log = options.logger ?? silentLogger;
  }

  /** Feed bytes from the peer. Throws ProtocolError when the connection must be dropped without reply. */
  receive(chunk: Uint8Array): void {
    if (this.#closed) return;
    try {
      this.#reader.push(chunk);
      for (let request = this.#reader.next(); request !== null; request = this.#reader.next()) {
        const waiting = this.#queue.length + (this.#busy ? 1 : 0);
        if (waiting > MAX_POLICY_QUEUED_REQUESTS) {
          throw new ProtocolError(POLICY_ERROR.TOO_MANY_QUEUED, `policy client sent more than ${MAX_POLICY_QUEUED_REQUESTS + 1} requests without reading replies`);
        }
        this.#queue.push(request);
      }
    } catch (err: unknown) {
      this.close();
      throw err;
    }
    this.#pump();
  }

  /** Forget queued requests; a decide() still running is answered by nobody. */
  close(): void {
    this.#closed = true;
    this.#queue.length = 0;
    this.#wakeSettled();
  }

  /** A decide() call is running. */
  get busy(): boolean {
    return this.#busy;
  }

  /** Complete requests waiting behind the one being decided. */
  get queued(): number {
    return this.#queue.length;
  }

  /** Resolves once every received request is answered (or the session is closed). */
  whenSettled(): Promise<void> {
    if (this.#closed || (!this.#busy && this.#queue.length === 0)) return Promise.resolve();
    return new Promise((resolve) => this.#settledWaiters.push(resolve));
  }

  #wakeSettled(): void {
    const waiters = this.#settledWaiters;
    this.#settledWaiters = [];
    for (const wake of waiters) wake();
  }

  #pump(): void {
    if (this.#busy || this.#closed) return;
    const request = this.#queue.shift();
    if (request === undefined) {
      this.#wakeSettled();
      return;
    }
    this.#busy = true;
    const decide = this.#decide;
    void Promise.resolve()
      .then(() => decide(request))
      .then((action) => {
        if (this.#closed) return;
        const reply = serialisePolicyAction(action);
        this.#log.debug({ state: escapeLogValue(request['protocol_state'] ?? ''), action: escapeLogValue(action) }, 'policy: answered');
        this.#send(reply);
      })
      .then(
        () => {
          this.#busy = false;
          this.#pump();
        },
        (err: unknown) => {
          this.#busy = false;
          if (this.#closed) return;
          this.#log.error({ err, state: escapeLogValue(request['protocol_state'] ?? '') }, 'policy: no decision; dropping the connection without reply');
          this.close();
          this.#drop(err instanceof Error ? err : new Error(String(err)));
        },
      );
  }
}
