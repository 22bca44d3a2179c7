import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CREDENTIAL_CACHE_TTL_MS,
  CredentialVerifier,
  type CredentialMeta,
  type CredentialVerifierOptions,
} from '../../src/auth/credentials.js';
import { addressThrottleKey } from '../../src/auth/throttle.js';
import type { Logger } from '../../src/lib/logger.js';
import { AuthSession } from '../../src/auth/session.js';
import { listKey } from '../../src/core/domain.js';
import { InvariantError, TransientError } from '../../src/lib/errors.js';
import {
  AUTH_FAILURE_WINDOW_MS as FAILURE_WINDOW_MS,
  MAX_AUTH_FAILURES_PER_ADDRESS as MAX_FAILURES_PER_ADDRESS,
  MAX_AUTH_FAILURES_PER_LOGIN_ADDRESS as MAX_FAILURES_PER_PAIR,
  MAX_AUTH_THROTTLE_DELAY_MS,
  MAX_AUTH_THROTTLE_KEYS,
  MAX_CREDENTIAL_CACHE_ENTRIES,
  MAX_PASSWORD_BYTES,
} from '../../src/lib/limits.js';
import { hashPassword, verifyPassword } from '../../src/lib/password.js';
import { openStore } from '../../src/store/open-store.js';
import type { Store, User } from '../../src/store/store.js';

const META: CredentialMeta = { service: 'smtp', rip: '192.0.2.10', lip: '127.0.0.1', secured: true };
const PASSWORD = 'correct horse battery staple';
const NEW_PASSWORD = 'a new password, changed by the operator';

let hashOld = '';
let hashNew = '';
beforeAll(async () => {
  [hashOld, hashNew] = await Promise.all([hashPassword(PASSWORD), hashPassword(NEW_PASSWORD)]);
});

/** A hand-moved clock. */
function manualClock(start = 1_700_000_000_000): { now: () => number; advance: (ms: number) => void } {
  let t = start;
  return { now: () => t, advance: (ms) => void (t += ms) };
}

/** The real scrypt check, counted. */
function countingCheck(): { check: (p: string, h: string) => Promise<boolean>; calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    check: (p, h) => {
      calls.push(h);
      return verifyPassword(p, h);
    },
  };
}

/**
 * A fast stand-in for scrypt: hashes look like "fake$<password>". Used where many attempts
 * run; the real scrypt is used wherever the cache or the password matters.
 */
function fakeCheck(): { check: (p: string, h: string) => Promise<boolean>; calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    check: (p, h) => {
      calls.push(h);
      return Promise.resolve(h === `fake$${p}`);
    },
  };
}

/** In-memory users keyed like the store (listKey), counting lookups; can be made to fail. */
class FakeUsers implements Pick<Store, 'getUserByEmail'> {
  readonly users = new Map<string, User>();
  lookups = 0;
  failWith: unknown = null;
  #nextId = 1;

  add(email: string, passwordHash: string): User {
    const user: User = { id: this.#nextId++, spaceId: 1, email, passwordHash, createdAt: new Date(0) };
    this.users.set(listKey(email)!, user);
    return user;
  }

  getUserByEmail(email: string): Promise<User | null> {
    this.lookups++;
    // Rejecting with a non-Error on purpose: the verifier must cope with anything.
    // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors
    if (this.failWith !== null) return Promise.reject(this.failWith);
    return Promise.resolve(this.users.get(listKey(email) ?? '') ?? null);
  }
}

function captureLogger(): { logger: Logger; records: string[] } {
  const records: string[] = [];
  const keep = (level: string) => (obj: object, msg: string) => void records.push(JSON.stringify({ level, msg, ...obj }));
  return { logger: { debug: keep('debug'), info: keep('info'), warn: keep('warn'), error: keep('error') }, records };
}

describe('CredentialVerifier with the SQLite store and real scrypt', () => {
  let store: Store;
  let spaceId = 0;

  beforeAll(async () => {
    store = await openStore({ driver: 'sqlite', path: ':memory:' });
    spaceId = (await store.createSpace({ name: 'shop' })).id;
  });
  afterAll(async () => {
    await store.close();
  });

  async function freshUser(email: string, hash = hashOld): Promise<User> {
    return store.createUser({ spaceId, email, passwordHash: hash });
  }

  it('accepts the right password and returns the e-mail as stored, whatever the login case', async () => {
    await freshUser('Alice@Shop.example');
    const v = new CredentialVerifier(store);
    const r = await v.verify('ALICE@shop.EXAMPLE', PASSWORD, META);
    expect(r).toMatchObject({ result: 'ok', cached: false, user: { email: 'Alice@Shop.example' } });
    expect(await v.authVerifier('alice@SHOP.example', PASSWORD, { ...META, mechanism: 'PLAIN' })).toEqual({ status: 'ok', user: 'Alice@Shop.example' });
  });

  it('refuses a wrong password and an unknown user, each after exactly one scrypt', async () => {
    await freshUser('bob@shop.example');
    const { check, calls } = countingCheck();
    const v = new CredentialVerifier(store, { checkPassword: check });
    expect(await v.verify('bob@shop.example', 'wrong', META)).toEqual({ result: 'fail', reason: 'wrong password' });
    expect(calls).toHaveLength(1);
    expect(await v.verify('nobody@shop.example', PASSWORD, META)).toEqual({ result: 'fail', reason: 'unknown user' });
    expect(calls).toHaveLength(2);
    // The dummy hash has the parameters of a real one, so it costs the same.
    const params = (h: string): string => h.split('$').slice(0, 4).join('$');
    expect(params(calls[1]!)).toBe(params(hashOld));
    expect(calls[1]).not.toBe(hashOld);
    expect(await v.authVerifier('nobody@shop.example', PASSWORD, { ...META, mechanism: 'LOGIN' })).toEqual({ status: 'fail' });
  });

  it('lets a pool of 20 parallel logins of one user in with one scrypt (found by bench/postfix)', async () => {
    await freshUser('pool@shop.example');
    const { check, calls } = countingCheck();
    const v = new CredentialVerifier(store, { checkPassword: check });
    const results = await Promise.all(Array.from({ length: 20 }, () => v.verify('pool@shop.example', PASSWORD, META)));
    expect(results.map((r) => r.result)).toEqual(Array(20).fill('ok'));
    expect(calls).toHaveLength(1);
  });

  it('still stops parallel wrong guesses from one address at the limit, without a check for the rest', async () => {
    await freshUser('guess@shop.example');
    const { check, calls } = countingCheck();
    const v = new CredentialVerifier(store, { checkPassword: check, sleep: () => Promise.resolve() });
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => v.verify('guess@shop.example', `guess ${i}`, META)));
    expect(results.filter((r) => r.result === 'fail' && r.reason === 'wrong password')).toHaveLength(MAX_FAILURES_PER_PAIR);
    expect(results.filter((r) => r.result === 'throttled')).toHaveLength(20 - MAX_FAILURES_PER_PAIR);
    expect(calls).toHaveLength(MAX_FAILURES_PER_PAIR);
    // The real user, elsewhere, is not stopped by them.
    expect(await v.verify('guess@shop.example', PASSWORD, { ...META, rip: '198.51.100.1' })).toMatchObject({ result: 'ok' });
  });

