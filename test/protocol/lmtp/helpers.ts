/**
 * A raw LMTP client for the protocol tests (independent of smtp-server and nodemailer): writes
 * command lines and reads complete replies (multi-line replies joined), nothing more.
 */
import net from 'node:net';

export interface Reply {
  readonly code: number;
  /** The text of the last line (after "NNN "). */
  readonly text: string;
  readonly lines: readonly string[];
}

export class RawLmtpClient {
  readonly #socket: net.Socket;
  #buffer = '';
  #pending: string[] = [];
  readonly #replies: Reply[] = [];
  #waiters: Array<() => void> = [];
  #closed = false;

  private constructor(socket: net.Socket) {
    this.#socket = socket;
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => this.#onData(chunk));
    socket.on('close', () => {
      this.#closed = true;
      this.#wake();
    });
    socket.on('error', () => undefined);
  }

  static connect(opts: { port: number; host?: string } | { path: string }): Promise<RawLmtpClient> {
    return new Promise((resolve, reject) => {
      const socket = 'path' in opts ? net.connect(opts.path) : net.connect(opts.port, opts.host ?? '127.0.0.1');
      socket.once('connect', () => resolve(new RawLmtpClient(socket)));
      socket.once('error', reject);
    });
  }

  #onData(chunk: string): void {
    this.#buffer += chunk;
    let nl: number;
    while ((nl = this.#buffer.indexOf('\r\n')) >= 0) {
      const line = this.#buffer.slice(0, nl);
      this.#buffer = this.#buffer.slice(nl + 2);
      this.#pending.push(line);
      if (/^\d{3}(?: |$)/.test(line)) {
        this.#replies.push({ code: Number(line.slice(0, 3)), text: line.slice(4), lines: this.#pending });
        this.#pending = [];
      }
    }
    this.#wake();
  }

  #wake(): void {
    const w = this.#waiters;
    this.#waiters = [];
    for (const f of w) f();
  }

  /** The next `n` replies (waits for them; rejects if the connection closes first). */
  async replies(n: number): Promise<Reply[]> {
    while (this.#replies.length < n) {
      if (this.#closed) throw new Error(`connection closed after ${this.#replies.length} of ${n} replies`);
      await new Promise<void>((resolve) => this.#waiters.push(resolve));
    }
    return this.#replies.splice(0, n);
  }

  async reply(): Promise<Reply> {
    const [r] = await this.replies(1);
    if (!r) throw new Error('no reply');
    return r;
  }

  write(text: string | Buffer): void {
    this.#socket.write(text);
  }

  /** Sends a command line and returns its reply. */
  async command(line: string): Promise<Reply> {
    this.write(`${line}\r\n`);
    return this.reply();
  }

  /** Waits until the server closes the connection. */
  async closed(): Promise<void> {
    while (!this.#closed) await new Promise<void>((resolve) => this.#waiters.push(resolve));
  }

  end(): void {
    this.#socket.end();
  }

  destroy(): void {
    this.#socket.destroy();
  }
}

/** Dot-stuffs a CRLF message for DATA and appends the terminating line. */
export function dataBlock(message: Buffer): Buffer {
  const text = message.toString('latin1').replace(/\r?\n/g, '\r\n');
  const stuffed = text.replace(/^\./gm, '..');
  return Buffer.from(`${stuffed}${stuffed.endsWith('\r\n') ? '' : '\r\n'}.\r\n`, 'latin1');
}

/**
 * One whole LMTP transaction: greeting, LHLO, MAIL FROM, RCPT TO each, DATA, the message.
 * Returns the RCPT replies and the per-recipient replies after the final dot.
 */
export async function transaction(
  client: RawLmtpClient,
  opts: { mailFrom: string; rcptTo: readonly string[]; message: Buffer },
): Promise<{ rcpt: Reply[]; data: Reply[] }> {
  const greeting = await client.reply();
  if (greeting.code !== 220) throw new Error(`greeting ${greeting.code} ${greeting.text}`);
  const lhlo = await client.command('LHLO relay.trxmail.test');
  if (lhlo.code !== 250) throw new Error(`LHLO ${lhlo.code} ${lhlo.text}`);
  const mail = await client.command(`MAIL FROM:<${opts.mailFrom}>`);
  if (mail.code !== 250) throw new Error(`MAIL ${mail.code} ${mail.text}`);
  const rcpt: Reply[] = [];
  for (const r of opts.rcptTo) rcpt.push(await client.command(`RCPT TO:<${r}>`));
  const accepted = rcpt.filter((r) => r.code === 250).length;
  const data = await client.command('DATA');
  if (data.code !== 354) return { rcpt, data: [data] };
  client.write(dataBlock(opts.message));
  return { rcpt, data: await client.replies(accepted) };
}
