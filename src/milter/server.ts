/**
 * MilterServer: the socket side of the milter (TCP or unix socket). Sockets, timeouts,
 * backpressure and shutdown only; framing is codec.ts, protocol state is session.ts, and
 * the decisions are the MilterHandler a factory makes for each connection.
 *
 * Protocol: Sendmail milter as Postfix speaks it (shared/protocols.md §1). Postfix opens
 * one milter connection per SMTP connection and never reuses it.
 *
 * Behaviour:
 * - endpoints `inet:host:port` (also `inet:[v6]:port`, libmilter's `inet:port@host`),
 *   `unix:/path` / `local:/path`; a stale unix socket file is removed (one in use, or a
 *   file that is not a socket, is a ConfigError), the socket gets `socketMode`;
 * - one command at a time per connection: reading pauses while a command is being handled
 *   and resumes when its replies are written; writes wait for 'drain' (large `b` bodies);
 * - no bytes from the MTA for `idleTimeoutMs` while we wait for a command: the connection
 *   is closed (Postfix then applies milter_default_action);
 * - a ProtocolError (bad frame, command out of order) is logged, escaped and truncated, and
 *   the connection dropped; a handler error never gets here (the session turns it into a
 *   tempfail); anything else is logged and drops only that connection;
 * - close(): stop accepting, close connections that are between messages, let the others
 *   finish their current message, and destroy what is left after `closeDeadlineMs`.
 *
 * Limits: MAX_MILTER_FRAME per packet (codec); MILTER_IDLE_TIMEOUT_MS and
 * MILTER_CLOSE_DEADLINE_MS by default.
 *
 * Throws: ConfigError from the constructor and listen() (bad endpoint or options, address in
 * use); nothing from connection handling.
 */

import { chmod, lstat, unlink } from 'node:fs/promises';
import net from 'node:net';
import { formatEndpoint, parseEndpoint, type Endpoint } from '../lib/endpoint.js';
import { ConfigError, InvariantError, ProtocolError } from '../lib/errors.js';
import { decodeCommand, MilterFrameDecoder, type MilterFrame } from './codec.js';
import type { MilterHandlerFactory, MilterPeerInfo } from './handler.js';
import { errorForLog, escapeLogValue, silentLogger, type Logger } from '../lib/logger.js';
import { MilterSession, validateSessionOptions, type MilterSessionOptions } from './session.js';

/** Default idle time (ms) while waiting for the MTA's next command. Postfix is silent while a client uploads DATA, so this is generous. */
export const MILTER_IDLE_TIMEOUT_MS = 30 * 60 * 1000;
/** Default time (ms) close() lets open transactions finish before destroying their connections. */
export const MILTER_CLOSE_DEADLINE_MS = 30 * 1000;
/** Default permission bits of a unix milter socket (Postfix's group must be able to connect). */
export const MILTER_SOCKET_MODE = 0o660;

export interface MilterServerOptions {
  /** Makes the handler for each new connection. */
  readonly handler: MilterHandlerFactory;
  /** Negotiation options for every session (actions, macro lists). */
  readonly session?: Omit<MilterSessionOptions, 'logger' | 'logContext'>;
  readonly logger?: Logger;
  readonly idleTimeoutMs?: number;
  readonly closeDeadlineMs?: number;
  /** Permission bits for a unix socket. */
  readonly socketMode?: number;
}

export class MilterServer {
  private readonly server: net.Server;
  private readonly connections = new Set<MilterConnection>();
  private readonly log: Logger;
  private readonly idleTimeoutMs: number;
  private readonly closeDeadlineMs: number;
  private readonly socketMode: number;
  private nextId = 1;
  private endpoint: Endpoint | null = null;
  private closing: Promise<void> | null = null;
  /** Set by close(): connections end as soon as they are between messages. */
  draining = false;

  constructor(private readonly options: MilterServerOptions) {
    validateSessionOptions(options.session ?? {});
    const positive = (v: number | undefined, d: number, name: string): number => {
      const n = v ?? d;
      if (!Number.isFinite(n) || n <= 0) throw new ConfigError(`milter ${name} must be a positive number of milliseconds`);
      return n;
    };
    this.idleTimeoutMs = positive(options.idleTimeoutMs, MILTER_IDLE_TIMEOUT_MS, 'idleTimeoutMs');
    this.closeDeadlineMs = positive(options.closeDeadlineMs, MILTER_CLOSE_DEADLINE_MS, 'closeDeadlineMs');
    this.socketMode = options.socketMode ?? MILTER_SOCKET_MODE;
    this.log = options.logger ?? silentLogger;
    this.server = net.createServer({ pauseOnConnect: false }, (socket) => this.accept(socket));
    this.server.on('error', (err: unknown) => this.log.error({ err: errorForLog(err) }, 'milter server error'));
  }

  /** Open connections. */
  get connectionCount(): number {
    return this.connections.size;
  }

