/**
 * Postfix throughput with and without the trxmail milter (issue 3, item 8).
 *
 *   npx tsx bench/postfix.ts [--messages N] [--sessions S] [--size BYTES] [--rounds R]
 *                            [--warmup W] [--client source|node] [--no-prime] [--null-milter]
 *                            [--store sqlite|postgres|both] [--pg-url URL] [--pg-pool N]
 *                            [--flags F] [--profile] [--keep]
 *
 * Private Postfix instances (src/postfix/instance.ts, the shipped postfix/ files), all
 * relaying to one `smtp-sink`, run side by side (only one is loaded at a time):
 *   a)  without the milter (`smtpd_milters =`);
 *   b)  as shipped: the trxmail milter, with its policy service and SASL server, all served by
 *       a trxmail node in this process (bench/lib/trxmail-node.ts) on a temporary SQLite store;
 *   b') the same on a PostgreSQL store (issue 14 item 6): a node of its own in this process, on
 *       a temporary database (bench/lib/pg-bench-db.ts) of the server at --pg-url, else
 *       $TRXMAIL_TEST_PG_URL, else postgres://postgres@127.0.0.1:5432/postgres (trust).
 * --store picks b (sqlite, the default), b' (postgres) or both (b and b' in the same run,
 * interleaved per round with a; the ratio b'/b is then printed: the aim is PostgreSQL keeping
 * at least 0.9 of SQLite's throughput at 20 sessions). The database server's processes that
 * serve b' are counted in its CPU ("postgres (bench db)") when the server runs on this machine.
 * b' uses the shipped store settings (poolSize 10, timeouts 5 s); --pg-pool sets the pool size.
 * Each run injects N messages over S parallel sessions, reusing connections, and measures
 * throughput = messages counted by smtp-sink / wall time from the first injection to the last
 * delivery, plus the injection rate (the client's own wall time). A warm-up run on each
 * setup comes first (it is also the check that the setup works), then R rounds interleaved
 * a,b / b,a; each run is printed, then medians and the ratio b/a.
 *
 * The client, and so what is measured:
 *  --client source (default): Postfix's `smtp-source`, which cannot do TLS or AUTH, on a
 *    bench-only listener in both instances (plain text, no SASL, relay for 127.0.0.0/8,
 *    no policy service) where `milter_macro_defaults` (Postfix 3.1+) supplies the SASL login
 *    macro {auth_authen} that an unauthenticated session lacks. The milter runs its full
 *    rules path per message: account lookup, core evaluate, recordSend, envelope and header
 *    edits and, with tracking flags, the HTML body rewrite. TLS, SASL and the policy service
 *    are not exercised.
 *  --client node: a Node SMTP client (bench/lib/smtp-load.ts, a child process) with STARTTLS
 *    and AUTH PLAIN on the shipped submission listener of both instances: TLS, SASL against
 *    trxmail, the policy service at RCPT and, in b, the milter — everything as shipped.
 *    Before each run one untimed login fills trxmail's credential cache (--no-prime skips it
 *    and shows what S cold parallel logins get).
 *
 * Checks per run: the client saw every message accepted; the maillog has one `status=sent`
 * per message (and no rejections); in b the store holds one send per message, each keyed by
 * a queue id that the maillog shows as sent; in a (and n) it holds none. Any mismatch fails
 * the bench.
 * CPU time per message comes from /proc snapshots (bench/lib/proc-cpu.ts), by process:
 * "machine" is all cores' busy time, "own" leaves out processes that are not the bench's.
 * When Postfix is CPU-bound (it is on 2 cores), own-CPU a/b predicts the throughput ratio on
 * a machine nobody else uses; it is much steadier than wall time on a shared one.
 * --flags sets the message's X-Mxm-Flags (default 3: open and click tracking, so b also
 * rewrites the HTML body; 0 measures the rules without tracking).
 * --null-milter adds setup n: a milter on trxmail's milter stack that decides nothing
 * (bench/lib/null-milter.ts), to split b's cost into "any milter" and "the rules"; the
 * ratios n/a and b/n are printed too.
 * End-of-message latency in trxmail (n and b): from the session taking Postfix's `E` to its
 * last reply frame handed to the socket (bench/lib/eom-latency.ts), p50/p99 per run and the
 * median of those over the rounds.
 * --profile adds one more, unmeasured run of b under the V8 profiler and prints where this
 * process (trxmail's listeners) spent its time; the .cpuprofile is saved in the temp dir.
 *
 * Needs root (Postfix), Postfix's smtp-source/smtp-sink, Linux. Loopback only; ports chosen
 * free at start; every wait bounded; Postfix stopped, sink killed and the temporary directory
 * removed (unless --keep) on success, error and Ctrl-C.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { POSTFIX_INSTALL_HINT, PrivatePostfix, postfixInstalled } from '../src/postfix/instance.js';
import { freePorts } from '../test/helpers/net.js';
import { maillogSize, readMaillogFrom, summariseMaillog, type MaillogSummary } from './lib/maillog.js';
import { makeMessage } from './lib/messages.js';
import { startNullMilter } from './lib/null-milter.js';
import { CpuProfiler, summariseProfile, type CpuProfile } from './lib/cpu-profile.js';
import { EomLatency, quantile } from './lib/eom-latency.js';
import { cpuBetween, snapshotCpu, type CpuBreakdown } from './lib/proc-cpu.js';
import type { SmtpLoadResult } from './lib/smtp-load.js';
import { SmtpSink } from './lib/smtp-sink.js';
import { createBenchDatabase, DEFAULT_PG_ADMIN_URL, type BenchDatabase } from './lib/pg-bench-db.js';
import { startTrxmailNode, type TrxmailNode, type TrxmailNodePorts } from './lib/trxmail-node.js';

const SMTP_SOURCE_BIN = '/usr/sbin/smtp-source';
const HOSTNAME = 'relay.bench.test';
const BOUNCE_DOMAIN = 'bounces.bench.test';
const SENDER_DOMAIN = 'oxfordstones.example';
/** The generated message's From/To (bench/lib/messages.ts HEADER): the To is the envelope recipient. */
const MAIL_FROM = `news@${SENDER_DOMAIN}`;
const RCPT_TO = 'someone@example.net';
const LOGIN = `bench@${SENDER_DOMAIN}`;
/**
 * Ports (indexes into the free ports): 0 sink, 4 null milter, then 5 per Postfix (smtp,
 * submission, smtps, reinject, bench): 5-9 setup a, 10-14 n, 15-19 b, 20-24 b'; then 7 per
 * trxmail node (milter, policy, auth, lmtp, socketmap, http, metrics): 25-31 b's, 32-38 b''s.
 */
