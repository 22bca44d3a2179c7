/**
 * Store contract, sends aggregate (SendStore): recording a send (its invariants, atomicity),
 * reading and listing sends (filters, paging, cursor), recipient status, events, event counts
 * and the report.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { TransientError, UsageError } from '../../../src/lib/errors.js';
import { MAX_EVENT_COUNT_SENDS, MAX_TAGS } from '../../../src/lib/limits.js';
import type { EventType, NewSend, SendRecipient, Space, Store, User } from '../../../src/store/store.js';
import { T0, at, recipient, unknownSpace } from './fixture.js';
import type { CurrentFixture, Fixture } from './fixture.js';

export function sendsContract(fixture: CurrentFixture): void {
  let store: Store;
  let a: Space;
  let b: Space;
  let userB: User;
  let send: Fixture['send'];
  beforeEach(() => {
    ({ store, a, b, userB, send } = fixture());
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

    describe('sends recorded together (group commit: one transaction)', () => {
      it('records each with its own outcome: a duplicate or an unknown space fails alone', async () => {
        await store.recordSend(send({ id: 'dup', tags: ['first'] }));
        const g1 = send({ id: 'g-1', tags: ['x'], bcc: 'b@example.org', recipients: [recipient('rcpt@example.net', 'to'), recipient('b@example.org', 'bcc')] });
        const g2 = send({ id: 'g-2', spaceId: b.id, userId: userB.id });
        const results = await Promise.allSettled([
          store.recordSend(g1),
          store.recordSend(send({ id: 'dup' })),
          store.recordSend(send({ id: 'g-3', spaceId: unknownSpace })),
          store.recordSend(g2),
          store.recordSend(send({ id: 'g-1', tags: ['second'] })),
        ]);
        expect(results.map((r) => (r.status === 'rejected' ? (r.reason as Error).name : r.status))).toEqual([
          'fulfilled',
          'UsageError',
          'UsageError',
          'fulfilled',
          'UsageError',
        ]);
        expect(String((results[4] as PromiseRejectedResult).reason)).toMatch(/recorded already/);
        const got = await store.getSend('g-1', a.id);
        expect(got?.tags).toEqual(['x']);
        expect(got?.recipients).toEqual(g1.recipients);
        expect((await store.getSend('g-2', b.id))?.userId).toBe(userB.id);
        expect((await store.getSend('dup', null))?.tags).toEqual(['first']);
        expect(await store.getSend('g-3', null)).toBeNull();
      });

      it('fails every send in the group when one fails mid-way, and keeps none of them', async () => {
        const bad = send({
          id: 'g-bad',
          bcc: 'b@example.org',
          // An invalid role slipped past the type system: the backend refuses it mid-transaction.
          recipients: [recipient('rcpt@example.net', 'to'), { ...recipient('b@example.org', 'bcc'), role: 'cc' as SendRecipient['role'] }],
        });
        const results = await Promise.allSettled([store.recordSend(send({ id: 'g-a', tags: ['t'] })), store.recordSend(bad), store.recordSend(send({ id: 'g-b' }))]);
        expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected', 'rejected']);
        for (const id of ['g-a', 'g-bad', 'g-b']) expect(await store.getSend(id, null)).toBeNull();
        expect(await store.listSends({})).toEqual([]);
        await Promise.all([store.recordSend(send({ id: 'g-a', tags: ['t'] })), store.recordSend(send({ id: 'g-b' }))]);
        expect((await store.listSends({})).map((s) => s.id).sort()).toEqual(['g-a', 'g-b']);
      });

      it('fails the sends of a group whose store closes before it is written, with a TransientError', async () => {
        const settled = Promise.allSettled([store.recordSend(send({ id: 'c-1' })), store.recordSend(send({ id: 'c-2' }))]);
        await store.close();
        const results = await settled;
        expect(results.map((r) => (r.status === 'rejected' && r.reason instanceof TransientError ? r.reason.code : r.status))).toEqual(['ESTORE_CLOSED', 'ESTORE_CLOSED']);
      });
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

      it('matches the address like list keys: IDN-equal and case-insensitive', async () => {
        await store.recordSend(send({ id: 'r2', to: 'Jo@Bücher.example', recipients: [recipient('Jo@Bücher.example', 'to')] }));
        expect(await store.updateRecipientStatus('r2', 'jo@XN--BCHER-KVA.example', 'delivered', 'ok')).toBe(true);
        expect(await store.getSend('r2', a.id)).toMatchObject({ status: 'delivered', recipients: [{ status: 'delivered', detail: 'ok' }] });
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

    it('refuses a detail that is not a JSON object, recording and queueing nothing', async () => {
      await store.setWebhook({ spaceId: a.id, url: 'https://hooks.alpha.example/', secret: 's' });
      const cyclic: Record<string, unknown> = {};
      cyclic['self'] = cyclic;
      const bad = [cyclic, { big: 1n }, [1, 2], null, 'text'] as unknown as Record<string, unknown>[];
      for (const detail of bad) {
        await expect(store.addEvent({ sendId: 'e1', recipient: 'r', type: 'opened', at: at(0), detail })).rejects.toThrow(UsageError);
      }
      expect(await store.listEvents('e1')).toEqual([]);
      expect(await store.listWebhookDeliveries({})).toEqual([]);
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
      sends: 0, delivered: 0, deferred: 0, bouncedHard: 0, bouncedSoft: 0, blocked: 0, suppressedBounce: 0, suppressedUnsubscribe: 0,
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
}

export function forgetSendContract(fixture: CurrentFixture): void {
  describe('forgetSend (a send whose hand-over to Postfix failed)', () => {
    it('removes the send with its tags, recipients, events and pending webhook deliveries, in its own space only', async () => {
      const { store, a, b, send } = fixture();
      await store.setWebhook({ spaceId: a.id, url: 'https://hooks.alpha.example/', secret: 's' });
      await store.recordSend(
        send({
          id: 'gone1',
          tags: ['t1'],
          bcc: 'bcc@example.net',
          recipients: [recipient('rcpt@example.net', 'to'), recipient('bcc@example.net', 'bcc', { status: 'suppressed', suppressedBy: 'bounce', detail: 'hard' })],
        }),
      );
      await store.recordSend(send({ id: 'kept1' }));
      await store.addEvent({ sendId: 'gone1', recipient: 'rcpt@example.net', type: 'opened', at: at(1), detail: {} });
      expect((await store.listWebhookDeliveries({ spaceId: a.id })).map((d) => d.sendId)).toContain('gone1');
      expect(await store.forgetSend('gone1', b.id)).toBe(false);
      expect(await store.forgetSend('gone1', a.id)).toBe(true);
      expect(await store.getSend('gone1', null)).toBeNull();
      expect(await store.listEvents('gone1')).toEqual([]);
      expect((await store.listWebhookDeliveries({ spaceId: a.id })).map((d) => d.sendId)).not.toContain('gone1');
      expect((await store.listSends({ spaceId: a.id, tags: ['t1'] })).map((s) => s.id)).toEqual([]);
      expect(await store.getSend('kept1', a.id)).not.toBeNull();
      expect(await store.forgetSend('gone1', a.id)).toBe(false);
      // The id may be recorded again (Postfix never reuses one, but nothing is left behind).
      await store.recordSend(send({ id: 'gone1' }));
      expect(await store.getSend('gone1', a.id)).not.toBeNull();
    });
  });
}
