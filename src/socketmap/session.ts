/**
 * One Postfix socketmap connection (docs/protocols.md §6), as a state machine without I/O:
 * bytes in through receive(), replies out through the injected send(), answers from the
 * injected lookup().
 *
 * - Requests are answered one at a time, in order; a connection carries many requests
 *   (Postfix keeps it up to 10 s idle and 100 s in all, and shares it between every
 *   socketmap table on the same endpoint). Postfix never sends a request before it has the
 *   previous reply; should a client pipeline anyway, up to MAX_SOCKETMAP_QUEUED_REQUESTS
 *   complete requests wait their turn, one more is an error.
 * - lookup(map, key) resolving with a string answers `OK <value>`, with null `NOTFOUND`.
 *   The lookup owns the map names: for a map it does not serve it resolves null, so an
 *   unknown map is NOTFOUND.
 * - lookup() rejecting with TransientError (store down) answers `TEMP <reason>`: Postfix
 *   logs the reason and fails the lookup temporarily (smtpd: 451 4.3.0 Temporary lookup
 *   failure), which is what "fail closed" asks for. Any other failure, or a value the wire
 *   cannot carry (empty, NUL, too long), is a bug: logged as an error and answered
 *   `TEMP internal error`, never NOTFOUND (that would refuse mail for a real domain) and
 *   never with the error's text (it lands in Postfix's log).
 * - A malformed request (see codec.ts) makes receive() throw ProtocolError: the caller logs
 *   it and drops the connection. Replies still owed for earlier requests are not sent.
 * - After close(), late lookup() results are discarded.
 */
import { ProtocolError, TransientError } from '../lib/errors.js';
import { MAX_SOCKETMAP_QUEUED_REQUESTS } from '../lib/limits.js';
import { escapeLogValue, silentLogger, type Logger } from '../lib/logger.js';
import { SOCKETMAP_ERROR, SOCKETMAP_STATUS, SocketmapRequestReader, encodeSocketmapReply, type SocketmapReply, type SocketmapRequest } from './codec.js';
import { SerialQueue } from '../lib/serial-queue.js';
import { merged } from '../lib/merged.js';

/**
 * Looks `key` up in the map named `map`: resolves with the value, or null when there is
 * none (also for a map it does not serve). Rejects with TransientError when it cannot tell now.
 */
export type SocketmapLookup = (map: string, key: string) => Promise<string | null>;

/** Characters of an error message put into a TEMP reply (cut, then escaped to printable ASCII); Postfix logs at most 200. */
export const MAX_SOCKETMAP_REASON = 200;

/** The reason given for a failure that is not a TransientError (a bug: its text stays in our log). */
export const INTERNAL_ERROR_REASON = 'internal error';

export interface SocketmapSessionOptions {
  readonly lookup: SocketmapLookup;
  /** Writes to the peer. */
  readonly send: (data: string) => void;
  readonly logger?: Logger;
}

export class SocketmapSession {
  readonly #lookup: SocketmapLookup;
  readonly #send: (data: string) => void;
  readonly #log: Logger;
  readonly #reader = new SocketmapRequestReader();
  readonly #queue: SerialQueue<SocketmapRequest>;

  constructor(options: SocketmapSessionOptions) {
    this.#lookup = options.lookup;
    this.#send = options.send;
    this.#log = options.logger ?? silentLogger;
    this.#queue = new SerialQueue((request) => this.#answer(request), MAX_SOCKETMAP_QUEUED_REQUESTS);
  }

  /** Feed bytes from the peer. Throws ProtocolError when the connection must be dropped. */
  receive(chunk: Uint8Array): void {
    if (this.#queue.closed) return;
    try {
      this.#reader.push(chunk);
      for (let request = this.#reader.next(); request !== null; request = this.#reader.next()) {
        if (!this.#queue.push(request)) {
          throw new ProtocolError(
            SOCKETMAP_ERROR.TOO_MANY_QUEUED,
            `socketmap client sent more than ${MAX_SOCKETMAP_QUEUED_REQUESTS + 1} requests without reading replies`,
          );
        }
      }
    } catch (err: unknown) {
      this.close();
      throw err;
    }
    this.#queue.pump();
  }

  /** Forget queued requests; a lookup() still running is answered by nobody. */
  close(): void {
    this.#queue.close();
  }

  /** A lookup() call is running. */
  get busy(): boolean {
    return this.#queue.busy;
  }

  /** Complete requests waiting behind the one being looked up. */
  get queued(): number {
    return this.#queue.queued;
  }

  /** Resolves once every received request is answered (or the session is closed). */
  whenSettled(): Promise<void> {
    return this.#queue.whenSettled();
  }

  /** Looks one request up and sends the reply (unless closed meanwhile). Never rejects. */
  async #answer(request: SocketmapRequest): Promise<void> {
    const where = { map: escapeLogValue(request.map, 60), key: escapeLogValue(request.key, 200) };
    let reply: string;
    let status: string;
    try {
      const value = await this.#lookup(request.map, request.key);
      const answer: SocketmapReply = value === null ? { status: SOCKETMAP_STATUS.NOTFOUND } : { status: SOCKETMAP_STATUS.OK, value };
      // Throws InvariantError for a value that is not a non-empty string the wire can carry.
      reply = encodeSocketmapReply(answer);
      status = answer.status;
    } catch (err: unknown) {
      if (this.#queue.closed) return;
      if (err instanceof TransientError) {
        this.#log.warn(merged(where, { code: err.code, err }), 'socketmap: lookup failed for now; answering TEMP');
        reply = encodeSocketmapReply({ status: SOCKETMAP_STATUS.TEMP, reason: escapeLogValue(err.message, MAX_SOCKETMAP_REASON) });
      } else {
        this.#log.error(merged(where, { err }), 'socketmap: lookup failed (a bug); answering TEMP');
        reply = encodeSocketmapReply({ status: SOCKETMAP_STATUS.TEMP, reason: INTERNAL_ERROR_REASON });
      }
      status = SOCKETMAP_STATUS.TEMP;
    }
    if (this.#queue.closed) return;
    this.#log.debug(merged(where, { status }), 'socketmap: answered');
    this.#send(reply);
  }
}
