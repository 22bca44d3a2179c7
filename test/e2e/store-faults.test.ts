/**
 * The store failing under a real Postfix (issue 11, acceptance): a SQLite write lock held by
 * another process, and a full data disk (a small tmpfs mounted on trxmail's data directory).
 * An application sends To + BCC and retries after each 4xx, as a client would. What must
 * hold: every failure is a 4xx; once the fault is gone the retry gets 250; the send is
 * recorded exactly once; the To recipient and the BCC recipient each get exactly one copy
 * (no extra BCC copy per retry, nothing lost). While the lock is held, /health answers 503 at
 * once, before the waiting send has its answer.
 */
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { holdSqliteWriteLock } from '../helpers/sqlite-lock.js';
import { copies, queueDrained, startStack, submit, type Stack } from './stack.js';

const run = promisify(execFile);
const USER = 'app@faults.example';
const PASSWORD = 'faults password 123';
/** Failed attempts made while the fault lasts, before it is removed and the client retries once more. */
const RETRIES_DURING_FAULT = 3;

interface Attempt {
  readonly code: number;
  readonly reply: string;
}

/** One client attempt: the final reply's code and text (nodemailer throws on a refusal). */
async function attempt(stack: Stack, to: string, bcc: string, subject: string): Promise<Attempt> {
  const raw = [`From: App <news@faults.example>`, `To: ${to}`, `Subject: ${subject}`, '', `body of ${subject}`, ''].join('\r\n');
  try {
    const reply = await submit(stack, { user: USER, pass: PASSWORD }, { from: 'news@faults.example', to: [to, bcc] }, raw);
    return { code: Number(reply.slice(0, 3)), reply };
  } catch (err: unknown) {
    const e = err as { responseCode?: number; response?: string; message?: string };
    return { code: e.responseCode ?? 0, reply: e.response ?? e.message ?? String(err) };
  }
}

/** Sends recorded for the To address `to`. */
async function sendsTo(stack: Stack, spaceId: number, to: string): Promise<number> {
  const all = await stack.store.listSends({ spaceId, limit: 1000 });
  return all.filter((s) => s.to === to).length;
}

async function retryThroughFault(stack: Stack, spaceId: number, subject: string, removeFault: () => Promise<void>): Promise<Attempt[]> {
  const to = `to-${subject.replace(/\W/g, '')}@example.org`;
  const bcc = `bcc-${subject.replace(/\W/g, '')}@example.org`;
  const attempts: Attempt[] = [];
  for (let i = 0; i < RETRIES_DURING_FAULT; i++) attempts.push(await attempt(stack, to, bcc, subject));
  await removeFault();
  attempts.push(await attempt(stack, to, bcc, subject));
  await stack.sink.waitFor((m) => m.rcptTo.includes(bcc) && m.raw.toString('utf8').includes(`Subject: ${subject}`));
  await stack.sink.waitFor((m) => m.rcptTo.includes(to) && m.raw.toString('utf8').includes(`Subject: ${subject}`));
  await queueDrained(stack);
  expect(copies(stack, subject)).toEqual({ [to]: 1, [bcc]: 1 });
  expect(await sendsTo(stack, spaceId, to)).toBe(1);
  return attempts;
}

