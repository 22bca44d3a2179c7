/**
 * The relay end to end: real Postfix, real TLS, real clients (nodemailer, swaks), trxmail's
 * milter/policy/SASL, a capturing sink. Each test sends real mail and looks at what the
 * client was told, what was delivered, and what the store recorded.
 */
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import nodemailer from 'nodemailer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeBounceAddress } from '../../src/bounce/bounce-address.js';
import { cli } from '../cli/helpers.js';
import { BOUNCE_DOMAIN, MAILBOX_DOMAIN, startStack, TEST_KEYS, type Stack } from './stack.js';

const run = promisify(execFile);
const USER = 'app@shop.example';
const PASSWORD = 'correct horse battery staple';

let stack: Stack;

function transport(port: number, opts: { secure?: boolean; auth?: boolean; password?: string; ignoreTLS?: boolean } = {}) {
  return nodemailer.createTransport({
    host: '127.0.0.1',
    port,
    secure: opts.secure ?? false,
    requireTLS: !(opts.secure ?? false) && !(opts.ignoreTLS ?? false),
    ignoreTLS: opts.ignoreTLS ?? false,
    tls: { rejectUnauthorized: false },
    ...(opts.auth === false ? {} : { auth: { user: USER, pass: opts.password ?? PASSWORD } }),
    connectionTimeout: 20_000,
    greetingTimeout: 20_000,
    socketTimeout: 30_000,
  });
}

/** Sends a raw message; resolves with the 250 reply or rejects with nodemailer's error. */
async function sendRaw(raw: string, envelope: { from: string; to: string[] }, port = stack.ports.submission, opts = {}) {
  const t = transport(port, opts);
  try {
    const info = await t.sendMail({ envelope, raw: raw.replace(/\r?\n/g, '\r\n') });
    return info.response;
  } finally {
    t.close();
  }
}

async function sendError(raw: string, envelope: { from: string; to: string[] }, port?: number, opts = {}) {
  return sendRaw(raw, envelope, port, opts).then(
    (r) => {
      throw new Error(`expected a refusal, got ${r}`);
    },
    (err: { responseCode?: number; response?: string; code?: string }) => err,
  );
}

const queuedId = (response: string): string => {
  const m = /^250 2\.0\.0 Ok: queued as ([0-9A-Za-z]+)$/.exec(response);
  if (!m?.[1]) throw new Error(`not a queued reply: ${response}`);
  return m[1];
};

function headerBlock(raw: Buffer): string {
  const s = raw.toString('utf8');
  const end = s.indexOf('\r\n\r\n');
  return end === -1 ? s : s.slice(0, end + 2);
}

function fields(raw: Buffer, name: string): string[] {
  const unfolded = headerBlock(raw).replace(/\r\n[ \t]/g, ' ');
  return unfolded
    .split('\r\n')
    .filter((l) => l.toLowerCase().startsWith(name.toLowerCase() + ':'))
    .map((l) => l.slice(name.length + 1).trim());
}

beforeAll(async () => {
  stack = await startStack();
  await stack.addSpace('shop', ['shop.example', 'bücher.example'], [{ email: USER, password: PASSWORD }]);
  await stack.addSpace('other', ['other.example'], [{ email: 'app@other.example', password: 'other password 123' }]);
}, 120_000);

afterAll(async () => {
  await stack?.stop();
});

