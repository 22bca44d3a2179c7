/**
 * The trust boundary with the shipped defaults, through a real private Postfix: trxmail's
 * listeners (milter, policy, SASL, LMTP, socketmap) are unix sockets in the queue directory's
 * private/ (postfix:postfix 0660) and the re-injection smtpd is a master.cf unix service there,
 * so a local process that is neither root nor Postfix can reach none of them — it cannot pick
 * its own {auth_authen} on the milter, forge rip= on SASL, inject bounces over LMTP, or relay
 * unrecorded mail through the re-injection listener. And the whole send path (To + BCC copy
 * re-injected through the unix socket) still works.
 *
 * "Another local process" is a real one: node run as `nobody` through setpriv(1); the same
 * probe run as `postfix` shows the probe can connect where it is allowed to.
 */
import { execFile } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import nodemailer from 'nodemailer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultListen, defaultReinject, LISTENER_SOCKETS, REINJECT_SOCKET } from '../../src/config/config.js';
import { parseEndpoint } from '../../src/lib/endpoint.js';
import { BOUNCE_DOMAIN, startStack, submit, type Stack } from './stack.js';

const run = promisify(execFile);
const USER = 'app@boundary.example';
const PASSWORD = 'boundary password 123';
let stack: Stack;
let queueDir: string;
let postfixIds: { uid: number; gid: number };

const socketPath = (spec: string): string => {
  const ep = parseEndpoint(spec);
  if (ep.kind !== 'unix') throw new Error(`${spec} is not a unix socket`);
  return ep.path;
};

/**
 * Connects to each unix socket as `user` (a separate node process, real uid and gid dropped
 * with setpriv, no supplementary groups); resolves with "connected" or the errno code per path.
 */
async function probeAs(user: string, group: string, paths: readonly string[]): Promise<string[]> {
  const script = `
    const net = require('node:net');
    const paths = JSON.parse(process.argv[1]);
    Promise.all(paths.map((p) => new Promise((resolve) => {
      const s = net.connect(p);
      s.once('connect', () => { s.destroy(); resolve('connected'); });
      s.once('error', (e) => resolve(e.code));
    }))).then((r) => console.log(JSON.stringify(r)));
  `;
  const { stdout } = await run('setpriv', [`--reuid=${user}`, `--regid=${group}`, '--clear-groups', process.execPath, '-e', script, JSON.stringify(paths)]);
  return JSON.parse(stdout) as string[];
}

beforeAll(async () => {
  stack = await startStack({ listeners: 'default' });
  queueDir = stack.postfix.queueDir;
  postfixIds = { uid: Number((await run('id', ['-u', 'postfix'])).stdout), gid: Number((await run('id', ['-g', 'postfix'])).stdout) };
  await stack.addSpace('boundary', ['boundary.example'], [{ email: USER, password: PASSWORD }]);
}, 120_000);

afterAll(async () => {
  await stack?.stop();
});

describe('the default listeners', () => {
  it('are unix sockets in the queue directory private/, owned by postfix:postfix with mode 0660', () => {
    expect(stack.config.listen).toMatchObject(defaultListen(queueDir));
    for (const name of Object.keys(LISTENER_SOCKETS) as (keyof typeof LISTENER_SOCKETS)[]) {
      const file = socketPath(stack.config.listen[name]);
      expect(file).toBe(path.join(queueDir, 'private', LISTENER_SOCKETS[name]));
      const st = statSync(file);
      expect(st.isSocket()).toBe(true);
      expect({ uid: st.uid, gid: st.gid, mode: st.mode & 0o777 }).toEqual({ ...postfixIds, mode: 0o660 });
    }
    // private/ itself is Postfix's: nobody else may even look inside.
    const dir = statSync(path.join(queueDir, 'private'));
    expect({ uid: dir.uid, mode: dir.mode & 0o777 }).toEqual({ uid: postfixIds.uid, mode: 0o700 });
  });

  it('are named to Postfix relative to the queue directory (chroot-safe), the re-injection smtpd a unix service', () => {
    const mainCf = readFileSync(path.join(stack.postfix.confDir, 'main.cf'), 'utf8');
    const masterCf = readFileSync(path.join(stack.postfix.confDir, 'master.cf'), 'utf8');
    expect(mainCf).toMatch(/^smtpd_milters = unix:private\/trxmail-milter$/m);
    expect(mainCf).toMatch(/^smtpd_sasl_path = private\/trxmail-auth$/m);
    expect(mainCf).toContain('check_policy_service { unix:private/trxmail-policy,');
    expect(mainCf).toContain('=lmtp:unix:private/trxmail-lmtp }');
    expect(mainCf).toContain('socketmap:unix:private/trxmail-socketmap:relay');
    expect(masterCf).toMatch(/^trxmail-reinject unix +- +- +n +- +- +smtpd$/m);
    expect(stack.config.reinject).toBe(defaultReinject(queueDir));
    expect(statSync(path.join(queueDir, 'private', REINJECT_SOCKET)).isSocket()).toBe(true);
  });
});