  it('answers a reconnecting client from the cache without running scrypt again', async () => {
    await freshUser('carol@shop.example');
    const { check, calls } = countingCheck();
    const clock = manualClock();
    const v = new CredentialVerifier(store, { checkPassword: check, clock: clock.now });
    expect(await v.verify('carol@shop.example', PASSWORD, META)).toMatchObject({ result: 'ok', cached: false });
    for (let i = 0; i < 5; i++) {
      clock.advance(1000);
      expect(await v.verify('CAROL@shop.example', PASSWORD, META)).toMatchObject({ result: 'ok', cached: true });
    }
    expect(calls).toHaveLength(1);
    expect(v.cacheSize).toBe(1);
    // A wrong password is not answered from the cache, and does not spoil the entry.
    expect(await v.verify('carol@shop.example', PASSWORD + 'x', META)).toEqual({ result: 'fail', reason: 'wrong password' });
    expect(calls).toHaveLength(2);
    expect(await v.verify('carol@shop.example', PASSWORD, META)).toMatchObject({ result: 'ok', cached: true });
    expect(calls).toHaveLength(2);
  });

  it('trusts a cache entry for CREDENTIAL_CACHE_TTL_MS, not longer, and hits do not extend it', async () => {
    await freshUser('dave@shop.example');
    const { check, calls } = countingCheck();
    const clock = manualClock();
    const v = new CredentialVerifier(store, { checkPassword: check, clock: clock.now });
    await v.verify('dave@shop.example', PASSWORD, META);
    clock.advance(CREDENTIAL_CACHE_TTL_MS - 1);
    expect(await v.verify('dave@shop.example', PASSWORD, META)).toMatchObject({ result: 'ok', cached: true });
    clock.advance(1);
    expect(await v.verify('dave@shop.example', PASSWORD, META)).toMatchObject({ result: 'ok', cached: false });
    expect(calls).toHaveLength(2);
  });

  it('`user passwd` takes effect at once: the old password fails, the new one works, no signal needed', async () => {
    await freshUser('erin@shop.example');
    const { check, calls } = countingCheck();
    const clock = manualClock();
    const v = new CredentialVerifier(store, { checkPassword: check, clock: clock.now });
    expect(await v.verify('erin@shop.example', PASSWORD, META)).toMatchObject({ result: 'ok', cached: false });
    expect(await v.verify('erin@shop.example', PASSWORD, META)).toMatchObject({ result: 'ok', cached: true });

    expect(await store.setPasswordHash('erin@shop.example', hashNew)).toBe(true);
    clock.advance(1); // well inside the TTL
    expect(await v.verify('erin@shop.example', PASSWORD, META)).toEqual({ result: 'fail', reason: 'wrong password' });
    expect(await v.verify('erin@shop.example', NEW_PASSWORD, META)).toMatchObject({ result: 'ok', cached: false });
    expect(await v.verify('erin@shop.example', NEW_PASSWORD, META)).toMatchObject({ result: 'ok', cached: true });
    expect(calls).toHaveLength(3);

    // Changing it back to the old hash does not revive the old entry: it was dropped.
    await store.setPasswordHash('erin@shop.example', hashOld);
    expect(await v.verify('erin@shop.example', PASSWORD, META)).toMatchObject({ result: 'ok', cached: false });
  });

  it('`user remove` takes effect at once, and a re-created user with the same hash is not served from the cache', async () => {
    await freshUser('frank@shop.example');
    const { check, calls } = countingCheck();
    const v = new CredentialVerifier(store, { checkPassword: check });
    expect(await v.verify('frank@shop.example', PASSWORD, META)).toMatchObject({ result: 'ok' });
    expect(await v.verify('frank@shop.example', PASSWORD, META)).toMatchObject({ result: 'ok', cached: true });

    expect(await store.removeUser('frank@shop.example')).toBe(true);
    expect(await v.verify('frank@shop.example', PASSWORD, META)).toEqual({ result: 'fail', reason: 'unknown user' });

    const again = await freshUser('frank@shop.example', hashOld);
    const r = await v.verify('frank@shop.example', PASSWORD, META);
    expect(r).toMatchObject({ result: 'ok', cached: false, user: { id: again.id } });
    expect(calls).toHaveLength(3);
  });

