/**
 * Postfix SMTP access policy delegation server (`check_policy_service inet:127.0.0.1:PORT`
 * or `unix:/abs/path`). A SocketServer (src/lib/socket-server.ts) that runs one PolicySession
 * per connection: TCP and unix listeners (stale socket removed, mode set), idle timeout,
 * line and attribute caps enforced by the codec, graceful close(), logger hook.
 * A malformed request or a failed decision drops the connection without a reply (see
 * session.ts); Postfix then retries and finally applies its default action.
 *
 * Idle timeout. Postfix closes a policy connection it has not used for
 * `smtpd_policy_service_max_idle` (300 s) itself; our default, 10 minutes, only reaps
 * connections Postfix has forgotten. Closing earlier would be harmless (Postfix reconnects
 * and retries) but wasteful.
 *
 * Throws ConfigError from listen() when an endpoint cannot be used.
 */
import { silentLogger, type Logger } from '../lib/logger.js';
import { MAX_POLICY_CONNECTIONS } from '../lib/limits.js';
import { SocketServer } from '../lib/socket-server.js';
import { PolicySession, type PolicyDecider } from './session.js';

/** Default idle timeout of a policy connection (see the header comment). */
export const DEFAULT_POLICY_IDLE_TIMEOUT_MS = 10 * 60 * 1000;

export interface PolicyServerOptions {
  readonly decide: PolicyDecider;
  /** Default DEFAULT_POLICY_IDLE_TIMEOUT_MS; 0 disables. */
  readonly idleTimeoutMs?: number;
  /** Most connections open at once per listener; default MAX_POLICY_CONNECTIONS. */
  readonly maxConnections?: number;
  readonly logger?: Logger;
}

/** close(graceMs) answers requests already received (at most `graceMs`), then closes. */
export class PolicyServer extends SocketServer {
  constructor(options: PolicyServerOptions) {
    const logger = options.logger ?? silentLogger;
    super({
      name: 'policy',
      idleTimeoutMs: options.idleTimeoutMs ?? DEFAULT_POLICY_IDLE_TIMEOUT_MS,
      maxConnections: options.maxConnections ?? MAX_POLICY_CONNECTIONS,
      logger,
      createHandler: (ctx) =>
        new PolicySession({
          decide: options.decide,
          send: (data) => ctx.send(data),
          drop: (err) => ctx.drop(err),
          logger,
        }),
    });
  }
}
