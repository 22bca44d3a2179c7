/**
 * MilterServer: the socket side of the milter (TCP or unix socket). A SocketServer
 * (src/lib/socket-server.ts) whose per-connection handler reads frames (decode.ts), feeds
 * them to a MilterSession (session.ts) one command at a time and writes its replies; the
 * decisions are the MilterHandler a factory makes for each connection.
 *
 * Protocol: Sendmail milter as Postfix speaks it (docs/protocols.md §1). Postfix opens
 * one milter connection per SMTP connection and never reuses it.
 *
 * Behaviour (the sockets part is SocketServer's):
 * - one endpoint, in any notation parseEndpoint() reads (src/lib/endpoint.ts); stale unix
 *   socket removal, `socketMode` and socket file cleanup as SocketListeners does them;
 * - one command at a time per connection: nothing is read while a command is handled, and
 *   replies wait for the socket to drain (large `b` bodies);
 * - no bytes from the MTA for `idleTimeoutMs` while we wait for a command: the connection
 *   is closed (Postfix then applies milter_default_action);
 * - a ProtocolError (bad frame, command out of order) is logged and the connection dropped;
 *   a handler error never gets here (the session turns it into a tempfail); anything else is
 *   logged and drops only that connection; after Q the connection is ended and nothing
 *   more is read, whatever the MTA sends;
 * - close(): stop accepting, end connections that are between messages, let the others
 *   finish their current message, and drop what is left after `closeDeadlineMs`. The
 *   session of a dropped connection is closed when its handler call returns.
 *
 * Limits: MAX_MILTER_FRAME per packet (decode.ts); MAX_MILTER_CONNECTIONS open at once (one
 * more is closed at once, see socket-server.ts); MILTER_IDLE_TIMEOUT_MS and
 * MILTER_CLOSE_DEADLINE_MS by default.
 *
 * Throws: ConfigError from the constructor and listen() (bad endpoint or options, address in
 * use); InvariantError from listen() called twice or after close(); nothing from connection
 * handling.
 */

import { parseEndpoint, type Endpoint } from '../lib/endpoint.js';
import { ConfigError, InvariantError } from '../lib/errors.js';
import { MAX_MILTER_CONNECTIONS } from '../lib/limits.js';
import { silentLogger, type Logger } from '../lib/logger.js';
import { DEFAULT_SOCKET_MODE, type ListenEndpoint } from '../lib/socket-listeners.js';
import { SocketServer, type ConnectionContext, type SocketServerOptions, type StreamConnectionHandler } from '../lib/socket-server.js';
import { decodeCommand, MilterFrameDecoder } from './decode.js';
import type { MilterHandlerFactory, MilterPeerInfo } from './handler.js';
import { validateNegotiationOptions } from './negotiate.js';
import { MilterSession, type MilterFrameSink, type MilterSessionOptions } from './session.js';
import { merged } from '../lib/merged.js';

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
  /** Most connections open at once; default MAX_MILTER_CONNECTIONS. */
  readonly maxConnections?: number;
  /** Permission bits for a unix socket; default DEFAULT_SOCKET_MODE (0660). */
  readonly socketMode?: number;
}

/** One MTA connection: frames from the input, one command at a time through the session. */
class MilterConnection implements StreamConnectionHandler {
  constructor(
    private readonly session: MilterSession,
    private readonly write: MilterFrameSink,
  ) {}

  /** Between messages: ending the connection loses nothing. */
  atRest(): boolean {
    return !this.session.inMessage;
  }

  async run(input: AsyncIterable<Buffer>): Promise<void> {
    const decoder = new MilterFrameDecoder();
    try {
      for await (const chunk of input) {
        for (const frame of decoder.push(chunk)) {
          if ((await this.session.handle(decodeCommand(frame), this.write)) === 'close') return;
        }
      }
    } finally {
      await this.session.close();
    }
  }
}

/** The SocketServer settings of a milter server, options checked. Throws ConfigError. */
function socketServerOptions(options: MilterServerOptions): SocketServerOptions {
  validateNegotiationOptions(options.session ?? {});
  const positive = (v: number | undefined, d: number, name: string): number => {
    const n = v ?? d;
    if (!Number.isFinite(n) || n <= 0) throw new ConfigError(`milter ${name} must be a positive number of milliseconds`);
    return n;
  };
  const logger = options.logger ?? silentLogger;
  return {
    name: 'milter',
    idleTimeoutMs: positive(options.idleTimeoutMs, MILTER_IDLE_TIMEOUT_MS, 'idleTimeoutMs'),
    maxConnections: options.maxConnections ?? MAX_MILTER_CONNECTIONS,
    closeGraceMs: positive(options.closeDeadlineMs, MILTER_CLOSE_DEADLINE_MS, 'closeDeadlineMs'),
    logger,
    createHandler: (ctx: ConnectionContext) => {
      const peer: MilterPeerInfo =
        ctx.endpoint.kind === 'unix'
          ? { id: ctx.id, transport: 'unix', remote: ctx.endpoint.path }
          : { id: ctx.id, transport: 'tcp', remote: ctx.peer };
      const session = new MilterSession(options.handler(peer), merged(options.session ?? {}, { logger, logContext: { conn: ctx.id } }));
      return new MilterConnection(session, (frame) => ctx.write(frame));
    },
  };
}

/** close() (no argument) waits at most `closeDeadlineMs`. */
export class MilterServer extends SocketServer {
  readonly #socketMode: number;
  #closed = false;

  constructor(options: MilterServerOptions) {
    super(socketServerOptions(options));
    this.#socketMode = options.socketMode ?? DEFAULT_SOCKET_MODE;
  }

  /** Starts listening; resolves with the bound endpoint (the real port when 0 was asked). */
  override async listen(spec: string | ListenEndpoint): Promise<Endpoint> {
    if (this.endpoints.length > 0 || this.#closed) throw new InvariantError('MilterServer.listen() called twice or after close()');
    const ep = typeof spec === 'string' ? parseEndpoint(spec, 'milter endpoint') : spec;
    return super.listen(ep.kind === 'unix' ? merged(ep, { mode: this.#socketMode }) : ep);
  }

  override close(graceMs?: number): Promise<void> {
    this.#closed = true;
    return super.close(graceMs);
  }
}
