/**
 * trxmail.yaml's defaults (listeners, re-injection, HTTP, metrics, DKIM, DNS) and the value
 * parsers config.ts's schema uses for host:port and http.baseUrl. Pure: no I/O. config.ts
 * re-exports everything here.
 */
import path from 'node:path';

/** trxmail.yaml `http.listen` default: the tracking/health HTTP service, loopback only. */
export const DEFAULT_HTTP_LISTEN = '127.0.0.1:8080';
/** trxmail.yaml `postfix.queueDirectory` default: Debian's queue_directory. */
export const DEFAULT_POSTFIX_QUEUE_DIR = '/var/spool/postfix';
/** trxmail.yaml `listen.socketUser` / `listen.socketGroup` default: Postfix's mail_owner (as Dovecot's `private/auth`). */
export const DEFAULT_SOCKET_USER = 'postfix';
export const DEFAULT_SOCKET_GROUP = 'postfix';

/** The listeners Postfix connects to, and the socket name each has in `<queue directory>/private/`. */
export const LISTENER_SOCKETS = {
  milter: 'trxmail-milter',
  policy: 'trxmail-policy',
  auth: 'trxmail-auth',
  lmtp: 'trxmail-lmtp',
  socketmap: 'trxmail-socketmap',
} as const;
/** The re-injection smtpd's socket name in `<queue directory>/private/` (a master.cf `unix` service). */
export const REINJECT_SOCKET = 'trxmail-reinject';

export type ListenerName = keyof typeof LISTENER_SOCKETS;

/**
 * The default listeners (and re-injection target) for a Postfix whose queue_directory is
 * `queueDir`: unix sockets in its `private/` directory, like Dovecot's `private/auth`. Only
 * processes running as the socket's user or group (Postfix's) and root can connect; `private/`
 * itself is `postfix:root 0700`.
 */
export function defaultListen(queueDir: string = DEFAULT_POSTFIX_QUEUE_DIR): Record<ListenerName, string> {
  const at = (name: string): string => `unix:${path.posix.join(queueDir, 'private', name)}`;
  return {
    milter: at(LISTENER_SOCKETS.milter),
    policy: at(LISTENER_SOCKETS.policy),
    auth: at(LISTENER_SOCKETS.auth),
    lmtp: at(LISTENER_SOCKETS.lmtp),
    socketmap: at(LISTENER_SOCKETS.socketmap),
  };
}

/** The default re-injection target: Postfix's `trxmail-reinject` smtpd on a unix socket in `private/`. */
export function defaultReinject(queueDir: string = DEFAULT_POSTFIX_QUEUE_DIR): string {
  return `unix:${path.posix.join(queueDir, 'private', REINJECT_SOCKET)}`;
}

/** trxmail.yaml `listen.lmtp` default: the bounce intake's LMTP listener (Postfix's transport_maps points here). */
export const DEFAULT_LMTP_LISTEN = defaultListen().lmtp;
/** trxmail.yaml `listen.socketmap` default: the socketmap Postfix asks which domains are return-path hosts. */
export const DEFAULT_SOCKETMAP_LISTEN = defaultListen().socketmap;
/** trxmail.yaml `metrics.listen` default: Prometheus metrics (GET /metrics), loopback only. */
export const DEFAULT_METRICS_LISTEN = '127.0.0.1:9464';
/** trxmail.yaml `dkim.overlapDays` default: a replaced key stays published a week. */
export const DEFAULT_DKIM_OVERLAP_DAYS = 7;
/** trxmail.yaml `dns.checkIntervalMinutes` default. */
export const DEFAULT_DNS_CHECK_MINUTES = 60;
/** trxmail.yaml `reinject` default: Postfix's re-injection smtpd (postfix/master.cf), a unix socket only root and Postfix reach. */
export const DEFAULT_REINJECT = defaultReinject();

const HOST_PORT_RE = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/;
export const BASE_URL_MESSAGE = 'expected an absolute http:// or https:// URL without user, query or fragment';

/**
 * `host:port` (http.listen, reinject): a host name, IPv4 address or bracketed IPv6 address,
 * and a port 1-65535. Returns the host without brackets, or null.
 */
export function parseHostPort(spec: string): { host: string; port: number } | null {
  const m = HOST_PORT_RE.exec(spec);
  if (!m?.[1] || !m[2]) return null;
  const port = Number(m[2]);
  if (port < 1 || port > 65535) return null;
  const host = m[1].startsWith('[') ? m[1].slice(1, -1) : m[1];
  if (m[1].startsWith('[') && !host.includes(':')) return null;
  return { host, port };
}

/**
 * http.baseUrl in its normal form (WHATWG serialisation: lower-case scheme and host, IDN
 * host as A-label) without trailing slashes, or null when it is not an absolute http/https
 * URL with a host and without user, query or fragment. A path prefix is allowed.
 */
export function normaliseBaseUrl(spec: string): string | null {
  if (/[?#\s]/.test(spec) || !/^https?:\/\/[^/\\]/i.test(spec)) return null;
  let u: URL;
  try {
    u = new URL(spec);
  } catch {
    return null;
  }
  if ((u.protocol !== 'http:' && u.protocol !== 'https:') || u.hostname === '' || u.username !== '' || u.password !== '') return null;
  return u.href.replace(/\/+$/, '');
}
