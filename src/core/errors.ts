/**
 * Error classes for trxmail.
 *
 * Every error we throw on purpose extends TrxError and carries a stable `code`
 * (machine-readable) and an optional `cause`. The families:
 *  - ConfigError     fatal at start-up; the message names the key and the file.
 *  - ProtocolError   a peer broke a wire protocol: log (escaped, truncated), drop the connection.
 *  - TransientError  we cannot decide now (store down, timeout): 4xx / tempfail to the client.
 *  - RejectError     a permanent refusal that carries the SMTP reply to give (5xx).
 *  - UsageError      bad CLI or API input from an operator: one-line message, non-zero exit.
 *  - InvariantError  a bug: crash loudly, never mapped to a 2xx.
 */

export interface SmtpReply {
  /** Basic SMTP reply code, e.g. 550. */
  readonly code: number;
  /** RFC 3463 enhanced status code, e.g. "5.7.1". Its class digit matches `code`. */
  readonly enhanced: string;
  /** Human-readable reason, one line, ASCII, no CR/LF. */
  readonly text: string;
}

export class TrxError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

export class ConfigError extends TrxError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ECONFIG', message, options);
  }
}

export class ProtocolError extends TrxError {
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

export class TransientError extends TrxError {
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

export class RejectError extends TrxError {
  readonly reply: SmtpReply;
  constructor(code: string, reply: SmtpReply, options?: { cause?: unknown }) {
    super(code, `${reply.code} ${reply.enhanced} ${reply.text}`, options);
    this.reply = reply;
  }
}

export class UsageError extends TrxError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('EUSAGE', message, options);
  }
}

export class InvariantError extends TrxError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('EINVARIANT', message, options);
  }
}

/** The reply an SMTP-facing adapter gives for any error: rejections keep theirs, everything else is a 4xx. */
export function smtpReplyFor(err: unknown): SmtpReply {
  if (err instanceof RejectError) return err.reply;
  return { code: 451, enhanced: '4.3.0', text: 'Temporary local problem, please try again later' };
}
