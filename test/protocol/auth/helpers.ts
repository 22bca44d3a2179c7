/**
 * Independent builders for Dovecot auth-protocol test traffic: lines are written out by
 * hand here (template strings, Buffer base64), never with the production serialisers, so a
 * bug in the codec cannot hide in the expectations.
 */
import { execFileSync } from 'node:child_process';
import net from 'node:net';
import type { AuthRequestMeta, AuthVerifier, VerifyResult } from '../../../src/auth/session.js';
import type { Logger } from '../../../src/lib/logger.js';

/** A client line: fields joined by TAB, LF-terminated. */
export function line(...fields: (string | number)[]): string {
  return fields.join('\t') + '\n';
}

export function b64(data: string | Uint8Array): string {
  return Buffer.from(data).toString('base64');
}

/** RFC 4616 PLAIN message, base64. */
export function plain(authzid: string, authcid: string, password: string): string {
  return b64(`${authzid}\0${authcid}\0${password}`);
}

/** What Postfix 3.7 sends right after connecting (xsasl_dovecot_server_connect). */
export const POSTFIX_HELLO = 'VERSION\t1\t0\nCPID\t4242\n';

/** An AUTH line exactly as Postfix 3.7 writes it (xsasl_dovecot_server_first). */
export function postfixAuth(
  id: number,
  mechanism: string,
  opts: { resp?: string; secured?: boolean; rip?: string; lip?: string } = {},
): string {
  let s = `AUTH\t${id}\t${mechanism}\tservice=smtp\tnologin\tlip=${opts.lip ?? '127.0.0.1'}\trip=${opts.rip ?? '192.0.2.10'}`;
  if (opts.secured ?? true) s += '\tsecured';
  if (opts.resp !== undefined) s += `\tresp=${opts.resp}`;
  return s + '\n';
}

export const IDENTITY = { spid: 777, cuid: 5, cookie: '0123456789abcdef0123456789abcdef' };

/** The handshake we expect for PLAIN+LOGIN, written out literally. */
export function handshake(id: { spid: number; cuid: number; cookie: string } = IDENTITY, mechs = ['PLAIN', 'LOGIN']): string {
  return (
    'VERSION\t1\t2\n' +
    mechs.map((m) => `MECH\t${m}\tplaintext\n`).join('') +
    `SPID\t${id.spid}\nCUID\t${id.cuid}\nCOOKIE\t${id.cookie}\nDONE\n`
  );
}

export const USERNAME_PROMPT = 'VXNlcm5hbWU6'; // base64("Username:")
export const PASSWORD_PROMPT = 'UGFzc3dvcmQ6'; // base64("Password:")

export interface VerifyCall {
  readonly login: string;
  readonly password: string;
  readonly meta: AuthRequestMeta;
}

/**
 * A fake credential store: joe@example.com / "s3cret pass" (canonical user joe@example.com,
 * any letter case of the login), temp@example.com → tempfail, boom@example.com → throws.
 */
export function fakeVerify(calls: VerifyCall[]): AuthVerifier {
  return (login, password, meta) => {
    calls.push({ login, password, meta });
    const key = login.toLowerCase();
    if (key === 'boom@example.com') return Promise.reject(new Error('store exploded'));
    if (key === 'temp@example.com') return Promise.resolve<VerifyResult>({ status: 'tempfail' });
    if (key === 'joe@example.com' && password === PASSWORD) return Promise.resolve<VerifyResult>({ status: 'ok', user: 'joe@example.com' });
    return Promise.resolve<VerifyResult>({ status: 'fail' });
  };
}
export const PASSWORD = 's3cret pass';

/** A logger that keeps every record as one JSON string. */
export function captureLogger(): { logger: Logger; records: string[] } {
  const records: string[] = [];
  const keep =
    (level: string) =>
    (obj: object, msg: string): void => {
      records.push(JSON.stringify({ level, msg, ...obj }, (_k, v: unknown) => (v instanceof Error ? { message: v.message } : v)));
    };
  return { logger: { debug: keep('debug'), info: keep('info'), warn: keep('warn'), error: keep('error') }, records };
}

/** A deferred promise the test resolves by hand. */
export function deferred<T>(): { promise: Promise<T>; resolve: (v: T) => void } {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

/** A connected test client that collects everything the server sends. */
export interface TestClient {
  readonly socket: net.Socket;
  /** Everything received so far. */
  received(): string;
  /** Resolves once the received text satisfies `pred`. Rejects if the connection closes first. */
  waitFor(pred: (text: string) => boolean): Promise<string>;
  /** Resolves when the server has closed the connection; gives the text received. */
  closed: Promise<string>;
}

export function connectClient(target: { port: number; host: string } | { path: string }): Promise<TestClient> {
  return new Promise((resolve, reject) => {
    const socket = 'path' in target ? net.connect(target.path) : net.connect(target.port, target.host);
    let text = '';
    const waiters: { pred: (t: string) => boolean; resolve: (t: string) => void; reject: (e: Error) => void }[] = [];
    const check = (): void => {
      for (const w of [...waiters]) {
        if (w.pred(text)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(text);
        }
      }
    };
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => {
      text += d;
      check();
    });
    const closed = new Promise<string>((res) => {
      socket.on('close', () => {
        for (const w of waiters.splice(0)) w.reject(new Error(`connection closed; received: ${JSON.stringify(text)}`));
        res(text);
      });
    });
    socket.on('error', () => undefined); // resets after a server-side drop are expected
    socket.once('connect', () =>
      resolve({
        socket,
        received: () => text,
        waitFor: (pred) =>
          pred(text)
            ? Promise.resolve(text)
            : new Promise((res, rej) => {
                waiters.push({ pred, resolve: res, reject: rej });
              }),
        closed,
      }),
    );
    socket.once('error', reject);
  });
}

/** Leave a stale unix socket file at `path`: a child process binds it and dies without cleaning up. */
export function makeStaleSocket(path: string): void {
  execFileSync(process.execPath, ['-e', `require('node:net').createServer().listen(${JSON.stringify(path)}, () => process.exit(0))`]);
}
