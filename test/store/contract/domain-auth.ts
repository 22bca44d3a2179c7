/**
 * Store contract, domain authentication (DomainAuthStore): DKIM keys and their life cycle,
 * the return-path host per sender domain, the last DNS check. Backend-agnostic.
 */
import { describe, expect, it } from 'vitest';
import { UsageError } from '../../../src/lib/errors.js';
import type { NewDkimKey } from '../../../src/store/store.js';
import { at, unknownSpace, type CurrentFixture } from './fixture.js';

export function domainAuthContract(fixture: CurrentFixture): void {
  describe('domain authentication', () => {
    const key = (spaceId: number, over: Partial<NewDkimKey> = {}): NewDkimKey => ({
      spaceId,
      domain: 'shop.example',
      selector: 'trx20250115r',
      algorithm: 'rsa-sha256',
      state: 'pending',
      publicTxt: 'v=DKIM1; k=rsa; p=AAAA',
      wrappedPrivateKey: 'v1.k1.iv.tag.ct',
      createdAt: at(0),
      ...over,
    });

    it('adds keys to a sender domain of the space, lists them oldest first, selectors lower-cased', async () => {
      const { store, a } = fixture();
      await store.addDomain(a.id, 'Shop.Example');
      const r = await store.addDkimKey(key(a.id, { selector: 'TRX20250115R' }));
      const e = await store.addDkimKey(key(a.id, { selector: 'trx20250115e', algorithm: 'ed25519-sha256', state: 'active' }));
      expect(r).toMatchObject({ spaceId: a.id, domain: 'shop.example', selector: 'trx20250115r', state: 'pending', activatedAt: null, retireAfter: null });
      expect(e).toMatchObject({ algorithm: 'ed25519-sha256', state: 'active', activatedAt: at(0) });
      expect((await store.listDkimKeys(a.id, 'shop.example')).map((k) => k.selector)).toEqual(['trx20250115r', 'trx20250115e']);
    });

    it('refuses a key for a domain the space does not have, an unknown space, a bad selector, a taken selector', async () => {
      const { store, a, b } = fixture();
      await store.addDomain(a.id, 'shop.example');
      await expect(store.addDkimKey(key(b.id))).rejects.toThrow(UsageError);
      await expect(store.addDkimKey(key(unknownSpace))).rejects.toThrow(UsageError);
      for (const selector of ['', '-x', 'a_b', 'x'.repeat(64), 'a..b']) {
        await expect(store.addDkimKey(key(a.id, { selector }))).rejects.toThrow(UsageError);
      }
      await store.addDkimKey(key(a.id));
      await expect(store.addDkimKey(key(a.id))).rejects.toThrow(/exists already/);
    });

    it('activates a pending pair and retires the active one after its overlap', async () => {
      const { store, a } = fixture();
      await store.addDomain(a.id, 'shop.example');
      const old = await store.addDkimKey(key(a.id, { selector: 'old', state: 'active' }));
      const n1 = await store.addDkimKey(key(a.id, { selector: 'new1' }));
      const n2 = await store.addDkimKey(key(a.id, { selector: 'new2', algorithm: 'ed25519-sha256' }));
      const after = await store.activateDkimKeys(a.id, 'shop.example', [n1.id, n2.id], at(1000), at(5000));
      expect(after.map((k) => [k.selector, k.state])).toEqual([
        ['old', 'retiring'],
        ['new1', 'active'],
        ['new2', 'active'],
      ]);
      expect(after[0]?.retireAfter).toEqual(at(5000));
      expect(after[1]?.activatedAt).toEqual(at(1000));
      expect(await store.retireDkimKeys(at(4999))).toBe(0);
      expect(await store.retireDkimKeys(at(5000))).toBe(1);
      expect((await store.listDkimKeys(a.id, 'shop.example')).find((k) => k.id === old.id)?.state).toBe('retired');
      // Only pending keys can be activated; nothing changes otherwise.
      await expect(store.activateDkimKeys(a.id, 'shop.example', [n1.id], at(6000), at(9000))).rejects.toThrow(UsageError);
      await expect(store.activateDkimKeys(a.id, 'shop.example', [], at(6000), at(9000))).rejects.toThrow(UsageError);
    });

    it("retires a removed domain's keys", async () => {
      const { store, a } = fixture();
      await store.addDomain(a.id, 'shop.example');
      await store.addDkimKey(key(a.id, { state: 'active' }));
      await store.removeDomain(a.id, 'shop.example');
      await store.addDomain(a.id, 'shop.example');
      expect((await store.listDkimKeys(a.id, 'shop.example')).map((k) => k.state)).toEqual(['retired']);
    });

    it('keeps one return-path host per domain, unique across spaces, never a sender domain', async () => {
      const { store, a, b } = fixture();
      await store.addDomain(a.id, 'shop.example');
      await store.addDomain(b.id, 'other.example');
      expect(await store.getDomainAuth(a.id, 'shop.example')).toMatchObject({ returnPath: null, checkStatus: 'unchecked', checkedAt: null, checkDetail: null });
      expect(await store.setReturnPath(a.id, 'shop.example', 'Bounces.Shop.Example.')).toMatchObject({ returnPath: 'bounces.shop.example' });
      await expect(store.setReturnPath(b.id, 'other.example', 'bounces.shop.example')).rejects.toThrow(/another domain/);
      await expect(store.setReturnPath(b.id, 'other.example', 'other.example')).rejects.toThrow(UsageError);
      await expect(store.setReturnPath(b.id, 'other.example', 'shop.example')).rejects.toThrow(UsageError);
      await expect(store.setReturnPath(b.id, 'other.example', 'not a host')).rejects.toThrow(UsageError);
      await expect(store.setReturnPath(a.id, 'other.example', 'bounces.other.example')).rejects.toThrow(UsageError);
      expect(await store.listReturnPathHosts()).toEqual(['bounces.shop.example']);
      await store.setReturnPath(a.id, 'shop.example', null);
      expect(await store.listReturnPathHosts()).toEqual([]);
    });

    it('records DNS checks and says when the status changed', async () => {
      const { store, a } = fixture();
      await store.addDomain(a.id, 'shop.example');
      expect(await store.recordDomainCheck(a.id, 'shop.example', { status: 'incomplete', at: at(1), detail: { dkim: false } })).toEqual({ changed: true, previous: 'unchecked' });
      expect(await store.recordDomainCheck(a.id, 'shop.example', { status: 'incomplete', at: at(2), detail: { dkim: false } })).toEqual({ changed: false, previous: 'incomplete' });
      expect(await store.recordDomainCheck(a.id, 'shop.example', { status: 'ok', at: at(3), detail: { dkim: true } })).toEqual({ changed: true, previous: 'incomplete' });
      expect(await store.getDomainAuth(a.id, 'shop.example')).toMatchObject({ checkStatus: 'ok', checkedAt: at(3), checkDetail: { dkim: true } });
      expect((await store.listDomainAuth()).map((d) => [d.spaceId, d.domain, d.checkStatus])).toEqual([[a.id, 'shop.example', 'ok']]);
      await expect(store.recordDomainCheck(a.id, 'nope.example', { status: 'ok', at: at(3), detail: {} })).rejects.toThrow(UsageError);
    });

    it("queues one 'domain' webhook delivery per status change, in the space's outbox only, none without a change", async () => {
      const { store, a, b } = fixture();
      await store.addDomain(a.id, 'shop.example');
      await store.addDomain(b.id, 'other.example');
      // Without a webhook a change queues nothing.
      await store.recordDomainCheck(a.id, 'shop.example', { status: 'incomplete', at: at(1), detail: {} });
      await store.setWebhook({ spaceId: a.id, url: 'https://hooks.alpha.example/', secret: 's' });
      await store.setWebhook({ spaceId: b.id, url: 'https://hooks.beta.example/', secret: 's' });
      const missing = [{ type: 'TXT', name: 'trx20250115r._domainkey.shop.example.', status: 'missing' }];
      await store.recordDomainCheck(a.id, 'shop.example', { status: 'incomplete', at: at(2), detail: {}, missing });
      expect(await store.listWebhookDeliveries({})).toEqual([]);
      await store.recordDomainCheck(a.id, 'shop.example', { status: 'ok', at: at(3), detail: {} });
      await store.recordDomainCheck(a.id, 'shop.example', { status: 'ok', at: at(4), detail: {} });
      await store.recordDomainCheck(a.id, 'shop.example', { status: 'incomplete', at: at(5), detail: {}, missing });
      const queued = await store.listWebhookDeliveries({});
      expect(queued.map((d) => [d.spaceId, d.type, d.sendId, d.recipient, d.status])).toEqual([
        [a.id, 'domain', '', '', 'pending'],
        [a.id, 'domain', '', '', 'pending'],
      ]);
      expect(queued[1]?.detail).toEqual({ domain: 'shop.example', from: 'incomplete', to: 'ok', at: at(3).toISOString(), missing: [] });
      expect(queued[0]?.detail).toEqual({ domain: 'shop.example', from: 'ok', to: 'incomplete', at: at(5).toISOString(), missing });
      expect(queued[0]?.at).toEqual(at(5));
      // A refused check queues nothing.
      await expect(
        store.recordDomainCheck(a.id, 'shop.example', { status: 'ok', at: at(6), detail: {}, missing: [{ type: '', name: 'x.', status: 'missing' }] }),
      ).rejects.toThrow(UsageError);
      expect(await store.listWebhookDeliveries({})).toHaveLength(2);
      expect((await store.getDomainAuth(a.id, 'shop.example')).checkStatus).toBe('incomplete');
    });
  });
}

export function unsignedMailContract(fixture: CurrentFixture): void {
  describe('unsigned mail per space', () => {
    it('is refused by default, allowed when the space says so, and the change sticks', async () => {
      const { store, a } = fixture();
      expect(a.allowUnsigned).toBe(false);
      const c = await store.createSpace({ name: 'gamma', allowUnsigned: true });
      expect((await store.getSpace(c.id))?.allowUnsigned).toBe(true);
      expect((await store.updateSpace(a.id, { allowUnsigned: true })).allowUnsigned).toBe(true);
      expect((await store.updateSpace(a.id, { defaultFlags: 3 })).allowUnsigned).toBe(true);
      expect((await store.getSpace(a.id))?.allowUnsigned).toBe(true);
    });
  });
}
