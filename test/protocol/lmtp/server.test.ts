import { statSync, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import path from 'node:path';
import nodemailer from 'nodemailer';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BounceIntake, type IntakeEnvelope, type IntakeResult } from '../../../src/bounce/intake.js';
import { LmtpServer } from '../../../src/bounce/lmtp.js';
import type { Endpoint } from '../../../src/lib/endpoint.js';
import type { Store } from '../../../src/store/store.js';
import { ConfigError, TransientError } from '../../../src/lib/errors.js';
import { MAX_BOUNCE_BYTES, MAX_LMTP_RECIPIENTS } from '../../../src/lib/limits.js';
import { silentLogger } from '../../../src/lib/logger.js';
import { DEFAULT_SOCKET_MODE } from '../../../src/lib/socket-listeners.js';
import {
  BOUNCE_DOMAIN,
  KEYS,
  OTHER_KEYS,
  autoReply,
  bounceAddress,
  clock,
  failingStore,
  postfixDsn,
  recordingLogger,
  seedStore,
  type LogEntry,
  type Seeded,
} from '../../unit/bounce/intake.helpers.js';
import { RawLmtpClient, transaction } from './helpers.js';

const HARD = { action: 'failed', status: '5.1.1', diagnostic: '550 5.1.1 user unknown' } as const;

let db: Seeded;
let server: LmtpServer | null;
let logs: LogEntry[];

beforeEach(async () => {
  db = await seedStore();
  server = null;
  logs = [];
});
afterEach(async () => {
  await server?.close();
  await db.cleanup();
});

async function serve(intake: Pick<BounceIntake, 'process'>, endpoint: Endpoint = { kind: 'tcp', host: '127.0.0.1', port: 0 }): Promise<Endpoint> {
  server = new LmtpServer({ intake, bounceDomain: BOUNCE_DOMAIN, logger: recordingLogger(logs), hostname: 'trxmail.test', closeGraceMs: 200 });
  return server.listen(endpoint);
}
const realIntake = (store: Store = db.store): BounceIntake => new BounceIntake({ store, keys: KEYS, bounceDomain: BOUNCE_DOMAIN, logger: silentLogger, clock });
const portOf = (ep: Endpoint): number => (ep.kind === 'tcp' ? ep.port : 0);

/** An intake that records calls and answers from a script per recipient. */
function scriptedIntake(answer: (env: IntakeEnvelope, raw: Buffer) => IntakeResult | Error): { intake: Pick<BounceIntake, 'process'>; calls: Array<{ env: IntakeEnvelope; raw: Buffer }> } {
  const calls: Array<{ env: IntakeEnvelope; raw: Buffer }> = [];
  return {
    calls,
    intake: {
      process: (raw, env) => {
        const buf = Buffer.isBuffer(raw) ? raw : Buffer.alloc(0);
        calls.push({ env, raw: buf });
        const a = answer(env, buf);
        return a instanceof Error ? Promise.reject(a) : Promise.resolve(a);
      },
    },
  };
}
const ignoredResult: IntakeResult = { outcome: 'ignored', kind: 'other', format: null, sendId: null, spaceId: null, bccCopy: false, via: null, actions: [], unmatched: [], reason: 'not-a-bounce', notes: [] };

