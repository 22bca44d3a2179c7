/**
 * Listener endpoints in the notations Postfix and libmilter use, for every trxmail listener
 * (milter, policy, auth) and for validating `listen.*` in the configuration. Pure: no I/O.
 *
 *   inet:host:port      inet:127.0.0.1:8891, inet:localhost:8891
 *   inet:[v6]:port      inet:[::1]:8891 (inet6: is accepted as a synonym of inet:)
 *   inet:port@host      libmilter's order
 *   unix:/path          local:/path and a bare /path too
 *
 * parseEndpoint() accepts all of these (transport case-insensitive, port 0..65535: 0 means
 * "any free port"); formatEndpoint() writes the one Postfix notation back (`inet:host:port`
 * with IPv6 hosts in brackets, `unix:/path`), which is what Postfix's main.cf needs;
 * formatHostPort() writes the `host:port` part alone (for URLs, logs and error messages).
 *
 * Throws ConfigError naming the spec and what is wrong with it.
 */
import { ConfigError } from './errors.js';

export type Endpoint =
  | { readonly kind: 'tcp'; readonly host: string; readonly port: number }
  | { readonly kind: 'unix'; readonly path: string };

/**
 * Parses `inet:host:port`, `inet:[::1]:port`, `inet:port@host`, `unix:/path`, `local:/path`.
 * `what` names the endpoint in the error message ("milter endpoint", "listen.auth").
 */
export function parseEndpoint(spec: string, what = 'endpoint'): Endpoint {
  const fail = (why: string): never => {
    throw new ConfigError(`${what} ${JSON.stringify(spec)}: ${why}`);
  };
  const colon = spec.indexOf(':');
  if (colon < 0) {
    if (spec.startsWith('/')) return { kind: 'unix', path: spec };
    return fail('expected inet:host:port or unix:/path');
  }
  const transport = spec.slice(0, colon).toLowerCase();
  const rest = spec.slice(colon + 1);
  if (transport === 'unix' || transport === 'local') {
    if (rest === '') fail('empty socket path');
    return { kind: 'unix', path: rest };
  }
  if (transport !== 'inet' && transport !== 'inet6') return fail(`unknown transport ${transport}`);
  let host: string;
  let portText: string;
  const at = rest.indexOf('@');
  if (at >= 0) {
    portText = rest.slice(0, at);
    host = rest.slice(at + 1);
  } else {
    const last = rest.lastIndexOf(':');
    if (last < 0) return fail('missing port');
    host = rest.slice(0, last);
    portText = rest.slice(last + 1);
  }
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  if (host === '') fail('missing host');
  if (!/^[0-9]{1,5}$/.test(portText) || Number(portText) > 65535) fail(`bad port ${JSON.stringify(portText)}`);
  return { kind: 'tcp', host, port: Number(portText) };
}

/** Postfix notation: `inet:host:port` (IPv6 host in brackets) or `unix:/path`. */
export function formatEndpoint(endpoint: Endpoint): string {
  if (endpoint.kind === 'unix') return `unix:${endpoint.path}`;
  return `inet:${formatHostPort(endpoint.host, endpoint.port)}`;
}

/** `host:port`, an IPv6 host (any host with a colon) in brackets: `[::1]:8891` (RFC 3986 authority). */
export function formatHostPort(host: string, port: number): string {
  return `${host.includes(':') ? `[${host}]` : host}:${port}`;
}
