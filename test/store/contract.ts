/**
 * The Store contract: one vitest suite written against the Store interface only. Every
 * backend (SQLite now, PostgreSQL later) runs it from its own *.test.ts:
 *
 *     storeContract('sqlite', async () => SqliteStore.open(tempFile()));
 *
 * `makeStore` must return a fresh, empty store each time; the suite closes it.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TransientError, UsageError } from '../../src/lib/errors.js';
import { MAX_EVENT_COUNT_SENDS, MAX_RECIPIENTS, MAX_SPACE_NAME_LENGTH, MAX_TAGS, MAX_WEBHOOK_BATCH, MAX_WEBHOOK_ERROR_LENGTH } from '../../src/lib/limits.js';
import type { EventType, NewSend, SendRecipient, Space, Store, User } from '../../src/store/store.js';

const T0 = Date.UTC(2025, 0, 15, 12, 0, 0);
const at = (offsetMs: number): Date => new Date(T0 + offsetMs);

function recipient(address: string, role: SendRecipient['role'], over: Partial<SendRecipient> = {}): SendRecipient {
  return {
    address,
    role,
    status: role === 'discarded' ? 'discarded' : 'queued',
    suppressedBy: null,
    detail: null,
    ...over,
  };
}

export function storeContract(name: string, makeStore: () => Promise<Store>): void {
  describe(`Store contract: ${name}`, () => {
    let store: Store;
    let a: Space;
    let b: Space;
    let userA: User;
    let userB: User;

    function send(over: Partial<NewSend> & { id: string }): NewSend {
      const to = over.to ?? 'rcpt@example.net';
      return {
        spaceId: a.id,
        userId: userA.id,
        mailFrom: 'news@shop.example',
        envelopeSender: `trx-${a.id}-${over.id}-abc@bounce.example`,
        from: 'news@shop.example',
        to,
        bcc: null,
        discarded: [],
        tags: [],
        flags: 3,
        flagsSource: 'default',
        receivedAt: at(0),
        recipients: [recipient(to, 'to')],
        ...over,
      };
    }

    beforeEach(async () => {
      store = await makeStore();
      a = await store.createSpace({ name: 'alpha' });
      b = await store.createSpace({ name: 'beta' });
      userA = await store.createUser({ spaceId: a.id, email: 'user@alpha.example', passwordHash: 'scrypt$hash-a' });
      userB = await store.createUser({ spaceId: b.id, email: 'user@beta.example', passwordHash: 'scrypt$hash-b' });
    });

    afterEach(async () => {
      await store.close();
    });

    const unknownSpace = 987654;

    describe('spaces', () => {
      it('creates with defaults and reads back by id and by name', async () => {
        const before = Date.now();
        const s = await store.createSpace({ name: 'Gamma' });
        expect(s).toMatchObject({ name: 'Gamma', defaultFlags: null, allowSubdomains: false });
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
    });

    describe('per-from-address default flags', () => {
      it('sets, reads under any equal form, updates and removes', async () => {
        await store.setFromFlags(a.id, 'News@Bücher.example', 5);
        expect(await store.getFromFlags(a.id, 'news@xn--bcher-kva.example')).toBe(5);
        await store.setFromFlags(a.id, 'news@bücher.example', 0);
        expect(await store.getFromFlags(a.id, 'NEWS@BÜCHER.EXAMPLE')).toBe(0);
        expect(await store.listFromFlags(a.id)).toEqual([{ spaceId: a.id, address: 'news@bücher.example', flags: 0 }]);
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
    });

    describe('sends', () => {
      it('records a send and reads it back whole', async () => {
        const s = send({
          id: 'q-1',
          to: 'To@Example.net',
          bcc: 'copy@example.org',
          discarded: ['d1@example.com', 'd2@example.com'],
          tags: ['welcome', 'spring sale'],
          flags: 7,
          flagsSource: 'header',
          receivedAt: at(123),
          recipients: [
            recipient('To@Example.net', 'to'),
            recipient('copy@example.org', 'bcc'),
            recipient('d1@example.com', 'discarded'),
            recipient('d2@example.com', 'discarded'),
          ],
        });
        await store.recordSend(s);
        const got = await store.getSend('q-1', a.id);
        expect(got).toEqual({ ...s, status: 'queued' });
        expect(got!.receivedAt.getTime()).toBe(T0 + 123);
        expect(await store.getSend('q-1', null)).toEqual(got);
      });

      it('gives the To recipient\'s status as the send status', async () => {
        await store.recordSend(
          send({
            id: 'q-supp',
            bcc: 'b@example.org',
            recipients: [
              recipient('rcpt@example.net', 'to', { status: 'suppressed', suppressedBy: 'bounce', detail: 'hard bounce' }),
              recipient('b@example.org', 'bcc'),
            ],
          }),
        );
        const got = await store.getSend('q-supp', a.id);
        expect(got?.status).toBe('suppressed');
        expect(got?.recipients[0]).toEqual({
          address: 'rcpt@example.net',
          role: 'to',
          status: 'suppressed',
          suppressedBy: 'bounce',
          detail: 'hard bounce',
        });
      });

      it('keeps tenants apart: getSend with another space is null', async () => {
        await store.recordSend(send({ id: 'q-a' }));
        expect(await store.getSend('q-a', b.id)).toBeNull();
        expect(await store.getSend('q-a', unknownSpace)).toBeNull();
        expect(await store.getSend('missing', null)).toBeNull();
      });

      it('refuses a duplicate send id, also across spaces', async () => {
        await store.recordSend(send({ id: 'dup' }));
        await expect(store.recordSend(send({ id: 'dup' }))).rejects.toThrow(UsageError);
        await expect(store.recordSend(send({ id: 'dup', spaceId: b.id, userId: userB.id }))).rejects.toThrow(/recorded already/);
        expect((await store.getSend('dup', null))?.spaceId).toBe(a.id);
      });

      it.each<[string, (s: NewSend) => NewSend]>([
        ['unknown space', (s) => ({ ...s, spaceId: unknownSpace })],
        ['user of another space', (s) => ({ ...s, userId: userB.id })],
        ['unknown user', (s) => ({ ...s, userId: 987654 })],
        ['empty id', (s) => ({ ...s, id: '' })],
        ['no To recipient', (s) => ({ ...s, recipients: [recipient('x@example.net', 'bcc')] })],
        ['two To recipients', (s) => ({ ...s, recipients: [recipient('x@example.net', 'to'), recipient('y@example.net', 'to')] })],
        ['discarded role with a live status', (s) => ({ ...s, recipients: [...s.recipients, recipient('d@example.net', 'discarded', { status: 'queued' })] })],
        ['To with status discarded', (s) => ({ ...s, recipients: [recipient('rcpt@example.net', 'to', { status: 'discarded' })] })],
        ['flags out of range', (s) => ({ ...s, flags: 16 })],
        ['invalid date', (s) => ({ ...s, receivedAt: new Date(Number.NaN) })],
      ])('refuses a bad send (%s) and records nothing', async (_label, mutate) => {
        const bad = mutate(send({ id: 'bad-1' }));
        await expect(store.recordSend(bad)).rejects.toThrow(UsageError);
        expect(await store.getSend(bad.id, null)).toBeNull();
        expect(await store.listSends({})).toEqual([]);
      });

      it('is atomic: a failure mid-way leaves nothing, and the id stays free', async () => {
        const bad = send({
          id: 'atomic-1',
          tags: ['t1', 't2'],
          bcc: 'b@example.org',
          recipients: [
            recipient('rcpt@example.net', 'to'),
            // An invalid role slipped past the type system: the backend must refuse it.
            { ...recipient('b@example.org', 'bcc'), role: 'cc' as SendRecipient['role'] },
          ],
        });
        await expect(store.recordSend(bad)).rejects.toThrow();
        expect(await store.getSend('atomic-1', null)).toBeNull();
        expect(await store.listSends({ tags: ['t1'] })).toEqual([]);
        await expect(store.addEvent({ sendId: 'atomic-1', recipient: 'x', type: 'opened', at: at(0), detail: {} })).rejects.toThrow(
          UsageError,
        );
        const good = send({ id: 'atomic-1', tags: ['t1'] });
        await store.recordSend(good);
        expect((await store.getSend('atomic-1', a.id))?.recipients).toEqual(good.recipients);
        expect((await store.listSends({ tags: ['t1'] })).map((s) => s.id)).toEqual(['atomic-1']);
      });

      describe('listSends', () => {
        beforeEach(async () => {
          // alpha: s1 (t: a), s2 (t: a, b), s3 (t: b, c) from another address, s4 (no tags)
          await store.recordSend(send({ id: 's1', tags: ['a'], receivedAt: at(1000) }));
          await store.recordSend(send({ id: 's2', tags: ['a', 'b'], receivedAt: at(2000) }));
          await store.recordSend(send({ id: 's3', tags: ['b', 'c'], from: 'Other@Shop.Example', receivedAt: at(3000) }));
          await store.recordSend(send({ id: 's4', receivedAt: at(4000) }));
          // beta: same tags and from address, must never leak into alpha's results
          await store.recordSend(send({ id: 'x1', spaceId: b.id, userId: userB.id, tags: ['a', 'b'], receivedAt: at(2500) }));
        });
        const ids = async (f: Parameters<Store['listSends']>[0]): Promise<string[]> =>
          (await store.listSends(f)).map((s) => s.id);

        it('lists newest first, scoped to a space when asked', async () => {
          expect(await ids({ spaceId: a.id })).toEqual(['s4', 's3', 's2', 's1']);
          expect(await ids({ spaceId: b.id })).toEqual(['x1']);
          expect(await ids({})).toEqual(['s4', 's3', 'x1', 's2', 's1']);
          expect(await ids({ spaceId: unknownSpace })).toEqual([]);
        });

        it('filters by tags: one, several (all must be present), none', async () => {
          expect(await ids({ spaceId: a.id, tags: ['a'] })).toEqual(['s2', 's1']);
          expect(await ids({ spaceId: a.id, tags: ['b'] })).toEqual(['s3', 's2']);
          expect(await ids({ spaceId: a.id, tags: ['a', 'b'] })).toEqual(['s2']);
          expect(await ids({ spaceId: a.id, tags: ['b', 'a', 'b'] })).toEqual(['s2']);
          expect(await ids({ spaceId: a.id, tags: ['a', 'c'] })).toEqual([]);
          expect(await ids({ spaceId: a.id, tags: ['A'] })).toEqual([]);
          expect(await ids({ spaceId: a.id, tags: [] })).toEqual(['s4', 's3', 's2', 's1']);
          expect(await ids({ tags: ['a', 'b'] })).toEqual(['x1', 's2']);
        });

        it('refuses more than MAX_TAGS tags in a filter', async () => {
          const tags = Array.from({ length: MAX_TAGS }, (_, i) => `t${i}`);
          expect(await ids({ tags })).toEqual([]);
          await expect(store.listSends({ tags: [...tags, 'extra'] })).rejects.toThrow(UsageError);
        });

        it('filters by From address case-insensitively', async () => {
          expect(await ids({ spaceId: a.id, from: 'other@shop.example' })).toEqual(['s3']);
          expect(await ids({ spaceId: a.id, from: 'OTHER@SHOP.EXAMPLE' })).toEqual(['s3']);
          expect(await ids({ spaceId: a.id, from: 'News@Shop.Example' })).toEqual(['s4', 's2', 's1']);
          expect(await ids({ spaceId: a.id, from: 'nobody@shop.example' })).toEqual([]);
          expect(await ids({ spaceId: a.id, from: 'news@shop.example', tags: ['a'] })).toEqual(['s2', 's1']);
        });

        it('treats since as inclusive and until as exclusive', async () => {
          expect(await ids({ spaceId: a.id, since: at(2000) })).toEqual(['s4', 's3', 's2']);
          expect(await ids({ spaceId: a.id, since: at(2001) })).toEqual(['s4', 's3']);
          expect(await ids({ spaceId: a.id, until: at(2000) })).toEqual(['s1']);
          expect(await ids({ spaceId: a.id, until: at(2001) })).toEqual(['s2', 's1']);
          expect(await ids({ spaceId: a.id, since: at(2000), until: at(3000) })).toEqual(['s2']);
          expect(await ids({ spaceId: a.id, since: at(3000), until: at(3000) })).toEqual([]);
        });

        it('pages with limit and offset', async () => {
          expect(await ids({ spaceId: a.id, limit: 2 })).toEqual(['s4', 's3']);
          expect(await ids({ spaceId: a.id, limit: 2, offset: 2 })).toEqual(['s2', 's1']);
          expect(await ids({ spaceId: a.id, limit: 2, offset: 4 })).toEqual([]);
          expect(await ids({ spaceId: a.id, offset: 3 })).toEqual(['s1']);
          expect(await ids({ spaceId: a.id, limit: 0 })).toEqual([]);
          for (const bad of [-1, 1.5, Number.NaN]) {
            await expect(store.listSends({ limit: bad })).rejects.toThrow(UsageError);
            await expect(store.listSends({ offset: bad })).rejects.toThrow(UsageError);
          }
        });

        it('pages with a keyset cursor (before): no send skipped or repeated, even with ties and new arrivals', async () => {
          await store.recordSend(send({ id: 's5', receivedAt: at(2000) })); // same millisecond as s2, recorded later
          expect(await ids({ spaceId: a.id })).toEqual(['s4', 's3', 's5', 's2', 's1']);
          const page1 = await store.listSends({ spaceId: a.id, limit: 2 });
          expect(page1.map((s) => s.id)).toEqual(['s4', 's3']);
          await store.recordSend(send({ id: 's6', receivedAt: at(9000) })); // arrives between pages
          const last1 = page1[1]!;
          expect(await ids({ spaceId: a.id, limit: 2, before: { receivedAt: last1.receivedAt, id: last1.id } })).toEqual(['s5', 's2']);
          expect(await ids({ spaceId: a.id, before: { receivedAt: at(2000), id: 's5' } })).toEqual(['s2', 's1']);
          expect(await ids({ spaceId: a.id, before: { receivedAt: at(2000), id: 's2' } })).toEqual(['s1']);
          // an id not in the space positions by time only
          expect(await ids({ spaceId: a.id, before: { receivedAt: at(2000), id: 'x1' } })).toEqual(['s1']);
          expect(await ids({ spaceId: a.id, before: { receivedAt: at(2000), id: 'unknown' } })).toEqual(['s1']);
          await expect(store.listSends({ before: { receivedAt: new Date(NaN), id: 's1' } })).rejects.toThrow(UsageError);
        });

        it('returns whole sends with their recipients', async () => {
          const [s4] = await store.listSends({ spaceId: a.id, limit: 1 });
          expect(s4).toEqual({ ...send({ id: 's4', receivedAt: at(4000) }), status: 'queued' });
        });
      });

      describe('recipient status', () => {
        beforeEach(async () => {
          await store.recordSend(
            send({
              id: 'r1',
              to: 'Main@Example.net',
              bcc: 'copy@example.org',
              discarded: ['gone@example.com'],
              recipients: [
                recipient('Main@Example.net', 'to'),
                recipient('copy@example.org', 'bcc'),
                recipient('gone@example.com', 'discarded'),
              ],
            }),
          );
        });

        it('updates the To recipient and with it the send status', async () => {
          expect(await store.updateRecipientStatus('r1', 'main@example.net', 'bounced', '550 5.1.1 no such user')).toBe(true);
          const got = await store.getSend('r1', a.id);
          expect(got?.status).toBe('bounced');
          expect(got?.recipients[0]).toMatchObject({ address: 'Main@Example.net', status: 'bounced', detail: '550 5.1.1 no such user' });
          expect(got?.recipients[1]).toMatchObject({ status: 'queued' });
          expect((await store.listSends({ spaceId: a.id }))[0]?.status).toBe('bounced');
        });

        it('updates the BCC recipient without changing the send status', async () => {
          expect(await store.updateRecipientStatus('r1', 'COPY@example.org', 'delivered', null)).toBe(true);
          const got = await store.getSend('r1', null);
          expect(got?.status).toBe('queued');
          expect(got?.recipients[1]).toMatchObject({ status: 'delivered', detail: null });
        });

        it('answers false for unknown sends, unknown and discarded recipients', async () => {
          expect(await store.updateRecipientStatus('nope', 'main@example.net', 'delivered', null)).toBe(false);
          expect(await store.updateRecipientStatus('r1', 'stranger@example.net', 'delivered', null)).toBe(false);
          expect(await store.updateRecipientStatus('r1', 'gone@example.com', 'delivered', null)).toBe(false);
          expect((await store.getSend('r1', null))?.recipients[2]).toMatchObject({ status: 'discarded' });
        });
      });
    });

    describe('events', () => {
      beforeEach(async () => {
        await store.recordSend(send({ id: 'e1' }));
      });

      it('adds events and lists them in time order (ties in insertion order)', async () => {
        const later = await store.addEvent({ sendId: 'e1', recipient: 'rcpt@example.net', type: 'opened', at: at(5000), detail: { ua: 'x' } });
        const first = await store.addEvent({ sendId: 'e1', recipient: 'rcpt@example.net', type: 'accepted', at: at(0), detail: {} });
        const tie = await store.addEvent({
          sendId: 'e1',
          recipient: 'rcpt@example.net',
          type: 'clicked',
          at: at(5000),
          detail: { url: 'https://example.com/?a=1&b=ü', n: 2, nested: { ok: true } },
        });
        expect(later).toMatchObject({ sendId: 'e1', type: 'opened', detail: { ua: 'x' } });
        expect(later.at.getTime()).toBe(T0 + 5000);
        expect(typeof later.id).toBe('number');
        expect(new Set([later.id, first.id, tie.id]).size).toBe(3);
        const list = await store.listEvents('e1');
        expect(list).toEqual([first, later, tie]);
        expect(list[2]?.detail).toEqual({ url: 'https://example.com/?a=1&b=ü', n: 2, nested: { ok: true } });
      });

      it('lists nothing for a send without events or an unknown send', async () => {
        expect(await store.listEvents('e1')).toEqual([]);
        expect(await store.listEvents('unknown')).toEqual([]);
      });

      it('refuses events for an unknown send or with a bad date', async () => {
        await expect(store.addEvent({ sendId: 'unknown', recipient: 'r', type: 'opened', at: at(0), detail: {} })).rejects.toThrow(
          UsageError,
        );
        await expect(
          store.addEvent({ sendId: 'e1', recipient: 'r', type: 'opened', at: new Date(Number.NaN), detail: {} }),
        ).rejects.toThrow(UsageError);
      });
    });

    describe('event counts', () => {
      const zero = { opened: 0, openedMachine: 0, clicked: 0, clickedMachine: 0, uniqueOpened: false, uniqueClicked: false };
      const ev = (sendId: string, type: 'opened' | 'clicked' | 'delivered', detail: Record<string, unknown> = {}, ms = 0) =>
        store.addEvent({ sendId, recipient: 'rcpt@example.net', type, at: at(ms), detail });

      beforeEach(async () => {
        await store.recordSend(send({ id: 'c1' }));
        await store.recordSend(send({ id: 'c2' }));
        await store.recordSend(send({ id: 'c3' }));
        await store.recordSend(send({ id: 'c4', spaceId: b.id, userId: userB.id }));
      });

      it('counts opens and clicks per send, machine traffic (detail.machine === true) apart', async () => {
        await ev('c1', 'opened', { userAgent: 'Mozilla/5.0', machine: false, machineReason: null });
        await ev('c1', 'opened', { userAgent: 'Mozilla/5.0' }, 1000);
        await ev('c1', 'opened', { userAgent: 'x GoogleImageProxy', machine: true, machineReason: 'image-proxy:GoogleImageProxy' });
        await ev('c1', 'clicked', { url: 'https://a.example/', machine: false });
        await ev('c1', 'clicked', { url: 'https://a.example/', machine: true });
        await ev('c1', 'clicked', { url: 'https://a.example/', machine: true });
        await ev('c1', 'delivered', { machine: true });
        // only JSON true marks machine traffic
        await ev('c2', 'opened', { machine: 1 });
        await ev('c2', 'opened', { machine: 'true' });
        await ev('c3', 'clicked', { machine: true });
        await ev('c4', 'clicked', { machine: false });
        const counts = await store.eventCounts(['c1', 'c2', 'c3', 'c4']);
        expect(counts).toEqual({
          c1: { opened: 2, openedMachine: 1, clicked: 1, clickedMachine: 2, uniqueOpened: true, uniqueClicked: true },
          c2: { ...zero, opened: 2, uniqueOpened: true },
          c3: { ...zero, clickedMachine: 1 },
          // a click without an open (images blocked) still means a person opened it
          c4: { ...zero, clicked: 1, uniqueOpened: true, uniqueClicked: true },
        });
      });

      it('answers every id as passed: zeros for sends without events and for unknown ids', async () => {
        await ev('c1', 'opened');
        const counts = await store.eventCounts(['c2', 'unknown', '__proto__', 'c1', 'c1']);
        expect(Object.keys(counts).sort()).toEqual(['__proto__', 'c1', 'c2', 'unknown']);
        expect(counts['c2']).toEqual(zero);
        expect(counts['unknown']).toEqual(zero);
        expect(counts['__proto__']).toEqual(zero);
        expect(counts['c1']).toMatchObject({ opened: 1, uniqueOpened: true });
        expect(await store.eventCounts([])).toEqual({});
      });

      it(`takes at most MAX_EVENT_COUNT_SENDS (${MAX_EVENT_COUNT_SENDS}) ids`, async () => {
        const ids = Array.from({ length: MAX_EVENT_COUNT_SENDS }, (_, i) => `id-${i}`);
        const counts = await store.eventCounts(ids);
        expect(Object.keys(counts)).toHaveLength(MAX_EVENT_COUNT_SENDS);
        await expect(store.eventCounts([...ids, 'one-more'])).rejects.toThrow(UsageError);
      });
    });

    describe('report', () => {
      // The full hand-counted report tests are in test/reports/; this is the backend contract.
      const ev = (sendId: string, type: EventType, recipient: string, detail: Record<string, unknown> = {}) =>
        store.addEvent({ sendId, recipient, type, at: at(0), detail });
      const zero = {
        sends: 0, delivered: 0, deferred: 0, bouncedHard: 0, bouncedSoft: 0, suppressedBounce: 0, suppressedUnsubscribe: 0,
        openedUnique: 0, openedTotal: 0, openedMachine: 0, clickedUnique: 0, clickedTotal: 0, clickedMachine: 0, complained: 0,
      };

      beforeEach(async () => {
        // p1: delivered, tags x y, a person's open twice, a machine click, a hard bounce of the BCC.
        await store.recordSend(
          send({
            id: 'p1', tags: ['x', 'y'], bcc: 'copy@example.org', receivedAt: at(0),
            recipients: [recipient('rcpt@example.net', 'to', { status: 'delivered' }), recipient('copy@example.org', 'bcc', { status: 'bounced' })],
          }),
        );
        // p2: next day, other From, suppressed by the Unsubscribe list, soft bounce then complaint.
        await store.recordSend(
          send({
            id: 'p2', from: 'Other@Shop.Example', receivedAt: at(86_400_000),
            recipients: [recipient('rcpt@example.net', 'to', { status: 'suppressed', suppressedBy: 'unsubscribe' })],
          }),
        );
        await store.recordSend(send({ id: 'q1', spaceId: b.id, userId: userB.id, tags: ['x'], receivedAt: at(0) }));
        await ev('p1', 'opened', 'rcpt@example.net');
        await ev('p1', 'opened', 'rcpt@example.net', { machine: false });
        await ev('p1', 'clicked', 'rcpt@example.net', { machine: true });
        await ev('p1', 'bounced', 'copy@example.org', { kind: 'hard' });
        await ev('p2', 'deferred', 'RCPT@example.net', { kind: 'soft' });
        await ev('p2', 'complained', 'rcpt@example.net');
        await ev('q1', 'opened', 'rcpt@example.net');
      });

      it('counts sends about the To, events for opens and clicks, groups then the total', async () => {
        const p1 = { ...zero, sends: 1, delivered: 1, openedUnique: 1, openedTotal: 2, clickedMachine: 1 };
        const p2 = { ...zero, sends: 1, bouncedSoft: 1, suppressedUnsubscribe: 1, complained: 1 };
        const total = { ...zero, sends: 2, delivered: 1, openedUnique: 1, openedTotal: 2, clickedMachine: 1, bouncedSoft: 1, suppressedUnsubscribe: 1, complained: 1 };
        expect(await store.report({ spaceId: a.id }, null)).toEqual([{ group: 'total', key: null, ...total }]);
        expect(await store.report({ spaceId: a.id }, 'day')).toEqual([
          { group: 'day', key: '2025-01-15', ...p1 },
          { group: 'day', key: '2025-01-16', ...p2 },
          { group: 'total', key: null, ...total },
        ]);
        expect(await store.report({ spaceId: a.id }, 'from')).toEqual([
          { group: 'from', key: 'news@shop.example', ...p1 },
          { group: 'from', key: 'other@shop.example', ...p2 },
          { group: 'total', key: null, ...total },
        ]);
        expect(await store.report({ spaceId: a.id }, 'tag')).toEqual([
          { group: 'tag', key: 'x', ...p1 },
          { group: 'tag', key: 'y', ...p1 },
          { group: 'tag', key: null, ...p2 },
          { group: 'total', key: null, ...total },
        ]);
      });

      it('filters like listSends and never counts another space', async () => {
        expect((await store.report({ spaceId: a.id, tags: ['x', 'y'] }, null))[0]?.sends).toBe(1);
        expect((await store.report({ spaceId: a.id, from: 'OTHER@shop.example' }, null))[0]?.sends).toBe(1);
        expect((await store.report({ spaceId: a.id, since: at(1), until: at(86_400_001) }, null))[0]?.sends).toBe(1);
        expect((await store.report({ spaceId: a.id, since: at(0), until: at(0) }, 'day'))).toEqual([{ group: 'total', key: null, ...zero }]);
        expect(await store.report({ spaceId: b.id }, null)).toEqual([{ group: 'total', key: null, ...zero, sends: 1, openedUnique: 1, openedTotal: 1 }]);
      });

      it('refuses an unknown space, an invalid date and more than MAX_TAGS tags', async () => {
        await expect(store.report({ spaceId: unknownSpace }, null)).rejects.toThrow(UsageError);
        await expect(store.report({ spaceId: a.id, until: new Date(NaN) }, null)).rejects.toThrow(UsageError);
        const tags = Array.from({ length: MAX_TAGS + 1 }, (_, i) => `t${i}`);
        await expect(store.report({ spaceId: a.id, tags }, 'tag')).rejects.toThrow(UsageError);
      });
    });

    describe('webhooks and their outbox', () => {
      const URL_A = 'https://hooks.alpha.example/trxmail';
      const ev = (sendId: string, type: EventType, offset = 0, detail: Record<string, unknown> = {}) =>
        store.addEvent({ sendId, recipient: 'rcpt@example.net', type, at: at(offset), detail });

      it('sets, replaces, reads, lists and removes a space webhook; the secret is kept as given', async () => {
        expect(await store.getWebhook(a.id)).toBeNull();
        const w = await store.setWebhook({ spaceId: a.id, url: URL_A, secret: 's3cret-a' });
        expect(w).toMatchObject({ spaceId: a.id, url: URL_A, secret: 's3cret-a' });
        expect(await store.getWebhook(a.id)).toEqual(w);
        const w2 = await store.setWebhook({ spaceId: a.id, url: 'http://127.0.0.1:9/x', secret: 'other' });
        expect((await store.getWebhook(a.id))?.url).toBe('http://127.0.0.1:9/x');
        await store.setWebhook({ spaceId: b.id, url: 'https://b.example/', secret: 'b' });
        expect((await store.listWebhooks()).map((x) => x.spaceId)).toEqual([a.id, b.id]);
        expect(w2.secret).toBe('other');
        expect(await store.removeWebhook(a.id)).toBe(true);
        expect(await store.removeWebhook(a.id)).toBe(false);
        expect(await store.getWebhook(a.id)).toBeNull();
      });

      it('refuses bad URLs, an empty secret and an unknown space', async () => {
        for (const url of ['http://hooks.example/x', 'ftp://hooks.example/', 'hooks.example', 'https://u:p@hooks.example/', 'https://h.example/#f', '']) {
          await expect(store.setWebhook({ spaceId: a.id, url, secret: 's' }), url).rejects.toThrow(UsageError);
        }
        await expect(store.setWebhook({ spaceId: a.id, url: URL_A, secret: '' })).rejects.toThrow(UsageError);
        await expect(store.setWebhook({ spaceId: unknownSpace, url: URL_A, secret: 's' })).rejects.toThrow(UsageError);
        await expect(store.removeWebhook(unknownSpace)).rejects.toThrow(UsageError);
      });

      it('queues every event type but accepted, only for spaces with a webhook, in the event transaction', async () => {
        await store.recordSend(send({ id: 'w-a' }));
        await store.recordSend(send({ id: 'w-b', spaceId: b.id, userId: userB.id }));
        await ev('w-a', 'opened'); // before the webhook: not queued
        await store.setWebhook({ spaceId: a.id, url: URL_A, secret: 's' });
        const types: EventType[] = ['accepted', 'delivered', 'deferred', 'bounced', 'opened', 'clicked', 'complained'];
        for (const [i, t] of types.entries()) await ev('w-a', t, i, { n: i });
        await ev('w-b', 'delivered');
        const queued = await store.listWebhookDeliveries({ spaceId: a.id });
        expect(queued.map((d) => d.type).reverse()).toEqual(['delivered', 'deferred', 'bounced', 'opened', 'clicked', 'complained']);
        expect(queued.every((d) => d.status === 'pending' && d.attempts === 0 && d.spaceName === 'alpha' && d.sendId === 'w-a')).toBe(true);
        expect(queued.at(-1)).toMatchObject({ recipient: 'rcpt@example.net', detail: { n: 1 } });
        expect(queued.at(-1)?.at.getTime()).toBe(T0 + 1);
        expect(await store.listWebhookDeliveries({ spaceId: b.id })).toEqual([]);
        // A refused event queues nothing.
        await expect(ev('unknown', 'opened')).rejects.toThrow(UsageError);
        expect(await store.listWebhookDeliveries({})).toHaveLength(6);
      });

      it('queues one suppressed delivery per suppressed recipient of a recorded send', async () => {
        await store.setWebhook({ spaceId: a.id, url: URL_A, secret: 's' });
        await store.recordSend(
          send({
            id: 'w-s',
            bcc: 'b@example.org',
            recipients: [
              recipient('rcpt@example.net', 'to', { status: 'suppressed', suppressedBy: 'bounce', detail: 'hard bounce' }),
              recipient('b@example.org', 'bcc', { status: 'suppressed', suppressedBy: 'unsubscribe', detail: 'opted out' }),
              recipient('d@example.org', 'discarded'),
            ],
          }),
        );
        const got = await store.listWebhookDeliveries({ spaceId: a.id });
        expect(got.map((d) => [d.type, d.recipient, d.detail]).reverse()).toEqual([
          ['suppressed', 'rcpt@example.net', { list: 'bounce', reason: 'hard bounce' }],
          ['suppressed', 'b@example.org', { list: 'unsubscribe', reason: 'opted out' }],
        ]);
        // A refused (duplicate) send queues nothing more.
        await expect(store.recordSend(send({ id: 'w-s' }))).rejects.toThrow(UsageError);
        expect(await store.listWebhookDeliveries({})).toHaveLength(2);
      });

      it('claims due deliveries with a lease, records outcomes, retries, expires, and counts the backlog', async () => {
        await store.setWebhook({ spaceId: a.id, url: URL_A, secret: 'sig' });
        await store.recordSend(send({ id: 'w-c' }));
        await ev('w-c', 'delivered');
        await ev('w-c', 'opened');
        await ev('w-c', 'clicked');
        const now = new Date(Date.now() + 1000);
        expect(await store.webhookBacklog()).toMatchObject({ pending: 3, expired: 0 });
        const claimed = await store.claimWebhookDeliveries(now, 2, 30_000);
        expect(claimed.map((d) => d.type)).toEqual(['delivered', 'opened']);
        expect(claimed[0]).toMatchObject({ url: URL_A, secret: 'sig', spaceName: 'alpha' });
        expect(claimed[0]?.nextAttemptAt.getTime()).toBe(now.getTime() + 30_000);
        // Leased: the next claim gets only the third.
        expect((await store.claimWebhookDeliveries(now, 10, 30_000)).map((d) => d.type)).toEqual(['clicked']);
        expect(await store.claimWebhookDeliveries(now, 10, 30_000)).toEqual([]);
        const [d1, d2] = claimed;
        expect(await store.completeWebhookDelivery(d1!.id, { delivered: true, at: now })).toBe(true);
        expect(await store.completeWebhookDelivery(d1!.id, { delivered: true, at: now })).toBe(false);
        const retryAt = new Date(now.getTime() + 10_000);
        expect(await store.completeWebhookDelivery(d2!.id, { delivered: false, at: now, error: 'HTTP 500', retryAt })).toBe(true);
        const retried = (await store.listWebhookDeliveries({ status: 'pending' })).find((d) => d.id === d2!.id);
        expect(retried).toMatchObject({ attempts: 1, lastError: 'HTTP 500' });
        expect(retried?.nextAttemptAt.getTime()).toBe(retryAt.getTime());
        expect((await store.claimWebhookDeliveries(retryAt, 10, 1000)).map((d) => d.id)).toEqual([d2!.id]);
        expect(await store.completeWebhookDelivery(d2!.id, { delivered: false, at: now, error: 'x'.repeat(5000), retryAt: null })).toBe(true);
        const expired = await store.listWebhookDeliveries({ status: 'expired' });
        expect(expired).toHaveLength(1);
        expect(expired[0]).toMatchObject({ id: d2!.id, attempts: 2 });
        expect(expired[0]?.lastError?.length).toBe(MAX_WEBHOOK_ERROR_LENGTH);
        expect((await store.listWebhookDeliveries({ status: 'delivered' }))[0]?.doneAt?.getTime()).toBe(now.getTime());
        const backlog = await store.webhookBacklog();
        expect(backlog).toMatchObject({ pending: 1, expired: 1 });
        expect(backlog.oldestPendingAt).toBeInstanceOf(Date);
        await expect(store.claimWebhookDeliveries(now, MAX_WEBHOOK_BATCH + 1, 1)).rejects.toThrow(UsageError);
      });

      it('expires the pending deliveries of a removed webhook', async () => {
        await store.setWebhook({ spaceId: a.id, url: URL_A, secret: 's' });
        await store.recordSend(send({ id: 'w-r' }));
        await ev('w-r', 'delivered');
        await store.removeWebhook(a.id);
        expect(await store.claimWebhookDeliveries(new Date(Date.now() + 1000), 10, 1000)).toEqual([]);
        expect(await store.listWebhookDeliveries({ spaceId: a.id })).toMatchObject([{ status: 'expired', lastError: 'webhook removed' }]);
        expect(await store.webhookBacklog()).toEqual({ pending: 0, expired: 1, oldestPendingAt: null });
      });
    });

    describe('lifecycle', () => {
      it('refuses work after close with a TransientError, and close is idempotent', async () => {
        await store.close();
        await expect(store.getSpace(a.id)).rejects.toThrow(TransientError);
        await expect(store.close()).resolves.toBeUndefined();
      });
    });
  });
}