const POSTFIX_FIRST_PORT: Readonly<Record<SetupKey, number>> = { a: 5, n: 10, b: 15, "b'": 20 };
const NODE_FIRST_PORT = { b: 25, "b'": 32 } as const;
const PORT_COUNT = 39;
/** b' store timeouts: as shipped (the pool size is --pg-pool, default the shipped 10). */
const PG_STORE = { statementTimeoutMs: 5000, connectTimeoutMs: 5000 } as const;

// ---------------------------------------------------------------- arguments

interface Options {
  readonly messages: number;
  readonly sessions: number;
  readonly size: number;
  readonly rounds: number;
  readonly warmup: number;
  readonly client: 'source' | 'node';
  readonly keep: boolean;
  readonly profile: boolean;
  readonly nullMilter: boolean;
  /** --client node: log in once before each run so the credential cache is warm. */
  readonly primeLogin: boolean;
  /** X-Mxm-Flags of the message (3 = open and click tracking, the product default). */
  readonly flags: number;
  /** Which trxmail setups run: b (SQLite), b' (PostgreSQL) or both. */
  readonly store: 'sqlite' | 'postgres' | 'both';
  /** The PostgreSQL server (admin URL) for b'. */
  readonly pgUrl: string;
  /** b''s store.poolSize. */
  readonly pgPool: number;
}

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      messages: { type: 'string', default: '3000' },
      sessions: { type: 'string', default: '20' },
      size: { type: 'string', default: String(5 * 1024) },
      rounds: { type: 'string', default: '2' },
      warmup: { type: 'string', default: '300' },
      client: { type: 'string', default: 'source' },
      keep: { type: 'boolean', default: false },
      profile: { type: 'boolean', default: false },
      'null-milter': { type: 'boolean', default: false },
      'no-prime': { type: 'boolean', default: false },
      flags: { type: 'string', default: '3' },
      store: { type: 'string', default: 'sqlite' },
      'pg-url': { type: 'string' },
      'pg-pool': { type: 'string', default: '10' },
    },
    strict: true,
  });
  const int = (name: string, v: string | undefined, min: number, max: number): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > max) throw new Error(`--${name}: expected an integer from ${min} to ${max}, got ${v}`);
    return n;
  };
  const client = values.client;
  if (client !== 'source' && client !== 'node') throw new Error(`--client: expected source or node, got ${client}`);
  const store = values.store;
  if (store !== 'sqlite' && store !== 'postgres' && store !== 'both') throw new Error(`--store: expected sqlite, postgres or both, got ${store}`);
  return {
    messages: int('messages', values.messages, 1, 1_000_000),
    sessions: int('sessions', values.sessions, 1, 200),
    size: int('size', values.size, 512, 50 * 1024 * 1024),
    rounds: int('rounds', values.rounds, 1, 50),
    warmup: int('warmup', values.warmup, 1, 100_000),
    client,
    keep: values.keep,
    profile: values.profile,
    nullMilter: values['null-milter'],
    primeLogin: !values['no-prime'],
    flags: int('flags', values.flags, 0, 15),
    store,
    pgUrl: values['pg-url'] ?? process.env['TRXMAIL_TEST_PG_URL'] ?? DEFAULT_PG_ADMIN_URL,
    pgPool: int('pg-pool', values['pg-pool'], 1, 1000),
  };
}

