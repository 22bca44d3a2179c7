/**
 * Store contract, retention (RetentionStore): purging old sends in batches keeps every report
 * number of the purged days (every grouping, filters by From, tags and dates) — after the
 * whole purge and half-way through it; deletes the sends with their events; keeps lists,
 * other spaces, newer sends; purges only finished webhook deliveries; refuses bad input.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { DAY_MS, MAX_PURGE_BATCH_SIZE } from '../../../src/core/retention.js';
import { UsageError } from '../../../src/lib/errors.js';
import type { ReportFilter, ReportGroupBy, Space, Store } from '../../../src/store/store.js';
import { T0, recipient, unknownSpace } from './fixture.js';
import type { CurrentFixture, Fixture } from './fixture.js';

/** Midnight UTC of T0's day: sends of the two days before it are "old". */
const DAY0 = Math.floor(T0 / DAY_MS) * DAY_MS;
const on = (dayOffset: number, hour: number): Date => new Date(DAY0 + dayOffset * DAY_MS + hour * 3_600_000);
const CUTOFF = new Date(DAY0);

const GROUPINGS: readonly (ReportGroupBy | null)[] = [null, 'day', 'from', 'tag', 'reason', 'domain'];

/**
 * A mix that touches every report number: statuses, reasons (blocked and not), the Bounce and
 * Unsubscribe lists, opens and clicks by people and machines, soft and hard bounces,
 * complaints, events about the BCC copy, tags (none, one, two), two From addresses, three
 * receiving domains, a send Postfix never queued, sends on three days.
 */
async function recordMix(store: Store, send: Fixture['send'], b: Space, userB: number): Promise<void> {
  const sends: { id: string; day: number; hour: number; from?: string; to?: string; tags?: string[] }[] = [
    { id: 'm1', day: -2, hour: 1, tags: ['welcome'] },
    { id: 'm2', day: -2, hour: 5, tags: ['welcome', 'spring'], to: 'ann@gmail.example' },
    { id: 'm3', day: -2, hour: 23, from: 'Billing@Shop.example', to: 'bob@gmail.example' },
    { id: 'm4', day: -1, hour: 0, tags: ['spring'], to: 'cy@yahoo.example' },
    { id: 'm5', day: -1, hour: 12, from: 'billing@shop.example', tags: ['welcome'] },
    { id: 'm6', day: -1, hour: 13, to: 'dee@gmail.example' },
    { id: 'm7', day: -1, hour: 14, tags: ['spring'] },
    { id: 'm8', day: -1, hour: 15 },
    { id: 'm9', day: 0, hour: 1, tags: ['welcome'] },
    { id: 'm10', day: 0, hour: 2, to: 'ann@gmail.example' },
  ];
  for (const s of sends) {
    const to = s.to ?? 'rcpt@example.net';
    const suppressed = s.id === 'm6' ? { status: 'suppressed' as const, suppressedBy: 'unsubscribe' as const, detail: 'opted out' } : {};
    const suppressedB = s.id === 'm8' ? { status: 'suppressed' as const, suppressedBy: 'bounce' as const, detail: 'listed' } : {};
    await store.recordSend(
      send({
        id: s.id,
        to,
        from: s.from ?? 'news@shop.example',
        tags: s.tags ?? [],
        receivedAt: on(s.day, s.hour),
        bcc: 'copy@example.org',
        recipients: [recipient(to, 'to', { ...suppressed, ...suppressedB }), recipient('copy@example.org', 'bcc')],
      }),
    );
  }
  // Another space's old send: never touched by a purge of alpha, never in alpha's report.
  await store.recordSend(
    send({ id: 'b1', spaceId: b.id, userId: userB, from: 'x@beta.example', receivedAt: on(-2, 3), envelopeSender: 'trx-b@bounce.example' }),
  );
  const ev = async (sendId: string, type: Parameters<Store['addEvent']>[0]['type'], recipientAddr: string, hour: number, detail: Record<string, unknown> = {}): Promise<void> => {
    await store.addEvent({ sendId, recipient: recipientAddr, type, at: on(0, hour), detail });
  };
  await store.updateRecipientStatus('m1', 'rcpt@example.net', 'delivered', '250 ok');
  await ev('m1', 'delivered', 'rcpt@example.net', 1);
  await ev('m1', 'opened', 'rcpt@example.net', 2);
  await ev('m1', 'opened', 'rcpt@example.net', 3);
  await ev('m1', 'opened', 'rcpt@example.net', 3, { machine: true });
  await ev('m1', 'clicked', 'rcpt@example.net', 4, { url: 'https://x.example/' });
  await store.updateRecipientStatus('m2', 'ann@gmail.example', 'bounced', '550 blocked', 'blocked');
  await ev('m2', 'deferred', 'ann@gmail.example', 1);
  await ev('m2', 'bounced', 'ann@gmail.example', 2, { kind: 'hard' });
  await ev('m2', 'bounced', 'copy@example.org', 2, { kind: 'hard' });
  await store.updateRecipientStatus('m3', 'bob@gmail.example', 'bounced', '550 no such user', 'user-unknown');
  await ev('m3', 'bounced', 'bob@gmail.example', 3);
  await ev('m3', 'clicked', 'bob@gmail.example', 4, { machine: true });
  await store.updateRecipientStatus('m4', 'cy@yahoo.example', 'deferred', '451 later', 'rate-limited');
  await ev('m4', 'bounced', 'cy@yahoo.example', 5, { kind: 'soft' });
  await store.updateRecipientStatus('m5', 'rcpt@example.net', 'delivered', '250 ok');
  await ev('m5', 'clicked', 'rcpt@example.net', 6);
  await ev('m5', 'complained', 'rcpt@example.net', 7);
  await ev('m7', 'opened', 'rcpt@example.net', 8);
  await ev('m9', 'opened', 'rcpt@example.net', 8);
  await ev('m10', 'clicked', 'ann@gmail.example', 9);
  // m7 never reached Postfix's log: not in any report, and purged without a trace.
  expect(await store.markNotQueued({ node: 'n1', receivedSince: on(-1, 14), receivedBefore: on(-1, 14.5), at: on(0, 1), reason: 'never queued', limit: 10 })).toEqual(['m7']);
}