describe('transport and authentication', () => {
  it('STARTTLS submission on 587: 250 with a queue id that keys the send in the store', async () => {
    const r = await sendRaw('From: a@shop.example\nTo: rcpt1@example.org\nSubject: hi\n\nhello\n', {
      from: 'news@shop.example',
      to: ['rcpt1@example.org'],
    });
    const id = queuedId(r);
    const send = await stack.store.getSend(id, null);
    expect(send).toMatchObject({ id, from: 'news@shop.example', to: 'rcpt1@example.org', flags: 3, flagsSource: 'default' });
    const delivered = await stack.sink.waitFor((m) => m.rcptTo.includes('rcpt1@example.org'));
    expect(fields(delivered.raw, 'From')).toEqual(['news@shop.example']);
  });

  it("Postfix 3.7 granted the rules handler's protocol bits: it sends no C and waits only at MAIL and end-of-message", async () => {
    await sendRaw('From: a@shop.example\nTo: rcpt-neg@example.org\n\nhello\n', { from: 'news@shop.example', to: ['rcpt-neg@example.org'] });
    const negotiated = stack.logs.filter((l) => l.msg === 'milter options negotiated').map((l) => l.obj);
    expect(negotiated.length).toBeGreaterThan(0);
    // Offered: v6, actions 0x1ff, every protocol bit. Taken: HDR_LEADSPC|NR_BODY|NR_RCPT|NODATA|
    // NOUNKNOWN|NR_HDR|NOEOH|NOHELO|NOCONNECT — and the message above went through with them.
    for (const n of negotiated) expect(n).toMatchObject({ mtaVersion: 6, mtaProtocol: 0x1fffff, version: 6, protocol: 0x1883c3 });
  });

  it('implicit TLS on 465 works (nodemailer, secure: true)', async () => {
    const r = await sendRaw('From: a@shop.example\nTo: rcpt465@example.org\n\nhello\n', { from: 'news@shop.example', to: ['rcpt465@example.org'] }, stack.ports.smtps, {
      secure: true,
    });
    expect(r).toMatch(/^250 2\.0\.0 Ok: queued as /);
  });

  it('implicit TLS on 465 works with swaks too', async () => {
    const { stdout } = await run(
      'swaks',
      [
        '--server', `127.0.0.1:${stack.ports.smtps}`, '--tls-on-connect',
        '--auth', 'PLAIN', '--auth-user', USER, '--auth-password', PASSWORD,
        '--from', 'news@shop.example', '--to', 'swaks@example.org',
        '--header', 'X-Mxm-Tag: swaks',
      ],
      { timeout: 60_000 },
    );
    const line = stdout.split('\n').find((l) => l.includes('queued as'));
    expect(line).toMatch(/<~ {2}250 2\.0\.0 Ok: queued as [0-9A-Za-z]+/);
    const id = /queued as ([0-9A-Za-z]+)/.exec(line!)![1]!;
    expect((await stack.store.getSend(id, null))?.tags).toEqual(['swaks']);
  });

  it('refuses a plain-text transaction on the port-25 listener (at RCPT: STARTTLS is optional there for bounces)', async () => {
    const err = await sendError('From: a@shop.example\nTo: x@example.org\n\nhi\n', { from: 'news@shop.example', to: ['x@example.org'] }, stack.ports.smtp, {
      ignoreTLS: true,
      auth: false,
    });
    expect(err.responseCode).toBe(530);
    expect(err.response).toMatch(/^530 5\.7\.0 <x@example\.org>: Recipient address rejected: Must issue a STARTTLS command first/);
  });

  it('refuses a client that did not authenticate', async () => {
    const err = await sendError('From: a@shop.example\nTo: x@example.org\n\nhi\n', { from: 'news@shop.example', to: ['x@example.org'] }, stack.ports.submission, {
      auth: false,
    });
    expect(err.responseCode).toBe(530);
    expect(err.response).toMatch(/^530 5\.7\.0 Authentication required/);
  });

  it('answers a bad password with 535', async () => {
    const err = await sendError('From: a@shop.example\nTo: x@example.org\n\nhi\n', { from: 'news@shop.example', to: ['x@example.org'] }, stack.ports.submission, {
      password: 'wrong password',
    });
    expect(err.responseCode).toBe(535);
    expect(err.response).toMatch(/^535 5\.7\.8 /);
  });
});

describe('sender rules', () => {
  it.each([
    ['news@other.example', /^553 5\.7\.1 Sender domain <other\.example> is not allowed for this account/],
    ['news@shop.example.evil.test', /^553 5\.7\.1 Sender domain <shop\.example\.evil\.test> is not allowed/],
    ['news@mail.shop.example', /^553 5\.7\.1 Sender domain <mail\.shop\.example> is not allowed/],
  ])('refuses MAIL FROM %s with the reason', async (from, re) => {
    const err = await sendError('From: a@shop.example\nTo: x@example.org\n\nhi\n', { from, to: ['x@example.org'] });
    expect(err.response).toMatch(re);
  });

  it.each(['News@SHOP.Example', 'news@xn--bcher-kva.example'])('accepts the allowed domain in another form: %s', async (from) => {
    const r = await sendRaw('From: a@shop.example\nTo: case@example.org\n\nhi\n', { from, to: ['case@example.org'] });
    const send = await stack.store.getSend(queuedId(r), null);
    // Postfix lower-cases the domain before the milter sees it; the local part is kept.
    expect(send?.mailFrom).toMatch(new RegExp(`^${from.split('@')[0]}@`));
    expect(send?.mailFrom.toLowerCase()).toBe(from.toLowerCase());
    expect(send?.from.toLowerCase()).toBe(from.toLowerCase());
  });
});