// ---------------------------------------------------------------- set-up

type SetupKey = 'a' | 'n' | 'b' | "b'";
const LABELS: Readonly<Record<SetupKey, string>> = { a: 'without milter', n: 'null milter', b: 'trxmail, SQLite', "b'": 'trxmail, PostgreSQL' };

interface Setup {
  readonly key: SetupKey;
  readonly label: string;
  readonly postfix: PrivatePostfix;
  /** Where the client injects. */
  readonly port: number;
  masterPid: number;
  /** b and b': the trxmail node whose milter this Postfix uses. */
  readonly node: TrxmailNode | null;
  /** b': the database, whose server processes are counted with the run. */
  readonly db: BenchDatabase | null;
}

/** A bench-only smtpd: plain text, no SASL, relay for loopback, no policy; the login macro given. */
function benchListener(port: number): string {
  return [
    `127.0.0.1:${port} inet n - n - - smtpd`,
    '  -o syslog_name=postfix/bench',
    '  -o smtpd_tls_security_level=none',
    '  -o smtpd_sasl_auth_enable=no',
    '  -o smtpd_relay_restrictions=permit_mynetworks,reject',
    '  -o smtpd_recipient_restrictions=permit_mynetworks,reject',
    // {name=value} form: the macro name itself contains braces.
    `  -o milter_macro_defaults={{auth_authen}=${LOGIN}}`,
    '',
  ].join('\n');
}

function readMasterPid(postfix: PrivatePostfix): number {
  const n = Number(readFileSync(path.join(postfix.queueDir, 'pid', 'master.pid'), 'utf8').trim());
  if (!Number.isInteger(n) || n <= 0) throw new Error(`no master pid in ${postfix.queueDir}/pid/master.pid`);
  return n;
}

async function stopPostfix(postfix: PrivatePostfix): Promise<void> {
  await postfix.stop();
  // `postfix stop` signals the master; wait (bounded) until it is gone so the ports are free.
  for (let i = 0; i < 50 && (await postfix.running()); i++) await delay(200);
}

function delay(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(new Error('aborted'));
      return;
    }
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(t);
      reject(new Error('aborted'));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

// ---------------------------------------------------------------- clients

interface Injection {
  /** hrtime just before the first message could leave. */
  readonly t0: bigint;
  /** Resolves with the client's wall time in seconds once every message was handed over. */
  readonly done: Promise<number>;
}

interface ClientContext {
  readonly opts: Options;
  readonly messageLfFile: string;
  readonly messageCrlfFile: string;
  readonly password: string;
  readonly signal: AbortSignal;
}

/** A safety timer, not a measure: generous enough for 4 messages/s (a machine shared with others is that slow). */
function injectionDeadlineMs(count: number): number {
  return 60_000 + count * 250;
}

/** smtp-source -d -s S -m N -F file: resolves when it exits 0 (it exits non-zero on any unexpected reply). */
function startSmtpSource(ctx: ClientContext, port: number, count: number): Injection {
  const args = ['-d', '-s', String(ctx.opts.sessions), '-m', String(count), '-F', ctx.messageLfFile];
  args.push('-f', MAIL_FROM, '-t', RCPT_TO, '-M', 'client.bench.test', `127.0.0.1:${port}`);
  const t0 = process.hrtime.bigint();
  const child = spawn(SMTP_SOURCE_BIN, args, { stdio: ['ignore', 'ignore', 'pipe'], signal: ctx.signal });
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (c: string) => {
    if (stderr.length < 4096) stderr += c;
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), injectionDeadlineMs(count));
  const done = new Promise<number>((resolve, reject) => {
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once('close', (code, sig) => {
      clearTimeout(timer);
      const secs = Number(process.hrtime.bigint() - t0) / 1e9;
      if (code === 0) resolve(secs);
      else reject(new Error(`smtp-source failed (${sig ?? code}): ${stderr.trim().slice(0, 500)}`));
    });
  });
  return { t0, done };
}

