/**
 * Postfix's `smtp-sink` as the "recipient MX" of bench/postfix: a separate C process (so
 * counting deliveries costs the measured Node process nothing), started as root with
 * `-u postfix -c 127.0.0.1:PORT BACKLOG`, loopback only.
 *
 * Counting: with `-c`, smtp-sink writes `sess=N quit=N mesg=N\r` to stdout whenever a
 * session ends, QUIT is read or a message's final "." is received (smtp-sink(1)); `mesg` is
 * the number of messages delivered so far. waitFor(target) resolves with the hrtime at which
 * the counter was first seen at or above `target` — the "last delivery" time of a run.
 *
 * Limits: every wait is bounded by a timeout and an AbortSignal; the stdout parser keeps at
 * most one partial record (MAX_PARTIAL bytes). Throws Error with the sink's stderr on start
 * failure, timeout or early exit.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { connect } from 'node:net';

export const SMTP_SINK_BIN = '/usr/sbin/smtp-sink';
/** Longest unterminated stdout record we keep (a record is ~40 bytes). */
const MAX_PARTIAL = 4096;
/** How long we wait for smtp-sink to listen, and for it to exit on stop(). */
const START_TIMEOUT_MS = 10_000;
const STOP_TIMEOUT_MS = 5_000;

interface Waiter {
  readonly target: number;
  readonly resolve: (at: bigint) => void;
  readonly reject: (err: Error) => void;
}

export class SmtpSink {
  /** Messages delivered so far (smtp-sink's `mesg=` counter). */
  count = 0;
  private partial = '';
  private stderr = '';
  private exited = false;
  private readonly waiters = new Set<Waiter>();

  private constructor(
    private readonly child: ChildProcess,
    readonly port: number,
  ) {
    child.stdout?.setEncoding('latin1');
    child.stdout?.on('data', (chunk: string) => this.onData(chunk));
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      if (this.stderr.length < MAX_PARTIAL) this.stderr += chunk;
    });
    child.on('exit', (code, signal) => {
      this.exited = true;
      const err = new Error(`smtp-sink exited (${signal ?? code}): ${this.stderr.trim()}`);
      for (const w of this.waiters) w.reject(err);
      this.waiters.clear();
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Starts smtp-sink on 127.0.0.1:port and resolves once it accepts connections. */
  static async start(port: number, backlog = 1000): Promise<SmtpSink> {
    const child = spawn(SMTP_SINK_BIN, ['-u', 'postfix', '-c', `127.0.0.1:${port}`, String(backlog)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const sink = new SmtpSink(child, port);
    await new Promise<void>((resolve, reject) => {
      child.once('error', reject);
      child.once('spawn', () => resolve());
    });
    const deadline = Date.now() + START_TIMEOUT_MS;
    // No readiness signal exists: try to connect, a bounded number of times.
    for (let attempt = 0; ; attempt++) {
      if (sink.exited) throw new Error(`smtp-sink did not start: ${sink.stderr.trim()}`);
      if (await canConnect(port)) return sink;
      if (Date.now() > deadline || attempt > 200) {
        await sink.stop();
        throw new Error(`smtp-sink is not listening on 127.0.0.1:${port} after ${START_TIMEOUT_MS} ms`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  private onData(chunk: string): void {
    const text = this.partial + chunk;
    const end = text.lastIndexOf('\r');
    if (end < 0) {
      this.partial = text.length > MAX_PARTIAL ? '' : text;
      return;
    }
    this.partial = text.slice(end + 1, end + 1 + MAX_PARTIAL);
    const complete = text.slice(0, end);
    const at = complete.lastIndexOf('mesg=');
    if (at < 0) return;
    const n = Number.parseInt(complete.slice(at + 5, at + 16), 10);
    if (!Number.isSafeInteger(n) || n <= this.count) return;
    this.count = n;
    const now = process.hrtime.bigint();
    for (const w of this.waiters) {
      if (n >= w.target) {
        this.waiters.delete(w);
        w.resolve(now);
      }
    }
  }

  /** Resolves with the hrtime at which the counter reached `target` (at once if it has). */
  waitFor(target: number, timeoutMs: number, signal: AbortSignal): Promise<bigint> {
    if (this.count >= target) return Promise.resolve(process.hrtime.bigint());
    if (this.exited) return Promise.reject(new Error(`smtp-sink has exited: ${this.stderr.trim()}`));
    return new Promise<bigint>((resolve, reject) => {
      const done = (): void => {
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        this.waiters.delete(waiter);
      };
      const waiter: Waiter = {
        target,
        resolve: (at) => {
          done();
          resolve(at);
        },
        reject: (err) => {
          done();
          reject(err);
        },
      };
      const timer = setTimeout(
        () => waiter.reject(new Error(`smtp-sink counted ${this.count} messages, waited ${timeoutMs} ms for ${target}`)),
        timeoutMs,
      );
      const onAbort = (): void => waiter.reject(new Error('aborted'));
      if (signal.aborted) {
        onAbort();
        return;
      }
      signal.addEventListener('abort', onAbort, { once: true });
      this.waiters.add(waiter);
    });
  }

  /** SIGTERM, then SIGKILL if it has not exited within STOP_TIMEOUT_MS. */
  async stop(): Promise<void> {
    if (this.exited || this.child.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), STOP_TIMEOUT_MS);
    await exited;
    clearTimeout(timer);
  }
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port });
    s.setTimeout(1000);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('timeout', () => {
      s.destroy();
      resolve(false);
    });
    s.once('error', () => resolve(false));
  });
}
