/**
 * Store contract, lists aggregate (ListStore): Bounce and Unsubscribe list entries and the
 * suppression lookup — keys, answers for every address as passed, its size limit, tenants.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { UsageError } from '../../../src/lib/errors.js';
import { MAX_ADDRESS_LENGTH, MAX_RECIPIENTS } from '../../../src/lib/limits.js';
import type { Space, Store } from '../../../src/store/store.js';
import { T0, at, unknownSpace } from './fixture.js';
import type { CurrentFixture } from './fixture.js';

export function listsContract(fixture: CurrentFixture): void {
  let store: Store;
  let a: Space;
  let b: Space;
  beforeEach(() => {
    ({ store, a, b } = fixture());
  });

  describe('suppression lists', () => {
    it('adds, re-adds (updating reason and time), lists and removes', async () => {
      await store.addListEntry({ spaceId: a.id, list: 'bounce', address: 'Gone@Example.net', reason: '550 5.1.1', addedAt: at(0) });
      await store.addListEntry({ spaceId: a.id, list: 'bounce', address: 'gone@example.net', reason: 'complaint', addedAt: at(5000) });
      await store.addListEntry({ spaceId: a.id, list: 'unsubscribe', address: 'gone@example.net', reason: 'link', addedAt: at(1) });
      const bounces = await store.listEntries(a.id, 'bounce');
      expect(bounces).toHaveLength(1);
      expect(bounces[0]).toMatchObject({ spaceId: a.id, list: 'bounce', reason: 'complaint' });
      expect(bounces[0]!.address.toLowerCase()).toBe('gone@example.net');
      expect(bounces[0]!.addedAt.getTime()).toBe(T0 + 5000);
      expect(await store.listEntries(a.id, 'unsubscribe')).toHaveLength(1);
      expect(await store.removeListEntry(a.id, 'bounce', 'GONE@example.NET')).toBe(true);
      expect(await store.removeListEntry(a.id, 'bounce', 'gone@example.net')).toBe(false);
      expect(await store.listEntries(a.id, 'bounce')).toEqual([]);
      expect(await store.listEntries(a.id, 'unsubscribe')).toHaveLength(1);
    });

    it('looks up case-insensitively and IDN-equal, keyed exactly as passed', async () => {
      await store.addListEntry({ spaceId: a.id, list: 'bounce', address: 'john@bücher.example', reason: 'hard', addedAt: at(0) });
      await store.addListEntry({ spaceId: a.id, list: 'unsubscribe', address: 'JOHN@xn--bcher-kva.example', reason: 'opt-out', addedAt: at(0) });
      await store.addListEntry({ spaceId: a.id, list: 'unsubscribe', address: 'only@unsub.example', reason: 'u', addedAt: at(0) });
      const asked = ['John@XN--BCHER-KVA.EXAMPLE', 'john@Bücher.Example.', 'only@unsub.example', 'clean@example.net', 'garbage'];
      const r = await store.lookupSuppression(a.id, asked);
      expect(Object.keys(r).sort()).toEqual([...asked].sort());
      expect(r['John@XN--BCHER-KVA.EXAMPLE']).toEqual({ bounce: { reason: 'hard' }, unsubscribe: { reason: 'opt-out' } });
      expect(r['john@Bücher.Example.']).toEqual({ bounce: { reason: 'hard' }, unsubscribe: { reason: 'opt-out' } });
      expect(r['only@unsub.example']).toEqual({ unsubscribe: { reason: 'u' } });
      expect(r['clean@example.net']).toEqual({});
      expect(r['garbage']).toEqual({});
    });

    it('keeps spaces apart', async () => {
      await store.addListEntry({ spaceId: a.id, list: 'bounce', address: 'x@example.net', reason: 'r', addedAt: at(0) });
      expect(await store.lookupSuppression(b.id, ['x@example.net'])).toEqual({ 'x@example.net': {} });
      expect(await store.listEntries(b.id, 'bounce')).toEqual([]);
      expect(await store.removeListEntry(b.id, 'bounce', 'x@example.net')).toBe(false);
      expect((await store.lookupSuppression(a.id, ['x@example.net']))['x@example.net']).toEqual({ bounce: { reason: 'r' } });
    });

    it('treats odd keys as ordinary keys', async () => {
      const r = await store.lookupSuppression(a.id, ['__proto__', 'constructor']);
      expect(Object.keys(r).sort()).toEqual(['__proto__', 'constructor']);
      expect(r['__proto__']).toEqual({});
    });

    it('answers an empty lookup and bounds its size', async () => {
      expect(await store.lookupSuppression(a.id, [])).toEqual({});
      const many = Array.from({ length: MAX_RECIPIENTS }, (_, i) => `r${i}@example.net`);
      expect(Object.keys(await store.lookupSuppression(a.id, many))).toHaveLength(MAX_RECIPIENTS);
      await expect(store.lookupSuppression(a.id, [...many, 'one-more@example.net'])).rejects.toThrow(UsageError);
    });

    it('refuses non-addresses, bad dates and unknown spaces', async () => {
      for (const bad of ['', 'nobody', 'x@bad..example']) {
        await expect(
          store.addListEntry({ spaceId: a.id, list: 'bounce', address: bad, reason: 'r', addedAt: at(0) }),
        ).rejects.toThrow(UsageError);
        await expect(store.removeListEntry(a.id, 'bounce', bad)).rejects.toThrow(UsageError);
      }
      await expect(
        store.addListEntry({ spaceId: a.id, list: 'bounce', address: 'x@example.net', reason: 'r', addedAt: new Date(Number.NaN) }),
      ).rejects.toThrow(UsageError);
      await expect(
        store.addListEntry({ spaceId: unknownSpace, list: 'bounce', address: 'x@example.net', reason: 'r', addedAt: at(0) }),
      ).rejects.toThrow(UsageError);
      await expect(store.lookupSuppression(unknownSpace, ['x@example.net'])).rejects.toThrow(UsageError);
      await expect(store.listEntries(unknownSpace, 'bounce')).rejects.toThrow(UsageError);
    });

    it('keeps the address trimmed; an over-long string is no address', async () => {
      await store.addListEntry({ spaceId: a.id, list: 'unsubscribe', address: ' Out@Example.net\t', reason: 'r', addedAt: at(0) });
      expect((await store.listEntries(a.id, 'unsubscribe')).map((e) => e.address)).toEqual(['Out@Example.net']);
      expect((await store.lookupSuppression(a.id, ['out@example.net']))['out@example.net']).toEqual({ unsubscribe: { reason: 'r' } });
      const long = `${'x'.repeat(MAX_ADDRESS_LENGTH)}@example.net`;
      expect(await store.lookupSuppression(a.id, [long])).toEqual({ [long]: {} });
      await expect(store.addListEntry({ spaceId: a.id, list: 'bounce', address: long, reason: 'r', addedAt: at(0) })).rejects.toThrow(
        UsageError,
      );
      await expect(store.removeListEntry(unknownSpace, 'bounce', 'out@example.net')).rejects.toThrow(UsageError);
    });
  });
}