/** The Node client in a child process; resolves once it has said "ready" (start-up is not timed). */
async function startNodeClient(ctx: ClientContext, port: number, count: number, sessions = ctx.opts.sessions): Promise<Injection> {
  const childFile = fileURLToPath(new URL('./lib/smtp-load-child.ts', import.meta.url));
  const args = {
    host: '127.0.0.1',
    port,
    sessions,
    messages: count,
    from: MAIL_FROM,
    to: RCPT_TO,
    messageFile: ctx.messageCrlfFile,
    starttls: true,
    user: LOGIN,
    helo: 'client.bench.test',
    replyTimeoutMs: 60_000,
    deadlineMs: injectionDeadlineMs(count),
  };
  const child = spawn(process.execPath, ['--import', import.meta.resolve('tsx'), childFile, JSON.stringify(args)], {
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...process.env, TRX_BENCH_PASSWORD: ctx.password },
    signal: ctx.signal,
  });
  let out = '';
  let stderr = '';
  child.stdout.setEncoding('utf8');
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (c: string) => {
    if (stderr.length < 4096) stderr += c;
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000 + injectionDeadlineMs(count));
  const exited = new Promise<void>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, sig) => {
      clearTimeout(timer);
      if (code === 0) resolve();
      else reject(new Error(`load client failed (${sig ?? code}): ${stderr.trim().slice(0, 500)}`));
    });
  });
  exited.catch(() => undefined); // observed below; avoid an unhandled rejection before then
  const lines: string[] = [];
  let notify: (() => void) | null = null;
  child.stdout.on('data', (c: string) => {
    out += c;
    let nl: number;
    while ((nl = out.indexOf('\n')) >= 0) {
      lines.push(out.slice(0, nl));
      out = out.slice(nl + 1);
      notify?.();
    }
  });
  const nextLine = async (): Promise<string> => {
    // Bounded: each wait ends with a line, the child's exit or its kill timer.
    for (;;) {
      const l = lines.shift();
      if (l !== undefined) return l;
      await Promise.race([new Promise<void>((r) => (notify = r)), exited.then(() => Promise.reject(new Error(`load client exited early: ${stderr.trim()}`)))]);
    }
  };
  if ((await nextLine()) !== 'ready') throw new Error(`load client did not start: ${stderr.trim()}`);
  const t0 = process.hrtime.bigint();
  child.stdin.end('go\n');
  const done = (async (): Promise<number> => {
    const result = JSON.parse(await nextLine()) as SmtpLoadResult;
    await exited;
    if (result.accepted !== count || result.failed > 0) {
      throw new Error(`load client: ${result.accepted}/${count} accepted, ${result.failed} failed: ${result.errors.join(' / ')}`);
    }
    return result.wallMs / 1000;
  })();
  return { t0, done };
}

// ---------------------------------------------------------------- runs

interface RunResult {
  readonly setup: SetupKey;
  readonly count: number;
  /** First injection to last delivery, seconds. */
  readonly totalSecs: number;
  readonly injectSecs: number;
  readonly cpu: CpuBreakdown;
  readonly log: MaillogSummary;
  readonly stored: number;
  /** End-of-message latencies in trxmail, ms (empty for a). */
  readonly eomMs: readonly number[];
}

interface BenchContext extends ClientContext {
  readonly sink: SmtpSink;
  /** Every trxmail node of the bench (b, b'). */
  readonly nodes: readonly TrxmailNode[];
  readonly eomLatency: EomLatency;
}

/** The pids of the database server's processes serving `setup` (b'), each named for the CPU breakdown. */
async function databasePids(setup: Setup): Promise<Map<number, string>> {
  const pids = setup.db === null ? [] : await setup.db.backendPids();
  return new Map(pids.map((pid) => [pid, 'postgres (bench db)']));
}

async function waitForMaillog(setup: Setup, offset: number, count: number, signal: AbortSignal): Promise<MaillogSummary> {
  // postlogd writes asynchronously: re-read (bounded, untimed part of the run) until complete.
  let log = summariseMaillog(readMaillogFrom(setup.postfix.logFile, offset));
  for (let i = 0; i < 150 && log.sent < count; i++) {
    await delay(100, signal);
    log = summariseMaillog(readMaillogFrom(setup.postfix.logFile, offset));
  }
  return log;
}

/**
 * One login on one connection (EHLO, STARTTLS, AUTH, QUIT), untimed: it fills trxmail's
 * verified-credential cache. Attempts of one login from one address run one after the
 * other and the first fills the cache, so priming keeps that one scrypt out of the timed run.
 */