  it('answers tempfail, never ok, when the store is unavailable', async () => {
    const closing = await openStore({ driver: 'sqlite', path: ':memory:' });
    const s = await closing.createSpace({ name: 'x' });
    await closing.createUser({ spaceId: s.id, email: 'gina@shop.example', passwordHash: hashOld });
    const v = new CredentialVerifier(closing);
    expect(await v.verify('gina@shop.example', PASSWORD, META)).toMatchObject({ result: 'ok' });
    await closing.close();
    expect(await v.verify('gina@shop.example', PASSWORD, META)).toEqual({ result: 'tempfail', reason: 'store unavailable (ESTORE_CLOSED)' });
    expect(await v.authVerifier('gina@shop.example', PASSWORD, { ...META, mechanism: 'PLAIN' })).toEqual({ status: 'tempfail' });
  });

  it('works as the verify() of a Dovecot auth session (PLAIN, user= is the stored e-mail)', async () => {
    await freshUser('Hank@shop.example');
    const v = new CredentialVerifier(store);
    const out: string[] = [];
    const session = new AuthSession({ verify: v.authVerifier, send: (d) => out.push(d), identity: { spid: 1, cuid: 1, cookie: '0'.repeat(32) } });
    session.start();
    const resp = (login: string, pw: string): string => Buffer.from(`\0${login}\0${pw}`).toString('base64');
    session.receive(
      Buffer.from(
        'VERSION\t1\t0\nCPID\t42\n' +
          `AUTH\t1\tPLAIN\tservice=smtp\tnologin\tlip=127.0.0.1\trip=192.0.2.1\tsecured\tresp=${resp('hank@SHOP.example', PASSWORD)}\n` +
          `AUTH\t2\tPLAIN\tservice=smtp\tnologin\tlip=127.0.0.1\trip=192.0.2.1\tsecured\tresp=${resp('hank@shop.example', 'nope')}\n`,
      ),
    );
    await session.whenSettled();
    const lines = out.join('').split('\n');
    expect(lines).toContain('OK\t1\tuser=Hank@shop.example');
    expect(lines.some((l) => l.startsWith('FAIL\t2\t'))).toBe(true);
  });
});

describe('CredentialVerifier error handling', () => {
  it('maps TransientError from the store to tempfail without counting the attempt', async () => {
    const users = new FakeUsers();
    users.add('ivy@shop.example', 'fake$pw');
    const { check, calls } = fakeCheck();
    const v = new CredentialVerifier(users, { checkPassword: check });
    users.failWith = new TransientError('ESTORE_BUSY', 'busy');
    for (let i = 0; i < MAX_FAILURES_PER_PAIR * 3; i++) {
      expect(await v.verify('ivy@shop.example', 'wrong', META)).toEqual({ result: 'tempfail', reason: 'store unavailable (ESTORE_BUSY)' });
    }
    expect(calls).toHaveLength(0);
    users.failWith = null;
    expect(await v.verify('ivy@shop.example', 'pw', META)).toMatchObject({ result: 'ok' });
  });

  it('answers tempfail for any other error (store bug, throwing check) and logs it', async () => {
    const failures: [string, unknown, CredentialVerifierOptions][] = [
      ['store throws Error', new Error('disk on fire'), {}],
      ['store throws a string', 'just a string', {}],
      ['check throws', null, { checkPassword: () => Promise.reject(new Error('scrypt broke')) }],
    ];
    for (const [name, storeError, opts] of failures) {
      const users = new FakeUsers();
      users.add('jo@shop.example', 'fake$pw');
      users.failWith = storeError;
      const { logger, records } = captureLogger();
      const v = new CredentialVerifier(users, { ...opts, logger, maxFailuresPerLoginAddress: 1 });
      expect(await v.verify('jo@shop.example', 'pw', META), name).toEqual({ result: 'tempfail', reason: 'internal error' });
      expect(records.some((r) => r.includes('"level":"error"')), name).toBe(true);
      // Not counted: with a limit of 1, a counted attempt would block the next one.
      expect(v.throttleSize, name).toEqual({ pairs: 0, addresses: 0 });
    }
  });

  it('refuses empty, over-long and impossible input without looking anything up', async () => {
    const users = new FakeUsers();
    users.add('kim@shop.example', 'fake$pw');
    const { check, calls } = fakeCheck();
    const v = new CredentialVerifier(users, { checkPassword: check });
    const cases: [string, string, string][] = [
      ['kim@shop.example', '', 'invalid password'],
      ['kim@shop.example', 'x'.repeat(MAX_PASSWORD_BYTES + 1), 'invalid password'],
      ['kim@shop.example', 'ü'.repeat(MAX_PASSWORD_BYTES / 2 + 1), 'invalid password'],
      ['', 'pw', 'invalid login'],
      ['kim', 'pw', 'invalid login'],
      ['kim@', 'pw', 'invalid login'],
      ['kim@bad domain', 'pw', 'invalid login'],
      [`${'k'.repeat(300)}@shop.example`, 'pw', 'invalid login'],
    ];
    for (const [login, pw, reason] of cases) {
      expect(await v.verify(login, pw, META), `${login.slice(0, 20)}/${pw.length}`).toEqual({ result: 'fail', reason });
    }
    expect(calls).toHaveLength(0);
    expect(users.lookups).toBe(0);
  });

  it('refuses nonsensical limits at construction', () => {
    const users = new FakeUsers();
    for (const opts of [{ cacheTtlMs: 0 }, { cacheMaxEntries: -1 }, { maxFailuresPerLoginAddress: 1.5 }, { maxFailuresPerAddress: 0 }, { failureWindowMs: Number.NaN }, { maxThrottleKeys: 0 }, { maxThrottleDelayMs: -5 }]) {
      expect(() => new CredentialVerifier(users, opts), JSON.stringify(opts)).toThrow(InvariantError);
    }
  });

  it('never logs the password', async () => {
    const secret = 'Sup3r-Secret-Passw0rd';
    const users = new FakeUsers();
    users.add('lee@shop.example', `fake$${secret}`);
    const { logger, records } = captureLogger();
    const v = new CredentialVerifier(users, { checkPassword: fakeCheck().check, logger, maxFailuresPerLoginAddress: 2 });
    await v.verify('lee@shop.example', secret, META); // ok
    await v.verify('lee@shop.example', secret, META); // ok, cached
    await v.verify('lee@shop.example', secret + '1', META); // wrong
    await v.verify('lee@shop.example', secret + '2', META); // wrong
    await v.verify('lee@shop.example', secret, META); // throttled
    await v.verify('nobody@shop.example', secret, META); // unknown
    users.failWith = new TransientError('ESTORE_IO', 'io');
    await v.verify('lee2@shop.example', secret, META); // tempfail
    users.failWith = new Error('store bug');
    await v.verify('lee3@shop.example', secret, META); // internal error
    expect(records.length).toBe(8);
    expect(records.filter((r) => r.includes(secret))).toEqual([]);
    expect(records.map((r) => (JSON.parse(r) as { result: string }).result)).toEqual(['ok', 'ok', 'fail', 'fail', 'throttled', 'fail', 'tempfail', 'tempfail']);
  });

  it('logs logins escaped and truncated', async () => {
    const { logger, records } = captureLogger();
    const v = new CredentialVerifier(new FakeUsers(), { checkPassword: fakeCheck().check, logger });
    await v.verify(`evil\n@x.example${'a'.repeat(500)}`, 'pw', META);
    const rec = JSON.parse(records[0]!) as { login: string };
    expect(rec.login).not.toContain('\n');
    expect(rec.login).toContain('\\x0a');
    expect(rec.login.length).toBeLessThan(120);
  });
});

