/**
 * The purge loops and serve's scheduled purge on a real SQLite store, with an injected clock:
 * what is purged at a retention of N days, in batches, with the reports unchanged; finished
 * webhook deliveries; nothing without a retention; stop() between batches; a failing store.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PURGE_BATCH_SIZE } from '../../../src/core/retention.js';
import { RETENTION_RUN_INTERVAL_MS, RetentionPurger, purgeSendsBefore } from '../../../src/retention/purger.js';
import { SqliteStore } from '../../../src/store/sqlite/sqlite-store.js';
import type { Space, Store } from '../../../src/store/store.js';
import { newSend, recordingLogger } from '../../http/helpers.js';

const NOW = new Date(Date.UTC(2025, 5, 20, 9, 30));
const daysAgo = (d: number, hour = 12): Date => new Date(Date.UTC(2025, 5, 20 - d, hour));

let store: Store;
let space: Space;
let logger: ReturnType<typeof recordingLogger>;

beforeEach(async () => {
  store = SqliteStore.open(':memory:');
  space = await store.createSpace({ name: 'alpha' });
  const user = await store.createUser({ spaceId: space.id, email: 'u@alpha.example', passwordHash: 'scrypt$x' });
  // 10 and 8 days old (purged at 7 days), 7 days old at noon (kept: whole days on the boundary), 1 day old.
  for (const [id, d] of [['s10', 10], ['s8', 8], ['s7', 7], ['s1', 1]] as const) {
    await store.recordSend({ ...newSend(id, space.id, user.id), receivedAt: daysAgo(d) });
    await store.addEvent({ sendId: id, recipient: 'rcpt@example.net', type: 'opened', at: daysAgo(d, 13), detail: {} });
  }
  logger = recordingLogger();
});

afterEach(async () => {
  await store.close();
});

const ids = async (): Promise<string[]> => (await store.listSends({ spaceId: space.id })).map((s) => s.id);

describe('purgeSendsBefore', () => {
  it('takes batch after batch until one comes back short', async () => {
    const totals = await purgeSendsBefore(store, { before: daysAgo(7, 0), batch: 1 });
    expect(totals).toEqual({ sends: 2, events: 2, buckets: 2, batches: 3 });
    expect(await ids()).toEqual(['s1', 's7']);
  });
  it('stops before a batch when asked to', async () => {
    let asked = 0;
    const totals = await purgeSendsBefore(store, { before: daysAgo(7, 0), batch: 1, shouldStop: () => ++asked > 1 });
    expect(totals.sends).toBe(1);
    expect(await ids()).toEqual(['s1', 's7', 's8']);
  });
});

describe('PURGE_BATCH_SIZE', () => {
  it('is the default batch: one send past it takes a second batch', async () => {
    const user = (await store.listUsers(space.id))[0]!;
    for (let i = 0; i < PURGE_BATCH_SIZE + 1 - 2; i++) await store.recordSend({ ...newSend(`b${i}`, space.id, user.id), receivedAt: daysAgo(30) });
    // With s10 and s8: PURGE_BATCH_SIZE + 1 old sends.
    expect((await store.purgeSends({ before: daysAgo(7, 0) })).sends).toBe(PURGE_BATCH_SIZE);
    expect(await store.purgeSends({ before: daysAgo(7, 0) })).toMatchObject({ sends: 1 });
  });
});

describe('RetentionPurger', () => {
  it('purges sends older than retention.sendsDays whole days; the report keeps their numbers', async () => {
    const before = await store.report({ spaceId: space.id }, 'day');
    const purger = new RetentionPurger({ store, retention: { sendsDays: 7, webhookDays: 0 }, logger, clock: () => NOW, batch: 1 });
    const run = await purger.runOnce();
    expect(run).toEqual({ sends: { sends: 2, events: 2, buckets: 2, batches: 3 }, webhookDeliveries: null, failed: false });
    expect(await ids()).toEqual(['s1', 's7']);
    expect(await store.report({ spaceId: space.id }, 'day')).toEqual(before);
    expect(logger.lines.map((l) => l.msg)).toEqual(['retention: purged 2 sends (2 events) received before 2025-06-13; their report numbers are kept per day']);
    // A second run finds nothing and says nothing.
    expect((await purger.runOnce()).sends?.sends).toBe(0);
    expect(logger.lines.length).toBe(1);
  });

  it('purges finished webhook deliveries older than retention.webhookDays, never pending ones', async () => {
    await store.setWebhook({ spaceId: space.id, url: 'https://hooks.example/x', secret: 'secret-secret-1' });
    await store.addEvent({ sendId: 's1', recipient: 'rcpt@example.net', type: 'clicked', at: daysAgo(1), detail: {} });
    await store.addEvent({ sendId: 's1', recipient: 'rcpt@example.net', type: 'clicked', at: daysAgo(1), detail: {} });
    const [done] = await store.claimWebhookDeliveries(new Date(Date.UTC(2100, 0, 1)), 1, 1000);
    await store.completeWebhookDelivery(done!.id, { delivered: true, at: daysAgo(9) });
    const run = await new RetentionPurger({ store, retention: { sendsDays: 0, webhookDays: 7 }, logger, clock: () => NOW }).runOnce();
    expect(run).toEqual({ sends: null, webhookDeliveries: 1, failed: false });
    expect((await store.listWebhookDeliveries({})).map((d) => d.status)).toEqual(['pending']);
    expect(await ids()).toEqual(['s1', 's7', 's8', 's10']);
  });

  it('does nothing without a retention: start() schedules nothing', async () => {
    const purger = new RetentionPurger({ store, retention: { sendsDays: 0, webhookDays: 0 }, logger, clock: () => NOW });
    expect(purger.enabled).toBe(false);
    purger.start();
    await purger.stop();
    expect(await ids()).toEqual(['s1', 's7', 's8', 's10']);
    expect(RETENTION_RUN_INTERVAL_MS).toBe(15 * 60_000);
    expect(PURGE_BATCH_SIZE).toBe(500);
  });

  it('start() purges at once; stop() waits for it', async () => {
    const purger = new RetentionPurger({ store, retention: { sendsDays: 7, webhookDays: 0 }, logger, clock: () => NOW });
    purger.start();
    await purger.stop();
    expect(await ids()).toEqual(['s1', 's7']);
  });

  it('a failing store is a warn line, and the run resolves', async () => {
    await store.close();
    const run = await new RetentionPurger({ store, retention: { sendsDays: 7, webhookDays: 7 }, logger, clock: () => NOW }).runOnce();
    expect(run.failed).toBe(true);
    expect(logger.lines.map((l) => [l.level, l.msg])).toEqual([
      ['warn', 'retention: purging sends failed; the next run tries again'],
      ['warn', 'retention: purging webhook deliveries failed; the next run tries again'],
    ]);
    store = SqliteStore.open(':memory:');
  });
});