/** Every report of alpha worth comparing: each grouping under several filters. */
async function reports(store: Store, spaceId: number): Promise<unknown[]> {
  const filters: Omit<ReportFilter, 'spaceId'>[] = [
    {},
    { from: 'BILLING@shop.example' },
    { tags: ['welcome'] },
    { tags: ['spring', 'welcome'] },
    { since: on(-2, 0), until: on(-1, 0) },
    { since: on(-1, 0) },
    { until: on(0, 0) },
    { since: on(-3, 0), until: on(1, 0), tags: ['spring'], from: 'news@shop.example' },
  ];
  const out: unknown[] = [];
  for (const f of filters) for (const g of GROUPINGS) out.push({ f, g, rows: await store.report({ spaceId, ...f }, g) });
  return out;
}

async function purgeAll(store: Store, request: Parameters<Store['purgeSends']>[0]): Promise<{ batches: number; sends: number; events: number }> {
  const total = { batches: 0, sends: 0, events: 0 };
  for (;;) {
    const r = await store.purgeSends(request);
    total.batches += 1;
    total.sends += r.sends;
    total.events += r.events;
    if (r.sends < (request.limit ?? 500)) return total;
  }
}

export function retentionContract(fixture: CurrentFixture): void {
  let store: Store;
  let a: Space;
  let b: Space;
  let send: Fixture['send'];

  describe('retention', () => {
    // Inside the describe: the mix is for these tests only.
    beforeEach(async () => {
      let userB: { id: number };
      ({ store, a, b, send, userB } = fixture());
      await recordMix(store, send, b, userB.id);
    });

    it('a report gives the same numbers after the purge as before, for every grouping and filter', async () => {
      const before = await reports(store, a.id);
      // sanity: the mix has numbers in every column worth checking
      const total = (await store.report({ spaceId: a.id }, null))[0]!;
      expect(total).toMatchObject({ sends: 9, delivered: 2, blocked: 1, suppressedBounce: 1, suppressedUnsubscribe: 1, openedMachine: 1, clickedMachine: 1, complained: 1 });
      expect(total.bouncedSoft).toBeGreaterThan(0);
      const done = await purgeAll(store, { before: CUTOFF, spaceId: a.id, limit: 3 });
      expect(done.sends).toBe(8);
      expect(done.batches).toBe(3);
      expect(await reports(store, a.id)).toEqual(before);
    });

    it('is exact half-way: one batch of a day purged, the rest still sends', async () => {
      const before = await reports(store, a.id);
      expect((await store.purgeSends({ before: CUTOFF, spaceId: a.id, limit: 2 })).sends).toBe(2);
      expect(await store.getSend('m1', a.id)).toBeNull();
      expect(await store.getSend('m3', a.id)).not.toBeNull();
      expect(await reports(store, a.id)).toEqual(before);
    });

    it('deletes the old sends with their events, keeps newer ones, other spaces and the lists', async () => {
      await store.addListEntry({ spaceId: a.id, list: 'bounce', address: 'bob@gmail.example', reason: 'user unknown', addedAt: on(-2, 4) });
      const eventsOfM1 = (await store.listEvents('m1')).length;
      expect(eventsOfM1).toBe(5);
      const done = await purgeAll(store, { before: CUTOFF, spaceId: a.id });
      expect(done.events).toBe(16); // 14 recorded + the suppressed events of m6 and m8
      for (const id of ['m1', 'm2', 'm3', 'm4', 'm5', 'm6', 'm7', 'm8']) expect(await store.getSend(id, a.id)).toBeNull();
      expect(await store.listEvents('m1')).toEqual([]);
      expect((await store.getSend('m9', a.id))?.id).toBe('m9');
      expect((await store.listEvents('m9')).length).toBe(1);
      expect((await store.getSend('b1', b.id))?.id).toBe('b1');
      expect((await store.listEntries(a.id, 'bounce')).map((e) => e.address)).toEqual(['bob@gmail.example']);
      expect((await store.listSends({ spaceId: a.id })).map((s) => s.id)).toEqual(['m10', 'm9']);
    });

    it('a purge of every space takes the other space too, each into its own aggregates', async () => {
      const reportB = await store.report({ spaceId: b.id }, 'day');
      await purgeAll(store, { before: CUTOFF });
      expect(await store.getSend('b1', b.id)).toBeNull();
      expect(await store.report({ spaceId: b.id }, 'day')).toEqual(reportB);
      expect((await store.listReportDays(b.id)).map((d) => [d.day, d.fromKey, d.counts.sends])).toEqual([[new Date(DAY0 - 2 * DAY_MS).toISOString().slice(0, 10), 'x@beta.example', 1]]);
    });

    it('keeps the aggregates by day, From, tag set, reason and domain; a second purge adds nothing', async () => {
      await purgeAll(store, { before: CUTOFF, spaceId: a.id });
      const days = await store.listReportDays(a.id);
      const day2 = new Date(DAY0 - 2 * DAY_MS).toISOString().slice(0, 10);
      expect(days.filter((d) => d.day === day2).map((d) => [d.fromKey, d.tags, d.reason, d.domain, d.counts.sends])).toEqual([
        ['billing@shop.example', [], 'user-unknown', 'gmail.example', 1],
        ['news@shop.example', ['spring', 'welcome'], 'blocked', 'gmail.example', 1],
        ['news@shop.example', ['welcome'], null, 'example.net', 1],
      ]);
      expect(days.reduce((n, d) => n + d.counts.sends, 0)).toBe(7);
      expect(await store.purgeSends({ before: CUTOFF, spaceId: a.id })).toEqual({ sends: 0, events: 0, buckets: 0 });
      expect(await store.listReportDays(a.id)).toEqual(days);
    });

    it('counts what a purge would take without taking it', async () => {
      expect(await store.countPurgeable(CUTOFF, a.id)).toEqual({
        sends: 8,
        events: 16,
        firstDay: new Date(DAY0 - 2 * DAY_MS).toISOString().slice(0, 10),
        lastDay: new Date(DAY0 - DAY_MS).toISOString().slice(0, 10),
      });
      expect((await store.countPurgeable(CUTOFF)).sends).toBe(9);
      expect(await store.countPurgeable(new Date(DAY0 - 5 * DAY_MS))).toEqual({ sends: 0, events: 0, firstDay: null, lastDay: null });
      expect(await store.getSend('m1', a.id)).not.toBeNull();
    });

    it('refuses an unknown space, an invalid date and a batch out of 1..MAX_PURGE_BATCH_SIZE', async () => {
      await expect(store.purgeSends({ before: CUTOFF, spaceId: unknownSpace })).rejects.toThrow(UsageError);
      await expect(store.purgeSends({ before: new Date(Number.NaN) })).rejects.toThrow(UsageError);
      await expect(store.purgeSends({ before: CUTOFF, limit: 0 })).rejects.toThrow(UsageError);
      await expect(store.purgeSends({ before: CUTOFF, limit: MAX_PURGE_BATCH_SIZE + 1 })).rejects.toThrow(/1\.\.5000/);
      expect((await store.purgeSends({ before: CUTOFF, limit: MAX_PURGE_BATCH_SIZE })).sends).toBe(9);
      await expect(store.countPurgeable(CUTOFF, unknownSpace)).rejects.toThrow(UsageError);
      await expect(store.listReportDays(unknownSpace)).rejects.toThrow(UsageError);
    });

    it('purges only delivered and expired webhook deliveries finished before the date', async () => {
      await store.setWebhook({ spaceId: a.id, url: 'https://hooks.example/x', secret: 'secret-secret-secret' });
      for (const hour of [1, 2, 3]) await store.addEvent({ sendId: 'm9', recipient: 'rcpt@example.net', type: 'opened', at: on(0, hour), detail: {} });
      // Due since they were queued (the store's clock): claimed at a time after any test run.
      const claimed = await store.claimWebhookDeliveries(new Date(Date.UTC(2100, 0, 1)), 10, 60_000);
      expect(claimed.length).toBe(3);
      const [d1, d2] = claimed;
      await store.completeWebhookDelivery(d1!.id, { delivered: true, at: on(1, 1) });
      await store.completeWebhookDelivery(d2!.id, { delivered: false, at: on(1, 2), error: 'gone', retryAt: null });
      expect(await store.purgeWebhookDeliveries(on(1, 1.5))).toBe(1);
      expect(await store.purgeWebhookDeliveries(on(3, 0))).toBe(1);
      expect((await store.listWebhookDeliveries({ spaceId: a.id })).map((d) => d.status)).toEqual(['pending']);
      await expect(store.purgeWebhookDeliveries(on(3, 0), 0)).rejects.toThrow(UsageError);
    });
  });
}
