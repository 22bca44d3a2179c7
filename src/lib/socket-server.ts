/**
 * Connection plumbing shared by trxmail's protocol servers (Dovecot auth, Postfix policy,
 * milter) on top of SocketListeners (socket-listeners.ts: TCP and unix listeners, stale
 * socket removal, mode, socket file cleanup): one protocol handler (session) per connection,
 * idle timeout, backpressure, graceful close. Protocol logic lives in the handler; this file
 * only moves bytes. AuthServer, PolicyServer and MilterServer extend SocketServer.
 *
 * Two kinds of handler:
 * - ConnectionHandler (line protocols: auth, policy) is fed bytes through receive() and
 *   writes with ctx.send(). When the socket's write buffer is full we stop reading until it
 *   drains, so a peer that sends requests but does not read replies cannot grow our memory.
 *   Idle timeout: no byte in either direction for `idleTimeoutMs`.
 * - StreamConnectionHandler (the milter) pulls the peer's bytes itself from an async
 *   iterable and writes with ctx.write(), which waits for the socket to drain; nothing is
 *   read while it works on a request, so backpressure both ways is the handler's pace.
 *   Idle timeout: no byte from the peer for `idleTimeoutMs` while the handler waits for
 *   input (the time it spends on a request does not count). When run() resolves the
 *   connection is ended (flushed, then closed).
 *
 * - A handler that throws (receive()) or rejects (run()) drops the connection at once:
 *   ProtocolError is logged as a warning with its code, anything else as an error (a bug),
 *   at debug level when the connection was already gone. Nothing is written back.
 * - At most `maxConnections` connections per listener: one more is closed at once, before a
 *   handler exists, and a warning says so at most once per CONNECTION_CAP_LOG_INTERVAL_MS per
 *   listener (with the number refused since the last line), so a flood cannot flood the log.
 * - When a stream handler's run() resolves (milter Q) the connection is over whatever the
 *   peer still sends: the input is not read again, what was written is flushed and the
 *   socket closed; a peer that does not take our last bytes is dropped after the close grace.
 * - close(): stop accepting; a ConnectionHandler stops being read and finishes the work in
 *   flight (whenSettled); a StreamConnectionHandler keeps reading until atRest() and sees
 *   its input end there. Both for at most `graceMs` (default `closeGraceMs`); then the
 *   connection is flushed and closed, and what is left after the grace time is dropped.
 *
 * Throws ConfigError from listen() when the endpoint cannot be used.
 */
import type net from 'node:net';
import { formatEndpoint, type Endpoint } from './endpoint.js';
import { ConfigError, ProtocolError } from './errors.js';
import { errorForLog, type Logger } from './logger.js';
import { errorCode, SocketListeners, type ListenEndpoint } from './socket-listeners.js';

/** Default time close() waits for work in flight before dropping connections. */
export const DEFAULT_CLOSE_GRACE_MS = 5_000;

/** Least time between two "connection cap reached" warnings of one listener. */
export const CONNECTION_CAP_LOG_INTERVAL_MS = 60_000;

/** The per-connection protocol side (a session) that is fed bytes. */
export interface ConnectionHandler {
  /** Bytes from the peer. Throw to drop the connection without a reply. */
  receive(chunk: Buffer): void;
  /** The connection is gone: forget pending work, send nothing more. */
  close(): void;
  /** Resolves when no work is in flight (used by a graceful close). */
  whenSettled(): Promise<void>;
}

/** The per-connection protocol side that reads the peer's bytes itself, one request at a time. */
export interface StreamConnectionHandler {
  /**
   * Reads `input` (it ends when the peer closes, at the idle timeout, or at a graceful
   * close) and answers through ctx.write(). Resolve when the conversation is over (the
   * connection is then ended); reject to drop the connection.
   */
  run(input: AsyncIterable<Buffer>): Promise<void>;
  /** True when the connection can end now without losing work (a graceful close ends the input there). */
  atRest(): boolean;
}

