/**
 * src/dkim/domain-keys.ts on a real SQLite store (:memory:) and a DNS stub that answers what
 * a test publishes (the real DNS is test/e2e/domain-check.test.ts's business).
 */
import { createPrivateKey } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  checkAndActivate,
  createKeyPair,
  domainDnsFacts,
  ensureDomainKeys,
} from '../../../src/dkim/domain-keys.js';
import { unwrapPrivateKey } from '../../../src/dkim/key-wrap.js';
import { publicKeyValue } from '../../../src/dkim/keys.js';
import { recordsFor } from '../../../src/dns/records.js';
import type { DnsResolver } from '../../../src/dns/resolver.js';
import { UsageError } from '../../../src/lib/errors.js';
import type { HmacKey } from '../../../src/lib/hmac-keys.js';
import { SqliteStore } from '../../../src/store/sqlite/sqlite-store.js';
import type { Space } from '../../../src/store/store.js';

const KEYS: readonly HmacKey[] = [{ id: 'k1', secret: 'domain keys test secret, 16+ bytes' }];
const NOW = new Date('2026-12-02T10:00:00Z');
const LATER = new Date('2026-12-03T08:00:00Z');
const DAY_MS = 86_400_000;
const CONFIG = {
  dns: { resolvers: [], checkIntervalMinutes: 60, spf: 'a:bounces.relay.example', returnPathTarget: 'bounces.relay.example' },
  dkim: { overlapDays: 7 },
} as const;

/** A DNS stub: TXT and CNAME answers by name; everything else NXDOMAIN, or SERVFAIL when `failing`. */
class StubDns implements DnsResolver {
  txt = new Map<string, string[][]>();
  cname = new Map<string, string[]>();
  failing = false;
  private answer<T>(map: Map<string, T[]>, name: string): Promise<T[]> {
    if (this.failing) return Promise.reject(Object.assign(new Error('servfail'), { code: 'ESERVFAIL' }));
    const v = map.get(name);
    return v ? Promise.resolve(v) : Promise.reject(Object.assign(new Error('nx'), { code: 'ENOTFOUND' }));
  }
  resolveTxt(name: string): Promise<string[][]> {
    return this.answer(this.txt, name);
  }
  resolveCname(name: string): Promise<string[]> {
    return this.answer(this.cname, name);
  }
  resolveMx(): Promise<never[]> {
    return Promise.reject(Object.assign(new Error('nx'), { code: 'ENOTFOUND' }));
  }
  /** Publishes every record recordsFor gives for these facts (the relay's SPF too). */
  publish(records: ReturnType<typeof recordsFor>): void {
    for (const r of records) {
      const name = r.name.slice(0, -1);
      if (r.type === 'TXT') this.txt.set(name, [...(this.txt.get(name) ?? []), [...r.strings]]);
      if (r.type === 'CNAME') this.cname.set(name, [r.target.slice(0, -1)]);
    }
  }
}

let store: SqliteStore;
let space: Space;
let dns: StubDns;

beforeEach(async () => {
  store = SqliteStore.open(':memory:');
  space = await store.createSpace({ name: 'shop' });
  await store.addDomain(space.id, 'shop.example');
  dns = new StubDns();
});
afterEach(async () => {
  await store.close();
});

const states = async (domain = 'shop.example'): Promise<string[][]> =>
  (await store.listDkimKeys(space.id, domain)).map((k) => [k.selector, k.algorithm, k.state]);

