/**
 * The Reinject port (ports.ts) over SMTP: hands a message to Postfix's re-injection listener
 * (postfix/master.cf `trxmail-reinject`: no milter, no AUTH, permit_mynetworks) over SMTP —
 * used for the untracked BCC copy, which must be safely in Postfix's queue before the main
 * message is accepted.
 *
 * The listener is a unix socket by default (a master.cf `unix` smtpd service in Postfix's
 * `private/` directory, which only root and Postfix can enter: no other local process can relay
 * through it), or TCP when `reinject` says `host:port` (then every local process can).
 *
 * Resolves with Postfix's queue id for the copy ("250 2.0.0 Ok: queued as <id>"); anything
 * else — connection refused, a 4xx/5xx, a timeout — throws TransientError, which the milter
 * turns into a 4xx for the whole message (the client retries; nothing was recorded).
 *
 * Uses nodemailer's SMTP transport (maintained, streams the message, handles dot-stuffing).
 */
import net from 'node:net';
import nodemailer from 'nodemailer';
import { formatEndpoint, type Endpoint } from '../lib/endpoint.js';
import { TransientError } from '../lib/errors.js';
import type { Reinject, ReinjectMessage } from './ports.js';

/** How long one re-injection may take in all (connect, envelope, data), in milliseconds. */
export const REINJECT_TIMEOUT_MS = 60_000;

/** Where Postfix's re-injection smtpd listens: a unix socket or host:port. */
export type ReinjectTarget = Endpoint;

/** nodemailer's getSocket hook: a connected unix-domain socket instead of host:port. */
type GetSocket = (options: unknown, callback: (err: Error | null, socketOptions?: { connection: net.Socket }) => void) => void;

function unixSocket(socketPath: string, timeoutMs: number): GetSocket {
  return (_options, callback) => {
    const socket = net.connect(socketPath);
    const timer = setTimeout(() => socket.destroy(new Error(`connect to ${socketPath} timed out`)), timeoutMs);
    const done = (err: Error | null): void => {
      clearTimeout(timer);
      socket.off('error', done);
      if (err !== null) callback(err);
      else callback(null, { connection: socket });
    };
    socket.once('error', done);
    socket.once('connect', () => done(null));
  };
}

/** The Reinject port (ports.ts) for a listener. */
export function reinjectTo(target: ReinjectTarget, timeoutMs = REINJECT_TIMEOUT_MS): Reinject {
  return (msg) => reinject(target, msg, timeoutMs);
}

export async function reinject(target: ReinjectTarget, msg: ReinjectMessage, timeoutMs = REINJECT_TIMEOUT_MS): Promise<string> {
  const connectMs = Math.min(timeoutMs, 10_000);
  const transport = nodemailer.createTransport({
    secure: false,
    ignoreTLS: true,
    name: 'trxmail',
    connectionTimeout: connectMs,
    greetingTimeout: connectMs,
    socketTimeout: timeoutMs,
    ...(target.kind === 'tcp' ? { host: target.host, port: target.port } : { host: 'localhost', getSocket: unixSocket(target.path, connectMs) }),
  });
  try {
    const info = await transport.sendMail({
      envelope: { from: msg.from, to: [...msg.to] },
      raw: msg.raw,
      ...(msg.envid !== undefined ? { dsn: { id: msg.envid } } : {}),
    });
    const m = /queued as ([0-9A-Za-z]+)/.exec(info.response);
    if (!m?.[1] || !info.response.startsWith('250')) {
      throw new TransientError('EREINJECT', `re-injection: unexpected reply ${JSON.stringify(info.response.slice(0, 200))}`);
    }
    if (info.rejected.length > 0) throw new TransientError('EREINJECT', `re-injection: recipient refused`);
    return m[1];
  } catch (err: unknown) {
    if (err instanceof TransientError) throw err;
    const e = err as { response?: string; code?: string; message?: string };
    throw new TransientError('EREINJECT', `re-injection to ${formatEndpoint(target)} failed: ${(e.response ?? e.message ?? e.code ?? 'unknown').slice(0, 200)}`, {
      cause: err,
    });
  } finally {
    transport.close();
  }
}