describe('the delivered message', () => {
  it('replaces From (display name kept), sets the bounce address, keeps one To, delivers the BCC, discards the rest', async () => {
    const raw = [
      'From: "Shop News" <noreply@elsewhere.example>',
      'To: "Alice" <alice@example.org>, bob@example.org',
      'Cc: carol@example.org',
      'Bcc: dave@example.org',
      'X-Mxm-Flags: 0',
      'X-Mxm-Tag: welcome, march',
      'X-Mxm-Tag: vip',
      'X-Trxmail-Ref: trx-1-forged-aaaaaaaaaaaaa',
      'Subject: rules',
      '',
      'body',
      '',
    ].join('\n');
    const r = await sendRaw(raw, {
      from: 'news@shop.example',
      to: ['alice@example.org', 'bcc@example.org', 'discard1@example.org', 'discard2@example.org'],
    });
    const id = queuedId(r);
    const msg = await stack.sink.waitFor((m) => m.rcptTo.includes('alice@example.org') && m.raw.toString().includes('Subject: rules'));
    expect([...msg.rcptTo].sort()).toEqual(['alice@example.org', 'bcc@example.org']);
    expect(fields(msg.raw, 'From')).toEqual(['"Shop News" <news@shop.example>']);
    expect(fields(msg.raw, 'To')).toEqual(['"Alice" <alice@example.org>']);
    for (const gone of ['Cc', 'Bcc', 'X-Mxm-Flags', 'X-Mxm-Tag', 'Sender']) expect(fields(msg.raw, gone)).toEqual([]);
    const decoded = decodeBounceAddress(msg.mailFrom, TEST_KEYS, BOUNCE_DOMAIN);
    expect(decoded).toMatchObject({ ok: true, sendId: id });
    // the send reference for complaints: ours, once, replacing the client's
    expect(fields(msg.raw, 'X-Trxmail-Ref')).toEqual([msg.mailFrom.slice(0, msg.mailFrom.indexOf('@'))]);
    // discarded recipients received nothing
    expect(stack.sink.messages.some((m) => m.rcptTo.some((a) => a.startsWith('discard')))).toBe(false);
    const send = await stack.store.getSend(id, null);
    expect(send).toMatchObject({
      to: 'alice@example.org',
      bcc: 'bcc@example.org',
      discarded: ['discard1@example.org', 'discard2@example.org'],
      tags: ['welcome', 'march', 'vip'],
      flags: 0,
      flagsSource: 'header',
      envelopeSender: msg.mailFrom,
    });
    const listed = await cli(stack.dir, ['--config', writeConfig(), 'sends', 'list', '--tag', 'vip', '--json']);
    expect(listed.stderr).toBe('');
    expect((JSON.parse(listed.stdout) as Array<{ id: string }>).map((s) => s.id)).toEqual([id]);
  });

  it('reaches a final delivery agent with the bounce address as Return-Path', async () => {
    const r = await sendRaw(`From: App <a@shop.example>\nTo: inbox@${MAILBOX_DOMAIN}\nSubject: return-path\n\nhi\n`, {
      from: 'billing@shop.example',
      to: [`inbox@${MAILBOX_DOMAIN}`],
    });
    const id = queuedId(r);
    const mbox = await stack.mailbox('Subject: return-path');
    const returnPath = /^Return-Path: <([^>]+)>$/m.exec(mbox)?.[1];
    expect(decodeBounceAddress(returnPath, TEST_KEYS, BOUNCE_DOMAIN)).toMatchObject({ ok: true, sendId: id });
    expect(mbox).toMatch(/^From: App <billing@shop\.example>$/m);
  });

  it('keeps an RFC 2047 encoded display name byte for byte', async () => {
    const raw = 'From: =?UTF-8?B?QsO8Y2hlciBHbWJI?= <x@elsewhere.example>\nTo: enc@example.org\nSubject: enc\n\nhi\n';
    await sendRaw(raw, { from: 'info@bücher.example', to: ['enc@example.org'] }).catch(async () =>
      // Without SMTPUTF8 support in the client, use the A-label form.
      sendRaw(raw, { from: 'info@xn--bcher-kva.example', to: ['enc@example.org'] }),
    );
    const msg = await stack.sink.waitFor((m) => m.rcptTo.includes('enc@example.org'));
    expect(fields(msg.raw, 'From')[0]).toMatch(/^=\?UTF-8\?B\?QsO8Y2hlciBHbWJI\?= <info@(bücher|xn--bcher-kva)\.example>$/);
  });

  it('refuses a To that is not among the RCPT TO addresses, with the reason', async () => {
    const err = await sendError('From: a@shop.example\nTo: someone@example.org\n\nhi\n', { from: 'news@shop.example', to: ['other@example.org'] });
    expect(err.response).toMatch(/^554 5\.7\.1 To: address <?someone@example\.org>? is not one of the RCPT TO recipients/);
  });
});

