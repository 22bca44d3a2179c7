/**
 * PostgreSQL stopped under a real Postfix (issue 14 item 3, acceptance): trxmail on a
 * PostgreSQL cluster of this test's own (test/helpers/private-postgres.ts), which the test
 * really stops (`pg_ctl stop -m fast`), starts again, and then freezes (every server process
 * SIGSTOPped: TCP connects, nothing answers, only the client's deadlines end a call). Real
 * SMTP clients on the submission port: step-by-step sessions (test/helpers/smtp-client.ts) stopped between two commands, and
 * nodemailer as an application. What must hold while the database is gone:
 *  - AUTH → `454 4.7.0` (temporary), never 535 or any 5xx;
 *  - a session that logged in before: MAIL → the milter's 451 4.3.0, RCPT → the policy
 *    service's default action 451 4.3.5, end of message → the milter's 451 4.3.0; never a 5xx;
 *  - every answer within a bound set by the store's timeouts (connect + statement + grace,
 *    and Postfix's own policy retry), checked by the test, not by its timeout;
 *  - /health 503.
 * And once it is back, the same trxmail process (no restart) accepts: AUTH 235, 250, in the
 * very sessions that got the 4xx too; the retried To + BCC message is recorded once and each
 * recipient gets one copy (the 4xx attempts left nothing behind); sends answered 250 before
 * the stop are recorded and delivered, and their deliveries (logged by Postfix while the
 * database was down) reach the store.
 * Postfix holds outgoing mail (`defer_transports = smtp`) until the test flushes the queue,
 * so deliveries happen when the test says: during the outage for the sends before it.
 * Defects this found, fixed in src/ with tests of their own: the client's reconnect backoff
 * (20 s of 4xx after the server was back), a stale 57P01 handed to the first statement after
 * reconnecting, and Postfix (before 3.11) answering AUTH 454 by itself after a TCP auth
 * connection was closed rather than reset.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CALL_GRACE_MS } from '../../src/store/postgres/database.js';
import { startPrivatePostgres, type PrivatePostgres } from '../helpers/private-postgres.js';
import { SmtpConnection, authPlainLine, type SmtpReply } from '../helpers/smtp-client.js';
import { copies, queueDrained, startStack, submit, type Stack } from './stack.js';

const run = promisify(execFile);
const USER = 'app@pgfaults.example';
const PASSWORD = 'pg faults password 123';
const FROM = 'news@pgfaults.example';
const CONNECT_TIMEOUT_MS = 1000;
const STATEMENT_TIMEOUT_MS = 1000;
/** One store call gives up within this (PgDatabase's client-side deadline). */
const CALL_BOUND_MS = CONNECT_TIMEOUT_MS + STATEMENT_TIMEOUT_MS + CALL_GRACE_MS;
/**
 * Every SMTP answer while the database is gone comes within this: AUTH makes two store calls
 * one after the other, the policy service one per try and Postfix tries twice, a second apart
 * (smtpd_policy_service_try_limit, _retry_delay); plus slack for a busy machine.
 */
const ANSWER_BOUND_MS = 2 * CALL_BOUND_MS + 1000 + 3000;
/** The clients' own wait for a reply: far above the bound, so a hang shows as a failed bound, not as this. */
const REPLY_TIMEOUT_MS = 60_000;

let pg: PrivatePostgres;
let stack: Stack;
let spaceId = 0;

function message(to: string, subject: string): string {
  return [`From: App <${FROM}>`, `To: ${to}`, `Subject: ${subject}`, '', `body of ${subject}`, ''].join('\r\n');
}

/** An application's attempt (nodemailer: STARTTLS, AUTH, To + BCC); the final reply's code and text. */
async function attempt(to: string, bcc: string, subject: string): Promise<SmtpReply & { ms: number }> {
  const started = Date.now();
  try {
    const text = await submit(stack, { user: USER, pass: PASSWORD }, { from: FROM, to: [to, bcc] }, message(to, subject));
    return { code: Number(text.slice(0, 3)), text, ms: Date.now() - started };
  } catch (err: unknown) {
    const e = err as { responseCode?: number; response?: string; message?: string };
    return { code: e.responseCode ?? 0, text: e.response ?? e.message ?? String(err), ms: Date.now() - started };
  }
}

