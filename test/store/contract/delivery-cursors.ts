/**
 * Store contract, delivery-cursor aggregate (DeliveryCursorStore): the maillog follower's
 * read position per log path — absent until saved, replaced on save, exact for large inode
 * numbers, paths kept apart, bad values refused.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { UsageError } from '../../../src/lib/errors.js';
import { MAX_CURSOR_PATH_LENGTH } from '../../../src/lib/limits.js';
import type { Store } from '../../../src/store/store.js';
import { T0, at } from './fixture.js';
import type { CurrentFixture } from './fixture.js';

export function deliveryCursorsContract(fixture: CurrentFixture): void {
  let store: Store;
  beforeEach(() => {
    ({ store } = fixture());
  });

  describe('delivery cursors', () => {
    it('is null until saved; a save replaces the previous one; paths are apart', async () => {
      expect(await store.getDeliveryCursor('/var/log/mail.log')).toBeNull();
      await store.saveDeliveryCursor({ path: '/var/log/mail.log', dev: '2049', ino: '131', offset: 100, followingSince: at(-1000), savedAt: at(0) });
      await store.saveDeliveryCursor({ path: '/var/log/mail.log', dev: '2049', ino: '18446744073709551615', offset: 0, followingSince: at(-1000), savedAt: at(5000) });
      await store.saveDeliveryCursor({ path: '/var/log/other.log', dev: '1', ino: '2', offset: 9007199254740991, followingSince: at(-1000), savedAt: at(1) });
      const c = await store.getDeliveryCursor('/var/log/mail.log');
      expect(c).toEqual({ path: '/var/log/mail.log', dev: '2049', ino: '18446744073709551615', offset: 0, followingSince: new Date(T0 - 1000), savedAt: new Date(T0 + 5000) });
      expect((await store.getDeliveryCursor('/var/log/other.log'))?.offset).toBe(9007199254740991);
      expect(await store.getDeliveryCursor('/var/log/MAIL.log')).toBeNull();
    });

    it('refuses bad values with a UsageError and keeps what was there', async () => {
      await store.saveDeliveryCursor({ path: '/l', dev: '1', ino: '2', offset: 3, followingSince: at(-1000), savedAt: at(0) });
      const bad = [
        { path: '', dev: '1', ino: '2', offset: 3, followingSince: at(-1000), savedAt: at(0) },
        { path: 'x'.repeat(MAX_CURSOR_PATH_LENGTH + 1), dev: '1', ino: '2', offset: 3, followingSince: at(-1000), savedAt: at(0) },
        { path: '/l', dev: '-1', ino: '2', offset: 3, followingSince: at(-1000), savedAt: at(0) },
        { path: '/l', dev: '1', ino: '2x', offset: 3, followingSince: at(-1000), savedAt: at(0) },
        { path: '/l', dev: '1', ino: '123456789012345678901', offset: 3, followingSince: at(-1000), savedAt: at(0) },
        { path: '/l', dev: '1', ino: '2', offset: -1, followingSince: at(-1000), savedAt: at(0) },
        { path: '/l', dev: '1', ino: '2', offset: 1.5, followingSince: at(-1000), savedAt: at(0) },
        { path: '/l', dev: '1', ino: '2', offset: 3, followingSince: at(-1000), savedAt: new Date(Number.NaN) },
      ];
      for (const c of bad) await expect(store.saveDeliveryCursor(c)).rejects.toThrow(UsageError);
      await expect(store.getDeliveryCursor('')).rejects.toThrow(UsageError);
      expect(await store.getDeliveryCursor('/l')).toMatchObject({ dev: '1', ino: '2', offset: 3 });
    });
  });
}
