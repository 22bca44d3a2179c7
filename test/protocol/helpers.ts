/**
 * Helpers shared by the protocol tests (auth, policy, milter): feeding a session split at
 * every byte offset, reading a ProtocolError's code, a recording logger, deferred promises,
 * and a TCP/unix test client for the servers. Protocol-specific builders stay in each
 * protocol's own helpers.ts (written by hand, never with the production codecs).
 */
import { execFileSync } from 'node:child_process';
import net from 'node:net';
import { expect } from 'vitest';
import { ProtocolError } from '../../src/lib/errors.js';
import type { Logger } from '../../src/lib/logger.js';

/** The code of the ProtocolError `fn` throws; fails the test when it throws nothing or something else. */
export function protocolCode(fn: () => unknown): string {
  try {
    fn();
  } catch (err: unknown) {
    if (err instanceof ProtocolError) return err.code;
    throw err;
  }
  throw new Error('expected a ProtocolError');
}

/**
 * Feed `chunks` to a session one receive() call each, as socket reads would. Stops at the
 * first ProtocolError and returns its code (null when there was none); rethrows anything else.
 */
export function feed(session: { receive(chunk: Buffer): void }, chunks: readonly Buffer[]): string | null {
  for (const chunk of chunks) {
    try {
      session.receive(chunk);
    } catch (err: unknown) {
      if (!(err instanceof ProtocolError)) throw err;
      return err.code;
    }
  }
  return null;
}

/**
 * Run `text` through `run` whole, split in two at every byte offset, and byte by byte; every
 * run must give the same outcome as the whole-buffer run, which is returned.
 */
export async function expectSplitInvariant<T extends object>(text: string, run: (chunks: readonly Buffer[]) => Promise<T>): Promise<T> {
  const bytes = Buffer.from(text);
  const whole = await run([bytes]);
  for (let k = 0; k <= bytes.length; k++) {
    const split = await run([bytes.subarray(0, k), bytes.subarray(k)]);
    expect({ k, ...split }).toEqual({ k, ...whole });
  }
  expect(await run([...bytes].map((b) => Buffer.from([b])))).toEqual(whole);
  return whole;
}

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

/** A promise with its resolver, for handlers that must wait for the test. */
export function deferred<T = void>(): { promise: Promise<T>; resolve: (v: T) => void } {
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
