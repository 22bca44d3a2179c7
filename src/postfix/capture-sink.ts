/**
 * A capturing SMTP sink: the "recipient MX" of the demo and the end-to-end tests. Postfix
 * relays every outgoing message here; each one is written to `<dir>/<n>.eml` (the bytes as
 * received) with its envelope in `<n>.json`, and emitted as a 'message' event so tests wait
 * for the event instead of sleeping.
 *
 * Loopback only, no AUTH, no TLS (the private Postfix relays to it in plain text).
 * Recipients listed in `refuse` get `550 5.1.1 <addr>: Recipient address rejected` (a hard
 * bounce for the bounce tests). Messages are capped at MAX_CAPTURE_BYTES.
 *
 * Built on smtp-server (the maintained Nodemailer SMTP server).
 */
import { EventEmitter } from 'node:events';
import { mkdirSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { SMTPServer, type SMTPServerAddress } from 'smtp-server';

/** Largest message the sink keeps (bytes); bigger ones are refused with 552. */
export const MAX_CAPTURE_BYTES = 64 * 1024 * 1024;

export interface CapturedMessage {
  readonly n: number;
  readonly mailFrom: string;
  readonly rcptTo: readonly string[];
  readonly raw: Buffer;
  readonly file: string | null;
}

export interface CaptureSinkOptions {
  /** Where to write .eml/.json files; null keeps messages in memory only. */
  readonly dir: string | null;
  readonly host?: string;
  /** 0 = any free port. */
  readonly port?: number;
  /** Recipients (lower-case) refused with 550 5.1.1. */
  readonly refuse?: ReadonlySet<string>;
  /** Recipients (lower-case) refused with the given reply, e.g. 554 and "5.7.1 … blocked using zen.spamhaus.org". */
  readonly refuseWith?: ReadonlyMap<string, { readonly code: number; readonly text: string }>;
  /**
   * The 250 text after DATA: 'captured' (default) `Ok: captured as <n>`, or 'queued'
   * `Ok: queued as CAPT<n>`, the form of Postfix's own reply, so the sink can stand in for
   * Postfix's re-injection listener (tests of the accept step).
   */
  readonly reply?: 'captured' | 'queued';
}

export class CaptureSink extends EventEmitter<{ message: [CapturedMessage] }> {
  readonly messages: CapturedMessage[] = [];
  private readonly server: SMTPServer;
  private count = 0;
  port = 0;

  constructor(private readonly opts: CaptureSinkOptions) {
    super();
    if (opts.dir !== null) mkdirSync(opts.dir, { recursive: true });
    this.server = new SMTPServer({
      authOptional: true,
      disabledCommands: ['AUTH', 'STARTTLS'],
      hideSTARTTLS: true,
      logger: false,
      size: MAX_CAPTURE_BYTES,
      banner: 'trxmail capture sink',
      onRcptTo: (address: SMTPServerAddress, _session, callback) => {
        if (opts.refuse?.has(address.address.toLowerCase())) {
          const err = new Error(`5.1.1 <${address.address}>: Recipient address rejected: user unknown`) as Error & { responseCode: number };
          err.responseCode = 550;
          callback(err);
          return;
        }
        const custom = opts.refuseWith?.get(address.address.toLowerCase());
        if (custom !== undefined) {
          const err = new Error(custom.text) as Error & { responseCode: number };
          err.responseCode = custom.code;
          callback(err);
          return;
        }
        callback();
      },
      onData: (stream, session, callback) => {
        const chunks: Buffer[] = [];
        stream.on('data', (c: Buffer) => chunks.push(c));
        stream.on('end', () => {
          if ((stream as unknown as { sizeExceeded?: boolean }).sizeExceeded) {
            const err = new Error('5.3.4 Message too big for the capture sink') as Error & { responseCode: number };
            err.responseCode = 552;
            callback(err);
            return;
          }
          const n = ++this.count;
          const raw = Buffer.concat(chunks);
          const mailFrom = session.envelope.mailFrom === false ? '' : session.envelope.mailFrom.address;
          const rcptTo = session.envelope.rcptTo.map((r) => r.address);
          let file: string | null = null;
          if (this.opts.dir !== null) {
            file = path.join(this.opts.dir, `${String(n).padStart(5, '0')}.eml`);
            writeFileSync(file, raw);
            writeFileSync(file.replace(/\.eml$/, '.json'), JSON.stringify({ mailFrom, rcptTo, receivedAt: new Date() }, null, 2) + '\n');
          }
          const msg: CapturedMessage = { n, mailFrom, rcptTo, raw, file };
          this.messages.push(msg);
          this.emit('message', msg);
          callback(null, this.opts.reply === 'queued' ? `Ok: queued as CAPT${n}` : `Ok: captured as ${n}`);
        });
      },
    });
  }

  async listen(): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.opts.port ?? 0, this.opts.host ?? '127.0.0.1', () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    this.port = (this.server.server.address() as AddressInfo).port;
    return this.port;
  }

  /** Resolves with the first captured message (already captured or future) matching `pred`. */
  waitFor(pred: (m: CapturedMessage) => boolean, timeoutMs = 30_000): Promise<CapturedMessage> {
    const found = this.messages.find(pred);
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.off('message', on);
        reject(new Error(`capture sink: no matching message within ${timeoutMs} ms`));
      }, timeoutMs);
      const on = (m: CapturedMessage): void => {
        if (!pred(m)) return;
        clearTimeout(timer);
        this.off('message', on);
        resolve(m);
      };
      this.on('message', on);
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