async function primeLogin(ctx: ClientContext, port: number): Promise<void> {
  await (await startNodeClient(ctx, port, 0, 1)).done;
}

async function runOnce(ctx: BenchContext, setup: Setup, count: number): Promise<RunResult> {
  const { sink, signal } = ctx;
  if (ctx.opts.client === 'node' && ctx.opts.primeLogin) await primeLogin(ctx, setup.port);
  const logOffset = maillogSize(setup.postfix.logFile);
  const sinkTarget = sink.count + count;
  const startedAt = new Date();
  ctx.eomLatency.take();
  const dbPids = await databasePids(setup);
  const cpu0 = snapshotCpu();
  const injection =
    ctx.opts.client === 'source' ? startSmtpSource(ctx, setup.port, count) : await startNodeClient(ctx, setup.port, count);
  const delivered = sink.waitFor(sinkTarget, injectionDeadlineMs(count) + 60_000, signal);
  delivered.catch(() => undefined); // awaited below, after the injection's own outcome
  const injectSecs = await injection.done;
  const tLast = await delivered;
  const cpu1 = snapshotCpu();
  const eomMs = ctx.eomLatency.take();
  const totalSecs = Number(tLast - injection.t0) / 1e9;
  for (const [pid, name] of await databasePids(setup)) dbPids.set(pid, name);
  const cpu = cpuBetween(cpu0, cpu1, process.pid, [setup.masterPid], dbPids);

  const log = await waitForMaillog(setup, logOffset, count, signal);
  const problems: string[] = [];
  if (log.sent !== count) problems.push(`maillog shows ${log.sent} status=sent, expected ${count}`);
  if (log.rejectCount > 0) problems.push(`maillog has ${log.rejectCount} rejections: ${log.rejects.join(' / ')}`);
  if (log.deferred + log.bounced > 0) problems.push(`maillog has ${log.deferred} deferred and ${log.bounced} bounced deliveries`);
  let stored = 0;
  for (const node of ctx.nodes) {
    const sends = await node.store.listSends({ spaceId: node.spaceId, since: startedAt, limit: count + 1 });
    if (node === setup.node) {
      stored = sends.length;
      if (sends.length !== count) problems.push(`store of node ${node.name} has ${sends.length} sends for this run, expected ${count}`);
      const unsent = sends.filter((s) => !log.sentIds.has(s.id));
      if (unsent.length > 0) problems.push(`${unsent.length} recorded sends have no status=sent in the maillog (e.g. ${unsent[0]?.id})`);
    } else if (sends.length !== 0) {
      problems.push(`store of node ${node.name} has ${sends.length} sends though setup ${setup.key} does not use its milter`);
    }
  }
  if (problems.length > 0) {
    const warn = log.warningCount > 0 ? `; maillog warnings: ${log.warnings.join(' / ')}` : '';
    throw new Error(`setup ${setup.key}: ${problems.join('; ')}${warn} (log: ${setup.postfix.logFile})`);
  }
  return { setup: setup.key, count, totalSecs, injectSecs, cpu, log, stored, eomMs };
}

// ---------------------------------------------------------------- report

function median(xs: readonly number[]): number {
  const s = [...xs].sort((x, y) => x - y);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

const rate = (r: RunResult): number => r.count / r.totalSecs;
const injRate = (r: RunResult): number => r.count / r.injectSecs;
const cpuMs = (r: RunResult): number => (r.cpu.machineBusy * 1000) / r.count;
/** CPU of the bench's own processes (Postfix, trxmail, client, sink): the machine's minus "other". */
const ownMs = (r: RunResult): number => ((r.cpu.machineBusy - (r.cpu.byGroup.get('other') ?? 0)) * 1000) / r.count;

/** The trxmail node's own CPU (this process: only the loaded setup's node works during a run). */
const nodeMs = (r: RunResult): number => ((r.cpu.byGroup.get('trxmail (node)') ?? 0) * 1000) / r.count;
/** The database server's processes serving b' (0 for the others, or a server on another machine). */
const dbMs = (r: RunResult): number => ((r.cpu.byGroup.get('postgres (bench db)') ?? 0) * 1000) / r.count;

const eomP50 = (r: RunResult): number => quantile(r.eomMs, 0.5);
const eomP99 = (r: RunResult): number => quantile(r.eomMs, 0.99);

function describeRun(tag: string, setup: Setup, r: RunResult): string {
  const eom = r.eomMs.length > 0 ? `  EOM ms p50 ${eomP50(r).toFixed(2)} p99 ${eomP99(r).toFixed(2)}` : '';
  return (
    `${tag.padEnd(8)} ${`${setup.key})`.padEnd(3)} ${setup.label.padEnd(20)} ${String(r.count).padStart(6)} msgs ` +
    `${rate(r).toFixed(1).padStart(7)} msg/s (${r.totalSecs.toFixed(2)} s)  injection ${injRate(r).toFixed(1).padStart(7)} msg/s  ` +
    `CPU ms/msg: machine ${cpuMs(r).toFixed(2)}, own ${ownMs(r).toFixed(2)}, node ${nodeMs(r).toFixed(2)}  sent ${r.log.sent}  stored ${r.stored}${eom}`
  );
}

