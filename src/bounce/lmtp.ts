/**
 * The LMTP listener (RFC 2033) for the bounce domain: Postfix's lmtp(8) delivers every
 * message for the bounce domain here (main.cf `transport_maps = inline:{ <bounce domain> =
 * lmtp:inet:127.0.0.1:8894 }`), one long-lived process, no process per bounce. The protocol
 * is smtp-server's (nodemailer) in LMTP mode; the decisions are BounceIntake's (intake.ts).
 *
 * Replies:
 *  - RCPT TO: any address in the bounce domain (the domain compared IDN- and case-
 *    insensitively, the local part not looked at: a forged or unknown bounce address is
 *    accepted and ignored later) → 250; any other domain → 550 5.1.1. More than
 *    MAX_LMTP_RECIPIENTS in one transaction → 452 4.5.3 (Postfix sends those later).
 *  - After DATA, one reply per accepted recipient (LMTP), in RCPT order, each after the
 *    intake ran for that recipient:
 *      250 2.6.0 <what was done>     stored, or deliberately ignored (not a bounce, forged
 *                                    address, unknown send): never a 5xx for those — a 5xx
 *                                    would make Postfix bounce the bounce; a mail to a send's
 *                                    signed unsubscribe address (the mailto: of
 *                                    List-Unsubscribe) is an unsubscribe (intake.ts)
 *      451 4.3.0 <text>              the store failed (TransientError) or the intake hit a
 *                                    bug: Postfix keeps the message and retries
 *  - No AUTH, no STARTTLS: the listener is meant for loopback (or a unix socket) only.
 *
 * Logging: a client that hangs up (mid-message, or a socket error) is a warning without a
 * stack; `error` only for our own faults (a bug in the intake, a failed transaction).
 *
 * Limits: the first MAX_BOUNCE_BYTES of a message are kept (in memory) and analysed,
 * the rest is read and dropped; LMTP_IDLE_TIMEOUT_MS without a command closes the
 * connection; close() lets transactions finish for LMTP_CLOSE_GRACE_MS, then answers 421.
 *
 * Throws: ConfigError from listen() when the endpoint cannot be used.
 */
import { SMTPServer, type SMTPServerAddress, type SMTPServerDataResult, type SMTPServerDataStream, type SMTPServerSession } from 'smtp-server';
import { normaliseDomain, splitAddress } from '../core/domain.js';
import { asBounceDomains, type BounceDomains } from './bounce-address.js';
import type { Endpoint } from '../lib/endpoint.js';
import { ConfigError, TransientError } from '../lib/errors.js';
import { MAX_BOUNCE_BYTES, MAX_LMTP_RECIPIENTS } from '../lib/limits.js';
import { errorForLog, escapeLogValue, type Logger } from '../lib/logger.js';
import { DEFAULT_SOCKET_MODE, removeStaleSocket, type ListenEndpoint } from '../lib/socket-listeners.js';
import { applySocketOwner, checkSocketDirectory } from '../lib/socket-owner.js';
import { summariseIntake, type BounceIntake, type IntakeResult } from './intake.js';

/** Idle time (ms) after which a connection is closed (Postfix's lmtp client caches connections for 2 s). */
export const LMTP_IDLE_TIMEOUT_MS = 5 * 60_000;
/** Time (ms) close() lets transactions in flight finish before answering 421 and closing. */
export const LMTP_CLOSE_GRACE_MS = 5_000;
/** Longest reply text we build from the intake's summary (characters). */
const MAX_REPLY_TEXT = 200;

export interface LmtpServerOptions {
  readonly intake: Pick<BounceIntake, 'process'>;
  /** Only recipients in this domain (or these domains: the return-path hosts too) are accepted. */
  readonly bounceDomain: string | BounceDomains;
  readonly logger: Logger;
  /** Name in the greeting (default: the machine's host name). */
  readonly hostname?: string;
  readonly idleTimeoutMs?: number;
  readonly closeGraceMs?: number;
}

type Callback = (err?: Error | null) => void;

function replyError(code: number, text: string): Error {
  return Object.assign(new Error(text), { responseCode: code });
}

/** smtp-server's error on the DATA stream when the peer closes the connection mid-message. */
function isPeerHangUp(err: unknown): boolean {
  return err instanceof Error && (err as { code?: unknown }).code === 'ECONNECTION';
}

/** Reads the first `max` + 1 bytes of the message and drops the rest. */
function readPrefix(stream: SMTPServerDataStream, max: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let size = 0;
    stream.on('data', (chunk: Buffer) => {
      const room = max + 1 - size;
      if (room <= 0) return;
      const piece = chunk.length > room ? chunk.subarray(0, room) : chunk;
      parts.push(Buffer.from(piece));
      size += piece.length;
    });
    stream.once('end', () => resolve(Buffer.concat(parts, size)));
    stream.once('error', reject);
  });
}

export class LmtpServer {
  readonly #o: LmtpServerOptions;
  readonly #log: Logger;
  readonly #domains: BounceDomains;
  readonly #smtp: SMTPServer;
  #listening = false;
  #closed: Promise<void> | null = null;