  /** Starts listening; resolves with the bound endpoint (the real port when 0 was asked). */
  async listen(spec: string | Endpoint): Promise<Endpoint> {
    if (this.endpoint !== null || this.closing !== null) throw new InvariantError('MilterServer.listen() called twice or after close()');
    const ep = typeof spec === 'string' ? parseEndpoint(spec, 'milter endpoint') : spec;
    if (ep.kind === 'unix') await removeStaleSocket(ep.path);
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error): void => {
        reject(new ConfigError(`cannot listen on milter endpoint ${formatEndpoint(ep)}: ${err.message}`, { cause: err }));
      };
      this.server.once('error', onError);
      const done = (): void => {
        this.server.off('error', onError);
        resolve();
      };
      if (ep.kind === 'unix') this.server.listen(ep.path, done);
      else this.server.listen({ host: ep.host, port: ep.port }, done);
    });
    if (ep.kind === 'unix') {
      await chmod(ep.path, this.socketMode);
      this.endpoint = ep;
    } else {
      const addr = this.server.address();
      const port = typeof addr === 'object' && addr !== null ? addr.port : ep.port;
      this.endpoint = { kind: 'tcp', host: ep.host, port };
    }
    this.log.info({ endpoint: formatEndpoint(this.endpoint) }, 'milter server listening');
    return this.endpoint;
  }

  /**
   * Stops accepting, ends idle connections, waits for open transactions (at most
   * closeDeadlineMs), then destroys the rest. Idempotent.
   */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    this.draining = true;
    const serverClosed = new Promise<void>((resolve) => {
      this.server.close(() => resolve());
    });
    for (const c of this.connections) c.drain();
    const all = Promise.all([...this.connections].map((c) => c.done));
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<'deadline'>((resolve) => {
      timer = setTimeout(() => resolve('deadline'), this.closeDeadlineMs);
    });
    const first = await Promise.race([all.then(() => 'done' as const), deadline]);
    clearTimeout(timer);
    if (first === 'deadline') {
      this.log.warn({ open: this.connections.size }, 'milter server: close deadline passed, dropping connections');
      for (const c of this.connections) c.destroy();
      await all;
    }
    await serverClosed;
    if (this.endpoint?.kind === 'unix') {
      await unlink(this.endpoint.path).catch((err: unknown) => {
        if ((err as { code?: unknown }).code !== 'ENOENT') this.log.warn({ err: errorForLog(err) }, 'milter server: cannot remove socket');
      });
    }
    this.log.info({}, 'milter server closed');
  }

  private accept(socket: net.Socket): void {
    if (this.draining) {
      socket.destroy();
      return;
    }
    const id = this.nextId++;
    const peer: MilterPeerInfo =
      this.endpoint?.kind === 'unix'
        ? { id, transport: 'unix', remote: this.endpoint.path }
        : { id, transport: 'tcp', remote: `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}` };
    const logContext = { conn: id };
    let conn: MilterConnection;
    try {
      const handler = this.options.handler(peer);
      const session = new MilterSession(handler, { ...this.options.session, logger: this.log, logContext });
      conn = new MilterConnection(socket, session, this, this.log, logContext, this.idleTimeoutMs);
    } catch (err: unknown) {
      this.log.error({ ...logContext, err: errorForLog(err) }, 'milter: cannot set up connection');
      socket.destroy();
      return;
    }
    this.connections.add(conn);
    void conn.done.then(() => this.connections.delete(conn));
    this.log.debug({ ...logContext, peer: escapeLogValue(peer.remote) }, 'milter connection opened');
    conn.start();
  }
}

