/**
 * The scheduler of `serve` (src/dkim/domain-checker.ts) on a real SQLite store (:memory:) and a
 * DNS stub that the test answers by hand: runs never overlap, failures are logged and never
 * thrown, start() gives keyless domains their keys, stop() skips the domains not reached yet.
 * The real DNS is test/e2e/domain-check.test.ts's business.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { DomainChecker, type DomainCheckerOptions } from '../../../src/dkim/domain-checker.js';
import type { DnsResolver } from '../../../src/dns/resolver.js';
import { TransientError } from '../../../src/lib/errors.js';
import type { HmacKey } from '../../../src/lib/hmac-keys.js';
import { SqliteStore } from '../../../src/store/sqlite/sqlite-store.js';
import type { Space } from '../../../src/store/store.js';
import { recordingLogger } from '../../http/helpers.js';

const KEYS: readonly HmacKey[] = [{ id: 'k1', secret: 'domain checker test secret, 16+ bytes' }];
const NOW = new Date('2026-12-02T10:00:00Z');
const config = (minutes = 0): DomainCheckerOptions['config'] => ({
  dns: { resolvers: [], checkIntervalMinutes: minutes, spf: 'a:bounces.relay.example', returnPathTarget: 'bounces.relay.example' },
  dkim: { overlapDays: 7 },
});

/** A resolver whose every answer waits until the test releases it; NXDOMAIN for everything. */
class GatedDns implements DnsResolver {
  asked: string[] = [];
  private gates: (() => void)[] = [];
  private waiters: (() => void)[] = [];
  open = true;
  private answer<T>(name: string): Promise<T[]> {
    this.asked.push(name);
    for (const w of this.waiters.splice(0)) w();
    const nx = (): Promise<T[]> => Promise.reject(Object.assign(new Error('nx'), { code: 'ENOTFOUND' }));
    if (this.open) return nx();
    return new Promise<void>((resolve) => this.gates.push(resolve)).then(nx);
  }
  resolveTxt(name: string): Promise<string[][]> {
    return this.answer(name);
  }
  resolveCname(name: string): Promise<string[]> {
    return this.answer(name);
  }
  resolveMx(name: string): Promise<never[]> {
    return this.answer(name);
  }
  /** Resolves once a question has been asked. */
  asking(): Promise<void> {
    return this.asked.length > 0 ? Promise.resolve() : new Promise((resolve) => this.waiters.push(resolve));
  }
  release(): void {
    this.open = true;
    for (const g of this.gates.splice(0)) g();
  }
}

let store: SqliteStore;
let space: Space;
let logger: ReturnType<typeof recordingLogger>;

beforeEach(async () => {
  store = SqliteStore.open(':memory:');
  space = await store.createSpace({ name: 'shop' });
  logger = recordingLogger();
});
afterEach(async () => {
  await store.close();
});