describe('a SQLite write lock held by another process, through the real Postfix', () => {
  let stack: Stack;
  let spaceId = 0;
  beforeAll(async () => {
    stack = await startStack();
    spaceId = (await stack.addSpace('faults', ['faults.example'], [{ email: USER, password: PASSWORD }])).id;
  }, 120_000);
  afterAll(async () => {
    await stack?.stop();
  });

  it('4xx while locked (no BCC copy handed over), 250 after: one send, one To copy, one BCC copy; /health 503 meanwhile', async () => {
    const dbPath = stack.config.store.driver === 'sqlite' ? stack.config.store.path : '';
    const lock = await holdSqliteWriteLock(dbPath);
    // /health while a send waits for the lock: answered first, and unavailable.
    const order: string[] = [];
    const pending = attempt(stack, 'probe@example.org', 'probe-bcc@example.org', 'health probe').then((a) => {
      order.push('send answered');
      return a;
    });
    const started = Date.now();
    const health = await fetch(`${stack.config.http.baseUrl}/health`);
    const healthMs = Date.now() - started;
    order.push('health answered');
    expect(health.status).toBe(503);
    const probe = await pending;
    expect(order).toEqual(['health answered', 'send answered']);
    expect(probe.code).toBeGreaterThanOrEqual(400);
    expect(probe.code).toBeLessThan(500);
    console.log(`store-lock: /health answered 503 in ${healthMs} ms while the lock was held; the waiting send got: ${probe.reply}`);

    const attempts = await retryThroughFault(stack, spaceId, 'locked store', () => lock.release());
    const failed = attempts.slice(0, -1);
    for (const a of failed) expect(a.code, a.reply).toBeGreaterThanOrEqual(400);
    for (const a of failed) expect(a.code, a.reply).toBeLessThan(500);
    expect(attempts.at(-1)?.code).toBe(250);
    expect((await fetch(`${stack.config.http.baseUrl}/health`)).status).toBe(200);
    // The probe message was refused: it was never recorded nor delivered.
    await queueDrained(stack);
    expect(copies(stack, 'health probe')).toEqual({});
    expect(await sendsTo(stack, spaceId, 'probe@example.org')).toBe(0);
  }, 180_000);
});

describe('a full data disk (tmpfs) under the store and the spool, through the real Postfix', () => {
  let stack: Stack;
  let spaceId = 0;
  let dataDir = '';
  const filler = (): string => path.join(dataDir, 'filler');

  beforeAll(async () => {
    stack = await startStack({
      prepareDataDir: async (dir) => {
        dataDir = dir;
        await run('mount', ['-t', 'tmpfs', '-o', 'size=8m,mode=0755', 'tmpfs', dir]);
      },
    });
    spaceId = (await stack.addSpace('faults', ['faults.example'], [{ email: USER, password: PASSWORD }])).id;
  }, 120_000);
  afterAll(async () => {
    await stack?.stop();
    if (dataDir !== '') await run('umount', ['-l', dataDir]).catch(() => undefined);
  });

  it('4xx while the disk is full, 250 once there is room: one send, one To copy, one BCC copy', async () => {
    // Empty the WAL (its pages would otherwise be reused without new blocks), then fill the disk.
    const dbPath = stack.config.store.driver === 'sqlite' ? stack.config.store.path : '';
    const db = new Database(dbPath);
    db.pragma('wal_checkpoint(TRUNCATE)');
    db.close();
    const chunk = Buffer.alloc(64 * 1024);
    let written = 0;
    try {
      for (;;) {
        writeFileSync(filler(), chunk, { flag: 'a' });
        written += chunk.length;
      }
    } catch (err: unknown) {
      expect((err as NodeJS.ErrnoException).code).toBe('ENOSPC');
    }
    expect(written).toBeGreaterThan(0);

    const attempts = await retryThroughFault(stack, spaceId, 'full disk', () => {
      rmSync(filler());
      return Promise.resolve();
    });
    const failed = attempts.slice(0, -1);
    expect(failed.length).toBe(RETRIES_DURING_FAULT);
    for (const a of failed) expect(a.code, a.reply).toBeGreaterThanOrEqual(400);
    for (const a of failed) expect(a.code, a.reply).toBeLessThan(500);
    expect(attempts.at(-1)?.code).toBe(250);
    console.log(`full-disk: replies while full: ${failed.map((a) => a.reply).join(' | ')}`);
    // No spool file left behind by the refused attempts.
    const spool = path.join(dataDir, 'spool');
    expect(existsSync(spool) ? readdirSync(spool) : []).toEqual([]);
  }, 180_000);
});