/** One MTA connection: reads frames, feeds the session one command at a time, writes replies. */
class MilterConnection {
  readonly done: Promise<void>;
  private resolveDone!: () => void;
  private readonly decoder = new MilterFrameDecoder();
  private readonly queue: MilterFrame[] = [];
  private running = false;
  private socketClosed = false;
  private stopping = false;
  private tornDown = false;
  private idleTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly socket: net.Socket,
    private readonly session: MilterSession,
    private readonly owner: MilterServer,
    private readonly log: Logger,
    private readonly ctx: Readonly<Record<string, unknown>>,
    private readonly idleTimeoutMs: number,
  ) {
    this.done = new Promise<void>((resolve) => {
      this.resolveDone = resolve;
    });
  }

  start(): void {
    this.socket.setNoDelay(true);
    this.socket.on('data', (chunk: Buffer) => this.onData(chunk));
    this.socket.on('error', (err: Error) => {
      this.log.debug({ ...this.ctx, err: errorForLog(err, false) }, 'milter connection error');
    });
    this.socket.on('close', () => {
      this.socketClosed = true;
      this.stopIdle();
      this.log.debug({ ...this.ctx }, 'milter connection closed');
      void this.teardown();
    });
    this.armIdle();
  }

  /** close() was called: end now if between messages, else after the current message. */
  drain(): void {
    if (!this.running && !this.session.inMessage) this.finish('server shutting down');
  }

  /**
   * Drops the connection now (close deadline). `done` resolves at once even if a handler
   * call is still running; the session is closed when that call returns.
   */
  destroy(): void {
    this.stopping = true;
    this.socket.destroy();
    this.resolveDone();
  }

  private onData(chunk: Buffer): void {
    if (this.stopping) return;
    let frames: MilterFrame[];
    try {
      frames = this.decoder.push(chunk);
    } catch (err: unknown) {
      this.fail(err);
      return;
    }
    if (frames.length === 0) {
      if (!this.running) this.armIdle();
      return;
    }
    this.queue.push(...frames);
    if (!this.running) void this.run();
  }

  private async run(): Promise<void> {
    this.running = true;
    this.stopIdle();
    this.socket.pause();
    try {
      while (this.queue.length > 0 && !this.stopping) {
        const frame = this.queue.shift() as MilterFrame;
        const result = await this.session.handle(decodeCommand(frame), this.write);
        if (result === 'close') {
          this.finish('quit');
          break;
        }
      }
    } catch (err: unknown) {
      this.fail(err);
    } finally {
      this.running = false;
    }
    if (this.socketClosed || this.stopping) {
      await this.teardown();
      return;
    }
    if (this.owner.draining && !this.session.inMessage) {
      this.finish('server shutting down');
      return;
    }
    this.socket.resume();
    this.armIdle();
  }

  /** Frame sink for the session: resolves once the socket took the frame or drained. */
  private readonly write = (frame: Buffer): void | Promise<void> => {
    if (this.socketClosed || this.socket.destroyed || this.socket.writableEnded) {
      return Promise.reject(new Error('milter connection is closed'));
    }
    if (this.socket.write(frame)) return;
    return new Promise<void>((resolve, reject) => {
      const onDrain = (): void => {
        this.socket.off('close', onClose);
        resolve();
      };
      const onClose = (): void => {
        this.socket.off('drain', onDrain);
        reject(new Error('milter connection closed while writing'));
      };
      this.socket.once('drain', onDrain);
      this.socket.once('close', onClose);
    });
  };

  private fail(err: unknown): void {
    if (err instanceof ProtocolError) {
      this.log.warn({ ...this.ctx, err: errorForLog(err, false) }, 'milter protocol error, dropping connection');
    } else if (this.socketClosed || this.socket.destroyed) {
      this.log.debug({ ...this.ctx, err: errorForLog(err, false) }, 'milter connection lost while handling a command');
    } else {
      this.log.error({ ...this.ctx, err: errorForLog(err) }, 'milter connection failed, dropping it');
    }
    this.stopping = true;
    this.socket.destroy();
  }

  /** Ends our side after pending writes; the MTA closes its side in turn. */
  private finish(why: string): void {
    if (this.stopping) return;
    this.stopping = true;
    this.stopIdle();
    this.log.debug({ ...this.ctx, why }, 'milter connection ending');
    this.socket.end();
    // The MTA closes its side on EOF; do not wait for a peer that does not.
    this.idleTimer = setTimeout(() => this.socket.destroy(), this.idleTimeoutMs);
    this.idleTimer.unref();
  }

  private armIdle(): void {
    this.stopIdle();
    if (this.stopping || this.socketClosed) return;
    this.idleTimer = setTimeout(() => {
      this.log.info({ ...this.ctx, timeoutMs: this.idleTimeoutMs, state: this.session.state }, 'milter connection idle, closing');
      this.stopping = true;
      this.socket.destroy();
    }, this.idleTimeoutMs);
    this.idleTimer.unref();
  }

  private stopIdle(): void {
    if (this.idleTimer !== null) {
      clearTimeout(this.idleTimer);
      this.idleTimer = null;
    }
  }

  /** After the socket closed and no command is in flight: close the session once. */
  private async teardown(): Promise<void> {
    if (this.tornDown || this.running || !this.socketClosed) return;
    this.tornDown = true;
    try {
      await this.session.close();
    } catch (err: unknown) {
      this.log.error({ ...this.ctx, err: errorForLog(err) }, 'milter session close failed');
    }
    this.resolveDone();
  }
}

/** Removes a leftover unix socket nobody listens on; refuses other files and live sockets. */
async function removeStaleSocket(path: string): Promise<void> {
  let isSocket: boolean;
  try {
    isSocket = (await lstat(path)).isSocket();
  } catch (err: unknown) {
    if ((err as { code?: unknown }).code === 'ENOENT') return;
    throw new ConfigError(`milter socket ${path}: cannot inspect it`, { cause: err });
  }
  if (!isSocket) throw new ConfigError(`milter socket ${path} exists and is not a socket`);
  const live = await new Promise<boolean>((resolve) => {
    const probe = net.connect(path);
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
  if (live) throw new ConfigError(`milter socket ${path} is in use by another process`);
  await unlink(path);
}
