/**
 * Connection plumbing shared by the line-protocol servers (Dovecot auth, Postfix policy) on
 * top of SocketListeners (socket-listeners.ts: TCP and unix listeners, stale socket removal,
 * mode, socket file cleanup): one protocol handler (session) per connection, idle timeout,
 * output backpressure, graceful close. Protocol logic lives in the handler; this file only
 * moves bytes. AuthServer and PolicyServer extend SocketServer.
 *
 * - A handler's receive() that throws drops the connection at once: ProtocolError is logged
 *   as a warning with its code, anything else as an error (a bug). Nothing is written back.
 * - Idle timeout: no byte in either direction for `idleTimeoutMs` (0 = never) → dropped.
 * - Backpressure: when the socket's write buffer is full we stop reading until it drains,
 *   so a peer that sends requests but does not read replies cannot grow our memory.
 * - close(): stop accepting, stop reading, let each handler finish the work in flight
 *   (whenSettled) for at most `graceMs`, flush and close; then drop what is left.
 *
 * Throws ConfigError from listen() when the endpoint cannot be used.
 */
import type net from 'node:net';
import type { Endpoint } from './endpoint.js';
import { ProtocolError } from './errors.js';
import type { Logger } from './logger.js';
import { errorCode, SocketListeners, type ListenEndpoint } from './socket-listeners.js';

/** Default time close() waits for work in flight before dropping connections. */
export const DEFAULT_CLOSE_GRACE_MS = 5_000;

/** The per-connection protocol side (a session). */
export interface ConnectionHandler {
  /** Bytes from the peer. Throw to drop the connection without a reply. */
  receive(chunk: Buffer): void;
  /** The connection is gone: forget pending work, send nothing more. */
  close(): void;
  /** Resolves when no work is in flight (used by a graceful close). */
  whenSettled(): Promise<void>;
}

export interface ConnectionContext {
  /** Connection number, unique within this server. */
  readonly id: number;
  /** `address:port`, or `unix` for a unix-socket peer. */
  readonly peer: string;
  /** Write to the peer (ignored once the connection is closing down). */
  send(data: string): void;
  /** Drop the connection now, without a reply. The handler logs the reason itself. */
  drop(err: Error): void;
}

export interface SocketServerOptions {
  /** Short name for log lines, e.g. "auth". */
  readonly name: string;
  readonly createHandler: (ctx: ConnectionContext) => ConnectionHandler;
  /** Drop a connection after this long without traffic; 0 disables. */
  readonly idleTimeoutMs: number;
  readonly logger: Logger;
}

interface Connection {
  readonly id: number;
  readonly socket: net.Socket;
  readonly closed: Promise<void>;
  handler: ConnectionHandler | null;
  draining: boolean;
}

export class SocketServer {
  readonly #options: SocketServerOptions;
  readonly #log: Logger;
  readonly #listeners: SocketListeners;
  readonly #connections = new Set<Connection>();
  #nextId = 1;
  #closing: Promise<void> | null = null;

  constructor(options: SocketServerOptions) {
    this.#options = options;
    this.#log = options.logger;
    this.#listeners = new SocketListeners(options.name, options.logger, (socket) => this.#accept(socket));
  }

  /** Start listening on one more endpoint; resolves with the bound address (port 0 → the real port). */
  listen(endpoint: ListenEndpoint): Promise<Endpoint> {
    return this.#listeners.listen(endpoint);
  }

  /** Where we listen. */
  get endpoints(): readonly Endpoint[] {
    return this.#listeners.endpoints;
  }

  /** Open connections. */
  get connectionCount(): number {
    return this.#connections.size;
  }

  /**
   * Stop accepting, let work in flight finish (at most `graceMs`), close every connection and
   * remove our socket files. Idempotent: later calls return the same promise.
   */
  close(graceMs: number = DEFAULT_CLOSE_GRACE_MS): Promise<void> {
    this.#closing ??= this.#shutdown(graceMs);
    return this.#closing;
  }

  async #shutdown(graceMs: number): Promise<void> {
    const listenersClosed = this.#listeners.close();
    await Promise.all([...this.#connections].map((c) => this.#drain(c, graceMs)));
    await listenersClosed;
    this.#log.info({}, `${this.#options.name}: closed`);
  }

  async #drain(conn: Connection, graceMs: number): Promise<void> {
    conn.draining = true;
    conn.socket.pause();
    let timer: NodeJS.Timeout | undefined;
    const graceOver = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), graceMs);
    });
    const settled = conn.handler === null ? Promise.resolve() : conn.handler.whenSettled();
    const outcome = await Promise.race([settled.then(() => 'settled' as const), graceOver, conn.closed.then(() => 'closed' as const)]);
    clearTimeout(timer);
    if (outcome === 'timeout') {
      this.#log.warn({ conn: conn.id }, `${this.#options.name}: close grace period over; dropping a connection with work in flight`);
      conn.socket.destroy();
    } else if (!conn.socket.destroyed) {
      // Flush what the handler wrote, then close both directions.
      conn.socket.end(() => conn.socket.destroy());
    }
    await conn.closed;
  }

  #accept(socket: net.Socket): void {
    const id = this.#nextId++;
    const peer = socket.remoteAddress !== undefined ? `${socket.remoteAddress}:${socket.remotePort}` : 'unix';
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    const conn: Connection = { id, socket, closed, handler: null, draining: false };
    const name = this.#options.name;
    const log = this.#log;

    const drop = (err: unknown): void => {
      if (err instanceof ProtocolError) log.warn({ conn: id, peer, code: err.code, msg: err.message }, `${name}: protocol error; dropping connection`);
      else log.error({ conn: id, peer, err }, `${name}: internal error; dropping connection`);
      socket.destroy();
    };
    const ctx: ConnectionContext = {
      id,
      peer,
      send: (data: string) => {
        if (socket.destroyed || !socket.writable) return;
        if (!socket.write(data)) socket.pause();
      },
      drop: (err: Error) => {
        // The handler has logged why; this only records the drop.
        log.debug({ conn: id, peer, reason: err.message }, `${name}: dropping connection at the handler's request`);
        socket.destroy();
      },
    };

    this.#connections.add(conn);
    socket.on('drain', () => {
      if (!conn.draining) socket.resume();
    });
    socket.on('error', (err: Error) => {
      log.debug({ conn: id, peer, code: errorCode(err) }, `${name}: socket error`);
    });
    socket.on('close', () => {
      this.#connections.delete(conn);
      conn.handler?.close();
      log.debug({ conn: id, peer }, `${name}: connection closed`);
    });
    if (this.#options.idleTimeoutMs > 0) {
      socket.setTimeout(this.#options.idleTimeoutMs);
      socket.on('timeout', () => {
        log.info({ conn: id, peer }, `${name}: idle timeout; closing connection`);
        socket.destroy();
      });
    }
    socket.on('data', (chunk: Buffer) => {
      if (conn.handler === null) return;
      try {
        conn.handler.receive(chunk);
      } catch (err: unknown) {
        drop(err);
      }
    });

    log.debug({ conn: id, peer }, `${name}: connection accepted`);
    try {
      conn.handler = this.#options.createHandler(ctx);
    } catch (err: unknown) {
      drop(err);
    }
  }
}