function breakdown(runs: readonly RunResult[], pick: (c: CpuBreakdown) => ReadonlyMap<string, number>, top = 20): string {
  const total = runs.reduce((s, r) => s + r.count, 0);
  const groups = new Map<string, number>();
  for (const r of runs) for (const [g, secs] of pick(r.cpu)) groups.set(g, (groups.get(g) ?? 0) + secs);
  return [...groups.entries()]
    .filter(([, secs]) => (secs * 1000) / total >= 0.01)
    .sort((x, y) => y[1] - x[1])
    .slice(0, top)
    .map(([g, secs]) => `${g} ${((secs * 1000) / total).toFixed(2)}`)
    .join(', ');
}

// ---------------------------------------------------------------- main

async function main(): Promise<void> {
  const opts = parseOptions(process.argv.slice(2));
  if (!postfixInstalled()) throw new Error(POSTFIX_INSTALL_HINT);
  if (process.getuid?.() !== 0) throw new Error('bench/postfix starts Postfix and must run as root');
  for (const bin of [SMTP_SOURCE_BIN, '/usr/sbin/smtp-sink']) if (!existsSync(bin)) throw new Error(`${bin} is missing (Debian package postfix)`);

  const controller = new AbortController();
  const onSignal = (): void => controller.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const signal = controller.signal;

  const dir = mkdtempSync(path.join(tmpdir(), 'trx-bench-postfix-'));
  // mkdtemp makes it 0700; Postfix's unprivileged daemons must get through to their directories.
  chmodSync(dir, 0o755);
  const cleanups: Array<[string, () => Promise<void>]> = [];
  try {
    const ports = await freePorts(PORT_COUNT);
    const port = (i: number): number => ports[i]!;
    const sinkPort = port(0);
    const password = randomBytes(12).toString('hex');
    const secret = randomBytes(24).toString('hex');
    const nodePorts = (first: number): TrxmailNodePorts => ({
      milter: port(first),
      policy: port(first + 1),
      auth: port(first + 2),
      lmtp: port(first + 3),
      socketmap: port(first + 4),
      http: port(first + 5),
      metrics: port(first + 6),
      reinject: port(0), // set per setup below
    });
    const startNode = async (key: 'b' | "b'", store: Record<string, unknown>): Promise<TrxmailNode> => {
      const node = await startTrxmailNode({
        name: key === 'b' ? 'bench-sqlite' : 'bench-postgres',
        dir: path.join(dir, key === 'b' ? 'node-sqlite' : 'node-postgres'),
        store,
        ports: { ...nodePorts(NODE_FIRST_PORT[key]), reinject: port(POSTFIX_FIRST_PORT[key] + 3) },
        bounceDomain: BOUNCE_DOMAIN,
        secret,
        senderDomain: SENDER_DOMAIN,
        login: LOGIN,
        password,
      });
      cleanups.push([`trxmail node ${node.name}`, () => node.close()]);
      return node;
    };
    const trxKeys: Array<'b' | "b'"> = opts.store === 'sqlite' ? ['b'] : opts.store === 'postgres' ? ["b'"] : ['b', "b'"];
    const nodes = new Map<'b' | "b'", TrxmailNode>();
    let db: BenchDatabase | null = null;
    for (const key of trxKeys) {
      if (key === 'b') {
        nodes.set(key, await startNode(key, { driver: 'sqlite', path: path.join(dir, 'node-sqlite', 'data', 'trxmail.db') }));
      } else {
        const created = await createBenchDatabase(opts.pgUrl);
        db = created;
        cleanups.push([`database ${created.name}`, () => created.drop()]);
        nodes.set(key, await startNode(key, { driver: 'postgres', url: created.url, poolSize: opts.pgPool, ...PG_STORE }));
      }
    }
    /** The node whose policy service and SASL server setups a and n use. */
    const primary = [...nodes.values()][0]!;

    const sink = await SmtpSink.start(sinkPort);
    cleanups.push(['smtp-sink', () => sink.stop()]);

    if (opts.nullMilter) {
      const nullMilter = await startNullMilter(port(4));
      cleanups.push(['null milter', () => nullMilter.close()]);
    }
    const makeSetup = (key: SetupKey): Setup => {
      const first = POSTFIX_FIRST_PORT[key];
      const p = { smtp: port(first), submission: port(first + 1), smtps: port(first + 2), reinject: port(first + 3) };
      const benchPort = port(first + 4);
      const node = key === 'b' || key === "b'" ? (nodes.get(key) ?? null) : null;
      const listen = (node ?? primary).config.listen;
      const postfix = new PrivatePostfix({
        dir: path.join(dir, `postfix-${key === "b'" ? 'b2' : key}`),
        hostname: HOSTNAME,
        ports: p,
        endpoints: key === 'n' ? { ...listen, milter: `inet:127.0.0.1:${port(4)}` } : listen,
        bounceDomain: BOUNCE_DOMAIN,
        bounceTransport: 'discard:',
        relayhost: `[127.0.0.1]:${sinkPort}`,
        withoutMilter: key === 'a',
        extraMaster: benchListener(benchPort),
      });
      return { key, label: LABELS[key], postfix, port: opts.client === 'source' ? benchPort : p.submission, masterPid: 0, node, db: key === "b'" ? db : null };
    };
    const setups: Setup[] = [makeSetup('a'), ...(opts.nullMilter ? [makeSetup('n')] : []), ...trxKeys.map(makeSetup)];
    const trxSetups = setups.filter((x) => x.node !== null);
    for (const s of setups) {
      await s.postfix.configure();
      cleanups.push([`postfix ${s.key}`, () => stopPostfix(s.postfix)]);
      await s.postfix.start();
      s.masterPid = readMasterPid(s.postfix);
    }

    const generated = makeMessage(opts.size).toString('latin1');
    if (!generated.includes('\r\nX-Mxm-Flags: 3\r\n')) throw new Error('bench/lib/messages.ts no longer sets X-Mxm-Flags: 3');
    const message = Buffer.from(generated.replace('\r\nX-Mxm-Flags: 3\r\n', `\r\nX-Mxm-Flags: ${opts.flags}\r\n`), 'latin1');
    const messageCrlfFile = path.join(dir, 'message.eml');
    const messageLfFile = path.join(dir, 'message-lf.txt');
    writeFileSync(messageCrlfFile, message);
    writeFileSync(messageLfFile, message.toString('latin1').replace(/\r\n/g, '\n'), 'latin1');
    const eomLatency = new EomLatency();
    eomLatency.install();
    cleanups.push(['EOM latency probe', () => Promise.resolve(eomLatency.uninstall())]);
    const ctx: BenchContext = { opts, messageLfFile, messageCrlfFile, password, signal, sink, nodes: [...nodes.values()], eomLatency };

    console.log(
      `bench/postfix: ${opts.messages} messages of ${message.length} bytes (X-Mxm-Flags: ${opts.flags}${opts.flags & 3 ? ', tracking on' : ', no tracking'}), ` +
        `${opts.sessions} sessions (connections reused), ` +
        `${opts.rounds} rounds after a ${opts.warmup}-message warm-up per setup`,
    );
    console.log(
      opts.client === 'source'
        ? 'client: smtp-source on a bench-only plain-text listener (no TLS, no SASL, no policy); login macro {auth_authen} from milter_macro_defaults;\n' +
            "        b) runs the milter's full rules path per message (account lookup, evaluate, recordSend, edits, tracking rewrite)"
        : 'client: Node SMTP client (child process) with STARTTLS + AUTH PLAIN on the shipped submission listener;\n' +
            '        a) = TLS + SASL + policy service, b) = the same + the milter: everything as shipped',
    );
    if (opts.nullMilter) console.log('        n) = a milter on trxmail\'s milter stack that answers continue and edits nothing');
    console.log(`machine: ${cpus().length} CPUs, load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}, node ${process.version}`);
    console.log(`sink: smtp-sink on 127.0.0.1:${sinkPort}; work dir ${dir}`);
    if (db !== null) console.log(`b': database ${db.name} on ${new URL(opts.pgUrl).host}, store.poolSize ${opts.pgPool}`);

    for (const s of setups) console.log(describeRun('warm-up', s, await runOnce(ctx, s, opts.warmup)));
    const results: RunResult[] = [];
    for (let r = 0; r < opts.rounds; r++) {
      // Alternate the order so that no setup always runs first.
      for (const s of r % 2 === 0 ? setups : [...setups].reverse()) {
        const res = await runOnce(ctx, s, opts.messages);
        results.push(res);
        console.log(describeRun(`round ${r + 1}`, s, res));
      }
    }

    const of = (k: SetupKey): RunResult[] => results.filter((x) => x.setup === k);
    const med = (k: SetupKey, f: (r: RunResult) => number): number => median(of(k).map(f));
    console.log('');
    for (const s of setups) {
      const k = s.key;
      console.log(
        `median ${`${k})`.padEnd(3)} ${s.label.padEnd(20)} ${med(k, rate).toFixed(1).padStart(7)} msg/s  injection ${med(k, injRate).toFixed(1).padStart(7)} msg/s  CPU ms/msg: machine ${med(k, cpuMs).toFixed(2)}, own ${med(k, ownMs).toFixed(2)}`,
      );
      if (k !== 'a') console.log(`   EOM latency in trxmail, ms: p50 ${med(k, eomP50).toFixed(2)}, p99 ${med(k, eomP99).toFixed(2)} (medians over the rounds)`);
      console.log(`   CPU ms/msg by process: ${breakdown(of(k), (c) => c.byGroup)}`);
      console.log(`   of which other: ${breakdown(of(k), (c) => c.otherByCommand, 6)}`);
    }
    if (opts.nullMilter) {
      console.log(
        `ratio n/a: throughput ${(med('n', rate) / med('a', rate)).toFixed(3)}, own CPU per message a/n ${(med('a', ownMs) / med('n', ownMs)).toFixed(3)}`,
      );
      for (const s of trxSetups) {
        console.log(
          `ratio ${s.key}/n: throughput ${(med(s.key, rate) / med('n', rate)).toFixed(3)}, own CPU per message n/${s.key} ${(med('n', ownMs) / med(s.key, ownMs)).toFixed(3)}`,
        );
      }
    }
    for (const s of trxSetups) {
      const k = s.key;
      console.log(
        `ratio ${k}/a: throughput ${(med(k, rate) / med('a', rate)).toFixed(3)}, injection ${(med(k, injRate) / med('a', injRate)).toFixed(3)}, ` +
          `own CPU per message a/${k} ${(med('a', ownMs) / med(k, ownMs)).toFixed(3)} (issue 15 target: throughput >= ${opts.flags & 3 ? '0.75 with tracking' : '0.80 without tracking'}); ` +
          `trxmail node CPU ${med(k, nodeMs).toFixed(2)} ms/msg${k === "b'" ? `, database server ${med(k, dbMs).toFixed(2)} ms/msg` : ''}`,
      );
    }
    if (nodes.size === 2) {
      console.log(
        `ratio b'/b (PostgreSQL/SQLite): throughput ${(med("b'", rate) / med('b', rate)).toFixed(3)} (aim: >= 0.9), ` +
          `trxmail node CPU per message ${(med("b'", nodeMs) / med('b', nodeMs)).toFixed(3)}, ` +
          `EOM p50 ${(med("b'", eomP50) / med('b', eomP50)).toFixed(3)}, p99 ${(med("b'", eomP99) / med('b', eomP99)).toFixed(3)}`,
      );
    }
    console.log(`load average at the end: ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);

    if (opts.profile) {
      for (const setup of trxSetups) {
        const profiler = new CpuProfiler();
        await profiler.start();
        let profile: CpuProfile;
        let res: RunResult;
        try {
          res = await runOnce(ctx, setup, opts.messages);
        } finally {
          profile = await profiler.stop();
        }
        const file = path.join(tmpdir(), `trx-bench-postfix-${setup.key === "b'" ? 'b2' : setup.key}-${Date.now()}.cpuprofile`);
        writeFileSync(file, JSON.stringify(profile));
        const sum = summariseProfile(profile, 25);
        console.log('');
        console.log(describeRun('profiled', setup, res));
        console.log(
          `profile of this process during that run: busy ${sum.busyMs.toFixed(0)} ms (${(sum.busyMs / res.count).toFixed(3)} ms/msg), idle ${sum.idleMs.toFixed(0)} ms; saved ${file}`,
        );
        console.log('  self time by file:');
        for (const e of sum.byFile) console.log(`    ${(e.share * 100).toFixed(1).padStart(5)}%  ${e.ms.toFixed(0).padStart(6)} ms  ${e.name}`);
        console.log('  self time by function:');
        for (const e of sum.byFunction) console.log(`    ${(e.share * 100).toFixed(1).padStart(5)}%  ${e.ms.toFixed(0).padStart(6)} ms  ${e.name}`);
      }
    }
  } finally {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
    for (const [what, fn] of cleanups.reverse()) {
      try {
        await fn();
      } catch (err: unknown) {
        console.error(`cleanup: ${what}: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
    if (opts.keep) console.log(`kept ${dir}`);
    else rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(`bench/postfix: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
});
