/**
 * A small SMTP client that goes one command at a time and hands back every reply, whatever
 * its code: what the end-to-end tests need to stop a session between two commands (fail the
 * store after AUTH, after MAIL, before the final ".") and what bench/lib/smtp-load.ts drives
 * its parallel sessions with. STARTTLS (RFC 3207; the server's certificate is not checked:
 * loopback tests) and AUTH PLAIN (RFC 4954/4616). No PIPELINING.
 *
 * Limits: each reply must come within `timeoutMs` (a reply that does not is an error naming
 * the wait, never a hang); a reply is at most MAX_REPLY_BYTES.
 */
import net from 'node:net';
import tls from 'node:tls';

const MAX_REPLY_BYTES = 64 * 1024;

export interface SmtpReply {
  readonly code: number;
  /** Every line of the reply, joined by " | ". */
  readonly text: string;
}

/** Dot-stuffs (RFC 5321 §4.5.2) and appends the terminating ".". */
export function dataPayload(message: Buffer): Buffer {
  let text = message.toString('latin1');
  if (!text.endsWith('\r\n')) text += '\r\n';
  text = text.replace(/(^|\r\n)\./g, '$1..');
  return Buffer.from(text + '.\r\n', 'latin1');
}

/** AUTH PLAIN's command line for `user` and `pass`. */
export function authPlainLine(user: string, pass: string): string {
  return 'AUTH PLAIN ' + Buffer.from(`\0${user}\0${pass}`, 'utf8').toString('base64');
}

/** One SMTP connection: writes commands, reads one (possibly multi-line) reply per command. */
export class SmtpConnection {
  private socket: net.Socket | tls.TLSSocket;
  private buffer = '';
  private lines: string[] = [];
  private waiting: { resolve: (r: SmtpReply) => void; reject: (e: Error) => void; timer: NodeJS.Timeout } | null = null;
  private ready: SmtpReply[] = [];
  private failure: Error | null = null;
  private readonly onData = (chunk: string): void => this.feed(chunk);

  constructor(
    socket: net.Socket,
    private readonly timeoutMs: number,
  ) {
    this.socket = socket;
    this.attach(socket);
  }

  /** Connects (bounded by `timeoutMs`) and reads the greeting, which must be 220. */
  static async open(host: string, port: number, timeoutMs: number): Promise<SmtpConnection> {
    const c = new SmtpConnection(await connectTo(host, port, timeoutMs), timeoutMs);
    const greeting = await c.reply();
    if (greeting.code !== 220) {
      c.close();
      throw new Error(`greeting: ${greeting.text}`);
    }
    return c;
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
        const reply: SmtpReply = { code: Number.isInteger(code) ? code : 0, text: this.lines.join(' | ') };
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
  reply(): Promise<SmtpReply> {
    const r = this.ready.shift();
    if (r) return Promise.resolve(r);
    if (this.failure) return Promise.reject(this.failure);
    return new Promise<SmtpReply>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting = null;
        reject(new Error(`no reply within ${this.timeoutMs} ms`));
      }, this.timeoutMs);
      this.waiting = { resolve, reject, timer };
    });
  }

  /** Writes a command line (CRLF added) or raw bytes (a DATA payload) and resolves with the reply, whatever its code. */
  send(line: string | Buffer): Promise<SmtpReply> {
    this.write(line);
    return this.reply();
  }

  /** Writes without waiting for a reply (e.g. a message body before its final "."). */
  write(data: string | Buffer): void {
    this.socket.write(typeof data === 'string' ? data + '\r\n' : data);
  }

  /** send(), and throws unless the reply is in the class of `expect` (2xx for 250, ...). */
  async command(line: string | Buffer, expect: number): Promise<SmtpReply> {
    const r = await this.send(line);
    if (Math.floor(r.code / 100) !== Math.floor(expect / 100)) {
      throw new Error(`${typeof line === 'string' ? line.split(' ')[0] : 'DATA body'}: expected ${expect}, got ${r.text.slice(0, 200)}`);
    }
    return r;
  }

  /** EHLO, then STARTTLS and EHLO again when `starttls`. */
  async hello(helo: string, starttls: boolean): Promise<void> {
    await this.command(`EHLO ${helo}`, 250);
    if (!starttls) return;
    await this.command('STARTTLS', 220);
    await this.startTls();
    await this.command(`EHLO ${helo}`, 250);
  }

  /** Upgrades to TLS after a 220 to STARTTLS. */
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
