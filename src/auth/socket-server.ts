/**
 * Socket plumbing shared by the line-protocol servers (Dovecot auth, Postfix policy):
 * TCP and unix-socket listeners, one protocol handler (session) per connection, idle
 * timeout, output backpressure, graceful close. Protocol logic lives in the handler; this
 * file only moves bytes. It lives in src/auth/ until a home in src/lib/ is agreed.
 *
 * - Unix sockets: a stale socket file (nobody accepts on it) is removed before listening; a
 *   path with a live listener behind it, or a path that is not a socket, is refused with a
 *   ConfigError and left alone. The mode is set right after bind (default 0660: Postfix's
 *   user must be in our group). close() removes the file if it is still ours (same inode).
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
import { chmod, lstat, unlink } from 'node:fs/promises';
import net from 'node:net';
import { ConfigError, ProtocolError } from '../lib/errors.js';
import type { Logger } from '../lib/logger.js';

export type ListenEndpoint =
  | { readonly kind: 'tcp'; readonly host: string; readonly port: number }
  | { readonly kind: 'unix'; readonly path: string; readonly mode?: number };

export type BoundEndpoint =
  | { readonly kind: 'tcp'; readonly host: string; readonly port: number }
  | { readonly kind: 'unix'; readonly path: string };

/** Default unix-socket mode: owner and group may connect. */
export const DEFAULT_SOCKET_MODE = 0o660;
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

interface Listener {
  readonly server: net.Server;
  readonly endpoint: BoundEndpoint;
  /** Identity of the socket file we created (unix only). */
  readonly file?: { readonly dev: number; readonly ino: number };
}

function describe(endpoint: ListenEndpoint | BoundEndpoint): string {
  return endpoint.kind === 'tcp' ? `inet:${endpoint.host}:${endpoint.port}` : `unix:${endpoint.path}`;
}

function errorCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

function listenOn(server: net.Server, options: net.ListenOptions): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => {
      server.off('listening', onListening);
      reject(err);
    };
    const onListening = (): void => {
      server.off('error', onError);
      resolve();
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen(options);
  });
}

/** True if something accepts connections on the unix socket at `path`. */
function socketIsLive(path: string): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const probe = net.connect(path);
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', (err: Error) => {
      probe.destroy();
      const code = errorCode(err);
      if (code === 'ECONNREFUSED' || code === 'ENOENT') resolve(false);
      else reject(new ConfigError(`cannot tell whether ${path} is in use: ${err.message}`, { cause: err }));
    });
  });
}

/** Remove a stale socket file at `path`; refuse a live socket or a file that is not a socket. */
export async function removeStaleSocket(path: string): Promise<void> {
  let stats;
  try {
    stats = await lstat(path);
  } catch (err: unknown) {
    if (errorCode(err) === 'ENOENT') return;
    throw new ConfigError(`cannot inspect socket path ${path}: ${(err as Error).message}`, { cause: err });
  }
  if (!stats.isSocket()) throw new ConfigError(`${path} exists and is not a socket; not removing it`);
  if (await socketIsLive(path)) throw new ConfigError(`${path} is in use by another running server`);
  try {
    await unlink(path);
  } catch (err: unknown) {
    if (errorCode(err) !== 'ENOENT') throw new ConfigError(`cannot remove stale socket ${path}: ${(err as Error).message}`, { cause: err });
  }
}

export class SocketServer {
  readonly #options: SocketServerOptions;
  readonly #log: Logger;
  readonly #listeners: Listener[] = [];
  readonly #connections = new Set<Connection>();
  #nextId = 1;
  #closing: Promise<void> | null = null;

  constructor(options: SocketServerOptions) {
    this.#options = options;
    this.#log = options.logger;
  }

  /** Start listening on one more endpoint; resolves with the bound address (port 0 → the real port). */
  async listen(endpoint: ListenEndpoint): Promise<BoundEndpoint> {
    if (this.#closing !== null) throw new ConfigError(`${this.#options.name} server is closed`);
    const server = net.createServer((socket) => this.#accept(socket));
    if (endpoint.kind === 'tcp') {
      try {
        await listenOn(server, { host: endpoint.host, port: endpoint.port, exclusive: true });
      } catch (err: unknown) {
        throw new ConfigError(`cannot listen on ${describe(endpoint)}: ${(err as Error).message}`, { cause: err });
      }
      const address = server.address() as net.AddressInfo;
      const bound: BoundEndpoint = { kind: 'tcp', host: address.address, port: address.port };
      this.#listeners.push({ server, endpoint: bound });
      this.#log.info({ endpoint: describe(bound) }, `${this.#options.name}: listening`);
      return bound;
    }
    const { path } = endpoint;
    await removeStaleSocket(path);
    try {
      await listenOn(server, { path, exclusive: true });
      await chmod(path, endpoint.mode ?? DEFAULT_SOCKET_MODE);
    } catch (err: unknown) {
      server.close();
      throw new ConfigError(`cannot listen on ${describe(endpoint)}: ${(err as Error).message}`, { cause: err });
    }
    const stats = await lstat(path);
    const bound: BoundEndpoint = { kind: 'unix', path };
    this.#listeners.push({ server, endpoint: bound, file: { dev: stats.dev, ino: stats.ino } });
    this.#log.info({ endpoint: describe(bound) }, `${this.#options.name}: listening`);
    return bound;
  }

  /** Where we listen. */
  get endpoints(): readonly BoundEndpoint[] {
    return this.#listeners.map((l) => l.endpoint);
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
    const listenersClosed = this.#listeners.map(
      (l) => new Promise<void>((resolve) => l.server.close(() => resolve())),
    );
    await Promise.all([...this.#connections].map((c) => this.#drain(c, graceMs)));
    await Promise.all(listenersClosed);
    for (const l of this.#listeners) {
      if (l.file === undefined || l.endpoint.kind !== 'unix') continue;
      try {
        const now = await lstat(l.endpoint.path);
        if (now.dev === l.file.dev && now.ino === l.file.ino) await unlink(l.endpoint.path);
      } catch (err: unknown) {
        if (errorCode(err) !== 'ENOENT') this.#log.warn({ err, path: l.endpoint.path }, `${this.#options.name}: could not remove socket file`);
      }
    }
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
    if (this.#closing !== null) {
      socket.destroy();
      return;
    }
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
