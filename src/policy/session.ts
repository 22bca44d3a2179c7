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
import { SerialQueue } from '../lib/serial-queue.js';

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
  readonly #queue: SerialQueue<PolicyRequest>;

  constructor(options: PolicySessionOptions) {
    this.#decide = options.decide;
    this.#send = options.send;
    this.#drop = options.drop;
    this.#log = options.logger ?? silentLogger;
    this.#queue = new SerialQueue((request) => this.#answer(request), MAX_POLICY_QUEUED_REQUESTS);
  }

  /** Feed bytes from the peer. Throws ProtocolError when the connection must be dropped without reply. */
  receive(chunk: Uint8Array): void {
    if (this.#queue.closed) return;
    try {
      this.#reader.push(chunk);
      for (let request = this.#reader.next(); request !== null; request = this.#reader.next()) {
        if (!this.#queue.push(request)) {
          throw new ProtocolError(POLICY_ERROR.TOO_MANY_QUEUED, `policy client sent more than ${MAX_POLICY_QUEUED_REQUESTS + 1} requests without reading replies`);
        }
      }
    } catch (err: unknown) {
      this.close();
      throw err;
    }
    this.#queue.pump();
  }

  /** Forget queued requests; a decide() still running is answered by nobody. */
  close(): void {
    this.#queue.close();
  }

  /** A decide() call is running. */
  get busy(): boolean {
    return this.#queue.busy;
  }

  /** Complete requests waiting behind the one being decided. */
  get queued(): number {
    return this.#queue.queued;
  }

  /** Resolves once every received request is answered (or the session is closed). */
  whenSettled(): Promise<void> {
    return this.#queue.whenSettled();
  }

  /** Decides one request and sends the action; on failure drops the connection without reply. Never rejects. */
  async #answer(request: PolicyRequest): Promise<void> {
    try {
      const action = await this.#decide(request);
      if (this.#queue.closed) return;
      const reply = serialisePolicyAction(action);
      this.#log.debug({ state: escapeLogValue(request['protocol_state'] ?? ''), action: escapeLogValue(action) }, 'policy: answered');
      this.#send(reply);
    } catch (err: unknown) {
      if (this.#queue.closed) return;
      this.#log.error({ err, state: escapeLogValue(request['protocol_state'] ?? '') }, 'policy: no decision; dropping the connection without reply');
      this.close();
      this.#drop(err instanceof Error ? err : new Error(String(err)));
    }
  }
}