describe('failing closed', () => {
  it('gives the client a 4xx while trxmail is stopped, and works again after', async () => {
    await stack.stopTrxmail();
    try {
      const err = await sendError('From: a@shop.example\nTo: down@example.org\n\nhi\n', { from: 'news@shop.example', to: ['down@example.org'] });
      expect(String(err.responseCode)).toMatch(/^4\d\d$/);
    } finally {
      await stack.startTrxmail();
    }
    // An smtpd process that lost its SASL connection answers its next AUTH with 454 and
    // reconnects for the one after: a client retries a 4xx, so do we (bounded).
    let reply = '';
    for (let attempt = 0; attempt < 5 && !reply.startsWith('250 '); attempt++) {
      reply = await sendRaw('From: a@shop.example\nTo: up@example.org\n\nhi\n', { from: 'news@shop.example', to: ['up@example.org'] }).catch(
        (err: { responseCode?: number; response?: string }) => {
          expect(String(err.responseCode)).toMatch(/^4\d\d$/);
          return err.response ?? '';
        },
      );
    }
    expect(reply).toMatch(/^250 2\.0\.0 Ok: queued as /);
  });
});

describe('store trouble is a 4xx, never a 250', () => {
  it('a failing send record: 451 4.3.0, nothing delivered, nothing recorded', async () => {
    stack.failing.add('recordSend');
    try {
      const err = await sendError('From: a@shop.example\nTo: norecord@example.org\n\nhi\n', { from: 'news@shop.example', to: ['norecord@example.org'] });
      expect(err.response).toMatch(/^451 4\.3\.0 /);
    } finally {
      stack.failing.delete('recordSend');
    }
    const r = await sendRaw('From: a@shop.example\nTo: marker@example.org\n\nhi\n', { from: 'news@shop.example', to: ['marker@example.org'] });
    await stack.sink.waitFor((m) => m.rcptTo.includes('marker@example.org'));
    // Postfix delivered the later message, so it would have delivered the refused one by now.
    expect(stack.sink.messages.some((m) => m.rcptTo.includes('norecord@example.org'))).toBe(false);
    expect((await stack.store.listSends({})).some((s) => s.to === 'norecord@example.org')).toBe(false);
    expect(r).toMatch(/^250 /);
  });

  it('a failing user lookup during AUTH: 454 4.7.0, not 535', async () => {
    stack.failing.add('getUserByEmail');
    try {
      const err = await sendError('From: a@shop.example\nTo: x@example.org\n\nhi\n', { from: 'news@shop.example', to: ['x@example.org'] });
      expect(err.response).toMatch(/^454 4\.7\.0 /);
    } finally {
      stack.failing.delete('getUserByEmail');
    }
  });

  it('a failing account lookup at MAIL: 4xx', async () => {
    stack.failing.add('getAccount');
    try {
      const err = await sendError('From: a@shop.example\nTo: x@example.org\n\nhi\n', { from: 'news@shop.example', to: ['x@example.org'] });
      expect(String(err.responseCode)).toMatch(/^4\d\d$/);
    } finally {
      stack.failing.delete('getAccount');
    }
  });
});

function writeConfig(): string {
  const file = path.join(stack.dir, 'trxmail.yaml');
  const store = stack.config.store;
  if (store.driver !== 'sqlite') throw new Error('the e2e stack runs on SQLite');
  writeFileSync(file, `dataDir: ${stack.config.dataDir}\nstore:\n  path: ${store.path}\n`);
  return file;
}
