/**
 * MilterServer: the socket side of the milter (TCP or unix socket). Sockets, timeouts,
 * backpressure and shutdown only; framing is codec.ts, protocol state is session.ts, and
 * the decisions are the MilterHandler a factory makes for each connection.
 *
 * Protocol: Sendmail milter as Postfix speaks it (shared/protocols.md §1). Postfix opens
 * one milter connection per SMTP connection and never reuses it.
 *
 * Behaviour:
 * - one endpoint, in any notation parseEndpoint() reads (src/lib/endpoint.ts); listening,
 *   stale unix socket removal, `socketMode` and socket file cleanup are SocketListeners'
 *   (src/lib/socket-listeners.ts);
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

import type net from 'node:net';
import { parseEndpoint, type Endpoint } from '../lib/endpoint.js';
import { ConfigError, InvariantError, ProtocolError } from '../lib/errors.js';
import { errorForLog, escapeLogValue, silentLogger, type Logger } from '../lib/logger.js';
import { DEFAULT_SOCKET_MODE, SocketListeners } from '../lib/socket-listeners.js';
import { decodeCommand, MilterFrameDecoder, type MilterFrame } from './decode.js';
import type { MilterHandlerFactory, MilterPeerInfo } from './handler.js';
import { validateNegotiationOptions } from './negotiate.js';
import { MilterSession, type MilterSessionOptions } from './session.js';

/** Default idle time (ms) while waiting for the MTA's next command. Postfix is silent while a client uploads DATA, so this is generous. */
export const MILTER_IDLE_TIMEOUT_MS = 30 * 60 * 1000;
/** Default time (ms) close() lets open transactions finish before destroying their connections. */
export const MILTER_CLOSE_DEADLINE_MS = 30 * 1000;
export interface MilterServerOptions {
  /** Makes the handler for each new connection. */
  readonly handler: MilterHandlerFactory;
  /** Negotiation options for every session (actions, macro lists). */
  readonly session?: Omit<MilterSessionOptions, 'logger' | 'logContext'>;
  readonly logger?: Logger;
  readonly idleTimeoutMs?: number;
  readonly closeDeadlineMs?: number;
  /** Permission bits for a unix socket; default DEFAULT_SOCKET_MODE (0660). */
  readonly socketMode?: number;
}

export class MilterServer {
  private readonly listeners: SocketListeners;
  private readonly connections = new Set<MilterConnection>();
  private readonly log: Logger;
  private readonly idleTimeoutMs: number;
  private readonly closeDeadlineMs: number;
  private readonly socketMode: number;
  private nextId = 1;
  private closing: Promise<void> | null = null;
  /** Set by close(): connections end as soon as they are between messages. */
  draining = false;

  constructor(private readonly options: MilterServerOptions) {
    validateNegotiationOptions(options.session ?? {});
    const positive = (v: number | undefined, d: number, name: string): number => {
      const n = v ?? d;
      if (!Number.isFinite(n) || n <= 0) throw new ConfigError(`milter ${name} must be a positive number of milliseconds`);
      return n;
    };
    this.idleTimeoutMs = positive(options.idleTimeoutMs, MILTER_IDLE_TIMEOUT_MS, 'idleTimeoutMs');
    this.closeDeadlineMs = positive(options.closeDeadlineMs, MILTER_CLOSE_DEADLINE_MS, 'closeDeadlineMs');
    this.socketMode = options.socketMode ?? DEFAULT_SOCKET_MODE;
    this.log = options.logger ?? silentLogger;
    this.listeners = new SocketListeners('milter', this.log, (socket, endpoint) => this.accept(socket, endpoint));
  }

  /** Open connections. */
  get connectionCount(): number {
    return this.connections.size;
  }

  /** Starts listening; resolves with the bound endpoint (the real port when 0 was asked). */
  async listen(spec: string | Endpoint): Promise<Endpoint> {
    if (this.listeners.endpoints.length > 0 || this.closing !== null) throw new InvariantError('MilterServer.listen() called twice or after close()');
    const ep = typeof spec === 'string' ? parseEndpoint(spec, 'milter endpoint') : spec;
    return this.listeners.listen(ep.kind === 'unix' ? { ...ep, mode: this.socketMode } : ep);
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
    const listenersClosed = this.listeners.close();
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
    await listenersClosed;
    this.log.info({}, 'milter server closed');
  }

  private accept(socket: net.Socket, endpoint: Endpoint): void {
    const id = this.nextId++;
    const peer: MilterPeerInfo =
      endpoint.kind === 'unix'
        ? { id, transport: 'unix', remote: endpoint.path }
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
