/**
 * The service set-up (README "Running as a service", postfix/trxmail.service) on a real private
 * Postfix: `trxmail serve` runs as an unprivileged user — here `nobody` standing for `trxmail`,
 * with the supplementary groups `postfix` and `postdrop` the unit adds — with its sockets in
 * `<queue>/trxmail/` (its user : postfix, 0750) and the re-injection smtpd in Postfix's
 * `public/`. The sockets are the user's and group postfix's, mode 0660; another local user
 * (`daemon`) can reach none of them nor the re-injection smtpd; a To + BCC send goes through.
 *
 * trxmail is a real separate process (the CLI through tsx, real uid and groups via setpriv).
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { hashPassword } from '../../src/lib/password.js';
import { CaptureSink } from '../../src/postfix/capture-sink.js';
import { PrivatePostfix } from '../../src/postfix/instance.js';
import { openStore } from '../../src/store/open-store.js';
import { addActiveDkimKeys } from '../helpers/dkim-keys.js';
import { freePorts } from '../helpers/net.js';
import { BOUNCE_DOMAIN, HOSTNAME, submit, TEST_KEYS } from './stack.js';

const run = promisify(execFile);
const USER = 'app@service.example';
const PASSWORD = 'service password 123';
const NAMES = ['milter', 'policy', 'auth', 'lmtp', 'socketmap'] as const;

let dir: string;
let postfix: PrivatePostfix;
let sink: CaptureSink;
let trxmail: ChildProcess | null = null;
let submissionPort: number;
let sockDir: string;
let reinjectPath: string;
const ids = { nobody: 0, postfixGid: 0 };

async function probeAs(user: string, group: string, paths: readonly string[]): Promise<string[]> {
  const script = `
    const net = require('node:net');
    Promise.all(JSON.parse(process.argv[1]).map((p) => new Promise((resolve) => {
      const s = net.connect(p);
      s.once('connect', () => { s.destroy(); resolve('connected'); });
      s.once('error', (e) => resolve(e.code));
    }))).then((r) => console.log(JSON.stringify(r)));
  `;
  const { stdout } = await run('setpriv', [`--reuid=${user}`, `--regid=${group}`, '--clear-groups', process.execPath, '-e', script, JSON.stringify(paths)]);
  return JSON.parse(stdout) as string[];
}

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'trx-e2e-svc-'));
  chmodSync(dir, 0o755);
  ids.nobody = Number((await run('id', ['-u', 'nobody'])).stdout);
  ids.postfixGid = Number((await run('id', ['-g', 'postfix'])).stdout);
  const [smtp, submission, smtps, bounceMx, sinkPort, http, metrics] = (await freePorts(7)) as [number, number, number, number, number, number, number];
  submissionPort = submission;
  const queue = path.join(dir, 'postfix', 'queue');
  sockDir = path.join(queue, 'trxmail');
  reinjectPath = path.join(queue, 'public', 'trxmail-reinject');
  const listen = Object.fromEntries(NAMES.map((n) => [n, `unix:${path.join(sockDir, n)}`])) as Record<(typeof NAMES)[number], string>;
  sink = new CaptureSink({ dir: path.join(dir, 'sink'), port: sinkPort });
  await sink.listen();
  postfix = new PrivatePostfix({
    dir: path.join(dir, 'postfix'),
    hostname: HOSTNAME,
    ports: { smtp, submission, smtps, bounceMx },
    reinject: `unix:${reinjectPath}`,
    endpoints: listen,
    bounceDomain: BOUNCE_DOMAIN,
    bounceTransport: `lmtp:${listen.lmtp}`,
    relayhost: `[127.0.0.1]:${sinkPort}`,
  });
  await postfix.configure();
  await postfix.createQueueDirectories();
  // What the unit's ExecStartPre does: install -d -o trxmail -g postfix -m 0750.
  mkdirSync(sockDir);
  chownSync(sockDir, ids.nobody, ids.postfixGid);
  chmodSync(sockDir, 0o750);
  // trxmail's data: the store with a space and a user, owned by the service user.
  const dataDir = path.join(dir, 'data');
  mkdirSync(dataDir, { mode: 0o700 });
  const store = await openStore({ driver: 'sqlite', path: path.join(dataDir, 'trxmail.db') });
  const space = await store.createSpace({ name: 'service' });
  await store.addDomain(space.id, 'service.example');
  await addActiveDkimKeys(store, space.id, 'service.example', TEST_KEYS);
  await store.createUser({ spaceId: space.id, email: USER, passwordHash: await hashPassword(PASSWORD) });
  await store.close();
  for (const f of [dataDir, ...readdirSync(dataDir).map((f) => path.join(dataDir, f))]) chownSync(f, ids.nobody, ids.postfixGid);
  const configFile = path.join(dir, 'trxmail.yaml');
  writeFileSync(
    configFile,
    stringify({
      dataDir,
      bounceDomain: BOUNCE_DOMAIN,
      postfix: { queueDirectory: queue },
      listen: { ...listen, socketUser: 'nobody', socketGroup: 'postfix' },
      reinject: `unix:${reinjectPath}`,
      http: { listen: `127.0.0.1:${http}` },
      metrics: { listen: `127.0.0.1:${metrics}` },
      dns: { checkIntervalMinutes: 0 },
      secrets: { keys: TEST_KEYS.map((k) => ({ ...k })) },
      log: { level: 'info' },
    }),
  );
  chmodSync(configFile, 0o644);
  const child = spawn(
    'setpriv',
    ['--reuid=nobody', '--regid=nogroup', '--groups=postfix,postdrop', process.execPath, '--import', 'tsx', 'src/cli/main.ts', '--config', configFile, 'serve'],
    { cwd: process.cwd(), stdio: ['ignore', 'pipe', 'pipe'] },
  );
  trxmail = child;
  let out = '';
  await new Promise<void>((resolve, reject) => {
    child.stdout?.on('data', (c: Buffer) => {
      out += c.toString();
      if (out.includes('"msg":"trxmail listening"')) resolve();
    });
    child.stderr?.on('data', (c: Buffer) => (out += c.toString()));
    child.once('exit', (code) => reject(new Error(`trxmail serve exited with ${code}: ${out.slice(-2000)}`)));
  });
  await postfix.start();
}, 180_000);

afterAll(async () => {
  await postfix?.stop().catch(() => undefined);
  if (trxmail?.pid !== undefined && trxmail.exitCode === null) {
    const exited = new Promise((r) => trxmail?.once('exit', r));
    trxmail.kill('SIGTERM');
    await exited;
  }
  await sink?.close().catch(() => undefined);
});

describe('trxmail as an unprivileged service', () => {
  it("gives its sockets to itself and group postfix, mode 0660, in a directory of its own", () => {
    for (const n of NAMES) {
      const st = statSync(path.join(sockDir, n));
      expect(st.isSocket()).toBe(true);
      expect({ uid: st.uid, gid: st.gid, mode: st.mode & 0o777 }).toEqual({ uid: ids.nobody, gid: ids.postfixGid, mode: 0o660 });
    }
  });

  it('another local user (daemon) reaches none of the sockets nor the re-injection smtpd', async () => {
    const paths = [...NAMES.map((n) => path.join(sockDir, n)), reinjectPath];
    expect(await probeAs('daemon', 'daemon', paths)).toEqual(paths.map(() => 'EACCES'));
    // Postfix does (the probe works).
    expect(await probeAs('postfix', 'postfix', paths)).toEqual(paths.map(() => 'connected'));
  });

  it('relays a To + BCC send: the BCC copy re-injected through public/trxmail-reinject', async () => {
    const raw = ['From: Svc <noreply@elsewhere.example>', 'To: to@example.org', 'Subject: service', 'Content-Type: text/html; charset=utf-8', '', '<p>hi <a href="https://service.example/x">x</a></p>', ''].join('\n');
    const reply = await submit({ ports: { submission: submissionPort } } as Parameters<typeof submit>[0], { user: USER, pass: PASSWORD }, { from: 'news@service.example', to: ['to@example.org', 'bcc@example.org'] }, raw);
    expect(reply).toMatch(/^250 /);
    const to = await sink.waitFor((m) => m.rcptTo.includes('to@example.org'));
    const bcc = await sink.waitFor((m) => m.rcptTo.includes('bcc@example.org'));
    expect(to.rcptTo).toEqual(['to@example.org']);
    expect(bcc.rcptTo).toEqual(['bcc@example.org']);
    expect(bcc.raw.toString()).toMatch(/^Received: from trxmail \(localhost \[127\.0\.0\.1\]\)/);
  });
});
