/**
 * Store contract, accounts aggregate (AccountStore): spaces, sender domains, users and
 * per-from-address defaults (flags, one-click unsubscribe) — normalisation, case- and IDN-insensitive keys, tenant
 * separation, and the UsageError for each bad input or unknown space.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { UsageError } from '../../../src/lib/errors.js';
import { MAX_ADDRESS_LENGTH, MAX_SPACE_NAME_LENGTH } from '../../../src/lib/limits.js';
import type { UnsubscribeDefault } from '../../../src/core/unsubscribe.js';
import type { Space, Store, User } from '../../../src/store/store.js';
import { unknownSpace } from './fixture.js';
import type { CurrentFixture, Fixture } from './fixture.js';

export function accountsContract(fixture: CurrentFixture): void {
  let store: Store;
  let a: Space;
  let b: Space;
  let userA: User;
  let userB: User;
  let send: Fixture['send'];
  beforeEach(() => {
    ({ store, a, b, userA, userB, send } = fixture());
  });

  describe('spaces', () => {
    it('creates with defaults and reads back by id and by name', async () => {
      const before = Date.now();
      const s = await store.createSpace({ name: 'Gamma' });
      expect(s).toMatchObject({ name: 'Gamma', defaultFlags: null, allowSubdomains: false, unsubscribe: null });
      expect(s.createdAt).toBeInstanceOf(Date);
      expect(s.createdAt.getTime()).toBeGreaterThanOrEqual(before - 1000);
      expect(await store.getSpace(s.id)).toEqual(s);
      expect(await store.getSpaceByName('Gamma')).toEqual(s);
      expect(await store.getSpaceByName('gamma')).toEqual(s);
      expect(await store.getSpace(unknownSpace)).toBeNull();
      expect(await store.getSpaceByName('nope')).toBeNull();
    });

    it('creates with settings and lists in creation order', async () => {
      const s = await store.createSpace({ name: 'delta', defaultFlags: 15, allowSubdomains: true });
      expect(s).toMatchObject({ defaultFlags: 15, allowSubdomains: true });
      const z = await store.createSpace({ name: 'zero', defaultFlags: 0 });
      expect(z.defaultFlags).toBe(0);
      expect((await store.listSpaces()).map((x) => x.name)).toEqual(['alpha', 'beta', 'delta', 'zero']);
    });

    it('refuses duplicate names, case-insensitively', async () => {
      await expect(store.createSpace({ name: 'alpha' })).rejects.toThrow(UsageError);
      await expect(store.createSpace({ name: 'ALPHA' })).rejects.toThrow(/exists already/);
    });

    it.each([
      ['empty', ''],
      ['leading space', ' x'],
      ['trailing space', 'x '],
      ['newline', 'a\nb'],
      ['NUL', 'a\u0000b'],
      ['DEL', 'a\u007fb'],
      ['too long', 'x'.repeat(MAX_SPACE_NAME_LENGTH + 1)],
    ])('refuses a bad name (%s)', async (_label, bad) => {
      await expect(store.createSpace({ name: bad })).rejects.toThrow(UsageError);
    });

    it('accepts a name of exactly MAX_SPACE_NAME_LENGTH', async () => {
      const s = await store.createSpace({ name: 'x'.repeat(MAX_SPACE_NAME_LENGTH) });
      expect(s.name).toHaveLength(MAX_SPACE_NAME_LENGTH);
    });

    it.each([-1, 16, 1.5, Number.NaN])('refuses default flags %s', async (flags) => {
      await expect(store.createSpace({ name: 'f', defaultFlags: flags })).rejects.toThrow(UsageError);
      await expect(store.updateSpace(a.id, { defaultFlags: flags })).rejects.toThrow(UsageError);
    });

    it('updates only the fields given', async () => {
      const u1 = await store.updateSpace(a.id, { defaultFlags: 4 });
      expect(u1).toMatchObject({ id: a.id, name: 'alpha', defaultFlags: 4, allowSubdomains: false });
      const u2 = await store.updateSpace(a.id, { allowSubdomains: true });
      expect(u2).toMatchObject({ defaultFlags: 4, allowSubdomains: true });
      const u3 = await store.updateSpace(a.id, { defaultFlags: null });
      expect(u3).toMatchObject({ defaultFlags: null, allowSubdomains: true });
      expect(await store.getSpace(a.id)).toEqual(u3);
      expect(await store.updateSpace(a.id, {})).toEqual(u3);
      expect((await store.getSpace(b.id))?.allowSubdomains).toBe(false);
    });

    it('refuses to update an unknown space', async () => {
      await expect(store.updateSpace(unknownSpace, { defaultFlags: 1 })).rejects.toThrow(/unknown space id/);
    });
  });

  describe('space one-click unsubscribe default', () => {
    it('creates with one, updates it alone, removes it, and reads it back', async () => {
      const s = await store.createSpace({ name: 'news', unsubscribe: 'one-click' });
      expect(s.unsubscribe).toBe('one-click');
      expect(await store.getSpace(s.id)).toEqual(s);
      const u1 = await store.updateSpace(a.id, { defaultFlags: 3 });
      expect(u1.unsubscribe).toBeNull();
      const u2 = await store.updateSpace(a.id, { unsubscribe: 'none' });
      expect(u2).toMatchObject({ defaultFlags: 3, unsubscribe: 'none' });
      expect(await store.getSpaceByName('alpha')).toEqual(u2);
      const u3 = await store.updateSpace(a.id, { unsubscribe: 'one-click' });
      expect((await store.listSpaces()).find((x) => x.id === a.id)).toEqual(u3);
      const u4 = await store.updateSpace(a.id, { unsubscribe: null });
      expect(u4).toMatchObject({ defaultFlags: 3, unsubscribe: null });
      expect((await store.getSpace(b.id))?.unsubscribe).toBeNull();
    });

    it.each(['one-click ', 'ONE-CLICK', 'yes', ''])('refuses the value %j', async (bad) => {
      await expect(store.createSpace({ name: 'u', unsubscribe: bad as UnsubscribeDefault })).rejects.toThrow(UsageError);
      await expect(store.updateSpace(a.id, { unsubscribe: bad as UnsubscribeDefault })).rejects.toThrow(UsageError);
      expect((await store.getSpace(a.id))?.unsubscribe).toBeNull();
    });
  });

  describe('sender domains', () => {
    it('stores the normalised form, is idempotent, and lists sorted', async () => {
      await store.addDomain(a.id, 'Bücher.Example.');
      await store.addDomain(a.id, 'xn--bcher-kva.example');
      await store.addDomain(a.id, 'SHOP.example');
      expect(await store.listDomains(a.id)).toEqual(['shop.example', 'xn--bcher-kva.example']);
    });

    it('removes by any equal form and reports whether it was there', async () => {
      await store.addDomain(a.id, 'xn--bcher-kva.example');
      expect(await store.removeDomain(a.id, 'BÜCHER.example')).toBe(true);
      expect(await store.removeDomain(a.id, 'bücher.example')).toBe(false);
      expect(await store.listDomains(a.id)).toEqual([]);
    });

    it('keeps spaces apart', async () => {
      await store.addDomain(a.id, 'a.example');
      await store.addDomain(b.id, 'b.example');
      expect(await store.listDomains(a.id)).toEqual(['a.example']);
      expect(await store.listDomains(b.id)).toEqual(['b.example']);
      expect(await store.removeDomain(b.id, 'a.example')).toBe(false);
      expect(await store.listDomains(a.id)).toEqual(['a.example']);
    });

    it.each(['', '.', 'a..b', '-a.example', 'a b.example', '[127.0.0.1]', 'user@a.example'])(
      'refuses invalid domain %j, naming it',
      async (bad) => {
        await expect(store.addDomain(a.id, bad)).rejects.toThrow(UsageError);
        await expect(store.addDomain(a.id, bad)).rejects.toThrow(JSON.stringify(bad));
        await expect(store.removeDomain(a.id, bad)).rejects.toThrow(UsageError);
      },
    );

    it('refuses an unknown space', async () => {
      await expect(store.addDomain(unknownSpace, 'a.example')).rejects.toThrow(UsageError);
      await expect(store.removeDomain(unknownSpace, 'a.example')).rejects.toThrow(UsageError);
      await expect(store.listDomains(unknownSpace)).rejects.toThrow(UsageError);
    });
  });

  describe('users', () => {
    it('finds a user by e-mail case-insensitively and IDN-equal', async () => {
      const u = await store.createUser({ spaceId: a.id, email: 'John@Bücher.example', passwordHash: 'h1' });
      expect(u).toMatchObject({ spaceId: a.id, email: 'John@Bücher.example', passwordHash: 'h1' });
      expect(u.createdAt).toBeInstanceOf(Date);
      expect(await store.getUserByEmail('john@xn--bcher-kva.example')).toEqual(u);
      expect(await store.getUserByEmail('JOHN@BÜCHER.EXAMPLE')).toEqual(u);
      expect(await store.getUserByEmail('jane@bücher.example')).toBeNull();
      expect(await store.getUserByEmail('not an address')).toBeNull();
    });

    it('getAccount: the user with its space and its sorted domains, read together; null for an unknown login', async () => {
      const u = await store.createUser({ spaceId: a.id, email: 'Ann@Shop.example', passwordHash: 'h1' });
      await store.addDomain(a.id, 'zeta.example');
      await store.addDomain(a.id, 'alpha.example');
      await store.updateSpace(a.id, { defaultFlags: 5, allowSubdomains: true });
      const space = await store.getSpace(a.id);
      expect(await store.getAccount('ann@shop.example')).toEqual({ user: u, space, domains: ['alpha.example', 'zeta.example'] });
      // A space without domains has none; spaces stay apart.
      expect(await store.getAccount(userB.email)).toEqual({ user: userB, space: await store.getSpace(b.id), domains: [] });
      expect(await store.getAccount('nobody@shop.example')).toBeNull();
      expect(await store.getAccount('not an address')).toBeNull();
      await store.removeUser('ann@shop.example');
      expect(await store.getAccount('ann@shop.example')).toBeNull();
    });

    it('refuses a duplicate e-mail in any space, whatever the case', async () => {
      await expect(store.createUser({ spaceId: a.id, email: 'user@alpha.example', passwordHash: 'x' })).rejects.toThrow(UsageError);
      await expect(store.createUser({ spaceId: b.id, email: 'USER@Alpha.Example', passwordHash: 'x' })).rejects.toThrow(
        /exists already/,
      );
    });

    it.each(['', 'no-at-sign', '@alpha.example', 'user@', 'user@bad..domain', `${'x'.repeat(250)}@a.example`])(
      'refuses invalid e-mail %j',
      async (bad) => {
        await expect(store.createUser({ spaceId: a.id, email: bad, passwordHash: 'x' })).rejects.toThrow(UsageError);
      },
    );

    it('refuses an empty password hash and an unknown space', async () => {
      await expect(store.createUser({ spaceId: a.id, email: 'n@alpha.example', passwordHash: '' })).rejects.toThrow(UsageError);
      await expect(store.createUser({ spaceId: unknownSpace, email: 'n@alpha.example', passwordHash: 'x' })).rejects.toThrow(
        /unknown space id/,
      );
    });

    it('changes a password hash', async () => {
      expect(await store.setPasswordHash('USER@alpha.example', 'new-hash')).toBe(true);
      expect((await store.getUserByEmail('user@alpha.example'))?.passwordHash).toBe('new-hash');
      expect((await store.getUserByEmail('user@beta.example'))?.passwordHash).toBe('scrypt$hash-b');
      expect(await store.setPasswordHash('ghost@alpha.example', 'x')).toBe(false);
      await expect(store.setPasswordHash('user@alpha.example', '')).rejects.toThrow(UsageError);
    });

    it('removes a user and lists users per space or all', async () => {
      const extra = await store.createUser({ spaceId: a.id, email: 'another@alpha.example', passwordHash: 'h' });
      expect(await store.listUsers(a.id)).toEqual([extra, userA]);
      expect(await store.listUsers(b.id)).toEqual([userB]);
      expect((await store.listUsers()).map((u) => u.email).sort()).toEqual(
        ['another@alpha.example', 'user@alpha.example', 'user@beta.example'].sort(),
      );
      expect(await store.removeUser('Another@Alpha.example')).toBe(true);
      expect(await store.removeUser('another@alpha.example')).toBe(false);
      expect(await store.getUserByEmail('another@alpha.example')).toBeNull();
      expect(await store.listUsers(a.id)).toEqual([userA]);
      await expect(store.listUsers(unknownSpace)).rejects.toThrow(UsageError);
    });

    it('keeps the sends of a removed user', async () => {
      await store.recordSend(send({ id: 'kept-1' }));
      expect(await store.removeUser('user@alpha.example')).toBe(true);
      expect((await store.getSend('kept-1', a.id))?.userId).toBe(userA.id);
    });

    it('keeps the e-mail trimmed; an over-long string is no address', async () => {
      const u = await store.createUser({ spaceId: a.id, email: '  Spaced@Alpha.example \t', passwordHash: 'h' });
      expect(u.email).toBe('Spaced@Alpha.example');
      expect(await store.getUserByEmail('spaced@alpha.example')).toEqual(u);
      const long = `${'x'.repeat(MAX_ADDRESS_LENGTH)}@alpha.example`;
      await expect(store.createUser({ spaceId: a.id, email: long, passwordHash: 'h' })).rejects.toThrow(UsageError);
      expect(await store.getUserByEmail(long)).toBeNull();
      expect(await store.setPasswordHash(long, 'h')).toBe(false);
      expect(await store.removeUser(long)).toBe(false);
      await expect(store.setPasswordHash('not an address', '')).rejects.toThrow(UsageError);
    });
  });

  describe('per-from-address default flags', () => {
    it('sets, reads under any equal form, updates and removes', async () => {
      await store.setFromFlags(a.id, 'News@Bücher.example', 5);
      expect(await store.getFromFlags(a.id, 'news@xn--bcher-kva.example')).toBe(5);
      await store.setFromFlags(a.id, 'news@bücher.example', 0);
      expect(await store.getFromFlags(a.id, 'NEWS@BÜCHER.EXAMPLE')).toBe(0);
      expect(await store.listFromFlags(a.id)).toEqual([{ spaceId: a.id, address: 'news@bücher.example', flags: 0, unsubscribe: null }]);
      await store.setFromFlags(a.id, 'news@bücher.example', null);
      expect(await store.getFromFlags(a.id, 'news@bücher.example')).toBeNull();
      expect(await store.listFromFlags(a.id)).toEqual([]);
    });

    it('keeps spaces apart', async () => {
      await store.setFromFlags(a.id, 'x@shop.example', 1);
      expect(await store.getFromFlags(b.id, 'x@shop.example')).toBeNull();
      expect(await store.listFromFlags(b.id)).toEqual([]);
    });

    it('answers null for a non-address and refuses bad input', async () => {
      expect(await store.getFromFlags(a.id, 'not-an-address')).toBeNull();
      await expect(store.setFromFlags(a.id, 'not-an-address', 1)).rejects.toThrow(UsageError);
      for (const bad of [-1, 16, 2.5]) {
        await expect(store.setFromFlags(a.id, 'x@shop.example', bad)).rejects.toThrow(UsageError);
      }
      await expect(store.setFromFlags(unknownSpace, 'x@shop.example', 1)).rejects.toThrow(UsageError);
      await expect(store.getFromFlags(unknownSpace, 'x@shop.example')).rejects.toThrow(UsageError);
      await expect(store.listFromFlags(unknownSpace)).rejects.toThrow(UsageError);
    });

    it('keeps the address trimmed', async () => {
      await store.setFromFlags(a.id, '  News@Shop.example \t', 6);
      expect(await store.listFromFlags(a.id)).toEqual([{ spaceId: a.id, address: 'News@Shop.example', flags: 6, unsubscribe: null }]);
      expect(await store.getFromFlags(a.id, 'news@shop.example')).toBe(6);
    });
  });

  describe('per-from-address one-click unsubscribe default', () => {
    it('sets it beside the flags or alone, reads both in one call, and removes each on its own', async () => {
      await store.setFromUnsubscribe(a.id, 'News@Bücher.example', 'one-click');
      expect(await store.getFromDefault(a.id, 'news@xn--bcher-kva.example')).toEqual({
        spaceId: a.id,
        address: 'News@Bücher.example',
        flags: null,
        unsubscribe: 'one-click',
      });
      expect(await store.getFromFlags(a.id, 'news@bücher.example')).toBeNull();
      await store.setFromFlags(a.id, 'news@bücher.example', 5);
      expect(await store.getFromDefault(a.id, 'NEWS@BÜCHER.EXAMPLE')).toMatchObject({ flags: 5, unsubscribe: 'one-click', address: 'news@bücher.example' });
      await store.setFromUnsubscribe(a.id, 'news@bücher.example', 'none');
      expect(await store.listFromFlags(a.id)).toEqual([{ spaceId: a.id, address: 'news@bücher.example', flags: 5, unsubscribe: 'none' }]);
      // removing the unsubscribe default keeps the flags, and the other way round
      await store.setFromUnsubscribe(a.id, 'news@bücher.example', null);
      expect(await store.getFromDefault(a.id, 'news@bücher.example')).toMatchObject({ flags: 5, unsubscribe: null });
      await store.setFromUnsubscribe(a.id, 'news@bücher.example', 'one-click');
      await store.setFromFlags(a.id, 'news@bücher.example', null);
      expect(await store.listFromFlags(a.id)).toEqual([{ spaceId: a.id, address: 'news@bücher.example', flags: null, unsubscribe: 'one-click' }]);
      // with neither left, the address has no default
      await store.setFromUnsubscribe(a.id, 'news@bücher.example', null);
      expect(await store.getFromDefault(a.id, 'news@bücher.example')).toBeNull();
      expect(await store.listFromFlags(a.id)).toEqual([]);
      // removing what is not there is not an error
      await store.setFromUnsubscribe(a.id, 'other@shop.example', null);
      await store.setFromFlags(a.id, 'other@shop.example', null);
      expect(await store.listFromFlags(a.id)).toEqual([]);
    });

    it('keeps spaces apart and refuses bad input', async () => {
      await store.setFromUnsubscribe(a.id, 'x@shop.example', 'one-click');
      expect(await store.getFromDefault(b.id, 'x@shop.example')).toBeNull();
      expect(await store.getFromDefault(a.id, 'not-an-address')).toBeNull();
      await expect(store.setFromUnsubscribe(a.id, 'not-an-address', 'none')).rejects.toThrow(UsageError);
      for (const bad of ['', 'One-Click', 'off']) {
        await expect(store.setFromUnsubscribe(a.id, 'x@shop.example', bad as UnsubscribeDefault)).rejects.toThrow(UsageError);
      }
      expect((await store.getFromDefault(a.id, 'x@shop.example'))?.unsubscribe).toBe('one-click');
      await expect(store.setFromUnsubscribe(unknownSpace, 'x@shop.example', 'none')).rejects.toThrow(UsageError);
      await expect(store.getFromDefault(unknownSpace, 'x@shop.example')).rejects.toThrow(UsageError);
    });
  });
}