export interface ConnectionContext {
  /** Connection number, unique within this server. */
  readonly id: number;
  /** `address:port`, or `unix` for a unix-socket peer. */
  readonly peer: string;
  /** The endpoint of the listener that accepted the connection. */
  readonly endpoint: Endpoint;
  /** Write to the peer (ignored once the connection is closing down). */
  send(data: string): void;
  /** Write to the peer; resolves once the socket took the bytes (at once, or after 'drain'), rejects when the connection is gone. */
  write(data: Uint8Array): void | Promise<void>;
  /** Drop the connection now, without a reply. The handler logs the reason itself. */
  drop(err: Error): void;
}

export interface SocketServerOptions {
  /** Short name for log lines, e.g. "auth". */
  readonly name: string;
  readonly createHandler: (ctx: ConnectionContext) => ConnectionHandler | StreamConnectionHandler;
  /** Drop a connection after this long without traffic; 0 disables. */
  readonly idleTimeoutMs: number;
  /** What close() waits for work in flight when not told; default DEFAULT_CLOSE_GRACE_MS. */
  readonly closeGraceMs?: number;
  /** Most connections open at once per listener (a named constant in limits.ts); one more is closed at once. */
  readonly maxConnections: number;
  readonly logger: Logger;
  /** Clock for the rate limit of the cap warning; default Date.now. */
  readonly now?: () => number;
  /**
   * A handler's drop() resets a TCP connection (RST) instead of closing it (FIN); unix-socket
   * connections are closed either way. For a peer that takes a closed connection for a
   * failure but only notices it is gone when a later write fails (see AuthServer).
   */
  readonly resetOnDrop?: boolean;
}

/** Per listener: open connections and the state of the cap warning. */
interface ListenerLoad {
  open: number;
  refused: number;
  lastWarnAt: number | null;
}

interface Connection {
  readonly id: number;
  readonly socket: net.Socket;
  readonly closed: Promise<void>;
  handler: ConnectionHandler | StreamConnectionHandler | null;
  draining: boolean;
  /** Stream handlers: settles (never rejects) when run() has ended and the connection with it. */
  done: Promise<void> | null;
  /** Stream handlers: wakes an input read that waits, so it can see `draining`. */
  wake: (() => void) | null;
}

function isStream(handler: ConnectionHandler | StreamConnectionHandler): handler is StreamConnectionHandler {
  return typeof (handler as Partial<StreamConnectionHandler>).run === 'function';
}

/** Flush what was written, then close both directions (unless already on the way). */
function endSocket(socket: net.Socket): void {
  if (!socket.destroyed && !socket.writableEnded) socket.end(() => socket.destroy());
}

/**
 * Hands what was written to the kernel, then resets the TCP connection (RST): the replies
 * already written reach the peer, and the peer's next write fails (resetOnDrop). A peer that
 * does not take our bytes is reset after `graceMs` all the same.
 */
function resetAfterFlush(socket: net.Socket, graceMs: number): void {
  const timer = setTimeout(() => socket.resetAndDestroy(), graceMs);
  timer.unref();
  socket.pause();
  socket.end(() => {
    clearTimeout(timer);
    if (!socket.destroyed) socket.resetAndDestroy();
  });
}

const WAKE = Symbol('wake');
const IDLE = Symbol('idle');
const END: IteratorResult<Buffer, undefined> = { done: true, value: undefined };

export class SocketServer {
  readonly #options: SocketServerOptions;
  readonly #log: Logger;
  readonly #listeners: SocketListeners;
  readonly #connections = new Set<Connection>();
  readonly #load = new Map<Endpoint, ListenerLoad>();
  #nextId = 1;
  #closing: Promise<void> | null = null;

