/**
 * The Reinject port (ports.ts) over SMTP: hands a message to Postfix's re-injection listener (postfix/master.cf: loopback, no
 * milter, no AUTH, permit_mynetworks) over SMTP — used for the untracked BCC copy, which
 * must be safely in Postfix's queue before the main message is accepted.
 *
 * Resolves with Postfix's queue id for the copy ("250 2.0.0 Ok: queued as <id>"); anything
 * else — connection refused, a 4xx/5xx, a timeout — throws TransientError, which the milter
 * turns into a 4xx for the whole message (the client retries; nothing was recorded).
 *
 * Uses nodemailer's SMTP transport (maintained, streams the message, handles dot-stuffing).
 */
import nodemailer from 'nodemailer';
import { TransientError } from '../lib/errors.js';
import type { Reinject, ReinjectMessage } from './ports.js';

/** How long one re-injection may take in all (connect, envelope, data), in milliseconds. */
export const REINJECT_TIMEOUT_MS = 60_000;

export interface ReinjectTarget {
  readonly host: string;
  readonly port: number;
}

/** The Reinject port (ports.ts) for a listener. */
export function reinjectTo(target: ReinjectTarget, timeoutMs = REINJECT_TIMEOUT_MS): Reinject {
  return (msg) => reinject(target, msg, timeoutMs);
}

export async function reinject(target: ReinjectTarget, msg: ReinjectMessage, timeoutMs = REINJECT_TIMEOUT_MS): Promise<string> {
  const transport = nodemailer.createTransport({
    host: target.host,
    port: target.port,
    secure: false,
    ignoreTLS: true,
    name: 'trxmail',
    connectionTimeout: Math.min(timeoutMs, 10_000),
    greetingTimeout: Math.min(timeoutMs, 10_000),
    socketTimeout: timeoutMs,
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
    throw new TransientError('EREINJECT', `re-injection to ${target.host}:${target.port} failed: ${(e.response ?? e.message ?? e.code ?? 'unknown').slice(0, 200)}`, {
      cause: err,
    });
  } finally {
    transport.close();
  }
}