describe('DomainChecker', () => {
  it('start() gives each domain without keys an active pair and logs what to publish; with interval 0 it schedules nothing', async () => {
    await store.addDomain(space.id, 'a.example');
    const checker = new DomainChecker({ store, config: config(0), hmacKeys: KEYS, logger, resolver: new GatedDns(), clock: () => NOW });
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    try {
      await checker.start();
      expect(vi.getTimerCount()).toBe(0);
    } finally {
      vi.useRealTimers();
    }
    expect((await store.listDkimKeys(space.id, 'a.example')).map((k) => [k.selector, k.state])).toEqual([
      ['trx20261202r', 'active'],
      ['trx20261202e', 'active'],
    ]);
    expect(logger.lines).toEqual([
      {
        level: 'info',
        obj: { space: space.id, domain: 'a.example', selectors: 'trx20261202r, trx20261202e' },
        msg: 'domain keys: a.example got an active DKIM key pair; publish them: trxmail domain dns --space <space> a.example',
      },
    ]);
    await checker.stop();
  });

  it('runs every checkIntervalMinutes: one timer, the next scheduled when a run ends; stop() clears it', async () => {
    await store.addDomain(space.id, 'a.example');
    const dns = new GatedDns();
    const checker = new DomainChecker({ store, config: config(30), hmacKeys: KEYS, logger, resolver: dns, clock: () => NOW });
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    try {
      await checker.start();
      expect(vi.getTimerCount()).toBe(1);
      vi.advanceTimersByTime(30 * 60_000 - 1);
      expect(dns.asked).toEqual([]);
      dns.open = false;
      vi.advanceTimersByTime(1);
      // The timer fired a run: runOnce() now is that run; no new timer while it runs.
      const run = checker.runOnce();
      expect(vi.getTimerCount()).toBe(0);
      await dns.asking();
      dns.release();
      expect(await run).toMatchObject({ checked: 1 });
      // The timer's own continuation (registered before this await) has scheduled the next run.
      expect(vi.getTimerCount()).toBe(1);
      await checker.stop();
      expect(vi.getTimerCount()).toBe(0);
    } finally {
      vi.useRealTimers();
    }
  });

  it('a run retires keys past their overlap and records each domain; a runOnce during a run is that run', async () => {
    await store.addDomain(space.id, 'a.example');
    await store.addDomain(space.id, 'b.example');
    const dns = new GatedDns();
    dns.open = false;
    const checker = new DomainChecker({ store, config: config(), hmacKeys: KEYS, logger, resolver: dns, clock: () => NOW });
    const first = checker.runOnce();
    await dns.asking();
    expect(checker.runOnce()).toBe(first);
    dns.release();
    const run = await first;
    expect(run).toMatchObject({ checked: 2, activated: 0, retired: 0, failed: 0 });
    expect(run.changed.map((c) => [c.domain, c.from, c.to])).toEqual([
      ['a.example', 'unchecked', 'incomplete'],
      ['b.example', 'unchecked', 'incomplete'],
    ]);
    expect(logger.lines.filter((l) => l.level === 'info').map((l) => l.msg)).toEqual([
      'domain check: a.example: unchecked → incomplete',
      'domain check: b.example: unchecked → incomplete',
    ]);
    // A later run is a new one.
    expect(checker.runOnce()).not.toBe(first);
  });

  it('a store that fails: a warn line per failure, never a rejection, and the next run works', async () => {
    await store.addDomain(space.id, 'a.example');
    let fail = true;
    const flaky: DomainCheckerOptions['store'] = Object.assign(Object.create(store) as SqliteStore, {
      recordDomainCheck: (...args: Parameters<SqliteStore['recordDomainCheck']>) =>
        fail ? Promise.reject(new TransientError('ESTORE_BUSY', 'database is busy')) : store.recordDomainCheck(...args),
      retireDkimKeys: (now: Date) => store.retireDkimKeys(now),
    });
    const checker = new DomainChecker({ store: flaky, config: config(), hmacKeys: KEYS, logger, resolver: new GatedDns(), clock: () => NOW });
    expect(await checker.runOnce()).toMatchObject({ checked: 0, failed: 1 });
    expect(logger.lines).toEqual([
      expect.objectContaining({ level: 'warn', msg: 'domain check: a.example failed; the next run tries again' }),
    ]);
    fail = false;
    expect(await checker.runOnce()).toMatchObject({ checked: 1, failed: 0 });

    await store.close();
    expect(await checker.runOnce()).toMatchObject({ checked: 0, failed: 0 });
    expect(logger.lines.at(-1)).toMatchObject({ level: 'warn', msg: 'domain check: could not start a run; the next run tries again' });
    store = SqliteStore.open(':memory:');
  });

  it('a DNS that does not answer: a warn line, nothing recorded', async () => {
    await store.addDomain(space.id, 'a.example');
    const servfail: DnsResolver = {
      resolveTxt: () => Promise.reject(Object.assign(new Error('x'), { code: 'ESERVFAIL' })),
      resolveCname: () => Promise.reject(Object.assign(new Error('x'), { code: 'ESERVFAIL' })),
      resolveMx: () => Promise.reject(Object.assign(new Error('x'), { code: 'ESERVFAIL' })),
    };
    const checker = new DomainChecker({ store, config: config(), hmacKeys: KEYS, logger, resolver: servfail, clock: () => NOW });
    expect(await checker.runOnce()).toMatchObject({ checked: 0, failed: 1, changed: [] });
    expect(logger.lines).toEqual([expect.objectContaining({ level: 'warn', msg: 'domain check: a.example: the DNS did not answer; the next run tries again' })]);
    expect((await store.getDomainAuth(space.id, 'a.example')).checkStatus).toBe('unchecked');
  });

  it('stop() during a run lets the domain in flight finish and skips the rest', async () => {
    await store.addDomain(space.id, 'a.example');
    await store.addDomain(space.id, 'b.example');
    const dns = new GatedDns();
    const checker = new DomainChecker({ store, config: config(60), hmacKeys: KEYS, logger, resolver: dns, clock: () => NOW });
    await checker.start();
    dns.open = false;
    const run = checker.runOnce();
    await dns.asking();
    const stopped = checker.stop();
    dns.release();
    await stopped;
    expect(await run).toMatchObject({ checked: 1 });
    expect((await store.getDomainAuth(space.id, 'b.example')).checkStatus).toBe('unchecked');
  });
});
