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
 * Limits: each reply must come within `replyTimeoutMs`; a reply is at most MAX_REPLY_BYTES;
 * the whole run ends by `deadlineMs`. A session that gets an unexpected reply or an error
 * stops; the result counts what was accepted (2xx after the final ".") and keeps the first
 * MAX_ERRORS error texts. runSmtpLoad never throws for SMTP trouble, it reports it.
 */
import net from 'node:net';
import tls from 'node:tls';

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

const MAX_REPLY_BYTES = 64 * 1024;
const MAX_ERRORS = 5;

interface Reply {
  readonly code: number;
  readonly text: string;
}

/** Dot-stuffs (RFC 5321 §4.5.2) and appends the terminating ".". */
export function dataPayload(message: Buffer): Buffer {
  let text = message.toString('latin1');
  if (!text.endsWith('\r\n')) text += '\r\n';
  text = text.replace(/(^|\r\n)\./g, '$1..');
  return Buffer.from(text + '.\r\n', 'latin1');
}

/** One SMTP connection: writes commands, reads one (possibly multi-line) reply per command. */
class Connection {
  private socket: net.Socket | tls.TLSSocket;
  private buffer = '';
  private lines: string[] = [];
  private waiting: { resolve: (r: Reply) => void; reject: (e: Error) => void; timer: NodeJS.Timeout } | null = null;
  private ready: Reply[] = [];
  private failure: Error | null = null;
  private readonly onData = (chunk: string): void => this.feed(chunk);

  constructor(
    socket: net.Socket,
    private readonly timeoutMs: number,
  ) {
    this.socket = socket;
    this.attach(socket);
  }

  private attach(socket: net.Socket | tls.TLSSocket): void {
    socket.setEncoding('latin1');
    socket.on('data', this.onData);
    socket.on('error', (err) => this.fail(err));
    socket.on('close', () => this.fail(new Error('connection closed')));
  }

  private fail(err: Error): void {
    this.failure ??= err;
    if (this.waiting) {
      const w = this.waiting;
      this.waiting = null;
      clearTimeout(w.timer);
      w.reject(err);
    }
  }

  private feed(chunk: string): void {
    this.buffer += chunk;
    if (this.buffer.length > MAX_REPLY_BYTES) {
      this.fail(new Error('reply too long'));
      this.socket.destroy();
      return;
    }
    let nl: number;
    while ((nl = this.buffer.indexOf('\r\n')) >= 0) {
      const line = this.buffer.slice(0, nl);
      this.buffer = this.buffer.slice(nl + 2);
      this.lines.push(line);
      // "250-..." continues a reply, "250 ..." or "250" ends it.
      if (line.length < 4 || line[3] !== '-') {
        const code = Number(line.slice(0, 3));
        const reply: Reply = { code: Number.isInteger(code) ? code : 0, text: this.lines.join(' | ') };
        this.lines = [];
        if (this.waiting) {
          const w = this.waiting;
          this.waiting = null;
          clearTimeout(w.timer);
          w.resolve(reply);
        } else {
          this.ready.push(reply);
        }
      }
    }
  }

  /** The next reply (already buffered, or the next to arrive within the timeout). */
  reply(): Promise<Reply> {
    const r = this.ready.shift();
    if (r) return Promise.resolve(r);
    if (this.failure) return Promise.reject(this.failure);
    return new Promise<Reply>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting = null;
        reject(new Error(`no reply within ${this.timeoutMs} ms`));
      }, this.timeoutMs);
      this.waiting = { resolve, reject, timer };
    });
  }

  async command(line: string | Buffer, expect: number): Promise<Reply> {
    this.socket.write(typeof line === 'string' ? line + '\r\n' : line);
    const r = await this.reply();
    if (Math.floor(r.code / 100) !== Math.floor(expect / 100)) {
      throw new Error(`${typeof line === 'string' ? line.split(' ')[0] : 'DATA body'}: expected ${expect}, got ${r.text.slice(0, 200)}`);
    }
    return r;
  }

  /** Upgrades to TLS after a 220 to STARTTLS (the server's certificate is not checked: bench). */
  async startTls(): Promise<void> {
    const plain = this.socket;
    plain.removeListener('data', this.onData);
    plain.removeAllListeners('close');
    plain.removeAllListeners('error');
    const secure = tls.connect({ socket: plain, rejectUnauthorized: false });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('TLS handshake timed out')), this.timeoutMs);
      secure.once('secureConnect', () => {
        clearTimeout(timer);
        resolve();
      });
      secure.once('error', (err: unknown) => {
        clearTimeout(timer);
        reject(err instanceof Error ? err : new Error(String(err)));
      });
    });
    this.socket = secure;
    this.buffer = '';
    this.attach(secure);
  }

  close(): void {
    this.socket.destroy();
  }
}

function connectTo(host: string, port: number, timeoutMs: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host, port });
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error(`connect to ${host}:${port} timed out`));
    }, timeoutMs);
    s.once('connect', () => {
      clearTimeout(timer);
      s.setNoDelay(true);
      resolve(s);
    });
    s.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

export async function runSmtpLoad(o: SmtpLoadOptions): Promise<SmtpLoadResult> {
  const payload = dataPayload(o.message);
  const authLine =
    o.auth === null ? null : 'AUTH PLAIN ' + Buffer.from(`\0${o.auth.user}\0${o.auth.pass}`, 'utf8').toString('base64');
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
    let c: Connection | null = null;
    try {
      c = new Connection(await connectTo(o.host, o.port, o.replyTimeoutMs), o.replyTimeoutMs);
      const greeting = await c.reply();
      if (greeting.code !== 220) throw new Error(`greeting: ${greeting.text}`);
      await c.command(`EHLO ${o.helo}`, 250);
      if (o.starttls) {
        await c.command('STARTTLS', 220);
        await c.startTls();
        await c.command(`EHLO ${o.helo}`, 250);
      }
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
