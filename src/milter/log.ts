/**
 * Logging for the milter layer: a pino-compatible logger interface, a silent default, and
 * escaping of untrusted values (anything that came from the MTA or the SMTP client, and
 * error messages that may quote it) before they reach a log line.
 *
 * Limits: MAX_LOG_VALUE characters per logged value (longer ones are cut, with "...").
 *
 * Throws nothing.
 */

/** The subset of pino's Logger we use: `logger.warn({ conn: 3 }, 'message')`. */
export interface MilterLogger {
  debug(obj: Record<string, unknown>, msg: string): void;
  info(obj: Record<string, unknown>, msg: string): void;
  warn(obj: Record<string, unknown>, msg: string): void;
  error(obj: Record<string, unknown>, msg: string): void;
}

const noop = (): void => undefined;
export const silentLogger: MilterLogger = { debug: noop, info: noop, warn: noop, error: noop };

/** Longest untrusted value written to a log, in characters (before escaping). */
export const MAX_LOG_VALUE = 200;

/**
 * Escapes control characters, backslash and non-ASCII as \xNN / \uNNNN and truncates to
 * `max` characters, so a peer cannot forge log lines or flood the log.
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

/** Longest stack trace logged with an error, in characters. */
const MAX_LOG_STACK = 2000;

/** An error for a log line: name, code, escaped message and (escaped, cut) stack. */
export function errorForLog(err: unknown, withStack = true): Record<string, unknown> {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return {
      name: err.name,
      ...(typeof code === 'string' ? { code } : {}),
      message: escapeLogValue(err.message),
      ...(withStack && err.stack !== undefined ? { stack: escapeLogValue(err.stack, MAX_LOG_STACK) } : {}),
    };
  }
  return { message: escapeLogValue(String(err)) };
}