describe('createKeyPair', () => {
  it('makes an active RSA-2048 and Ed25519 pair with dated selectors, private keys wrapped for their domain and selector', async () => {
    const pair = await createKeyPair(store, KEYS, { spaceId: space.id, domain: 'Shop.Example', state: 'active', now: NOW });
    expect(pair.map((k) => [k.selector, k.algorithm, k.state])).toEqual([
      ['trx20261202r', 'rsa-sha256', 'active'],
      ['trx20261202e', 'ed25519-sha256', 'active'],
    ]);
    for (const k of pair) {
      expect(k.activatedAt).toEqual(NOW);
      expect(k.wrappedPrivateKey).toMatch(/^v1\.k1\./);
      expect(k.wrappedPrivateKey).not.toContain('PRIVATE KEY');
      const pem = unwrapPrivateKey(k.wrappedPrivateKey, { domain: 'shop.example', selector: k.selector }, KEYS);
      // The stored public record is the public half of the wrapped private key.
      expect(k.publicTxt).toContain(`p=${publicKeyValue(createPrivateKey(pem))}`);
    }
    expect(createPrivateKey(unwrapPrivateKey(pair[0]!.wrappedPrivateKey, { domain: 'shop.example', selector: 'trx20261202r' }, KEYS)).asymmetricKeyDetails?.modulusLength).toBe(2048);
  });

  it('takes the next free selectors on the same day, pending pairs next to an active one, and refuses a second active pair', async () => {
    await createKeyPair(store, KEYS, { spaceId: space.id, domain: 'shop.example', state: 'active', now: NOW });
    const pending = await createKeyPair(store, KEYS, { spaceId: space.id, domain: 'shop.example', state: 'pending', now: NOW });
    expect(pending.map((k) => [k.selector, k.state, k.activatedAt])).toEqual([
      ['trx20261202r2', 'pending', null],
      ['trx20261202e2', 'pending', null],
    ]);
    await expect(createKeyPair(store, KEYS, { spaceId: space.id, domain: 'shop.example', state: 'active', now: NOW })).rejects.toThrow(/rotate/);
    await expect(createKeyPair(store, KEYS, { spaceId: space.id, domain: 'other.example', state: 'active', now: NOW })).rejects.toThrow(UsageError);
    await expect(createKeyPair(store, [], { spaceId: space.id, domain: 'shop.example', state: 'pending', now: NOW })).rejects.toThrow(/no secret key/);
  });
});

describe('ensureDomainKeys', () => {
  it('gives every domain without an active or pending key an active pair, keeps the others, and reports what it created', async () => {
    const other = await store.createSpace({ name: 'other' });
    await store.addDomain(other.id, 'other.example');
    await store.addDomain(space.id, 'kept.example');
    await createKeyPair(store, KEYS, { spaceId: space.id, domain: 'kept.example', state: 'active', now: NOW });
    const kept = await states('kept.example');
    const created = await ensureDomainKeys(store, KEYS, LATER);
    expect(created.map((c) => [c.spaceId, c.domain, c.keys.map((k) => k.selector)])).toEqual([
      [space.id, 'shop.example', ['trx20261203r', 'trx20261203e']],
      [other.id, 'other.example', ['trx20261203r', 'trx20261203e']],
    ]);
    expect(await states('kept.example')).toEqual(kept);
    expect(await ensureDomainKeys(store, KEYS, LATER)).toEqual([]);
  });

  it('gives a removed and re-added domain (its old keys retired) a new pair with fresh selectors', async () => {
    await createKeyPair(store, KEYS, { spaceId: space.id, domain: 'shop.example', state: 'active', now: NOW });
    await store.removeDomain(space.id, 'shop.example');
    await store.addDomain(space.id, 'shop.example');
    await ensureDomainKeys(store, KEYS, NOW);
    expect(await states()).toEqual([
      ['trx20261202r', 'rsa-sha256', 'retired'],
      ['trx20261202e', 'ed25519-sha256', 'retired'],
      ['trx20261202r2', 'rsa-sha256', 'active'],
      ['trx20261202e2', 'ed25519-sha256', 'active'],
    ]);
  });

  it('goes on past a failing domain: onError hears of it; without onError the failure is thrown after the others', async () => {
    await store.addDomain(space.id, 'b.example');
    const failing = { ...pick(store), listDkimKeys: (id: number, d: string) => (d === 'b.example' ? Promise.reject(new Error('disk')) : store.listDkimKeys(id, d)) };
    const errors: string[] = [];
    const created = await ensureDomainKeys(failing, KEYS, NOW, (d, err) => errors.push(`${d.domain}: ${(err as Error).message}`));
    expect(created.map((c) => c.domain)).toEqual(['shop.example']);
    expect(errors).toEqual(['b.example: disk']);
    await store.addDomain(space.id, 'c.example');
    await expect(ensureDomainKeys(failing, KEYS, NOW)).rejects.toThrow('disk');
    expect((await store.listDkimKeys(space.id, 'c.example')).map((k) => k.state)).toEqual(['active', 'active']);
  });
});