describe('CredentialVerifier throttling', () => {
  /** A sleep that only records what it was asked for (no wall-clock time passes). */
  function recordingSleep(): { sleep: (ms: number) => Promise<void>; slept: number[] } {
    const slept: number[] = [];
    return {
      slept,
      sleep: (ms) => {
        slept.push(ms);
        return Promise.resolve();
      },
    };
  }

  function setup(opts: CredentialVerifierOptions = {}) {
    const users = new FakeUsers();
    users.add('mia@shop.example', 'fake$pw');
    users.add('ned@shop.example', 'fake$pw2');
    const fake = fakeCheck();
    const clock = manualClock();
    const { sleep, slept } = recordingSleep();
    const v = new CredentialVerifier(users, { checkPassword: fake.check, clock: clock.now, sleep, ...opts });
    return { users, calls: fake.calls, clock, v, slept };
  }

  const THROTTLED = { result: 'throttled', by: 'login+address', retryAfterMs: FAILURE_WINDOW_MS };
  const ADDRESS_THROTTLED = { result: 'throttled', by: 'address', retryAfterMs: FAILURE_WINDOW_MS };

  it(`MAX_AUTH_FAILURES_PER_LOGIN_ADDRESS: ${MAX_FAILURES_PER_PAIR} failures of one login from one address (any letter case) throttle that pair, even the right password`, async () => {
    const { v, calls, users, clock } = setup();
    const rip = '203.0.113.5';
    for (let i = 0; i < MAX_FAILURES_PER_PAIR - 1; i++) {
      const login = i % 2 === 0 ? 'mia@shop.example' : 'MIA@Shop.Example';
      expect(await v.verify(login, `guess${i}`, { ...META, rip })).toEqual({ result: 'fail', reason: 'wrong password' });
      clock.advance(1000);
    }
    // One step before the limit: the next attempt is still checked.
    expect(await v.verify('mia@shop.example', 'guess', { ...META, rip })).toEqual({ result: 'fail', reason: 'wrong password' });
    const checks = calls.length;
    const lookups = users.lookups;
    // At the limit: throttled without a check or a store read, whatever the password.
    expect(await v.verify('mia@shop.example', 'pw', { ...META, rip })).toEqual(THROTTLED);
    expect(await v.authVerifier('mia@SHOP.example', 'guess', { ...META, rip, mechanism: 'PLAIN' })).toEqual({ status: 'tempfail' });
    expect(calls.length).toBe(checks);
    expect(users.lookups).toBe(lookups);
    // The same address may still log in as someone else, and the real user elsewhere is let in.
    expect(await v.verify('ned@shop.example', 'pw2', { ...META, rip })).toMatchObject({ result: 'ok' });
    expect(await v.verify('mia@shop.example', 'pw', { ...META, rip: '198.51.100.1' })).toMatchObject({ result: 'ok' });
  });

  it('an attacker at one address sending wrong passwords at any rate never stops the right password from another address', async () => {
    const { v, calls } = setup();
    const attacker = { ...META, rip: '203.0.113.66' };
    const results = await Promise.all(Array.from({ length: 500 }, (_, i) => v.verify('mia@shop.example', `guess ${i}`, attacker)));
    expect(results.filter((r) => r.result === 'fail')).toHaveLength(MAX_FAILURES_PER_PAIR);
    expect(results.filter((r) => r.result === 'throttled')).toHaveLength(500 - MAX_FAILURES_PER_PAIR);
    expect(calls).toHaveLength(MAX_FAILURES_PER_PAIR);
    for (let round = 0; round < 3; round++) {
      // ... and again, sequentially, between the real user's logins.
      for (let i = 0; i < 50; i++) expect(await v.verify('mia@shop.example', `more ${i}`, attacker)).toEqual(THROTTLED);
      expect(await v.verify('mia@shop.example', 'pw', { ...META, rip: `198.51.100.${round}` })).toMatchObject({ result: 'ok' });
      expect(await v.authVerifier('MIA@shop.example', 'pw', { ...META, rip: '2001:db8:9::1', mechanism: 'LOGIN' })).toEqual({
        status: 'ok',
        user: 'mia@shop.example',
      });
    }
  });

  it('guesses for one login spread over many addresses lock nobody out (no limit per login alone)', async () => {
    const { v } = setup();
    for (let i = 0; i < 10 * MAX_FAILURES_PER_PAIR; i++) {
      expect(await v.verify('mia@shop.example', 'bad', { ...META, rip: `192.0.2.${i}` })).toEqual({ result: 'fail', reason: 'wrong password' });
    }
    expect(await v.verify('mia@shop.example', 'pw', { ...META, rip: '198.51.100.200' })).toMatchObject({ result: 'ok' });
  });

  it('counts unknown users per pair too, and forgets failures as they leave the sliding window', async () => {
    const { v, clock } = setup();
    const login = 'ghost@shop.example';
    for (let i = 0; i < MAX_FAILURES_PER_PAIR; i++) {
      expect(await v.verify(login, 'x', META)).toEqual({ result: 'fail', reason: 'unknown user' });
      clock.advance(60_000);
    }
    // Failures at 0, 1, 2, 3, 4 min; now 5 min: the first is exactly a window old and has left.
    clock.advance(-1);
    expect(await v.verify(login, 'x', META)).toEqual(THROTTLED);
    clock.advance(1);
    expect(await v.verify(login, 'x', META)).toEqual({ result: 'fail', reason: 'unknown user' });
    // Throttled again at once; throttled attempts do not extend the lock.
    expect(await v.verify(login, 'x', META)).toEqual(THROTTLED);
    clock.advance(FAILURE_WINDOW_MS);
    expect(await v.verify(login, 'x', META)).toEqual({ result: 'fail', reason: 'unknown user' });
  });

  it("a success resets the pair's counter", async () => {
    const { v } = setup();
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < MAX_FAILURES_PER_PAIR - 1; i++) {
        expect(await v.verify('mia@shop.example', 'bad', META)).toEqual({ result: 'fail', reason: 'wrong password' });
      }
      expect(await v.verify('mia@shop.example', 'pw', META)).toMatchObject({ result: 'ok' });
    }
  });

  it(`MAX_AUTH_FAILURES_PER_ADDRESS: ${MAX_FAILURES_PER_ADDRESS} failures from one client address, across many logins, throttle every attempt from it`, async () => {
    const { v } = setup();
    const rip = '198.51.100.7';
    for (let i = 0; i < MAX_FAILURES_PER_ADDRESS - 1; i++) {
      expect(await v.verify(`user${i}@shop.example`, 'x', { ...META, rip })).toEqual({ result: 'fail', reason: 'unknown user' });
    }
    // One step before the limit: still checked.
    expect(await v.verify('mia@shop.example', 'nope', { ...META, rip })).toEqual({ result: 'fail', reason: 'wrong password' });
    // At the limit: every login from it, the right password included.
    expect(await v.verify('mia@shop.example', 'pw', { ...META, rip })).toEqual(ADDRESS_THROTTLED);
    expect(await v.verify('ned@shop.example', 'pw2', { ...META, rip })).toEqual(ADDRESS_THROTTLED);
    expect(await v.verify('mia@shop.example', 'pw', { ...META, rip: '198.51.100.8' })).toMatchObject({ result: 'ok' });
    // The same address written as IPv4-mapped IPv6 is the same client.
    expect(await v.verify('mia@shop.example', 'pw', { ...META, rip: '::ffff:198.51.100.7' })).toEqual(ADDRESS_THROTTLED);
  });

  it('counts impossible logins per address (they have no pair)', async () => {
    const { v } = setup({ maxFailuresPerAddress: 3 });
    const rip = '198.51.100.30';
    for (let i = 0; i < 3; i++) expect(await v.verify(`no-at-sign-${i}`, 'x', { ...META, rip })).toEqual({ result: 'fail', reason: 'invalid login' });
    expect(await v.verify('mia@shop.example', 'pw', { ...META, rip })).toEqual(ADDRESS_THROTTLED);
  });

  it('does not count successes against the client address', async () => {
    const { v } = setup();
    const rip = '198.51.100.20';
    for (let i = 0; i < MAX_FAILURES_PER_ADDRESS - 1; i++) await v.verify(`x${i}@shop.example`, 'x', { ...META, rip });
    for (let i = 0; i < 50; i++) expect(await v.verify('mia@shop.example', 'pw', { ...META, rip })).toMatchObject({ result: 'ok' });
    expect(await v.verify('last@shop.example', 'x', { ...META, rip })).toEqual({ result: 'fail', reason: 'unknown user' });
    expect(await v.verify('mia@shop.example', 'pw', { ...META, rip })).toEqual(ADDRESS_THROTTLED);
  });

  it('throttles IPv6 clients by /64', async () => {
    const { v } = setup({ maxFailuresPerAddress: 2 });
    await v.verify('a@shop.example', 'x', { ...META, rip: '2001:db8:1:2::1' });
    await v.verify('b@shop.example', 'x', { ...META, rip: '2001:0db8:0001:0002:ffff:0:0:9' });
    expect(await v.verify('mia@shop.example', 'pw', { ...META, rip: '2001:DB8:1:2:dead:beef::' })).toEqual(ADDRESS_THROTTLED);
    expect(await v.verify('mia@shop.example', 'pw', { ...META, rip: '2001:db8:1:3::1' })).toMatchObject({ result: 'ok' });
  });

  it('lets no more than the limit of parallel guesses from one address reach the password check, one at a time', async () => {
    const users = new FakeUsers();
    users.add('oz@shop.example', 'fake$pw');
    let started = 0;
    let inFlight = 0;
    let maxInFlight = 0;
    const check = async (): Promise<boolean> => {
      started++;
      maxInFlight = Math.max(maxInFlight, ++inFlight);
      await new Promise<void>((resolve) => setImmediate(resolve));
      inFlight--;
      return false;
    };
    const v = new CredentialVerifier(users, { checkPassword: check, sleep: () => Promise.resolve() });
    const results = await Promise.all(Array.from({ length: 3 * MAX_FAILURES_PER_PAIR }, (_, i) => v.verify('oz@shop.example', `g${i}`, META)));
    expect(started).toBe(MAX_FAILURES_PER_PAIR);
    expect(maxInFlight).toBe(1); // attempts of one pair are serialised
    expect(results.filter((r) => r.result === 'throttled')).toHaveLength(2 * MAX_FAILURES_PER_PAIR);
  });

  it("a throttled attempt does not queue behind its pair's pending attempts, nor the real user's behind the attacker's", async () => {
    const users = new FakeUsers();
    users.add('pat@shop.example', 'fake$pw');
    const gates: (() => void)[] = [];
    // Every check waits until the test lets it go.
    const check = (p: string, h: string): Promise<boolean> => new Promise((resolve) => gates.push(() => resolve(h === `fake$${p}`)));
    const v = new CredentialVerifier(users, { checkPassword: check, sleep: () => Promise.resolve(), maxFailuresPerLoginAddress: 1 });
    const attacker = { ...META, rip: '203.0.113.9' };
    // The attacker's first guess is held in the check; its next ones queue behind it.
    const first = v.verify('pat@shop.example', 'g0', attacker);
    const queued = v.verify('pat@shop.example', 'g1', attacker);
    await new Promise<void>((resolve) => setImmediate(resolve));
    expect(gates).toHaveLength(1);
    // The real user from elsewhere gets a check of its own at once.
    const real = v.verify('pat@shop.example', 'pw', { ...META, rip: '198.51.100.3' });
    await new Promise<void>((resolve) => setImmediate(resolve));
    expect(gates).toHaveLength(2);
    gates[1]!();
    expect(await real).toMatchObject({ result: 'ok' });
    gates[0]!();
    expect(await first).toEqual({ result: 'fail', reason: 'wrong password' });
    expect(await queued).toEqual(THROTTLED);
    // Now throttled on arrival: answered without queueing and without a check.
    expect(await v.verify('pat@shop.example', 'g2', attacker)).toEqual(THROTTLED);
    expect(gates).toHaveLength(2);
  });

  it('holds a throttled attempt as long as a password check costs (measured), not a check of its own', async () => {
    const users = new FakeUsers();
    users.add('quin@shop.example', 'fake$pw');
    // A monotonic clock the fake check moves: each check "costs" the next of these.
    let mono = 0;
    const costs = [170, 150, 190, 160, 180];
    const calls: string[] = [];
    const check = (p: string, h: string): Promise<boolean> => {
      calls.push(h);
      mono += costs[(calls.length - 1) % costs.length]!;
      return Promise.resolve(h === `fake$${p}`);
    };
    const { sleep, slept } = recordingSleep();
    const v = new CredentialVerifier(users, { checkPassword: check, monotonic: () => mono, sleep });
    for (let i = 0; i < MAX_FAILURES_PER_PAIR; i++) await v.verify('quin@shop.example', `bad ${i}`, META);
    expect(calls).toHaveLength(MAX_FAILURES_PER_PAIR);
    const cost = v.checkCostMs!;
    expect(cost).toBeGreaterThanOrEqual(Math.min(...costs));
    expect(cost).toBeLessThanOrEqual(Math.max(...costs));
    expect(await v.verify('quin@shop.example', 'pw', META)).toEqual(THROTTLED);
    // Held for one check's measured cost; no check run.
    expect(slept).toEqual([Math.round(cost)]);
    expect(calls).toHaveLength(MAX_FAILURES_PER_PAIR);
  });

  it(`MAX_AUTH_THROTTLE_DELAY_MS: the hold is capped at ${MAX_AUTH_THROTTLE_DELAY_MS} ms when checks get slow`, async () => {
    let mono = 0;
    const costs = [MAX_AUTH_THROTTLE_DELAY_MS - 1, MAX_AUTH_THROTTLE_DELAY_MS + 1, 10 * MAX_AUTH_THROTTLE_DELAY_MS];
    for (const c of costs) {
      const users = new FakeUsers();
      const { sleep, slept } = recordingSleep();
      const check = (): Promise<boolean> => {
        mono += c;
        return Promise.resolve(false);
      };
      const v = new CredentialVerifier(users, { checkPassword: check, monotonic: () => mono, sleep, maxFailuresPerLoginAddress: 1 });
      await v.verify('r@shop.example', 'x', META);
      expect(await v.verify('r@shop.example', 'x', META)).toEqual(THROTTLED);
      expect(slept, String(c)).toEqual([Math.min(c, MAX_AUTH_THROTTLE_DELAY_MS)]);
    }
  });

  it('before any check was measured, a throttled attempt runs one check against the dummy hash (and only one at a time)', async () => {
    const users = new FakeUsers();
    users.add('sam@shop.example', 'fake$pw');
    const { check, calls } = fakeCheck();
    const { sleep, slept } = recordingSleep();
    const v = new CredentialVerifier(users, { checkPassword: check, sleep, maxFailuresPerAddress: 2 });
    const rip = '203.0.113.77';
    // Impossible logins: counted, but no check, so nothing has been measured yet.
    await v.verify('nope-1', 'x', { ...META, rip });
    await v.verify('nope-2', 'x', { ...META, rip });
    expect(calls).toHaveLength(0);
    expect(v.checkCostMs).toBeNull();
    const throttled = await Promise.all([1, 2, 3].map(() => v.verify('sam@shop.example', 'pw', { ...META, rip })));
    expect(throttled).toEqual(Array(3).fill(ADDRESS_THROTTLED));
    expect(calls).toHaveLength(1);
    expect(calls[0]!.startsWith('scrypt$')).toBe(true);
    expect(slept).toEqual([]);
    expect(v.checkCostMs).not.toBeNull();
    // From then on, the measured cost.
    expect(await v.verify('sam@shop.example', 'pw', { ...META, rip })).toEqual(ADDRESS_THROTTLED);
    expect(calls).toHaveLength(1);
    expect(slept).toHaveLength(1);
  });

  it('with real scrypt: the hold of a throttled attempt is the cost of the checks measured in this test', async () => {
    const users = new FakeUsers();
    users.add('tia@shop.example', hashOld);
    const durations: number[] = [];
    const check = async (p: string, h: string): Promise<boolean> => {
      const t0 = performance.now();
      const ok = await verifyPassword(p, h);
      durations.push(performance.now() - t0);
      return ok;
    };
    const { sleep, slept } = recordingSleep();
    const v = new CredentialVerifier(users, { checkPassword: check, sleep, maxFailuresPerLoginAddress: 2 });
    await v.verify('tia@shop.example', 'wrong 1', META);
    await v.verify('tia@shop.example', 'wrong 2', META);
    expect(await v.verify('tia@shop.example', PASSWORD, META)).toEqual({ ...THROTTLED });
    expect(durations).toHaveLength(2);
    const [a, b] = durations as [number, number];
    const expected = a + (b - a) * 0.2;
    expect(slept).toHaveLength(1);
    // Same order as one real check: within a factor of two of what this test measured.
    expect(slept[0]).toBeGreaterThan(expected / 2);
    expect(slept[0]).toBeLessThan(expected * 2);
  });

  it(`MAX_AUTH_THROTTLE_KEYS: tracks at most ${MAX_AUTH_THROTTLE_KEYS} pairs and addresses, evicting the oldest`, async () => {
    const { v } = setup({ maxFailuresPerLoginAddress: 1, maxFailuresPerAddress: 1 });
    expect(await v.verify('first@shop.example', 'x', { ...META, rip: '10.0.0.1' })).toEqual({ result: 'fail', reason: 'unknown user' });
    expect(await v.verify('first@shop.example', 'x', { ...META, rip: '10.0.0.1' })).toMatchObject({ result: 'throttled' });
    for (let i = 1; i < MAX_AUTH_THROTTLE_KEYS; i++) {
      await v.verify(`u${i}@shop.example`, 'x', { ...META, rip: `11.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}` });
    }
    expect(v.throttleSize).toEqual({ pairs: MAX_AUTH_THROTTLE_KEYS, addresses: MAX_AUTH_THROTTLE_KEYS });
    // One more key evicts the oldest, which is `first@` / 10.0.0.1.
    await v.verify('one-more@shop.example', 'x', { ...META, rip: '10.200.0.0' });
    expect(v.throttleSize).toEqual({ pairs: MAX_AUTH_THROTTLE_KEYS, addresses: MAX_AUTH_THROTTLE_KEYS });
    expect(await v.verify('first@shop.example', 'x', { ...META, rip: '10.0.0.1' })).toEqual({ result: 'fail', reason: 'unknown user' });
  });

  it('drops tracked keys whose failures have all expired', async () => {
    const { v, clock } = setup();
    for (let i = 0; i < 100; i++) await v.verify(`old${i}@shop.example`, 'x', { ...META, rip: `10.1.0.${i}` });
    expect(v.throttleSize).toEqual({ pairs: 100, addresses: 100 });
    clock.advance(FAILURE_WINDOW_MS);
    await v.verify('new@shop.example', 'x', { ...META, rip: '10.2.0.1' });
    expect(v.throttleSize).toEqual({ pairs: 1, addresses: 1 });
  });
});

