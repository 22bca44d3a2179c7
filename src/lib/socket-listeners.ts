/**
 * The listening side every trxmail server shares (milter, policy, auth): TCP and unix-socket
 * listeners that hand each accepted socket to the server, and close them again. What happens
 * on a connection (framing, sessions, timeouts, backpressure) is the server's business.
 *
 * - TCP: listens exclusively on host:port; port 0 takes a free port, and the bound endpoint
 *   carries the real address and port.
 * - Unix sockets: the directory must exist (never created); a stale socket file (nobody
 *   accepts on it) is removed before listening; a path with a live listener behind it, or a
 *   path that is not a socket, is refused with a ConfigError and left alone. The mode (default
 *   0660) and, when asked, the owner and group are set right after bind; until then the file
 *   has the umask's mode and the process's owner. On close() libuv unlinks the path itself;
 *   what is still there afterwards is removed only if it is the file we created (same inode).
 * - A listener error after start-up (e.g. EMFILE on accept) is logged, not thrown.
 * - close(): stop accepting (a socket accepted from then on is destroyed); resolves once
 *   every listener has closed, which Node does only after its last connection has gone, so
 *   the server must end its connections itself.
 *
 * Throws ConfigError from listen() when the endpoint cannot be used or the listeners are
 * closed.
 */
import { lstat, unlink } from 'node:fs/promises';
import net from 'node:net';
import { formatEndpoint, type Endpoint } from './endpoint.js';
import { ConfigError } from './errors.js';
import { errorForLog, type Logger } from './logger.js';
import { applySocketOwner, checkSocketDirectory, type SocketOwner } from './socket-owner.js';

/**
 * Where to listen; a unix socket may ask for a mode other than DEFAULT_SOCKET_MODE and for an
 * owner and group (socket-owner.ts; by default the file stays the process's).
 */
export type ListenEndpoint =
  | { readonly kind: 'tcp'; readonly host: string; readonly port: number }
  | { readonly kind: 'unix'; readonly path: string; readonly mode?: number; readonly owner?: SocketOwner };

/** Default unix-socket mode: owner and group may connect. */
export const DEFAULT_SOCKET_MODE = 0o660;

interface Listener {
  readonly server: net.Server;
  readonly endpoint: Endpoint;
  /** Identity of the socket file we created (unix only). */
  readonly file?: { readonly dev: number; readonly ino: number };
}

export function errorCode(err: unknown): string | undefined {
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

export class SocketListeners {
  readonly #name: string;
  readonly #log: Logger;
  readonly #onConnection: (socket: net.Socket, endpoint: Endpoint) => void;
  readonly #listeners: Listener[] = [];
  #closing: Promise<void> | null = null;

  /** `name` prefixes log lines ("auth", "milter"); `onConnection` gets each accepted socket. */
  constructor(name: string, logger: Logger, onConnection: (socket: net.Socket, endpoint: Endpoint) => void) {
    this.#name = name;
    this.#log = logger;
    this.#onConnection = onConnection;
  }

  /** Start listening on one more endpoint; resolves with the bound address (port 0 → the real port). */
  async listen(endpoint: ListenEndpoint): Promise<Endpoint> {
    if (this.#closing !== null) throw new ConfigError(`${this.#name} server is closed`);
    let bound: Endpoint | null = null;
    const server = net.createServer((socket) => {
      if (this.#closing !== null || bound === null) socket.destroy();
      else this.#onConnection(socket, bound);
    });
    const fail = (err: unknown): ConfigError =>
      new ConfigError(`cannot listen on ${this.#name} endpoint ${formatEndpoint(endpoint)}: ${(err as Error).message}`, { cause: err });
    let file: Listener['file'];
    if (endpoint.kind === 'tcp') {
      try {
        await listenOn(server, { host: endpoint.host, port: endpoint.port, exclusive: true });
      } catch (err: unknown) {
        throw fail(err);
      }
      const address = server.address() as net.AddressInfo;
      bound = { kind: 'tcp', host: address.address, port: address.port };
    } else {
      const { path } = endpoint;
      await checkSocketDirectory(path);
      await removeStaleSocket(path);
      bound = { kind: 'unix', path }; // a client may connect before chmod() is done
      try {
        await listenOn(server, { path, exclusive: true });
        await applySocketOwner(path, endpoint.mode ?? DEFAULT_SOCKET_MODE, endpoint.owner);
      } catch (err: unknown) {
        server.close();
        throw err instanceof ConfigError ? err : fail(err);
      }
      const stats = await lstat(path);
      file = { dev: stats.dev, ino: stats.ino };
    }
    server.on('error', (err: unknown) => this.#log.error({ err: errorForLog(err) }, `${this.#name}: listener error`));
    this.#listeners.push(file === undefined ? { server, endpoint: bound } : { server, endpoint: bound, file });
    this.#log.info({ endpoint: formatEndpoint(bound) }, `${this.#name}: listening`);
    return bound;
  }

  /** Where we listen. */
  get endpoints(): readonly Endpoint[] {
    return this.#listeners.map((l) => l.endpoint);
  }

  /**
   * Stop accepting now; resolves when every listener has closed (after its last connection)
   * and our socket files are removed. Idempotent: later calls return the same promise.
   */
  close(): Promise<void> {
    this.#closing ??= this.#shutdown();
    return this.#closing;
  }

  async #shutdown(): Promise<void> {
    await Promise.all(this.#listeners.map((l) => new Promise<void>((resolve) => l.server.close(() => resolve()))));
    for (const l of this.#listeners) {
      if (l.file === undefined || l.endpoint.kind !== 'unix') continue;
      try {
        const now = await lstat(l.endpoint.path);
        if (now.dev === l.file.dev && now.ino === l.file.ino) await unlink(l.endpoint.path);
      } catch (err: unknown) {
        if (errorCode(err) !== 'ENOENT') this.#log.warn({ err: errorForLog(err), path: l.endpoint.path }, `${this.#name}: could not remove socket file`);
      }
    }
  }
}