function pick(s: SqliteStore) {
  return {
    listDomainAuth: () => s.listDomainAuth(),
    listDkimKeys: (id: number, d: string) => s.listDkimKeys(id, d),
    addDkimKey: (k: Parameters<SqliteStore['addDkimKey']>[0]) => s.addDkimKey(k),
    activateDkimKeys: (id: number, d: string, ids: readonly number[], now: Date, r: Date) => s.activateDkimKeys(id, d, ids, now, r),
  };
}

describe('domainDnsFacts', () => {
  it('gives the pending, active and retiring keys (not retired ones), the return-path host and the relay side from the config', async () => {
    const [r] = await createKeyPair(store, KEYS, { spaceId: space.id, domain: 'shop.example', state: 'active', now: NOW });
    const next = await createKeyPair(store, KEYS, { spaceId: space.id, domain: 'shop.example', state: 'pending', now: NOW });
    await store.activateDkimKeys(space.id, 'shop.example', next.map((k) => k.id), NOW, LATER);
    await createKeyPair(store, KEYS, { spaceId: space.id, domain: 'shop.example', state: 'pending', now: LATER });
    await store.retireDkimKeys(LATER);
    await store.setReturnPath(space.id, 'shop.example', 'bounces.shop.example');
    const facts = await domainDnsFacts(store, CONFIG, space.id, 'SHOP.example');
    expect(facts.domain).toBe('shop.example');
    expect(facts.dkim.map((k) => [k.selector, k.state])).toEqual([
      ['trx20261202r2', 'active'],
      ['trx20261202e2', 'active'],
      ['trx20261203r', 'pending'],
      ['trx20261203e', 'pending'],
    ]);
    expect(facts.dkim.some((k) => k.selector === r!.selector)).toBe(false);
    expect(facts.returnPath).toBe('bounces.shop.example');
    expect(facts.relay).toEqual({ bounceHost: 'bounces.relay.example', mxHost: null, spf: 'a:bounces.relay.example' });
    await expect(domainDnsFacts(store, CONFIG, space.id, 'nope.example')).rejects.toThrow(UsageError);
  });
});

