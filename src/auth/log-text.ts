/**
 * Make an untrusted peer value safe to put in a log line: control characters (C0, DEL, C1,
 * U+2028/U+2029) become `\xNN` / `\uNNNN`, and the result is cut at `max` characters with
 * an ellipsis, so a hostile peer can neither forge log lines nor flood the log.
 *
 * Pure. Used by the auth and policy adapters; never pass it a password or a SASL response:
 * those must not be logged at all. Also home of the pino-compatible logger hook both use.
 */

const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g;

/** Default cut-off for untrusted text in logs. */
export const LOG_TEXT_MAX = 100;

export function logText(value: string, max: number = LOG_TEXT_MAX): string {
  const cut = value.length > max ? value.slice(0, max) : value;
  const escaped = cut.replace(CONTROL, (c) => {
    const code = c.charCodeAt(0);
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
  });
  return value.length > max ? `${escaped}…` : escaped;
}

/** pino-compatible logging hook (a pino Logger fits). */
export interface ProtocolLogger {
  debug(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

const noop = (): void => undefined;
/** Discards everything. */
export const silentLogger: ProtocolLogger = { debug: noop, info: noop, warn: noop, error: noop };