describe('CredentialVerifier on several nodes (failures shared through the store)', () => {
  it('guesses spread over two nodes meet one limit; the right password from another address still gets in on both; a success clears the pair everywhere', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'trx-cred-'));
    const shared = await openStore({ driver: 'sqlite', path: path.join(dir, 'trxmail.db') });
    try {
      const space = await shared.createSpace({ name: 'shop' });
      await shared.createUser({ spaceId: space.id, email: 'mia@shop.example', passwordHash: 'fake$pw' });
      const fake = fakeCheck();
      const clock = manualClock();
      const node = (): CredentialVerifier =>
        new CredentialVerifier(shared, { checkPassword: fake.check, clock: clock.now, sleep: () => Promise.resolve(), shared });
      const [a, b] = [node(), node()];
      const attacker = { ...META, rip: '203.0.113.77' };
      // Alternating nodes: each node alone sees fewer failures than the limit.
      for (let i = 0; i < MAX_FAILURES_PER_PAIR; i++) {
        expect(await (i % 2 === 0 ? a : b).verify('mia@shop.example', `guess ${i}`, attacker)).toEqual({ result: 'fail', reason: 'wrong password' });
      }
      const checks = fake.calls.length;
      expect(await a.verify('mia@shop.example', 'guess', attacker)).toMatchObject({ result: 'throttled', by: 'login+address' });
      expect(await b.verify('mia@shop.example', 'pw', attacker)).toMatchObject({ result: 'throttled', by: 'login+address' });
      expect(fake.calls.length).toBe(checks);
      expect(await a.verify('mia@shop.example', 'pw', { ...META, rip: '198.51.100.3' })).toMatchObject({ result: 'ok' });
      expect(await b.verify('mia@shop.example', 'pw', { ...META, rip: '198.51.100.4' })).toMatchObject({ result: 'ok' });
      // The window passes; a success on node b clears the pair for node a too.
      clock.advance(FAILURE_WINDOW_MS + 1);
      for (let i = 0; i < MAX_FAILURES_PER_PAIR - 1; i++) await a.verify('mia@shop.example', `again ${i}`, attacker);
      expect(await b.verify('mia@shop.example', 'pw', attacker)).toMatchObject({ result: 'ok' });
      await new Promise((r) => setImmediate(r)); // the clearing write is not awaited by the login
      expect(await a.verify('mia@shop.example', 'late guess', attacker)).toEqual({ result: 'fail', reason: 'wrong password' });
      expect(await a.verify('mia@shop.example', 'pw', attacker)).toMatchObject({ result: 'ok' });
    } finally {
      await shared.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('addresses too: failures of many logins from one address over two nodes throttle it on both', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'trx-cred-'));
    const shared = await openStore({ driver: 'sqlite', path: path.join(dir, 'trxmail.db') });
    try {
      const fake = fakeCheck();
      const clock = manualClock();
      const node = (): CredentialVerifier =>
        new CredentialVerifier(shared, { checkPassword: fake.check, clock: clock.now, sleep: () => Promise.resolve(), shared });
      const [a, b] = [node(), node()];
      const attacker = { ...META, rip: '203.0.113.78' };
      for (let i = 0; i < MAX_FAILURES_PER_ADDRESS; i++) await (i % 2 === 0 ? a : b).verify(`user${i}@shop.example`, 'x', attacker);
      expect(await a.verify('someone@shop.example', 'x', attacker)).toMatchObject({ result: 'throttled', by: 'address' });
      expect(await b.verify('someone@shop.example', 'x', attacker)).toMatchObject({ result: 'throttled', by: 'address' });
    } finally {
      await shared.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('lets no more than the limit of parallel guesses from one address (many logins) reach the password check', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'trx-cred-'));
    const shared = await openStore({ driver: 'sqlite', path: path.join(dir, 'trxmail.db') });
    try {
      const fake = fakeCheck();
      const v = new CredentialVerifier(shared, { checkPassword: fake.check, sleep: () => Promise.resolve(), shared });
      const attacker = { ...META, rip: '203.0.113.79' };
      const results = await Promise.all(Array.from({ length: 200 }, (_, i) => v.verify(`user${i}@shop.example`, 'x', attacker)));
      expect(results.filter((r) => r.result === 'fail')).toHaveLength(MAX_FAILURES_PER_ADDRESS);
      expect(results.filter((r) => r.result === 'throttled')).toHaveLength(200 - MAX_FAILURES_PER_ADDRESS);
    } finally {
      await shared.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('answers tempfail (not ok, not fail) when the shared failures cannot be read', async () => {
    const users = new FakeUsers();
    users.add('mia@shop.example', 'fake$pw');
    const down = {
      countAuthFailures: () => Promise.reject(new TransientError('ESTORE_IO', 'down')),
      recordAuthFailure: () => Promise.resolve(),
      clearAuthFailures: () => Promise.resolve(),
    };
    const v = new CredentialVerifier(users, { checkPassword: fakeCheck().check, shared: down });
    expect(await v.verify('mia@shop.example', 'pw', META)).toMatchObject({ result: 'tempfail' });
  });
});

