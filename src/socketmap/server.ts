/**
 * Postfix socketmap lookup server (`socketmap:inet:127.0.0.1:PORT:<map>` or
 * `socketmap:unix:/abs/path:<map>` in main.cf, e.g. in relay_domains and transport_maps).
 * A SocketServer (src/lib/socket-server.ts) that runs one SocketmapSession per connection:
 * TCP and unix listeners (stale socket removed, mode set), idle timeout, the request cap
 * enforced by the codec, graceful close(), logger hook. A malformed request drops the
 * connection (see session.ts); Postfix then reconnects and resends once, and fails the
 * lookup temporarily if that fails too.
 *
 * Idle timeout. Postfix's socketmap client closes a connection itself after 10 s without a
 * lookup and after 100 s in all (dict_sockmap.c, not configurable); our default, 10 minutes,
 * only reaps connections Postfix has forgotten. Closing earlier would be harmless (Postfix
 * retries a request that meets a closed connection once, on a new one) but wasteful.
 *
 * Throws ConfigError from listen() when an endpoint cannot be used.
 */
import { parseEndpoint, type Endpoint } from '../lib/endpoint.js';
import { silentLogger, type Logger } from '../lib/logger.js';
import type { ListenEndpoint } from '../lib/socket-listeners.js';
import { MAX_SOCKETMAP_CONNECTIONS } from '../lib/limits.js';
import { SocketServer } from '../lib/socket-server.js';
import { SocketmapSession, type SocketmapLookup } from './session.js';

/** Default idle timeout of a socketmap connection (see the header comment). */
export const DEFAULT_SOCKETMAP_IDLE_TIMEOUT_MS = 10 * 60 * 1000;

export interface SocketmapServerOptions {
  readonly lookup: SocketmapLookup;
  /** Default DEFAULT_SOCKETMAP_IDLE_TIMEOUT_MS; 0 disables. */
  readonly idleTimeoutMs?: number;
  /** Most connections open at once per listener; default MAX_SOCKETMAP_CONNECTIONS. */
  readonly maxConnections?: number;
  readonly logger?: Logger;
}

/** close(graceMs) answers requests already received (at most `graceMs`), then closes. */
export class SocketmapServer extends SocketServer {
  constructor(options: SocketmapServerOptions) {
    const logger = options.logger ?? silentLogger;
    super({
      name: 'socketmap',
      idleTimeoutMs: options.idleTimeoutMs ?? DEFAULT_SOCKETMAP_IDLE_TIMEOUT_MS,
      maxConnections: options.maxConnections ?? MAX_SOCKETMAP_CONNECTIONS,
      logger,
      createHandler: (ctx) =>
        new SocketmapSession({
          lookup: options.lookup,
          send: (data) => ctx.send(data),
          logger,
        }),
    });
  }

  /**
   * Listens on `inet:host:port` / `unix:/path` (any notation src/lib/endpoint.ts parses) or
   * an endpoint object; resolves with the bound endpoint (port 0 → the real port). Rejects
   * with ConfigError for a string it cannot parse or an endpoint it cannot use.
   */
  override listen(endpoint: ListenEndpoint | string): Promise<Endpoint> {
    let target: ListenEndpoint;
    try {
      target = typeof endpoint === 'string' ? parseEndpoint(endpoint, 'socketmap endpoint') : endpoint;
    } catch (err: unknown) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
    return super.listen(target);
  }
}
