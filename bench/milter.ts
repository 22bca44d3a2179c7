/**
 * trxmail's own CPU per message on the milter path, without Postfix (issue 15).
 *
 *   npx tsx bench/milter.ts [--messages N] [--sessions S] [--size BYTES] [--flags F]
 *                           [--rounds R] [--warmup W] [--store sqlite|postgres] [--pg-url URL]
 *                           [--profile]
 *
 * One trxmail node in this process (bench/lib/trxmail-node.ts: the shipped runtime, a
 * temporary SQLite store or PostgreSQL database, pino JSON lines to a file) and, in a child
 * process, S milter connections replaying Postfix's side (bench/lib/milter-load-child.ts)
 * for N messages of the bench message (bench/lib/messages.ts, X-Mxm-Flags F). Everything but
 * Postfix runs: the login check at MAIL, the accept step (rules, suppression, sending count,
 * the record in the store, DKIM signature, tracking when F asks for it) and the edits sent back.
 *
 * Per run it prints messages/s (the client's wall time) and this process's CPU time per
 * message (process.cpuUsage(): user and system, every thread, so RSA signing on the thread
 * pool counts), then the medians over the rounds. Bench/postfix measures the same process
 * under Postfix's load, where preemption and cache misses make it noisier; this is the figure
 * to compare code changes with.
 *
 * Checks per run: every message answered with continue/accept, and the store holding one send
 * per message. --profile adds an unmeasured, V8-profiled run and prints self and total time
 * by function (the .cpuprofile is saved in the temp dir).
 *
 * Loopback only; ports chosen free; the temporary directory (and database) removed at the end
 * (KEEP=1 keeps the directory, with the node's log, for a look after a failed run).
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { freePorts } from '../test/helpers/net.js';
import { CpuProfiler, summariseProfile, type CpuProfile } from './lib/cpu-profile.js';
import { makeMessage } from './lib/messages.js';
import { createBenchDatabase, DEFAULT_PG_ADMIN_URL, type BenchDatabase } from './lib/pg-bench-db.js';
import { startTrxmailNode, type TrxmailNode } from './lib/trxmail-node.js';

const SENDER_DOMAIN = 'oxfordstones.example';
const LOGIN = `bench@${SENDER_DOMAIN}`;

const { values } = parseArgs({
  options: {
    messages: { type: 'string', default: '2000' },
    sessions: { type: 'string', default: '20' },
    size: { type: 'string', default: '5120' },
    flags: { type: 'string', default: '0' },
    rounds: { type: 'string', default: '3' },
    warmup: { type: 'string', default: '300' },
    store: { type: 'string', default: 'sqlite' },
    'pg-url': { type: 'string' },
    profile: { type: 'boolean', default: false },
  },
});

function int(name: string, v: string | undefined, min: number, max: number): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) throw new Error(`--${name}: expected an integer from ${min} to ${max}, got ${String(v)}`);
  return n;
}

const opts = {
  messages: int('messages', values.messages, 1, 1_000_000),
  sessions: int('sessions', values.sessions, 1, 500),
  size: int('size', values.size, 1024, 50 * 1024 * 1024),
  flags: int('flags', values.flags, 0, 15),
  rounds: int('rounds', values.rounds, 1, 50),
  warmup: int('warmup', values.warmup, 1, 100_000),
  store: values.store === 'postgres' ? 'postgres' : values.store === 'sqlite' ? 'sqlite' : null,
  pgUrl: values['pg-url'] ?? process.env['TRXMAIL_TEST_PG_URL'] ?? DEFAULT_PG_ADMIN_URL,
  profile: values.profile === true,
};
if (opts.store === null) throw new Error(`--store: expected sqlite or postgres, got ${String(values.store)}`);

interface Run {
  readonly count: number;
  readonly secs: number;
  readonly userMs: number;
  readonly systemMs: number;
}

async function load(port: number, count: number, messageFile: string): Promise<{ accepted: number; otherReplies: string[]; secs: number }> {
  const child = spawn(
    process.execPath,
    ['--import', import.meta.resolve('tsx'), fileURLToPath(new URL('./lib/milter-load-child.ts', import.meta.url)),
      JSON.stringify({ host: '127.0.0.1', port, sessions: opts.sessions, messages: count, messageFile, login: LOGIN, sender: `news@${SENDER_DOMAIN}`, recipient: 'someone@example.net' })],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  if (code !== 0) throw new Error(`milter load child exited ${String(code)}: ${err.trim()}`);
  return JSON.parse(out.trim().split('\n').pop() ?? '{}') as { accepted: number; otherReplies: string[]; secs: number };
}

async function runOnce(node: TrxmailNode, port: number, count: number, messageFile: string): Promise<Run> {
  const since = new Date();
  // The child starts before the CPU snapshot: its start-up (tsx) is not ours.
  const cpu0 = process.cpuUsage();
  const r = await load(port, count, messageFile);
  const cpu = process.cpuUsage(cpu0);
  if (r.accepted !== count) throw new Error(`${count - r.accepted} of ${count} messages not accepted: ${r.otherReplies.join(' / ')}`);
  const stored = await node.store.listSends({ spaceId: node.spaceId, since, limit: count + 1 });
  if (stored.length !== count) throw new Error(`store holds ${stored.length} sends for this run, expected ${count}`);
  return { count, secs: r.secs, userMs: cpu.user / 1000, systemMs: cpu.system / 1000 };
}

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

function line(label: string, r: Run): string {
  const per = (ms: number): string => (ms / r.count).toFixed(3);
  return `${label.padEnd(9)} ${String(r.count).padStart(6)} msgs  ${(r.count / r.secs).toFixed(1).padStart(7)} msg/s  CPU ms/msg ${per(r.userMs + r.systemMs)} (user ${per(r.userMs)}, system ${per(r.systemMs)})`;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(path.join(tmpdir(), 'trx-bench-milter-'));
  let db: BenchDatabase | null = null;
  let node: TrxmailNode | null = null;
  try {
    const ports = await freePorts(8);
    const port = (i: number): number => ports[i]!;
    let store: Record<string, unknown>;
    if (opts.store === 'postgres') {
      db = await createBenchDatabase(opts.pgUrl);
      store = { driver: 'postgres', url: db.url };
    } else {
      store = { driver: 'sqlite', path: path.join(dir, 'data', 'trxmail.db') };
    }
    node = await startTrxmailNode({
      name: 'bench-milter',
      dir,
      store,
      ports: { milter: port(0), policy: port(1), auth: port(2), lmtp: port(3), socketmap: port(4), http: port(5), metrics: port(6), reinject: port(7) },
      bounceDomain: 'bounces.bench.test',
      secret: randomBytes(24).toString('base64url'),
      senderDomain: SENDER_DOMAIN,
      login: LOGIN,
      password: randomBytes(12).toString('base64url'),
    });
    const generated = makeMessage(opts.size).toString('latin1');
    const message = generated.replace('\r\nX-Mxm-Flags: 3\r\n', `\r\nX-Mxm-Flags: ${opts.flags}\r\n`);
    const messageFile = path.join(dir, 'message.eml');
    writeFileSync(messageFile, message, 'latin1');
    console.log(
      `bench/milter: ${opts.messages} messages of ${message.length} bytes (X-Mxm-Flags: ${opts.flags}), ${opts.sessions} milter connections, ` +
        `${opts.store} store, ${opts.rounds} rounds after a ${opts.warmup}-message warm-up`,
    );
    console.log(`machine: ${cpus().length} CPUs, load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}, node ${process.version}`);
    console.log(line('warm-up', await runOnce(node, port(0), opts.warmup, messageFile)));
    const runs: Run[] = [];
    for (let i = 1; i <= opts.rounds; i++) {
      const r = await runOnce(node, port(0), opts.messages, messageFile);
      runs.push(r);
      console.log(line(`round ${i}`, r));
    }
    const med: Run = {
      count: opts.messages,
      secs: median(runs.map((r) => r.secs)),
      userMs: median(runs.map((r) => r.userMs)),
      systemMs: median(runs.map((r) => r.systemMs)),
    };
    console.log(line('median', med));
    if (opts.profile) {
      const profiler = new CpuProfiler();
      await profiler.start(200);
      const r = await runOnce(node, port(0), opts.messages, messageFile);
      const profile: CpuProfile = await profiler.stop();
      const file = path.join(tmpdir(), `trx-bench-milter-${Date.now()}.cpuprofile`);
      writeFileSync(file, JSON.stringify(profile));
      const s = summariseProfile(profile, r.count);
      console.log(`profiled ${line('run', r)}; busy ${s.busyMs.toFixed(0)} ms, idle ${s.idleMs.toFixed(0)} ms; saved ${file}`);
      for (const f of s.byFunction.slice(0, 30)) console.log(`  ${f.share.toFixed(1).padStart(5)}%  ${f.ms.toFixed(0).padStart(6)} ms  ${f.name}`);
    }
    console.log(`load average at the end: ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  } finally {
    await node?.close().catch(() => undefined);
    await db?.drop().catch(() => undefined);
    if (process.env["KEEP"] !== "1") rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(`bench/milter: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
