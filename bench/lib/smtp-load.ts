/**
 * A small SMTP load generator that can do what smtp-source cannot: STARTTLS and AUTH PLAIN
 * (RFC 3207, RFC 4954/4616), so bench/postfix can drive the shipped submission listener
 * (TLS required, SASL against trxmail, policy service, milter) exactly as a customer would.
 *
 * Like `smtp-source -d -s S -m N`: S sessions in parallel share N messages; each session
 * connects once (EHLO, STARTTLS, EHLO, AUTH), then sends MAIL/RCPT/DATA one command at a
 * time (no PIPELINING, as smtp-source) until the messages run out, then QUITs. The message
 * is sent as given (CRLF lines, dot-stuffed here), envelope from `from` to `to`.
 *
 * Limits: each reply must come within `replyTimeoutMs` (a reply is at most 64 KiB);
 * the whole run ends by `deadlineMs`. A session that gets an unexpected reply or an error
 * stops; the result counts what was accepted (2xx after the final ".") and keeps the first
 * MAX_ERRORS error texts. runSmtpLoad never throws for SMTP trouble, it reports it.
 * The connection itself (replies, STARTTLS, AUTH PLAIN) is test/helpers/smtp-client.ts.
 */
import { SmtpConnection, authPlainLine, dataPayload } from '../../test/helpers/smtp-client.js';

export interface SmtpLoadOptions {
  readonly host: string;
  readonly port: number;
  readonly sessions: number;
  readonly messages: number;
  readonly from: string;
  readonly to: string;
  /** The message, CRLF line endings, ending in CRLF, not dot-stuffed. */
  readonly message: Buffer;
  readonly starttls: boolean;
  readonly auth: { readonly user: string; readonly pass: string } | null;
  readonly helo: string;
  readonly replyTimeoutMs: number;
  readonly deadlineMs: number;
}

export interface SmtpLoadResult {
  readonly accepted: number;
  readonly failed: number;
  readonly wallMs: number;
  readonly errors: readonly string[];
}

const MAX_ERRORS = 5;

export async function runSmtpLoad(o: SmtpLoadOptions): Promise<SmtpLoadResult> {
  const payload = dataPayload(o.message);
  const authLine = o.auth === null ? null : authPlainLine(o.auth.user, o.auth.pass);
  let taken = 0;
  let accepted = 0;
  let failed = 0;
  const errors: string[] = [];
  const deadline = Date.now() + o.deadlineMs;
  const noteError = (err: unknown): void => {
    failed++;
    if (errors.length < MAX_ERRORS) errors.push(err instanceof Error ? err.message : String(err));
  };

  const session = async (): Promise<void> => {
    let c: SmtpConnection | null = null;
    try {
      c = await SmtpConnection.open(o.host, o.port, o.replyTimeoutMs);
      await c.hello(o.helo, o.starttls);
      if (authLine !== null) await c.command(authLine, 235);
      // Bounded by o.messages (shared) and the deadline.
      while (taken < o.messages && Date.now() < deadline) {
        taken++;
        try {
          await c.command(`MAIL FROM:<${o.from}>`, 250);
          await c.command(`RCPT TO:<${o.to}>`, 250);
          await c.command('DATA', 354);
          await c.command(payload, 250);
          accepted++;
        } catch (err: unknown) {
          noteError(err);
          return;
        }
      }
      await c.command('QUIT', 221).catch(() => undefined);
    } catch (err: unknown) {
      noteError(err);
    } finally {
      c?.close();
    }
  };

  const t0 = process.hrtime.bigint();
  await Promise.all(Array.from({ length: Math.max(1, o.sessions) }, () => session()));
  const wallMs = Number(process.hrtime.bigint() - t0) / 1e6;
  return { accepted, failed, wallMs, errors };
}