describe('checkAndActivate', () => {
  it('all published: status ok, recorded as a change; the same again: no change', async () => {
    const pair = await createKeyPair(store, KEYS, { spaceId: space.id, domain: 'shop.example', state: 'active', now: NOW });
    await store.setReturnPath(space.id, 'shop.example', 'bounces.shop.example');
    dns.publish(recordsFor(await domainDnsFacts(store, CONFIG, space.id, 'shop.example')));
    const first = await checkAndActivate(store, CONFIG, dns, space.id, 'shop.example', NOW);
    expect(first).toMatchObject({ status: 'ok', recorded: true, changed: true, previous: 'unchecked', missing: [], activated: [], retiring: [] });
    expect(first.check.alignment).toEqual({ dkim: true, spf: true, dmarc: 'present', dmarcPolicy: 'none' });
    const auth = await store.getDomainAuth(space.id, 'shop.example');
    expect(auth).toMatchObject({ checkStatus: 'ok', checkedAt: NOW });
    // The stored detail leaves the (long) key values out.
    for (const k of pair) expect(JSON.stringify(auth.checkDetail)).not.toContain(k.publicTxt.split('p=')[1]!.slice(0, 40));
    expect((auth.checkDetail?.['records'] as unknown[]).length).toBe(first.check.records.length);
    expect(await checkAndActivate(store, CONFIG, dns, space.id, 'shop.example', LATER)).toMatchObject({ status: 'ok', changed: false, previous: 'ok' });
  });

  it('activates a pending pair once its records are published, the old pair retiring for overlapDays', async () => {
    const old = await createKeyPair(store, KEYS, { spaceId: space.id, domain: 'shop.example', state: 'active', now: NOW });
    dns.publish(recordsFor(await domainDnsFacts(store, CONFIG, space.id, 'shop.example')));
    const next = await createKeyPair(store, KEYS, { spaceId: space.id, domain: 'shop.example', state: 'pending', now: NOW });
    // Not published yet: incomplete, nothing activated; the problems name the pending records.
    const before = await checkAndActivate(store, CONFIG, dns, space.id, 'shop.example', NOW);
    expect(before).toMatchObject({ status: 'incomplete', activated: [] });
    expect([...before.missing].sort((a, b) => a.name.localeCompare(b.name))).toEqual(
      next.map((k) => ({ type: 'TXT', name: `${k.selector}._domainkey.shop.example.`, status: 'missing' })).sort((a, b) => a.name.localeCompare(b.name)),
    );
    expect((await states()).map((s) => s[2])).toEqual(['active', 'active', 'pending', 'pending']);
    // Only one of the two published: still nothing.
    dns.publish(recordsFor(await domainDnsFacts(store, CONFIG, space.id, 'shop.example')).filter((r) => r.name.startsWith(next[0]!.selector)));
    expect((await checkAndActivate(store, CONFIG, dns, space.id, 'shop.example', NOW)).activated).toEqual([]);
    dns.publish(recordsFor(await domainDnsFacts(store, CONFIG, space.id, 'shop.example')).filter((r) => r.name.startsWith(next[1]!.selector)));
    const after = await checkAndActivate(store, CONFIG, dns, space.id, 'shop.example', LATER);
    expect(after).toMatchObject({ status: 'ok', changed: true, previous: 'incomplete' });
    expect(after.activated.map((k) => k.selector)).toEqual(next.map((k) => k.selector));
    expect(after.retiring.map((k) => [k.selector, k.retireAfter])).toEqual(old.map((k) => [k.selector, new Date(LATER.getTime() + 7 * DAY_MS)]));
    expect((await states()).map((s) => s[2])).toEqual(['retiring', 'retiring', 'active', 'active']);
  });

  it('a DNS that does not answer: status error, nothing recorded or activated', async () => {
    await createKeyPair(store, KEYS, { spaceId: space.id, domain: 'shop.example', state: 'pending', now: NOW });
    dns.failing = true;
    const out = await checkAndActivate(store, CONFIG, dns, space.id, 'shop.example', NOW);
    expect(out).toMatchObject({ status: 'error', recorded: false, changed: false, previous: 'unchecked', activated: [] });
    expect(out.missing.every((p) => p.status === 'error')).toBe(true);
    expect(await store.getDomainAuth(space.id, 'shop.example')).toMatchObject({ checkStatus: 'unchecked', checkedAt: null });
    expect((await states()).map((s) => s[2])).toEqual(['pending', 'pending']);
  });

  it('a pending pair alone (no active key) is activated when published, and DKIM aligns at once', async () => {
    await createKeyPair(store, KEYS, { spaceId: space.id, domain: 'shop.example', state: 'pending', now: NOW });
    dns.publish(recordsFor(await domainDnsFacts(store, CONFIG, space.id, 'shop.example')));
    const out = await checkAndActivate(store, CONFIG, dns, space.id, 'shop.example', NOW);
    expect(out).toMatchObject({ status: 'ok', retiring: [] });
    expect(out.check.alignment.dkim).toBe(true);
    expect(out.activated).toHaveLength(2);
  });

  it('a domain without any key is incomplete (a no-key problem) even with DMARC published', async () => {
    dns.publish(recordsFor(await domainDnsFacts(store, CONFIG, space.id, 'shop.example')));
    const out = await checkAndActivate(store, CONFIG, dns, space.id, 'shop.example', NOW);
    expect(out.status).toBe('incomplete');
    expect(out.missing).toEqual([{ type: 'TXT', name: '_domainkey.shop.example.', status: 'no-key' }]);
  });
});
