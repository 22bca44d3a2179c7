/**
 * Logging for every adapter: the process logger (pino, JSON lines on stdout, or silent), the
 * small pino-compatible `Logger` interface adapters take (so tests can pass a recorder), a
 * silent default, and the escaping of untrusted values before they reach a log line.
 *
 * Untrusted values are anything that came from a peer (the MTA, the SMTP client, a policy or
 * auth request) and error messages that may quote it: pass them through escapeLogValue(),
 * errors through errorForLog(). Never log a password, a SASL response or an HMAC key at all.
 *
 * Limits: MAX_LOG_VALUE characters per logged value, MAX_LOG_ERROR_MESSAGE per error message,
 * MAX_LOG_STACK per stack trace (longer ones are cut, with "...").
 *
 * Throws nothing.
 */
import { pino } from 'pino';

/** The subset of pino's Logger we use: `logger.warn({ conn: 3 }, 'message')`. A pino Logger fits. */
export interface Logger {
  debug(obj: Record<string, unknown>, msg: string): void;
  info(obj: Record<string, unknown>, msg: string): void;
  warn(obj: Record<string, unknown>, msg: string): void;
  error(obj: Record<string, unknown>, msg: string): void;
}

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

export function createLogger(level: LogLevel, component = 'trxmail'): pino.Logger {
  return pino({ level, base: { component }, timestamp: pino.stdTimeFunctions.isoTime });
}

const noop = (): void => undefined;
/** Discards everything. */
export const silentLogger: Logger = { debug: noop, info: noop, warn: noop, error: noop };

/** Longest untrusted value written to a log, in characters (before escaping). */
export const MAX_LOG_VALUE = 100;
/** Longest error message written to a log, in characters (before escaping). */
export const MAX_LOG_ERROR_MESSAGE = 200;
/** Longest stack trace logged with an error, in characters (before escaping). */
export const MAX_LOG_STACK = 2000;

/**
 * Escapes control characters, backslash and non-ASCII as \xNN / \uNNNN / \u{N} and truncates
 * to `max` characters (then appends "..."), so a peer can neither forge log lines nor flood
 * the log, and the result is plain printable ASCII. Pure.
 */
export function escapeLogValue(value: string, max: number = MAX_LOG_VALUE): string {
  const cut = value.length > max;
  const s = cut ? value.slice(0, max) : value;
  let out = '';
  for (const ch of s) {
    const c = ch.codePointAt(0) as number;
    if (ch === '\\') out += '\\\\';
    else if (c >= 0x20 && c < 0x7f) out += ch;
    else if (c < 0x100) out += `\\x${c.toString(16).padStart(2, '0')}`;
    else if (c < 0x10000) out += `\\u${c.toString(16).padStart(4, '0')}`;
    else out += `\\u{${c.toString(16)}}`;
  }
  return cut ? `${out}...` : out;
}

/** An error for a log line: name, code, escaped message and (escaped, cut) stack. */
export function errorForLog(err: unknown, withStack = true): Record<string, unknown> {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return {
      name: err.name,
      ...(typeof code === 'string' ? { code } : {}),
      message: escapeLogValue(err.message, MAX_LOG_ERROR_MESSAGE),
      ...(withStack && err.stack !== undefined ? { stack: escapeLogValue(err.stack, MAX_LOG_STACK) } : {}),
    };
  }
  return { message: escapeLogValue(String(err), MAX_LOG_ERROR_MESSAGE) };
}