/** A session on the submission port after EHLO, STARTTLS, EHLO. */
async function session(): Promise<SmtpConnection> {
  const c = await SmtpConnection.open('127.0.0.1', stack.ports.submission, REPLY_TIMEOUT_MS);
  await c.hello('client.pgfaults.test', true);
  return c;
}

/** A session logged in (235). */
async function loggedIn(): Promise<SmtpConnection> {
  const c = await session();
  await c.command(authPlainLine(USER, PASSWORD), 235);
  return c;
}

/** Sends `line` and times the answer. */
async function timed(c: SmtpConnection, line: string | Buffer): Promise<SmtpReply & { ms: number }> {
  const started = Date.now();
  const reply = await c.send(line);
  return { ...reply, ms: Date.now() - started };
}

/** A whole transaction in an open session (MAIL, RCPT To and BCC, DATA, body); the final reply. */
async function transaction(c: SmtpConnection, to: string, bcc: string, subject: string): Promise<SmtpReply> {
  await c.command(`MAIL FROM:<${FROM}>`, 250);
  await c.command(`RCPT TO:<${to}>`, 250);
  await c.command(`RCPT TO:<${bcc}>`, 250);
  await c.command('DATA', 354);
  return c.send(Buffer.from(message(to, subject) + '.\r\n'));
}

function expectTemporary(r: SmtpReply & { ms: number }, what: string): void {
  expect(r.code, `${what}: ${r.text}`).toBeGreaterThanOrEqual(400);
  expect(r.code, `${what}: ${r.text}`).toBeLessThan(500);
  expect(r.ms, `${what} answered after ${r.ms} ms`).toBeLessThan(ANSWER_BOUND_MS);
}

/** Sends recorded for the To address `to`. */
async function sendsTo(to: string): Promise<number> {
  return (await stack.store.listSends({ spaceId, limit: 1000 })).filter((s) => s.to === to).length;
}

function queuedId(reply: string): string {
  const id = /^250 2\.0\.0 Ok: queued as ([0-9A-Za-z]+)/.exec(reply)?.[1];
  if (id === undefined) throw new Error(`not queued: ${reply}`);
  return id;
}

/**
 * Asks Postfix to deliver what it holds (defer_transports) until the sink has a copy for each
 * of `rcpts` with `subject`: a message queued just after a flush waits for the next one, and
 * postqueue has no "wait for delivery", so this polls.
 */
async function deliver(subject: string, rcpts: string[]): Promise<void> {
  const has = (r: string): boolean => stack.sink.messages.some((m) => m.rcptTo.includes(r) && m.raw.toString('utf8').includes(`Subject: ${subject}`));
  for (let i = 0; i < 150 && !rcpts.every(has); i++) {
    await run('postqueue', ['-c', stack.postfix.confDir, '-f']);
    await new Promise((r) => setTimeout(r, 200));
  }
  expect(rcpts.filter((r) => !has(r)), `${subject}: not delivered`).toEqual([]);
}

/**
 * Both kinds of listener: unix sockets (the shipped default) and TCP, where Postfix's Dovecot
 * client (before 3.11) needs trxmail to reset a dropped auth connection to reconnect.
 */