describe('another local process', () => {
  const every = (): string[] => [...Object.values(stack.config.listen).filter((v) => v.startsWith('unix:')).map(socketPath), socketPath(stack.config.reinject)];

  it('(nobody) cannot connect to any listener, nor to the re-injection smtpd', async () => {
    const paths = every();
    expect(paths).toHaveLength(6);
    expect(await probeAs('nobody', 'nogroup', paths)).toEqual(paths.map(() => 'EACCES'));
  });

  it('running as postfix can (the probe itself works)', async () => {
    const paths = every();
    expect(await probeAs('postfix', 'postfix', paths)).toEqual(paths.map(() => 'connected'));
  });
});

describe('the send path through the default listeners', () => {
  it('delivers the tracked To copy and the untracked BCC copy (re-injected over the unix socket) and records the send', async () => {
    const raw = [
      'From: Boundary <noreply@elsewhere.example>',
      'To: to@example.org',
      'Subject: boundary',
      'MIME-Version: 1.0',
      'Content-Type: text/html; charset=utf-8',
      '',
      '<html><body><p>Hello</p><a href="https://boundary.example/offer">Offer</a></body></html>',
      '',
    ].join('\n');
    const reply = await submit(stack, { user: USER, pass: PASSWORD }, { from: 'news@boundary.example', to: ['to@example.org', 'bcc@example.org'] }, raw);
    const id = /queued as ([0-9A-Za-z]+)$/.exec(reply)?.[1] ?? '';
    expect(reply).toMatch(/^250 /);
    const toCopy = await stack.sink.waitFor((m) => m.rcptTo.includes('to@example.org'));
    const bccCopy = await stack.sink.waitFor((m) => m.rcptTo.includes('bcc@example.org'));
    expect(toCopy.rcptTo).toEqual(['to@example.org']);
    expect(bccCopy.rcptTo).toEqual(['bcc@example.org']);
    expect(toCopy.raw.toString()).toContain(`${stack.config.http.baseUrl}/c/`);
    expect(bccCopy.raw.toString()).not.toContain(`${stack.config.http.baseUrl}/`);
    expect(bccCopy.raw.toString()).toContain('Offer</a>');
    await expect(stack.store.getSend(id, null)).resolves.toMatchObject({ to: 'to@example.org', bcc: 'bcc@example.org' });
    // The BCC copy came in through the re-injection smtpd on its unix socket (smtpd names a
    // unix-socket client localhost[127.0.0.1], so permit_mynetworks admits it).
    expect(bccCopy.raw.toString()).toMatch(/^Received: from trxmail \(localhost \[127\.0\.0\.1\]\)/);
    expect(stack.postfix.log()).toMatch(/postfix\/reinject\/smtpd\[\d+\]: connect from localhost\[127\.0\.0\.1\]/);
    // relay_domains asked the socketmap socket about example.org (a failure is a 451 and a warning).
    expect(stack.postfix.log()).not.toMatch(/warning: .*trxmail-(socketmap|milter|policy|auth|lmtp)/);
  });
});

describe('bounces through the default listeners', () => {
  it('Postfix hands mail for the bounce domain to the LMTP socket (lmtp:unix:private/trxmail-lmtp)', async () => {
    const t = nodemailer.createTransport({ host: '127.0.0.1', port: stack.ports.bounceMx, secure: false, ignoreTLS: true });
    try {
      await t.sendMail({ envelope: { from: '', to: [`someone@${BOUNCE_DOMAIN}`] }, raw: 'From: mx@example.org\r\nSubject: not a bounce\r\n\r\nhello\r\n' });
    } finally {
      t.close();
    }
    const line = await stack.logged((l) => l.msg === 'lmtp: transaction done');
    expect(line.obj['recipients']).toBe(1);
  });
});
