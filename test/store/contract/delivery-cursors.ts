/**
 * Store contract, delivery-cursor aggregate (DeliveryCursorStore): the maillog follower's
 * read position per node and log path — absent until saved, replaced on save, exact for large inode
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
      expect(await store.getDeliveryCursor('n1', '/var/log/mail.log')).toBeNull();
      await store.saveDeliveryCursor({ node: 'n1', path: '/var/log/mail.log', dev: '2049', ino: '131', offset: 100, followingSince: at(-1000), savedAt: at(0) });
      await store.saveDeliveryCursor({ node: 'n1', path: '/var/log/mail.log', dev: '2049', ino: '18446744073709551615', offset: 0, followingSince: at(-1000), savedAt: at(5000) });
      await store.saveDeliveryCursor({ node: 'n1', path: '/var/log/other.log', dev: '1', ino: '2', offset: 9007199254740991, followingSince: at(-1000), savedAt: at(1) });
      const c = await store.getDeliveryCursor('n1', '/var/log/mail.log');
      expect(c).toEqual({ node: 'n1', path: '/var/log/mail.log', dev: '2049', ino: '18446744073709551615', offset: 0, followingSince: new Date(T0 - 1000), savedAt: new Date(T0 + 5000) });
      expect((await store.getDeliveryCursor('n1', '/var/log/other.log'))?.offset).toBe(9007199254740991);
      expect(await store.getDeliveryCursor('n1', '/var/log/MAIL.log')).toBeNull();
    });

    it('refuses bad values with a UsageError and keeps what was there', async () => {
      await store.saveDeliveryCursor({ node: 'n1', path: '/l', dev: '1', ino: '2', offset: 3, followingSince: at(-1000), savedAt: at(0) });
      const bad = [
        { node: 'n1', path: '', dev: '1', ino: '2', offset: 3, followingSince: at(-1000), savedAt: at(0) },
        { node: 'n1', path: 'x'.repeat(MAX_CURSOR_PATH_LENGTH + 1), dev: '1', ino: '2', offset: 3, followingSince: at(-1000), savedAt: at(0) },
        { node: 'n1', path: '/l', dev: '-1', ino: '2', offset: 3, followingSince: at(-1000), savedAt: at(0) },
        { node: 'n1', path: '/l', dev: '1', ino: '2x', offset: 3, followingSince: at(-1000), savedAt: at(0) },
        { node: 'n1', path: '/l', dev: '1', ino: '123456789012345678901', offset: 3, followingSince: at(-1000), savedAt: at(0) },
        { node: 'n1', path: '/l', dev: '1', ino: '2', offset: -1, followingSince: at(-1000), savedAt: at(0) },
        { node: 'n1', path: '/l', dev: '1', ino: '2', offset: 1.5, followingSince: at(-1000), savedAt: at(0) },
        { node: 'n1', path: '/l', dev: '1', ino: '2', offset: 3, followingSince: at(-1000), savedAt: new Date(Number.NaN) },
      ];
      bad.push({ node: '', path: '/l', dev: '1', ino: '2', offset: 3, followingSince: at(-1000), savedAt: at(0) });
      bad.push({ node: 'bad name', path: '/l', dev: '1', ino: '2', offset: 3, followingSince: at(-1000), savedAt: at(0) });
      for (const c of bad) await expect(store.saveDeliveryCursor(c)).rejects.toThrow(UsageError);
      await expect(store.getDeliveryCursor('-x', '/l')).rejects.toThrow(UsageError);
      await expect(store.getDeliveryCursor('n1', '')).rejects.toThrow(UsageError);
      expect(await store.getDeliveryCursor('n1', '/l')).toMatchObject({ dev: '1', ino: '2', offset: 3 });
    });

    it('keeps one position per node and path: two nodes reading logs of the same name do not share a position', async () => {
      await store.saveDeliveryCursor({ node: 'mx1', path: '/var/log/mail.log', dev: '1', ino: '10', offset: 100, followingSince: at(0), savedAt: at(0) });
      await store.saveDeliveryCursor({ node: 'mx2', path: '/var/log/mail.log', dev: '1', ino: '20', offset: 200, followingSince: at(0), savedAt: at(0) });
      expect(await store.getDeliveryCursor('mx1', '/var/log/mail.log')).toMatchObject({ node: 'mx1', ino: '10', offset: 100 });
      expect(await store.getDeliveryCursor('mx2', '/var/log/mail.log')).toMatchObject({ node: 'mx2', ino: '20', offset: 200 });
      expect(await store.getDeliveryCursor('mx3', '/var/log/mail.log')).toBeNull();
    });
  });
}