  constructor(opts: LmtpServerOptions) {
    this.#o = opts;
    this.#log = opts.logger;
    if (typeof opts.bounceDomain === 'string' && normaliseDomain(opts.bounceDomain) === null) {
      throw new ConfigError(`LMTP listener: bounce domain ${JSON.stringify(opts.bounceDomain)} is not a domain name`);
    }
    this.#domains = asBounceDomains(opts.bounceDomain);
    this.#smtp = new SMTPServer({
      lmtp: true,
      logger: false,
      ...(opts.hostname !== undefined ? { name: opts.hostname } : {}),
      banner: 'trxmail bounce intake',
      authOptional: true,
      disabledCommands: ['AUTH', 'STARTTLS'],
      disableReverseLookup: true,
      hideENHANCEDSTATUSCODES: false,
      maxRecipients: MAX_LMTP_RECIPIENTS,
      socketTimeout: opts.idleTimeoutMs ?? LMTP_IDLE_TIMEOUT_MS,
      closeTimeout: opts.closeGraceMs ?? LMTP_CLOSE_GRACE_MS,
      onRcptTo: (address, session, callback) => this.#onRcptTo(address, session, callback),
      onData: (stream, session, callback) => {
        this.#onData(stream, session).then(
          (results) => callback(null, results),
          (err: unknown) => {
            if (isPeerHangUp(err)) {
              // The client's doing (Postfix gave up or was stopped): it sends the message again.
              this.#log.warn({ session: session.id, err: errorForLog(err, false) }, 'lmtp: client closed the connection before the end of the message');
            } else {
              // #onData turns every failure of ours into a per-recipient reply; this is a last resort.
              this.#log.error({ err: errorForLog(err) }, 'lmtp: transaction failed');
            }
            callback(replyError(451, 'Temporary local problem, please try again later'));
          },
        );
      },
    });
    this.#smtp.on('error', (err: Error) => {
      this.#log.warn({ err: errorForLog(err, false) }, 'lmtp: connection error');
    });
  }

  #onRcptTo(address: SMTPServerAddress, session: SMTPServerSession, callback: Callback): void {
    const parts = splitAddress(address.address);
    const domain = parts === null ? null : normaliseDomain(parts.domain);
    if (domain === null || !this.#domains.has(domain)) {
      this.#log.info({ session: session.id, rcptTo: escapeLogValue(address.address) }, 'lmtp: recipient outside the bounce domain refused');
      callback(replyError(550, 'Not a bounce-domain address'));
      return;
    }
    callback();
  }

  async #onData(stream: SMTPServerDataStream, session: SMTPServerSession): Promise<SMTPServerDataResult[]> {
    const raw = await readPrefix(stream, MAX_BOUNCE_BYTES);
    const mailFrom = session.envelope.mailFrom === false ? null : session.envelope.mailFrom.address;
    const replies: SMTPServerDataResult[] = [];
    for (const rcpt of session.envelope.rcptTo) {
      let result: IntakeResult;
      try {
        result = await this.#o.intake.process(raw, { mailFrom, rcptTo: rcpt.address });
      } catch (err: unknown) {
        const transient = err instanceof TransientError;
        this.#log[transient ? 'warn' : 'error'](
          { err: errorForLog(err, !transient), session: session.id, rcptTo: escapeLogValue(rcpt.address) },
          'lmtp: intake failed; 451 (Postfix retries)',
        );
        replies.push(replyError(451, transient ? 'Store unavailable, try again later' : 'Temporary local problem, please try again later'));
        continue;
      }
      const summary = summariseIntake(result);
      replies.push(summary.length > MAX_REPLY_TEXT ? `${summary.slice(0, MAX_REPLY_TEXT - 3)}...` : summary);
    }
    this.#log.debug({ session: session.id, bytes: stream.byteLength, recipients: replies.length }, 'lmtp: transaction done');
    return replies;
  }

  /** Listens on one endpoint (TCP or unix socket); resolves with the bound address (port 0 → the real port). */
  async listen(endpoint: ListenEndpoint): Promise<Endpoint> {
    if (this.#listening || this.#closed) throw new ConfigError('LMTP listener: listen() may be called once, before close()');
    this.#listening = true;
    const server = this.#smtp.server;
    if (endpoint.kind === 'unix') {
      await checkSocketDirectory(endpoint.path);
      await removeStaleSocket(endpoint.path);
    }
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error): void => {
        server.off('listening', onListening);
        reject(new ConfigError(`LMTP listener: cannot listen on ${endpoint.kind === 'unix' ? endpoint.path : `${endpoint.host}:${endpoint.port}`}: ${err.message}`, { cause: err }));
      };
      const onListening = (): void => {
        server.off('error', onError);
        resolve();
      };
      server.once('error', onError);
      server.once('listening', onListening);
      if (endpoint.kind === 'unix') server.listen(endpoint.path);
      else server.listen(endpoint.port, endpoint.host);
    });
    if (endpoint.kind === 'unix') {
      try {
        await applySocketOwner(endpoint.path, endpoint.mode ?? DEFAULT_SOCKET_MODE, endpoint.owner);
      } catch (err: unknown) {
        server.close();
        throw err;
      }
      this.#log.info({ path: endpoint.path }, 'lmtp: listening');
      return { kind: 'unix', path: endpoint.path };
    }
    const addr = server.address();
    const bound: Endpoint = addr !== null && typeof addr === 'object' ? { kind: 'tcp', host: addr.address, port: addr.port } : endpoint;
    this.#log.info({ host: bound.kind === 'tcp' ? bound.host : null, port: bound.kind === 'tcp' ? bound.port : null }, 'lmtp: listening');
    return bound;
  }

  /** Stops accepting, lets transactions in flight finish (bounded by the grace time), then closes. */
  close(): Promise<void> {
    if (this.#closed === null) {
      const listening = this.#listening;
      this.#closed = new Promise<void>((resolve) => {
        if (!listening) {
          resolve();
          return;
        }
        let done = false;
        this.#smtp.close(() => {
          if (done) return;
          done = true;
          resolve();
        });
      });
    }
    return this.#closed;
  }
}
