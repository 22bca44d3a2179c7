/**
 * End-to-end stack: a real private Postfix (Debian's binaries, configured from the shipped
 * postfix/ files), trxmail's runtime (milter, policy, SASL) on a real SQLite file, and a
 * capturing SMTP sink as the recipient MX. Nothing is mocked.
 *
 * Postfix must be installed and the tests must run as root (`postfix start`): CI installs
 * it (.ci/run). A missing Postfix FAILS the suite with the install command — never a skip.
 */
import { execFile } from 'node:child_process';
import { EventEmitter } from 'node:events';
import nodemailer from 'nodemailer';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { defaultListen, defaultReinject, type Config } from '../../src/config/config.js';
import { TransientError } from '../../src/lib/errors.js';
import { DEFAULT_MESSAGE_SIZE_LIMIT } from '../../src/lib/limits.js';
import { DEFAULT_AUTO_PAUSE } from '../../src/core/sending-limits.js';
import type { Logger } from '../../src/lib/logger.js';
import { hashPassword } from '../../src/lib/password.js';
import { CaptureSink, type CaptureSinkOptions } from '../../src/postfix/capture-sink.js';
import { POSTFIX_INSTALL_HINT, PrivatePostfix, postfixInstalled } from '../../src/postfix/instance.js';
import { Runtime } from '../../src/server/runtime.js';
import { openStore } from '../../src/store/open-store.js';
import type { Space, Store } from '../../src/store/store.js';
import { firstMatch } from '../helpers/events.js';
import { addActiveDkimKeys } from '../helpers/dkim-keys.js';
import { freePorts } from '../helpers/net.js';

const run = promisify(execFile);

export const BOUNCE_DOMAIN = 'bounces.trxmail.test';
export const HOSTNAME = 'relay.trxmail.test';
/** Delivered into `<dir>/vmail/inbox` (mbox) by Postfix's virtual(8). */
export const MAILBOX_DOMAIN = 'mailbox.test';
export const TEST_KEYS = [{ id: 'e2e', secret: 'e2e-secret-0123456789abcdef' }] as const;

export interface LogLine {
  level: string;
  msg: string;
  obj: Record<string, unknown>;
}

/**
 * A logger that keeps lines for assertions, emits each as 'line' on `events` when given (and
 * prints warnings/errors when TRX_E2E_LOG is set).
 */
export function recordingLogger(lines: LogLine[], events?: EventEmitter): Logger {
  const rec =
    (level: string) =>
    (obj: Record<string, unknown>, msg: string): void => {
      const line = { level, msg, obj };
      lines.push(line);
      events?.emit('line', line);
      if (process.env['TRX_E2E_LOG'] && level !== 'debug') console.log(level, msg, JSON.stringify(obj));
    };
  return { debug: rec('debug'), info: rec('info'), warn: rec('warn'), error: rec('error') };
}

/**
 * Fault injection for the store (a deliberate stand-in: a SQLite file cannot be made to fail
 * one call on demand). Methods named in `failing` throw TransientError, as a store that is
 * down does; everything else goes to the real store.
 */
