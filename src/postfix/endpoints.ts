/**
 * trxmail's endpoints as Postfix must be told them. Pure: no I/O.
 *
 * trxmail listens on absolute paths (`unix:/var/spool/postfix/private/trxmail-milter`). Every
 * Postfix daemon runs with its queue directory as working directory, and a chrooted one (Debian's
 * stock smtpd, trivial-rewrite, lmtp) has it as root directory: a path *relative to the queue
 * directory* (`unix:private/trxmail-milter`, Dovecot's `private/auth`) therefore reaches the
 * socket whether or not the service is chrooted, while the absolute path works only unchrooted.
 * So a socket below the queue directory is given to Postfix relative to it; any other unix path
 * stays absolute (the Postfix services using it must then run with chroot = n), and TCP stays
 * as it is.
 *
 * reinjectService(): the re-injection smtpd is a master.cf service; master creates a `unix`
 * service's socket as `private/<name>` (private = y) or `public/<name>` (private = n) below the
 * queue directory, so a unix `reinject` must be one of those.
 *
 * Throws ConfigError (reinjectService) naming the `reinject` key.
 */
import path from 'node:path';
import { parseReinject } from '../config/config.js';
import { formatHostPort, parseEndpoint } from '../lib/endpoint.js';
import { ConfigError } from '../lib/errors.js';

/** `/a/b/c` below `/a` → `b/c`; null when `file` is not strictly below `dir`. */
function below(dir: string, file: string): string | null {
  const rel = path.posix.relative(path.posix.normalize(dir), path.posix.normalize(file));
  return rel === '' || rel.startsWith('..') || path.posix.isAbsolute(rel) ? null : rel;
}

/** A listen.* value (Postfix notation) as main.cf names it: `unix:<relative>` below the queue directory. */
export function postfixEndpoint(spec: string, queueDir: string): string {
  const ep = parseEndpoint(spec);
  if (ep.kind !== 'unix') return spec;
  const rel = below(queueDir, ep.path);
  return rel === null ? spec : `unix:${rel}`;
}

/**
 * listen.auth as `smtpd_sasl_path` takes it (Dovecot type): a socket path relative to the queue
 * directory (`private/trxmail-auth`), an absolute path, or `inet:host:port`.
 */
export function postfixSaslPath(spec: string, queueDir: string): string {
  const ep = parseEndpoint(spec);
  if (ep.kind !== 'unix') return spec;
  return below(queueDir, ep.path) ?? ep.path;
}

/**
 * The first three master.cf columns (service, type, private) of the re-injection smtpd for the
 * `reinject` value: `trxmail-reinject unix  -` for `<queue>/private/trxmail-reinject`,
 * `NAME unix  n` for `<queue>/public/NAME`, `127.0.0.1:10026 inet  n` for TCP.
 */
export function reinjectService(spec: string, queueDir: string): string {
  const ep = parseReinject(spec);
  if (ep === null) throw new ConfigError(`reinject: expected unix:/absolute/path, inet:host:port or host:port, got ${JSON.stringify(spec)}`);
  if (ep.kind === 'tcp') return `${formatHostPort(ep.host, ep.port)} inet  n`;
  const rel = below(queueDir, ep.path);
  const m = rel === null ? null : /^(private|public)\/([A-Za-z0-9][A-Za-z0-9._-]*)$/.exec(rel);
  if (m?.[1] === undefined || m[2] === undefined) {
    throw new ConfigError(
      `reinject: ${ep.path} is not in ${path.posix.join(queueDir, 'private')}/ or ${path.posix.join(queueDir, 'public')}/: master.cf creates a unix service's socket there (postfix.queueDirectory is ${queueDir})`,
    );
  }
  return `${m[2]} unix  ${m[1] === 'private' ? '-' : 'n'}`;
}
