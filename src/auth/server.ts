/**
 * Dovecot-protocol SASL server for Postfix (`smtpd_sasl_type = dovecot`, `smtpd_sasl_path =
 * inet:127.0.0.1:PORT` or a unix socket such as `private/auth` in the queue directory).
 * A SocketServer (src/lib/socket-server.ts) that runs one AuthSession per connection: TCP and
 * unix listeners (stale socket removed, mode set), idle timeout, MAX_AUTH_LINE enforced by
 * the codec, graceful close(), logger hook. See session.ts for the protocol behaviour.
 *
 * Idle timeout. Each smtpd process keeps one auth connection for its whole life and uses it
 * only when a client says AUTH, so a healthy connection may be quiet for a long time. If we
 * close it, Postfix notices only at its next AUTH: the write succeeds, the read sees EOF,
 * and that client gets `454 4.7.0 Temporary authentication failure`. Postfix does not
 * reconnect on EOF. The default is therefore long: 3 hours, more than an smtpd process
 * lives with Postfix's defaults (max_use 100 clients, max_idle 100 s between them).
 *
 * A temporary failure (store down) drops the connection on purpose, so Postfix answers that
 * AUTH with 454 4.7.0 (session.ts). Postfix before 3.11 keeps the dead connection after such
 * an EOF; on a unix socket its next request then fails to write and it reconnects, but on TCP
 * the write to a closed (FIN) connection succeeds, the read sees EOF again, and the smtpd
 * process answered its next AUTH 454 too without asking trxmail — once the store was back.
 * So a dropped TCP connection is reset (RST, `resetOnDrop`) once the replies written so far
 * are handed over: Postfix's next write fails and it reconnects.
 *
 * Throws ConfigError from listen() when an endpoint cannot be used.
 */
import { randomBytes } from 'node:crypto';
import { silentLogger, type Logger } from '../lib/logger.js';
import { MAX_AUTH_CONNECTIONS } from '../lib/limits.js';
import { SocketServer } from '../lib/socket-server.js';
import { AuthSession, type AuthMechanism, type AuthVerifier } from './session.js';

/** Default idle timeout of an auth connection (see the header comment). */
export const DEFAULT_AUTH_IDLE_TIMEOUT_MS = 3 * 60 * 60 * 1000;

export interface AuthServerOptions {
  readonly verify: AuthVerifier;
  /** Mechanisms offered, in this order. Default: PLAIN, LOGIN. */
  readonly mechanisms?: readonly AuthMechanism[];
  /** Default DEFAULT_AUTH_IDLE_TIMEOUT_MS; 0 disables. */
  readonly idleTimeoutMs?: number;
  /** Most connections open at once per listener; default MAX_AUTH_CONNECTIONS. */
  readonly maxConnections?: number;
  readonly logger?: Logger;
  /** SPID sent in the handshake. Default: process.pid. */
  readonly spid?: number;
}

/** close(graceMs) answers requests whose verify() is running (at most `graceMs`), then closes. */
export class AuthServer extends SocketServer {
  constructor(options: AuthServerOptions) {
    const logger = options.logger ?? silentLogger;
    const spid = options.spid ?? process.pid;
    super({
      name: 'auth',
      resetOnDrop: true,
      idleTimeoutMs: options.idleTimeoutMs ?? DEFAULT_AUTH_IDLE_TIMEOUT_MS,
      maxConnections: options.maxConnections ?? MAX_AUTH_CONNECTIONS,
      logger,
      createHandler: (ctx) => {
        const session = new AuthSession({
          verify: options.verify,
          send: (data) => ctx.send(data),
          drop: (err) => ctx.drop(err),
          identity: { spid, cuid: ctx.id, cookie: randomBytes(16).toString('hex') },
          ...(options.mechanisms !== undefined ? { mechanisms: options.mechanisms } : {}),
          logger,
        });
        session.start();
        return session;
      },
    });
  }
}