export function faultyStore(real: Store, failing: Set<string>): Store {
  return new Proxy(real, {
    get(target, prop, receiver) {
      const value: unknown = Reflect.get(target, prop, receiver);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]): unknown => {
        if (typeof prop === 'string' && failing.has(prop)) {
          return Promise.reject(new TransientError('ESTORE_IO', `injected fault: ${prop}`));
        }
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
}

/**
 * Submits a raw message on the stack's 587 listener with STARTTLS and AUTH, as an
 * application would (nodemailer); resolves with the server's final reply.
 */
export async function submit(
  stack: Pick<Stack, 'ports'>,
  auth: { user: string; pass: string },
  envelope: { from: string; to: string[] },
  raw: string,
): Promise<string> {
  const t = nodemailer.createTransport({
    host: '127.0.0.1',
    port: stack.ports.submission,
    requireTLS: true,
    tls: { rejectUnauthorized: false },
    auth,
  });
  try {
    return (await t.sendMail({ envelope, raw: raw.replace(/\r?\n/g, '\r\n') })).response;
  } finally {
    t.close();
  }
}

export interface Stack {
  /** Store methods that fail (TransientError) while listed here. */
  readonly failing: Set<string>;
  readonly dir: string;
  readonly ports: { smtp: number; submission: number; smtps: number; reinject: number; sink: number; bounceMx: number };
  readonly postfix: PrivatePostfix;
  readonly sink: CaptureSink;
  readonly store: Store;
  config: Config;
  readonly logs: LogLine[];
  /** The first log line, kept or still to come, that matches (an event, not polling). */
  logged(match: (line: LogLine) => boolean): Promise<LogLine>;
  runtime: Runtime | null;
  /** Starts trxmail's listeners again after stopTrxmail(). */
  startTrxmail(): Promise<void>;
  /** Stops trxmail and starts it again with some configuration changed (e.g. a dead reinject target). */
  restartTrxmail(patch: Partial<Config>): Promise<void>;
  /** Waits (bounded, polling the file) until the mbox of inbox@MAILBOX_DOMAIN contains `marker`. */
  mailbox(marker: string, timeoutMs?: number): Promise<string>;
  stopTrxmail(): Promise<void>;
  addSpace(name: string, domains: string[], users: Array<{ email: string; password: string }>): Promise<Space>;
  stop(): Promise<void>;
}

export interface StackOptions {
  readonly refuse?: ReadonlySet<string>;
  /** Replies the sink gives refused recipients (CaptureSinkOptions.refuseWith). */
  readonly refuseWith?: CaptureSinkOptions['refuseWith'];
  readonly extraMain?: Readonly<Record<string, string>>;
  /**
   * `tcp` (default here): every listener and the re-injection smtpd on a free loopback port.
   * `default`: the shipped defaults — unix sockets in the private Postfix's queue directory
   * (`private/trxmail-*`, postfix:postfix 0660; the re-injection smtpd a master.cf unix service).
   */
  readonly listeners?: 'tcp' | 'default';
  /** Called with trxmail's data directory (store and spool) before anything is written there, e.g. to mount a small tmpfs on it. */
  readonly prepareDataDir?: (dataDir: string) => Promise<void>;
  /** The store to use (another stack's, for several nodes on one store); default a new SQLite file in the stack's directory. */
  readonly store?: Config['store'];
  /** This node's name (config node.name); default 'e2e-node'. */
  readonly nodeName?: string;
  /** Leave out the separate bounce-MX listener, as `trxmail postfix-config` does by default (one address: port 25 takes the bounces). */
  readonly noBounceMx?: boolean;
  /** Postfix's and trxmail's message size limit. */
  readonly messageSizeLimit?: number;
  /** trxmail's clock (sending-limit windows without waiting); default the real one. */
  readonly clock?: () => Date;
  /** trxmail.yaml `autoPause`; default DEFAULT_AUTO_PAUSE. */
  readonly autoPause?: Config['autoPause'];
}

export async function startStack(opts: StackOptions = {}): Promise<Stack> {
  if (!postfixInstalled()) throw new Error(POSTFIX_INSTALL_HINT);
  if (process.getuid?.() !== 0) throw new Error('the end-to-end suite starts Postfix and must run as root (CI does)');
  const dir = mkdtempSync(path.join(tmpdir(), 'trx-e2e-'));
  chmodSync(dir, 0o755); // mkdtemp makes it 0700; Postfix's daemons run as user postfix
  if (opts.prepareDataDir) {
    mkdirSync(path.join(dir, 'data'));
    await opts.prepareDataDir(path.join(dir, 'data'));
  }
  const [smtp, submission, smtps, reinject, sinkPort, milter, policy, auth, http, lmtp, metricsPort, bounceMx, socketmap] = (await freePorts(13)) as [
    number, number, number, number, number, number, number, number, number, number, number, number, number,
  ];
  const queueDir = path.join(dir, 'postfix', 'queue');
  const sockets = opts.listeners === 'default';
  let config: Config = {
    file: null,
    dataDir: path.join(dir, 'data'),
    node: { name: opts.nodeName ?? 'e2e-node' },
    store: opts.store ?? { driver: 'sqlite', path: path.join(dir, 'data', 'trxmail.db') },
    bounceDomain: BOUNCE_DOMAIN,
    listen: {
      ...(sockets
        ? defaultListen(queueDir)
        : {
            milter: `inet:127.0.0.1:${milter}`,
            policy: `inet:127.0.0.1:${policy}`,
            auth: `inet:127.0.0.1:${auth}`,
            lmtp: `inet:127.0.0.1:${lmtp}`,
            socketmap: `inet:127.0.0.1:${socketmap}`,
          }),
      socketUser: 'postfix',
      socketGroup: 'postfix',
    },
    postfix: { queueDirectory: queueDir },
    hmacKeys: TEST_KEYS,
    log: { level: 'silent' },
    http: { listen: `127.0.0.1:${http}`, baseUrl: `http://127.0.0.1:${http}`, trustTlsProxy: false },
    reinject: sockets ? defaultReinject(queueDir) : `127.0.0.1:${reinject}`,
    messageSizeLimit: opts.messageSizeLimit ?? DEFAULT_MESSAGE_SIZE_LIMIT,
    metrics: { listen: `127.0.0.1:${metricsPort}` },
    // Delivery status comes from the private Postfix's own log file.
    maillog: path.join(dir, 'postfix', 'log', 'maillog'),
    dkim: { overlapDays: 7 },
    bounces: { mailboxFullListAfter: { count: 3, days: 7 } },
    autoPause: opts.autoPause ?? { ...DEFAULT_AUTO_PAUSE },
    dns: { resolvers: [], checkIntervalMinutes: 0, spf: `a:${BOUNCE_DOMAIN}`, returnPathTarget: BOUNCE_DOMAIN },
    retention: { sendsDays: 0, webhookDays: 0 },
  };
  const postfixIds = { uid: Number((await run('id', ['-u', 'postfix'])).stdout.trim()), gid: Number((await run('id', ['-g', 'postfix'])).stdout.trim()) };
  mkdirSync(path.join(dir, 'vmail'));
  chownSync(path.join(dir, 'vmail'), postfixIds.uid, postfixIds.gid);
  const baseConfig = config;
  const store = await openStore(config.store);
  const failing = new Set<string>();
  const faulty = faultyStore(store, failing);
  const logs: LogLine[] = [];
  const logEvents = new EventEmitter();
  const logger = recordingLogger(logs, logEvents);
  const sink = new CaptureSink({ dir: path.join(dir, 'sink'), port: sinkPort, ...(opts.refuse ? { refuse: opts.refuse } : {}), ...(opts.refuseWith ? { refuseWith: opts.refuseWith } : {}) });
  await sink.listen();
  const postfix = new PrivatePostfix({
    dir: path.join(dir, 'postfix'),
    hostname: HOSTNAME,
    ports: opts.noBounceMx ? { smtp, submission, smtps, reinject } : { smtp, submission, smtps, reinject, bounceMx },
    ...(sockets ? { reinject: config.reinject } : {}),
    endpoints: config.listen,
    bounceDomain: BOUNCE_DOMAIN,
    bounceTransport: `lmtp:${config.listen.lmtp}`,
    messageSizeLimit: config.messageSizeLimit,
    relayhost: `[127.0.0.1]:${sinkPort}`,
    // One domain is delivered by Postfix itself (virtual(8), an mbox file), so the tests see
    // what a final delivery agent writes: Return-Path and Delivered-To.
    extraMain: {
      virtual_mailbox_domains: MAILBOX_DOMAIN,
      virtual_mailbox_base: path.join(dir, 'vmail'),
      virtual_mailbox_maps: `inline:{ inbox@${MAILBOX_DOMAIN}=inbox }`,
      virtual_uid_maps: `static:${postfixIds.uid}`,
      virtual_gid_maps: `static:${postfixIds.gid}`,
      ...opts.extraMain,
    },
  });
  const stack: Stack = {
    dir,
    ports: { smtp, submission, smtps, reinject, sink: sinkPort, bounceMx },
    postfix,
    sink,
    store,
    config,
    logs,
    logged: (match) => firstMatch(logs, logEvents, 'line', match),
    failing,
    runtime: null,
    async startTrxmail() {
      const rt = new Runtime(config, logger, { store: faulty, ...(opts.clock ? { clock: opts.clock } : {}) });
      await rt.start();
      this.runtime = rt;
    },
    async mailbox(marker, timeoutMs = 30_000) {
      const file = path.join(dir, 'vmail', 'inbox');
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const text = existsSync(file) ? readFileSync(file, 'utf8') : '';
        if (text.includes(marker)) return text;
        if (Date.now() > deadline) throw new Error(`mailbox: "${marker}" not delivered within ${timeoutMs} ms`);
        // virtual(8) writes a file; there is no event to wait for, so poll it.
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    async restartTrxmail(patch) {
      await this.stopTrxmail();
      config = { ...baseConfig, ...patch };
      this.config = config;
      await this.startTrxmail();
    },
    async stopTrxmail() {
      await this.runtime?.stop();
      this.runtime = null;
    },
    async addSpace(name, domains, users) {
      const space = await store.createSpace({ name });
      for (const d of domains) {
        await store.addDomain(space.id, d);
        // As `domain add` does: a domain signs from the start.
        await addActiveDkimKeys(store, space.id, d, TEST_KEYS);
      }
      for (const u of users) await store.createUser({ spaceId: space.id, email: u.email, passwordHash: await hashPassword(u.password) });
      return space;
    },
    async stop() {
      await postfix.stop().catch(() => undefined);
      await this.stopTrxmail().catch(() => undefined);
      await sink.close().catch(() => undefined);
      await store.close().catch(() => undefined);
    },
  };
  try {
    if (sockets) {
      // The sockets go into the queue directory's private/, which Postfix creates.
      await postfix.configure();
      await postfix.createQueueDirectories();
      await stack.startTrxmail();
    } else {
      await stack.startTrxmail();
      await postfix.configure();
    }
    await postfix.start();
  } catch (err: unknown) {
    await stack.stop();
    throw err;
  }
  return stack;
}

/** Waits until Postfix's queue is empty (flushing it meanwhile), so every copy that was ever queued has been delivered. */
export async function queueDrained(stack: Pick<Stack, 'postfix'>): Promise<void> {
  for (let i = 0; i < 300; i++) {
    const { stdout } = await run('postqueue', ['-c', stack.postfix.confDir, '-j']);
    if (stdout.trim() === '') return;
    await run('postqueue', ['-c', stack.postfix.confDir, '-f']);
    // postqueue has no "wait until empty": poll it.
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('the Postfix queue did not drain');
}

/** Copies of the message with `subject` at the sink, per envelope recipient. */
export function copies(stack: Pick<Stack, 'sink'>, subject: string): Record<string, number> {
  const count: Record<string, number> = {};
  for (const m of stack.sink.messages) {
    if (!m.raw.toString('utf8').includes(`Subject: ${subject}`)) continue;
    for (const r of m.rcptTo) count[r] = (count[r] ?? 0) + 1;
  }
  return count;
}

/**
 * Another mail server talking plain SMTP (no TLS unless `args` asks, no AUTH) to one of the
 * stack's listeners, with swaks: `args` adds --from/--to/--tls...; `body` lines are sent as DATA,
 * null stops after RCPT. Resolves with swaks' transcript (it exits non-zero on a refusal).
 */
export async function remoteSmtp(stack: Pick<Stack, 'dir'>, port: number, args: string[], body: string[] | null): Promise<string> {
  const all = ['--server', `127.0.0.1:${port}`, '--ehlo', 'mx.remote.example', ...args];
  if (body) {
    const file = path.join(stack.dir, `remote-${Date.now()}-${Math.random().toString(36).slice(2)}.eml`);
    writeFileSync(file, body.join('\r\n') + '\r\n');
    all.push('--data', file);
  } else {
    all.push('--quit-after', 'RCPT');
  }
  // stdin closed: swaks must never wait for an answer at a prompt
  return run('swaks', all, { timeout: 60_000 }).then(
    (r) => r.stdout,
    (e: { stdout?: string }) => e.stdout ?? '',
  );
}

/** A remote server's DSN to `rcpt` (a bounce address): `failed` got 550 5.1.1 user unknown. */
export function userUnknownDsn(rcpt: string, failed: string): string[] {
  return [
    'From: MAILER-DAEMON@mx.remote.example',
    `To: ${rcpt}`,
    'Subject: Undelivered Mail Returned to Sender',
    'MIME-Version: 1.0',
    'Content-Type: multipart/report; report-type=delivery-status; boundary="r1"',
    '',
    '--r1',
    'Content-Type: text/plain',
    '',
    'The mail system could not deliver your message.',
    '--r1',
    'Content-Type: message/delivery-status',
    '',
    'Reporting-MTA: dns; mx.remote.example',
    '',
    `Final-Recipient: rfc822; ${failed}`,
    'Action: failed',
    'Status: 5.1.1',
    'Diagnostic-Code: smtp; 550 5.1.1 user unknown',
    '--r1--',
  ];
}