describe('LMTP listener', () => {
  it('greets as LMTP, refuses SMTP HELO/EHLO, offers no AUTH or STARTTLS', async () => {
    const ep = await serve(realIntake());
    const c = await RawLmtpClient.connect({ port: portOf(ep) });
    const greeting = await c.reply();
    expect(greeting.code).toBe(220);
    expect(greeting.text).toContain('LMTP');
    expect((await c.command('EHLO x')).code).toBe(500);
    const lhlo = await c.command('LHLO relay.trxmail.test');
    expect(lhlo.code).toBe(250);
    const caps = lhlo.lines.join('\n');
    expect(caps).toContain('ENHANCEDSTATUSCODES');
    expect(caps).not.toMatch(/AUTH|STARTTLS/);
    expect((await c.command('STARTTLS')).code).toBeGreaterThanOrEqual(500);
    c.destroy();
  });

  it('answers per recipient after DATA: 250 recorded for a real bounce, 250 ignored for a forged address', async () => {
    await db.send('4jXQZB3dVKzJ9Ft', 'gone@example.org');
    const ep = await serve(realIntake());
    const good = bounceAddress(db.space.id, '4jXQZB3dVKzJ9Ft');
    const forged = bounceAddress(db.space.id, '4jXQZB3dVKzJ9Ft', { keys: OTHER_KEYS });
    const c = await RawLmtpClient.connect({ port: portOf(ep) });
    const r = await transaction(c, {
      mailFrom: '',
      rcptTo: [good, forged],
      message: postfixDsn({ to: good, queueId: '4jXnZD2n0dzJMtJ', recipients: [{ address: 'gone@example.org', ...HARD }] }),
    });
    expect(r.rcpt.map((x) => x.code)).toEqual([250, 250]);
    expect(r.data.map((x) => [x.code, x.text])).toEqual([
      [250, '2.6.0 recorded bounce for send 4jXQZB3dVKzJ9Ft: gone@example.org bounced 5.1.1 user-unknown listed'],
      [250, '2.6.0 ignored bounce: bounce-address-bad-check'],
    ]);
    expect((await db.store.getSend('4jXQZB3dVKzJ9Ft', db.space.id))?.status).toBe('bounced');
    expect((await db.store.listEntries(db.space.id, 'bounce')).map((e) => e.address)).toEqual(['gone@example.org']);
    // The connection goes on: a second transaction on it.
    expect((await c.command('MAIL FROM:<>')).code).toBe(250);
    c.destroy();
  });

  it('accepts mail that is not a bounce (250, logged, nothing stored)', async () => {
    await db.send('Auto1', 'someone@example.org');
    const ep = await serve(realIntake());
    const to = bounceAddress(db.space.id, 'Auto1');
    const c = await RawLmtpClient.connect({ port: portOf(ep) });
    const r = await transaction(c, { mailFrom: 'someone@example.org', rcptTo: [to], message: autoReply(to) });
    expect(r.data.map((x) => [x.code, x.text])).toEqual([[250, '2.6.0 ignored other: not-a-bounce']]);
    expect(await db.store.listEvents('Auto1')).toEqual([]);
    c.destroy();
  });

  it('accepts any address in the bounce domain (any case), refuses other domains with 550 5.1.1 (and a non-address with 501)', async () => {
    const { intake, calls } = scriptedIntake(() => ignoredResult);
    const ep = await serve(intake);
    const c = await RawLmtpClient.connect({ port: portOf(ep) });
    const r = await transaction(c, {
      mailFrom: '',
      rcptTo: ['postmaster@BOUNCES.Example.COM', 'someone@example.org', `x@sub.${BOUNCE_DOMAIN}`, 'not-an-address'],
      message: Buffer.from('Subject: hi\r\n\r\nhello\r\n'),
    });
    expect(r.rcpt.map((x) => x.code)).toEqual([250, 550, 550, 501]); // 501: smtp-server's own syntax check
    expect(r.rcpt[1]?.text).toMatch(/^5\.1\.1 /);
    expect(r.data.map((x) => x.code)).toEqual([250]);
    expect(calls.map((x) => x.env)).toEqual([{ mailFrom: '', rcptTo: 'postmaster@BOUNCES.Example.COM' }]);
    c.destroy();
  });

  it('451 4.3.0 for the recipient whose intake hit a TransientError, 250 for the others, in RCPT order', async () => {
    const { intake } = scriptedIntake((env) => (env.rcptTo?.startsWith('down') ? new TransientError('ESTORE_IO', 'store down') : ignoredResult));
    const ep = await serve(intake);
    const c = await RawLmtpClient.connect({ port: portOf(ep) });
    const r = await transaction(c, {
      mailFrom: '',
      rcptTo: [`up1@${BOUNCE_DOMAIN}`, `down@${BOUNCE_DOMAIN}`, `up2@${BOUNCE_DOMAIN}`],
      message: Buffer.from('Subject: x\r\n\r\nx\r\n'),
    });
    expect(r.data.map((x) => [x.code, x.text.slice(0, 6)])).toEqual([
      [250, '2.6.0 '],
      [451, '4.3.0 '],
      [250, '2.6.0 '],
    ]);
    expect(logs.some((l) => l.level === 'warn' && l.msg.includes('451'))).toBe(true);
    c.destroy();
  });

  it('451 when the real store is down (the message stays with Postfix)', async () => {
    await db.send('Down1', 'gone@example.org');
    const store = failingStore(db.store, new Set(['getSend']), () => new TransientError('ESTORE_BUSY', 'database is locked'));
    const ep = await serve(realIntake(store));
    const to = bounceAddress(db.space.id, 'Down1');
    const c = await RawLmtpClient.connect({ port: portOf(ep) });
    const r = await transaction(c, { mailFrom: '', rcptTo: [to], message: postfixDsn({ to, queueId: 'Q', recipients: [{ address: 'gone@example.org', ...HARD }] }) });
    expect(r.data.map((x) => [x.code, x.text])).toEqual([[451, '4.3.0 Store unavailable, try again later']]);
    expect((await db.store.getSend('Down1', db.space.id))?.status).toBe('queued');
    c.destroy();
  });

  it('a bug in the intake is a 451 too (never a 5xx that would bounce the bounce), logged as an error', async () => {
    const { intake } = scriptedIntake(() => new Error('bug'));
    const ep = await serve(intake);
    const c = await RawLmtpClient.connect({ port: portOf(ep) });
    const r = await transaction(c, { mailFrom: '', rcptTo: [`a@${BOUNCE_DOMAIN}`], message: Buffer.from('x\r\n') });
    expect(r.data.map((x) => x.code)).toEqual([451]);
    expect(logs.some((l) => l.level === 'error')).toBe(true);
    c.destroy();
  });

  it('a client hanging up mid-message is one warning without a stack, not an error', async () => {
    const { intake, calls } = scriptedIntake(() => ignoredResult);
    const ep = await serve(intake);
    for (const hangUp of ['end', 'destroy'] as const) {
      const c = await RawLmtpClient.connect({ port: portOf(ep) });
      await c.reply();
      await c.command('LHLO relay.trxmail.test');
      await c.command('MAIL FROM:<>');
      await c.command(`RCPT TO:<r@${BOUNCE_DOMAIN}>`);
      expect((await c.command('DATA')).code).toBe(354);
      c.write('Subject: cut\r\n\r\npart of a bou');
      c[hangUp]();
      await expect.poll(() => logs.filter((l) => l.msg === 'lmtp: client closed the connection before the end of the message').length).toBe(hangUp === 'end' ? 1 : 2);
    }
    expect(logs.filter((l) => l.level === 'error')).toEqual([]);
    expect(JSON.stringify(logs)).not.toContain('stack');
    expect(calls).toHaveLength(0);
  });

  it(`takes MAX_LMTP_RECIPIENTS (${MAX_LMTP_RECIPIENTS}) recipients; one more gets 452 4.5.3`, async () => {
    const { intake, calls } = scriptedIntake(() => ignoredResult);
    const ep = await serve(intake);
    const c = await RawLmtpClient.connect({ port: portOf(ep) });
    const rcpts = Array.from({ length: MAX_LMTP_RECIPIENTS + 1 }, (_, i) => `r${i}@${BOUNCE_DOMAIN}`);
    const r = await transaction(c, { mailFrom: '', rcptTo: rcpts, message: Buffer.from('x\r\n') });
    expect(r.rcpt.filter((x) => x.code === 250)).toHaveLength(MAX_LMTP_RECIPIENTS);
    expect(r.rcpt.at(-1)?.code).toBe(452);
    expect(r.rcpt.at(-1)?.text).toMatch(/^4\.5\.3 /);
    expect(r.data).toHaveLength(MAX_LMTP_RECIPIENTS);
    expect(calls).toHaveLength(MAX_LMTP_RECIPIENTS);
    c.destroy();
  });

  it(`keeps MAX_BOUNCE_BYTES (+1) of a bigger message for the analysis and still accepts it`, async () => {
    const { intake, calls } = scriptedIntake(() => ignoredResult);
    const ep = await serve(intake);
    const c = await RawLmtpClient.connect({ port: portOf(ep) });
    const line = `${'z'.repeat(998)}\r\n`;
    const big = Buffer.from(`Subject: big\r\n\r\n${line.repeat(Math.ceil((MAX_BOUNCE_BYTES + 50_000) / line.length))}`);
    const r = await transaction(c, { mailFrom: '', rcptTo: [`big@${BOUNCE_DOMAIN}`], message: big });
    expect(r.data.map((x) => x.code)).toEqual([250]);
    expect(calls[0]?.raw.length).toBe(MAX_BOUNCE_BYTES + 1);
    expect(calls[0]?.raw.subarray(0, 14).toString()).toBe('Subject: big\r\n');
    c.destroy();
  }, 60_000);

  it('un-dot-stuffs the message before the intake sees it', async () => {
    const { intake, calls } = scriptedIntake(() => ignoredResult);
    const ep = await serve(intake);
    const c = await RawLmtpClient.connect({ port: portOf(ep) });
    await transaction(c, { mailFrom: '', rcptTo: [`a@${BOUNCE_DOMAIN}`], message: Buffer.from('Subject: d\r\n\r\n.leading dot\r\n..two\r\n') });
    expect(calls[0]?.raw.toString()).toBe('Subject: d\r\n\r\n.leading dot\r\n..two\r\n');
    c.destroy();
  });

  it('nodemailer as an LMTP client: accepted per recipient', async () => {
    await db.send('Nm1', 'gone@example.org');
    const ep = await serve(realIntake());
    const to = bounceAddress(db.space.id, 'Nm1');
    const transport = nodemailer.createTransport({ lmtp: true, host: '127.0.0.1', port: portOf(ep), ignoreTLS: true });
    const info = await transport.sendMail({
      envelope: { from: '', to: [to] },
      raw: postfixDsn({ to, queueId: 'Q', recipients: [{ address: 'gone@example.org', ...HARD }] }),
    });
    transport.close();
    expect(info.accepted).toEqual([to]);
    expect((await db.store.getSend('Nm1', db.space.id))?.status).toBe('bounced');
  });

  it('listens on a unix socket (mode 0660), replacing a stale socket file', async () => {
    const sock = path.join(db.dir, 'lmtp.sock');
    // A stale socket: a process listened on it and was killed, leaving the file behind.
    const child = spawn(process.execPath, ['-e', "require('net').createServer().listen(process.argv[1], () => console.log('up'))", sock], { stdio: ['ignore', 'pipe', 'ignore'] });
    await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGKILL');
    await exited;
    expect(statSync(sock).isSocket()).toBe(true);
    const { intake, calls } = scriptedIntake(() => ignoredResult);
    const ep = await serve(intake, { kind: 'unix', path: sock });
    expect(ep).toEqual({ kind: 'unix', path: sock });
    expect(statSync(sock).mode & 0o777).toBe(DEFAULT_SOCKET_MODE);
    const c = await RawLmtpClient.connect({ path: sock });
    const r = await transaction(c, { mailFrom: '', rcptTo: [`a@${BOUNCE_DOMAIN}`], message: Buffer.from('x\r\n') });
    expect(r.data.map((x) => x.code)).toEqual([250]);
    expect(calls).toHaveLength(1);
    c.destroy();
  });

  it('refuses a path that is not a socket, and a port in use, with ConfigError', async () => {
    const file = path.join(db.dir, 'not-a-socket');
    writeFileSync(file, 'x');
    const a = new LmtpServer({ intake: realIntake(), bounceDomain: BOUNCE_DOMAIN, logger: silentLogger });
    await expect(a.listen({ kind: 'unix', path: file })).rejects.toBeInstanceOf(ConfigError);
    await a.close();
    const ep = await serve(realIntake());
    const b = new LmtpServer({ intake: realIntake(), bounceDomain: BOUNCE_DOMAIN, logger: silentLogger });
    await expect(b.listen({ kind: 'tcp', host: '127.0.0.1', port: portOf(ep) })).rejects.toThrow(/LMTP listener: cannot listen on 127\.0\.0\.1:/);
    await b.close();
    expect(() => new LmtpServer({ intake: realIntake(), bounceDomain: 'not a domain', logger: silentLogger })).toThrow(ConfigError);
  });

  it('close(): stops accepting, answers 421 to an idle connection after the grace time, resolves', async () => {
    const ep = await serve(realIntake());
    const c = await RawLmtpClient.connect({ port: portOf(ep) });
    expect((await c.reply()).code).toBe(220);
    const closing = server!.close();
    const bye = await c.reply();
    expect(bye.code).toBe(421);
    await c.closed();
    await closing;
    await expect(RawLmtpClient.connect({ port: portOf(ep) })).rejects.toThrow(/ECONNREFUSED/);
    server = null;
  });
});