describe('CredentialVerifier cache bound', () => {
  it(`MAX_CREDENTIAL_CACHE_ENTRIES: keeps at most ${MAX_CREDENTIAL_CACHE_ENTRIES} entries, evicting the least recently used`, async () => {
    const users = new FakeUsers();
    const n = MAX_CREDENTIAL_CACHE_ENTRIES + 1;
    for (let i = 0; i < n; i++) users.add(`c${i}@shop.example`, `fake$pw${i}`);
    const { check, calls } = fakeCheck();
    const v = new CredentialVerifier(users, { checkPassword: check });
    const { rip: _rip, ...meta } = META; // no client address: no per-address throttling here
    for (let i = 0; i < n - 1; i++) await v.verify(`c${i}@shop.example`, `pw${i}`, meta);
    expect(v.cacheSize).toBe(MAX_CREDENTIAL_CACHE_ENTRIES);
    // Touch c0 so that c1 is now the least recently used, then add one more.
    expect(await v.verify('c0@shop.example', 'pw0', meta)).toMatchObject({ result: 'ok', cached: true });
    await v.verify(`c${n - 1}@shop.example`, `pw${n - 1}`, meta);
    expect(v.cacheSize).toBe(MAX_CREDENTIAL_CACHE_ENTRIES);
    const before = calls.length;
    expect(await v.verify('c0@shop.example', 'pw0', meta)).toMatchObject({ result: 'ok', cached: true });
    expect(await v.verify('c1@shop.example', 'pw1', meta)).toMatchObject({ result: 'ok', cached: false });
    expect(calls.length).toBe(before + 1);
  });
});

describe('addressThrottleKey', () => {
  it('keys IPv4 as is, IPv4-mapped as IPv4, IPv6 by /64, anything else truncated', () => {
    const cases: [string, string][] = [
      ['192.0.2.1', '192.0.2.1'],
      [' 192.0.2.1 ', '192.0.2.1'],
      ['::ffff:192.0.2.1', '192.0.2.1'],
      ['::FFFF:192.0.2.1', '192.0.2.1'],
      ['2001:db8::1', '2001:db8:0:0::/64'],
      ['2001:0DB8:0000:0001:0:0:0:1', '2001:db8:0:1::/64'],
      ['::1', '0:0:0:0::/64'],
      ['::', '0:0:0:0::/64'],
      ['fe80::', 'fe80:0:0:0::/64'],
      ['1:2:3:4:5:6:7:8', '1:2:3:4::/64'],
      ['1:2:3::4:5:6:7', '1:2:3:0::/64'],
      ['64:ff9b::192.0.2.1', '64:ff9b:0:0::/64'],
      ['not an address', 'not an address'],
      ['x'.repeat(100), 'x'.repeat(64)],
    ];
    for (const [input, key] of cases) expect(addressThrottleKey(input), input).toBe(key);
  });
});
