/**
 * Store contract, suppression API side of the lists aggregate: each entry's source, the
 * one-click add that leaves an entry alone (ifAbsent), the list's history (list changes:
 * every new entry and every removal, in the same transaction), search and keyset paging, the
 * 'unsubscribed' event and its webhook delivery — and tenants kept apart in all of it.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { UsageError } from '../../../src/lib/errors.js';
import { MAX_LIST_PAGE_SIZE, MAX_LIST_SEARCH_LENGTH } from '../../../src/lib/limits.js';
import type { NewSend, Space, Store } from '../../../src/store/store.js';
import { at, unknownSpace } from './fixture.js';
import type { CurrentFixture } from './fixture.js';

export function listChangesContract(fixture: CurrentFixture): void {
  let store: Store;
  let a: Space;
  let b: Space;
  let send: (over: Partial<NewSend> & { id: string }) => NewSend;
  beforeEach(() => {
    ({ store, a, b, send } = fixture());
  });

  describe('list sources, changes and search', () => {
    it('keeps the source (operator by default); says whether the address was new; ifAbsent leaves an entry alone', async () => {
      expect(await store.addListEntry({ spaceId: a.id, list: 'unsubscribe', address: 'Out@Example.net', reason: 'asked by phone', addedAt: at(0) })).toBe(true);
      expect(
        await store.addListEntry({ spaceId: a.id, list: 'unsubscribe', address: 'out@example.net', reason: 'one-click', source: 'unsubscribe-link', ifAbsent: true, addedAt: at(9) }),
      ).toBe(false);
      expect(await store.listEntries(a.id, 'unsubscribe')).toMatchObject([{ address: 'Out@Example.net', reason: 'asked by phone', source: 'operator', addedAt: at(0) }]);
      expect(await store.addListEntry({ spaceId: a.id, list: 'unsubscribe', address: 'out@example.net', reason: 'via API', source: 'api', addedAt: at(5) })).toBe(false);
      expect(await store.listEntries(a.id, 'unsubscribe')).toMatchObject([{ reason: 'via API', source: 'api', addedAt: at(5) }]);
      await store.addListEntry({ spaceId: a.id, list: 'bounce', address: 'gone@example.net', reason: 'hard bounce 5.1.1', bounceReason: 'user-unknown', rule: 'status:5.1.1', source: 'bounce', addedAt: at(1) });
      expect(await store.listEntries(a.id, 'bounce')).toMatchObject([{ source: 'bounce', bounceReason: 'user-unknown', rule: 'status:5.1.1' }]);
      await expect(store.addListEntry({ spaceId: a.id, list: 'bounce', address: 'x@example.net', reason: 'r', source: 'nobody' as never, addedAt: at(0) })).rejects.toThrow(UsageError);
      await expect(store.addListEntry({ spaceId: a.id, list: 'nolist' as never, address: 'x@example.net', reason: 'r', addedAt: at(0) })).rejects.toThrow(UsageError);
    });

    it('records every new entry and every removal, newest first, with who and why; pages by id; per space', async () => {
      await store.addListEntry({ spaceId: a.id, list: 'unsubscribe', address: 'one@example.net', reason: 'one-click', source: 'unsubscribe-link', addedAt: at(1) });
      await store.addListEntry({ spaceId: a.id, list: 'unsubscribe', address: 'one@example.net', reason: 'again', source: 'api', addedAt: at(2) });
      await store.addListEntry({ spaceId: a.id, list: 'unsubscribe', address: 'two@example.net', reason: 'r', source: 'api', addedAt: at(3) });
      expect(await store.removeListEntry(a.id, 'unsubscribe', 'ONE@example.net', { source: 'api', reason: 'asked to be back', at: at(4) })).toBe(true);
      expect(await store.removeListEntry(a.id, 'unsubscribe', 'one@example.net', { source: 'api', at: at(5) })).toBe(false);
      expect(await store.removeListEntry(a.id, 'unsubscribe', 'two@example.net')).toBe(true);
      const all = await store.listChanges(a.id, 'unsubscribe', null, 10);
      expect(all.map((c) => [c.action, c.address, c.source, c.reason])).toEqual([
        ['removed', 'two@example.net', 'operator', 'removed by an operator'],
        ['removed', 'one@example.net', 'api', 'asked to be back'],
        ['added', 'two@example.net', 'api', 'r'],
        ['added', 'one@example.net', 'unsubscribe-link', 'one-click'],
      ]);
      expect(all[1]?.at).toEqual(at(4));
      const ids = all.map((c) => c.id);
      expect([...ids].sort((x, y) => y - x)).toEqual(ids);
      expect((await store.listChanges(a.id, 'unsubscribe', ids[1]!, 10)).map((c) => c.id)).toEqual(ids.slice(2));
      expect(await store.listChanges(a.id, 'unsubscribe', null, 1)).toHaveLength(1);
      expect(await store.listChanges(a.id, 'bounce', null, 10)).toEqual([]);
      expect(await store.listChanges(b.id, 'unsubscribe', null, 10)).toEqual([]);
      // Another space cannot remove (or see the removal of) alpha's entries.
      await store.addListEntry({ spaceId: a.id, list: 'bounce', address: 'x@example.net', reason: 'r', addedAt: at(0) });
      expect(await store.removeListEntry(b.id, 'bounce', 'x@example.net', { source: 'api', at: at(1) })).toBe(false);
      expect(await store.listChanges(b.id, 'bounce', null, 10)).toEqual([]);
      await expect(store.listChanges(unknownSpace, 'bounce', null, 10)).rejects.toThrow(UsageError);
      await expect(store.listChanges(a.id, 'bounce', 0, 10)).rejects.toThrow(UsageError);
      await expect(store.listChanges(a.id, 'bounce', null, MAX_LIST_PAGE_SIZE + 2)).rejects.toThrow(UsageError);
    });

    it('searches by address key (case-insensitive, IDN as A-label) and pages by key without gaps or repeats', async () => {
      for (const addr of ['Carol@Example.net', 'alice@example.net', 'bob@other.example', 'dave@bücher.example', 'eve@example.net']) {
        await store.addListEntry({ spaceId: a.id, list: 'bounce', address: addr, reason: 'r', addedAt: at(0) });
      }
      await store.addListEntry({ spaceId: b.id, list: 'bounce', address: 'mallory@example.net', reason: 'r', addedAt: at(0) });
      const page = (search: string | null, after: string | null, limit: number) => store.searchListEntries({ spaceId: a.id, list: 'bounce', search, after, limit });
      expect((await page('EXAMPLE.NET', null, 10)).map((e) => e.address)).toEqual(['alice@example.net', 'Carol@Example.net', 'eve@example.net']);
      expect((await page('xn--bcher', null, 10)).map((e) => e.address)).toEqual(['dave@bücher.example']);
      expect((await page('%', null, 10)).map((e) => e.address)).toEqual([]);
      expect((await page('_', null, 10)).map((e) => e.address)).toEqual([]);
      const first = await page(null, null, 2);
      expect(first.map((e) => e.address)).toEqual(['alice@example.net', 'bob@other.example']);
      const second = await page(null, first[1]!.address, 2);
      expect(second.map((e) => e.address)).toEqual(['Carol@Example.net', 'dave@bücher.example']);
      expect((await page(null, second[1]!.address, 2)).map((e) => e.address)).toEqual(['eve@example.net']);
      expect((await page('example.net', 'carol@example.net', 10)).map((e) => e.address)).toEqual(['eve@example.net']);
      expect(await store.searchListEntries({ spaceId: b.id, list: 'bounce', search: 'alice', after: null, limit: 10 })).toEqual([]);
      await expect(page('x'.repeat(MAX_LIST_SEARCH_LENGTH + 1), null, 10)).rejects.toThrow(UsageError);
      expect(await page('x'.repeat(MAX_LIST_SEARCH_LENGTH), null, 10)).toEqual([]);
      await expect(page(null, null, 0)).rejects.toThrow(UsageError);
      await expect(page(null, 'not an address', 10)).rejects.toThrow(UsageError);
      await expect(store.searchListEntries({ spaceId: unknownSpace, list: 'bounce', search: null, after: null, limit: 10 })).rejects.toThrow(UsageError);
    });

    it("records an 'unsubscribed' event and queues its webhook delivery", async () => {
      await store.setWebhook({ spaceId: a.id, url: 'https://hooks.alpha.example/trx', secret: 'sig' });
      await store.recordSend(send({ id: 'u-1' }));
      const e = await store.addEvent({ sendId: 'u-1', recipient: 'rcpt@example.net', type: 'unsubscribed', at: at(7), detail: { source: 'one-click' } });
      expect(e.type).toBe('unsubscribed');
      expect((await store.listEvents('u-1')).map((x) => x.type)).toContain('unsubscribed');
      const queued = await store.listWebhookDeliveries({});
      expect(queued.map((d) => [d.type, d.sendId, d.recipient])).toContainEqual(['unsubscribed', 'u-1', 'rcpt@example.net']);
    });
  });
}