describe.each(['default', 'tcp'] as const)('PostgreSQL stopped and started again under the real Postfix (%s listeners)', (listeners) => {
  beforeAll(async () => {
    pg = await startPrivatePostgres();
    try {
      stack = await startStack({
        store: { driver: 'postgres', url: pg.url, poolSize: 5, connectTimeoutMs: CONNECT_TIMEOUT_MS, statementTimeoutMs: STATEMENT_TIMEOUT_MS },
        // Outgoing mail waits in the queue until the test flushes it (postqueue -f).
        extraMain: { defer_transports: 'smtp' },
        listeners,
      });
      spaceId = (await stack.addSpace('pgfaults', ['pgfaults.example'], [{ email: USER, password: PASSWORD }])).id;
    } catch (err: unknown) {
      await pg.destroy();
      throw err;
    }
  }, 120_000);

  afterAll(async () => {
    await stack?.stop();
    await pg?.destroy();
  });

  /** Sends answered 250 before the stop: subject → queue id. */
  const before = new Map<string, string>();
  let runtimeBefore: Stack['runtime'] = null;
  /** Sessions opened while the database was up, kept across the outage. */
  let afterAuth: SmtpConnection;
  let afterMail: SmtpConnection;
  let beforeDot: SmtpConnection;

  it('accepts while the database is up', async () => {
    for (const n of [1, 2]) {
      const r = await attempt(`before-${n}@example.org`, `before-${n}-bcc@example.org`, `before stop ${n}`);
      expect(r.code, r.text).toBe(250);
      before.set(`before stop ${n}`, queuedId(r.text));
    }
    runtimeBefore = stack.runtime;
    afterAuth = await loggedIn();
    afterMail = await loggedIn();
    await afterMail.command(`MAIL FROM:<${FROM}>`, 250);
    beforeDot = await loggedIn();
    await beforeDot.command(`MAIL FROM:<${FROM}>`, 250);
    await beforeDot.command('RCPT TO:<retried@example.org>', 250);
    await beforeDot.command('RCPT TO:<retried-bcc@example.org>', 250);
    await beforeDot.command('DATA', 354);
    // The message without its final ".": end of message comes once the database is gone.
    beforeDot.write(Buffer.from(message('retried@example.org', 'retried message')));
  });

  it('while stopped: 454 at AUTH, 451 at MAIL, RCPT and end of message, within the bound; /health 503', async () => {
    await pg.stop('fast');

    const eom = await timed(beforeDot, '.');
    expectTemporary(eom, 'end of message');
    expect(eom.text).toMatch(/^451 4\.3\.0 /);

    const rcpt = await timed(afterMail, 'RCPT TO:<someone@example.org>');
    expectTemporary(rcpt, 'RCPT');
    expect(rcpt.text).toMatch(/^451 4\.3\.5 /);

    const mail = await timed(afterAuth, `MAIL FROM:<${FROM}>`);
    expectTemporary(mail, 'MAIL');
    expect(mail.text).toMatch(/^451 4\.3\.0 /);

    const tempfails = (): number => stack.logs.filter((l) => l.msg === 'credentials: temporary failure').length;
    const fresh = await session();
    const auth = await timed(fresh, authPlainLine(USER, PASSWORD));
    fresh.close();
    expectTemporary(auth, 'AUTH');
    expect(auth.text).toMatch(/^454 4\.7\.0 /);

    // An application sending To + BCC, retrying after each 4xx.
    const tries = [await attempt('app-retry@example.org', 'app-retry-bcc@example.org', 'app retry'), await attempt('app-retry@example.org', 'app-retry-bcc@example.org', 'app retry')];
    for (const t of tries) {
      expectTemporary(t, 'application');
      expect(t.text).toMatch(/^454 4\.7\.0 /);
    }
    // Each AUTH was trxmail's answer, not Postfix's own after a dead auth connection.
    expect(tempfails()).toBe(3);

    const started = Date.now();
    const health = await fetch(`${stack.config.http.baseUrl}/health`);
    expect(health.status).toBe(503);
    expect(Date.now() - started).toBeLessThan(ANSWER_BOUND_MS);
    console.log(
      `postgres stopped: EOM ${eom.ms} ms "${eom.text}" | RCPT ${rcpt.ms} ms "${rcpt.text}" | MAIL ${mail.ms} ms "${mail.text}" | AUTH ${auth.ms} ms "${auth.text}" | app ${tries.map((t) => `${t.ms} ms`).join(', ')}`,
    );

    // The sends accepted before the stop are delivered meanwhile: Postfix logs it while the
    // store cannot take it.
    for (const [subject, _id] of before) {
      const n = subject.slice(-1);
      await deliver(subject, [`before-${n}@example.org`, `before-${n}-bcc@example.org`]);
    }
  }, 120_000);

  it('once started again, the same process accepts: 235, 250 in the sessions that got 451; one send and one copy per recipient', async () => {
    await pg.start();
    expect(stack.runtime).toBe(runtimeBefore);

    // The sessions that got a 451 go on.
    const retried = await transaction(beforeDot, 'retried@example.org', 'retried-bcc@example.org', 'retried message');
    expect(retried.code, retried.text).toBe(250);
    const again = await transaction(afterAuth, 'same-session@example.org', 'same-session-bcc@example.org', 'same session');
    expect(again.code, again.text).toBe(250);
    expect((await timed(afterMail, 'RSET')).code).toBe(250);
    for (const c of [afterAuth, afterMail, beforeDot]) c.close();

    const fresh = await session();
    expect((await fresh.send(authPlainLine(USER, PASSWORD))).code).toBe(235);
    fresh.close();
    const app = await attempt('app-retry@example.org', 'app-retry-bcc@example.org', 'app retry');
    expect(app.code, app.text).toBe(250);
    expect((await fetch(`${stack.config.http.baseUrl}/health`)).status).toBe(200);

    await queueDrained(stack);
    for (const [to, subject] of [
      ['retried', 'retried message'],
      ['same-session', 'same session'],
      ['app-retry', 'app retry'],
    ] as const) {
      const rcpt = `${to}@example.org`;
      const bcc = `${to}-bcc@example.org`;
      await deliver(subject, [rcpt, bcc]);
      expect(copies(stack, subject), subject).toEqual({ [rcpt]: 1, [bcc]: 1 });
      expect(await sendsTo(rcpt), subject).toBe(1);
    }
    // Nothing of the refused attempts: the RCPT-refused session never sent a message.
    expect(await sendsTo('someone@example.org')).toBe(0);
  }, 120_000);

  it('frozen (every server process stopped: connections open, nothing answers): 454 and 451 within the bound, 250 once it runs again', async () => {
    const beforeEom = await loggedIn();
    await beforeEom.command(`MAIL FROM:<${FROM}>`, 250);
    await beforeEom.command('RCPT TO:<frozen@example.org>', 250);
    await beforeEom.command('RCPT TO:<frozen-bcc@example.org>', 250);
    await beforeEom.command('DATA', 354);
    beforeEom.write(Buffer.from(message('frozen@example.org', 'frozen message')));
    expect(pg.freeze()).toBeGreaterThan(1);
    let thawed = false;
    try {
      const eom = await timed(beforeEom, '.');
      expectTemporary(eom, 'end of message (frozen)');
      expect(eom.text).toMatch(/^451 4\.3\.0 /);
      const fresh = await session();
      const auth = await timed(fresh, authPlainLine(USER, PASSWORD));
      fresh.close();
      expectTemporary(auth, 'AUTH (frozen)');
      expect(auth.text).toMatch(/^454 4\.7\.0 /);
      console.log(`postgres frozen: EOM ${eom.ms} ms "${eom.text}" | AUTH ${auth.ms} ms "${auth.text}"`);
      pg.thaw();
      thawed = true;
      // What the frozen server still had to do (the abandoned statements) now runs; the retry is recorded once.
      const retried = await transaction(beforeEom, 'frozen@example.org', 'frozen-bcc@example.org', 'frozen message');
      expect(retried.code, retried.text).toBe(250);
      beforeEom.close();
      await deliver('frozen message', ['frozen@example.org', 'frozen-bcc@example.org']);
      await queueDrained(stack);
      expect(copies(stack, 'frozen message')).toEqual({ 'frozen@example.org': 1, 'frozen-bcc@example.org': 1 });
      expect(await sendsTo('frozen@example.org')).toBe(1);
    } finally {
      if (!thawed) pg.thaw();
    }
  }, 120_000);

  it('lost nothing answered 250 before the stop: recorded, delivered once, and the deliveries logged during the outage recorded', async () => {
    for (const [subject, id] of before) {
      const n = subject.slice(-1);
      const rcpt = `before-${n}@example.org`;
      const bcc = `before-${n}-bcc@example.org`;
      expect(copies(stack, subject)).toEqual({ [rcpt]: 1, [bcc]: 1 });
      expect(await sendsTo(rcpt)).toBe(1);
      // The maillog follower retried what it read while the store was down.
      const deadline = Date.now() + 30_000;
      for (;;) {
        const send = await stack.store.getSend(id, spaceId);
        expect(send).not.toBeNull();
        const status = send?.recipients.find((r) => r.address === rcpt)?.status;
        if (status === 'delivered') break;
        if (Date.now() > deadline) throw new Error(`${id}: the To recipient is ${status}, not delivered`);
        // The follower polls the log each second; so does this.
        await new Promise((r) => setTimeout(r, 250));
      }
    }
  }, 60_000);
});
