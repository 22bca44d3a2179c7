/**
 * The DNS lookups a domain check needs, behind a three-method interface so that callers can
 * pass another resolver (a cache, a stub in tests, DNS over HTTPS), and the default one on
 * Node's `node:dns/promises` Resolver (c-ares).
 *
 * Contract of DnsResolver (Node's): names are absolute, without trailing dot; NXDOMAIN
 * rejects with an error whose `code` is 'ENOTFOUND', NODATA with 'ENODATA' (an empty answer
 * counts as NODATA too); any other failure rejects with another code ('ESERVFAIL',
 * 'EREFUSED', 'ETIMEOUT', 'ECONNREFUSED', …). TXT answers are one array of character-strings
 * per record.
 *
 * createResolver: `servers` as "127.0.0.1:5353", "192.0.2.1" or "[::1]:53" (for tests and
 * split-horizon DNS), default the system's (/etc/resolv.conf). Each query gets its own c-ares
 * channel with one try per server and an overall deadline of `timeoutMs` (the per-server wait
 * is the deadline shared out over the servers); at the deadline the query is cancelled and
 * rejects with TransientError code 'ETIMEOUT'. So no lookup outlives its deadline.
 *
 * Limits: DNS_QUERY_TIMEOUT_MS (default), MAX_DNS_QUERY_TIMEOUT_MS.
 * Throws UsageError (createResolver) for a bad server or timeout.
 */
import { Resolver } from 'node:dns/promises';
import { isIP } from 'node:net';
import { TransientError, UsageError } from '../core/errors.js';
import { DNS_QUERY_TIMEOUT_MS, MAX_DNS_QUERY_TIMEOUT_MS } from './limits.js';

export interface MxAnswer {
  readonly exchange: string;
  readonly priority: number;
}

export interface DnsResolver {
  resolveTxt(name: string): Promise<string[][]>;
  resolveCname(name: string): Promise<string[]>;
  resolveMx(name: string): Promise<MxAnswer[]>;
}

export interface ResolverOptions {
  /** Servers to ask, in order; default: the system's. */
  readonly servers?: readonly string[];
  /** Deadline of one query (ms), all servers included; default DNS_QUERY_TIMEOUT_MS. */
  readonly timeoutMs?: number;
}

/** True for "ip", "ipv4:port" or "[ipv6]:port" with a port from 1 to 65535 (what Resolver.setServers takes). */
function isServer(s: string): boolean {
  if (isIP(s) !== 0) return true;
  const m = /^(?:\[([^\]]+)\]|([0-9.]+)):([0-9]{1,5})$/.exec(s);
  if (!m) return false;
  const port = Number(m[3]);
  const ip = m[1] ?? m[2] ?? '';
  return port >= 1 && port <= 65535 && isIP(ip) === (m[1] === undefined ? 4 : 6);
}

function serverList(servers: readonly string[]): string[] {
  if (servers.length === 0) throw new UsageError('DNS servers: the list is empty (leave it out to use the system resolver)');
  for (const s of servers) {
    if (!isServer(s)) throw new UsageError(`DNS server ${JSON.stringify(s)}: not an address ("127.0.0.1", "127.0.0.1:5353" or "[::1]:53")`);
  }
  return [...servers];
}

/** A DnsResolver on node:dns/promises with the given servers and deadline; throws UsageError for bad options. */
export function createResolver(options: ResolverOptions = {}): DnsResolver {
  const timeoutMs = options.timeoutMs ?? DNS_QUERY_TIMEOUT_MS;
  if (!Number.isInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > MAX_DNS_QUERY_TIMEOUT_MS) {
    throw new UsageError(`DNS timeout ${String(timeoutMs)} ms: must be a whole number from 1 to ${MAX_DNS_QUERY_TIMEOUT_MS}`);
  }
  const servers = options.servers === undefined ? null : serverList(options.servers);
  // The per-server wait shares the deadline out, so that every server gets its try before it.
  const perServerMs = Math.max(1, Math.floor(timeoutMs / (servers?.length ?? Math.max(1, new Resolver().getServers().length))));

  function query<T>(kind: string, name: string, run: (r: Resolver) => Promise<T>): Promise<T> {
    const resolver = new Resolver({ timeout: perServerMs, tries: 1 });
    if (servers) resolver.setServers(servers);
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        resolver.cancel();
        reject(new TransientError('ETIMEOUT', `${kind} ${name}: no answer within ${timeoutMs} ms`));
      }, timeoutMs);
      run(resolver).then(
        (value) => {
          clearTimeout(timer);
          resolve(value);
        },
        (err: unknown) => {
          clearTimeout(timer);
          reject(err instanceof Error ? err : new Error(String(err)));
        },
      );
    });
  }

  return {
    resolveTxt: (name) => query('TXT', name, (r) => r.resolveTxt(name)),
    resolveCname: (name) => query('CNAME', name, (r) => r.resolveCname(name)),
    resolveMx: (name) => query('MX', name, (r) => r.resolveMx(name)),
  };
}