  constructor(options: SocketServerOptions) {
    if (!Number.isInteger(options.maxConnections) || options.maxConnections < 1) {
      throw new ConfigError(`${options.name}: maxConnections must be a positive integer`);
    }
    this.#options = options;
    this.#log = options.logger;
    this.#listeners = new SocketListeners(options.name, options.logger, (socket, endpoint) => this.#accept(socket, endpoint));
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
  close(graceMs: number = this.#options.closeGraceMs ?? DEFAULT_CLOSE_GRACE_MS): Promise<void> {
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
    let settled: Promise<void>;
    if (conn.handler === null) settled = Promise.resolve();
    else if (conn.done !== null) {
      conn.wake?.();
      settled = conn.done;
    } else {
      conn.socket.pause();
      settled = (conn.handler as ConnectionHandler).whenSettled();
    }
    let timer: NodeJS.Timeout | undefined;
    const graceOver = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), graceMs);
    });
    const outcome = await Promise.race([settled.then(() => 'settled' as const), graceOver, conn.closed.then(() => 'closed' as const)]);
    clearTimeout(timer);
    if (outcome === 'timeout') {
      this.#log.warn({ conn: conn.id }, `${this.#options.name}: close deadline passed (grace period over); dropping a connection with work in flight`);
      conn.socket.destroy();
    } else {
      endSocket(conn.socket);
    }
    await conn.closed;
  }

  /** False (and the socket destroyed, the cap warning logged at most once an interval) when the listener is full. */
  #admit(socket: net.Socket, endpoint: Endpoint): boolean {
    let load = this.#load.get(endpoint);
    if (load === undefined) {
      load = { open: 0, refused: 0, lastWarnAt: null };
      this.#load.set(endpoint, load);
    }
    if (load.open < this.#options.maxConnections) {
      load.open++;
      const counted = load;
      socket.once('close', () => counted.open--);
      return true;
    }
    socket.destroy();
    load.refused++;
    const now = (this.#options.now ?? Date.now)();
    if (load.lastWarnAt === null || now - load.lastWarnAt >= CONNECTION_CAP_LOG_INTERVAL_MS) {
      this.#log.warn(
        { endpoint: formatEndpoint(endpoint), maxConnections: this.#options.maxConnections, refused: load.refused },
        `${this.#options.name}: connection cap reached; closing new connections at once`,
      );
      load.lastWarnAt = now;
      load.refused = 0;
    }
    return false;
  }

  #accept(socket: net.Socket, endpoint: Endpoint): void {
    if (!this.#admit(socket, endpoint)) return;
    const id = this.#nextId++;
    const peer = socket.remoteAddress !== undefined ? `${socket.remoteAddress}:${socket.remotePort}` : 'unix';
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    const conn: Connection = { id, socket, closed, handler: null, draining: false, done: null, wake: null };
    const name = this.#options.name;
    const log = this.#log;

    const drop = (err: unknown): void => {
      const logged = { conn: id, peer, err: errorForLog(err, !(err instanceof ProtocolError)) };
      if (socket.destroyed) log.debug(logged, `${name}: connection lost while handling a request`);
      else if (err instanceof ProtocolError) log.warn(logged, `${name}: protocol error; dropping connection`);
      else log.error(logged, `${name}: internal error; dropping connection`);
      socket.destroy();
    };
    const ctx: ConnectionContext = {
      id,
      peer,
      endpoint,
      send: (data: string) => {
        if (socket.destroyed || !socket.writable) return;
        if (!socket.write(data)) socket.pause();
      },
      write: (data: Uint8Array) => {
        if (socket.destroyed || !socket.writable) return Promise.reject(new Error(`${name} connection is closed`));
        if (socket.write(data)) return;
        return new Promise<void>((resolve, reject) => {
          const onDrain = (): void => {
            socket.off('close', onClose);
            resolve();
          };
          const onClose = (): void => {
            socket.off('drain', onDrain);
            reject(new Error(`${name} connection closed while writing`));
          };
          socket.once('drain', onDrain);
          socket.once('close', onClose);
        });
      },
      drop: (err: Error) => {
        // The handler has logged why; this only records the drop.
        log.debug({ conn: id, peer, reason: err.message }, `${name}: dropping connection at the handler's request`);
        if (this.#options.resetOnDrop === true && socket.remoteAddress !== undefined && !socket.destroyed) resetAfterFlush(socket, this.#options.closeGraceMs ?? DEFAULT_CLOSE_GRACE_MS);
        else socket.destroy();
      },
    };

    this.#connections.add(conn);
    socket.on('error', (err: Error) => {
      log.debug({ conn: id, peer, code: errorCode(err) }, `${name}: socket error`);
    });
    socket.on('close', () => {
      this.#connections.delete(conn);
      if (conn.handler !== null && !isStream(conn.handler)) conn.handler.close();
      log.debug({ conn: id, peer }, `${name}: connection closed`);
    });

    log.debug({ conn: id, peer }, `${name}: connection accepted`);
    try {
      conn.handler = this.#options.createHandler(ctx);
    } catch (err: unknown) {
      drop(err);
      return;
    }
    const handler = conn.handler;
    if (isStream(handler)) {
      // Several small replies per request: do not let Nagle hold them back.
      socket.setNoDelay(true);
      conn.done = handler.run(this.#input(conn, handler)).then(() => this.#finish(conn), drop);
      return;
    }
    socket.on('drain', () => {
      if (!conn.draining) socket.resume();
    });
    if (this.#options.idleTimeoutMs > 0) {
      socket.setTimeout(this.#options.idleTimeoutMs);
      socket.on('timeout', () => this.#idle(conn));
    }
    socket.on('data', (chunk: Buffer) => {
      try {
        handler.receive(chunk);
      } catch (err: unknown) {
        drop(err);
      }
    });
  }

  /**
   * A stream handler is done (milter Q): nothing more is read, whatever the peer sends; what
   * was written is flushed, then the socket closed. A peer that does not take those bytes
   * within the close grace is dropped.
   */
  #finish(conn: Connection): void {
    const { socket } = conn;
    socket.pause();
    endSocket(socket);
    if (socket.destroyed) return;
    const timer = setTimeout(() => socket.destroy(), this.#options.closeGraceMs ?? DEFAULT_CLOSE_GRACE_MS);
    timer.unref();
    socket.once('close', () => clearTimeout(timer));
  }

  #idle(conn: Connection): void {
    this.#log.info({ conn: conn.id }, `${this.#options.name}: idle timeout; closing connection`);
    conn.socket.destroy();
  }

  /**
   * The peer's bytes for a stream handler, read only when it asks. Ends when the peer is
   * gone, at the idle timeout, and during a graceful close once the handler is at rest.
   */
  async *#input(conn: Connection, handler: StreamConnectionHandler): AsyncGenerator<Buffer, void, undefined> {
    // Not destroyed when the peer's side ends: what we still write is flushed by end().
    const chunks = conn.socket.iterator({ destroyOnReturn: false }) as AsyncIterator<Buffer, undefined>;
    const idleMs = this.#options.idleTimeoutMs;
    // A read that fails (reset, destroyed socket) is the end of the input; the error was logged.
    let pending: Promise<IteratorResult<Buffer, undefined>> | null = null;
    for (;;) {
      if (conn.draining && handler.atRest()) return;
      pending ??= chunks.next().catch(() => END);
      let timer: NodeJS.Timeout | undefined;
      const waits: Promise<IteratorResult<Buffer, undefined> | typeof WAKE | typeof IDLE>[] = [
        pending,
        new Promise((resolve) => {
          conn.wake = () => resolve(WAKE);
        }),
      ];
      if (idleMs > 0) waits.push(new Promise((resolve) => (timer = setTimeout(() => resolve(IDLE), idleMs))));
      const next = await Promise.race(waits);
      clearTimeout(timer);
      conn.wake = null;
      if (next === WAKE) continue;
      if (next === IDLE) {
        this.#idle(conn);
        return;
      }
      pending = null;
      if (next.done === true) return;
      yield next.value;
    }
  }
}
