/**
 * Two purgers at once on one store — two PostgreSQL stores on one schema (two nodes), two
 * SQLite stores on one file (two processes) — each purging in small batches until done: no
 * error (no deadlock), every old send purged exactly once (the aggregates add up to the sends,
 * not more), and every report the same as before.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DAY_MS } from '../../src/core/retention.js';
import { openStore } from '../../src/store/open-store.js';
import type { ReportGroupBy, Store } from '../../src/store/store.js';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.js';

const DAY0 = Date.UTC(2025, 0, 20);
const OLD_SENDS = 60;
const GROUPINGS: readonly (ReportGroupBy | null)[] = [null, 'day', 'from', 'tag', 'reason', 'domain'];

async function seed(store: Store): Promise<number> {
  const space = await store.createSpace({ name: 'alpha' });
  const user = await store.createUser({ spaceId: space.id, email: 'u@alpha.example', passwordHash: 'scrypt$x' });
  for (let i = 0; i < OLD_SENDS + 5; i++) {
    const to = `r${i % 7}@d${i % 3}.example`;
    const old = i < OLD_SENDS;
    const id = `s${i}`;
    await store.recordSend({
      id,
      spaceId: space.id,
      userId: user.id,
      mailFrom: 'news@alpha.example',
      envelopeSender: `trx-${id}@bounce.example`,
      from: i % 2 === 0 ? 'news@alpha.example' : 'billing@alpha.example',
      to,
      bcc: null,
      discarded: [],
      tags: i % 4 === 0 ? [] : [`t${i % 3}`, ...(i % 5 === 0 ? ['x'] : [])],
      flags: 3,
      flagsSource: 'default',
      receivedAt: new Date(old ? DAY0 - (1 + (i % 3)) * DAY_MS + i * 60_000 : DAY0 + i * 60_000),
      recipients: [{ address: to, role: 'to', status: 'queued', suppressedBy: null, detail: null }],
    });
    if (i % 3 === 0) await store.updateRecipientStatus(id, to, 'delivered', '250 ok');
    if (i % 3 === 1) await store.updateRecipientStatus(id, to, 'bounced', '550', i % 2 === 0 ? 'blocked' : 'user-unknown');
    if (i % 2 === 0) await store.addEvent({ sendId: id, recipient: to, type: 'opened', at: new Date(DAY0 + i), detail: {} });
    if (i % 5 === 0) await store.addEvent({ sendId: id, recipient: to, type: 'clicked', at: new Date(DAY0 + i), detail: { machine: i % 10 === 0 } });
  }
  return space.id;
}

async function reports(store: Store, spaceId: number): Promise<unknown[]> {
  const out: unknown[] = [];
  for (const g of GROUPINGS) {
    out.push(await store.report({ spaceId }, g));
    out.push(await store.report({ spaceId, tags: ['t1'] }, g));
  }
  return out;
}

async function purgeUntilDone(store: Store): Promise<number> {
  let purged = 0;
  for (;;) {
    const r = await store.purgeSends({ before: new Date(DAY0), limit: 3 });
    purged += r.sends;
    if (r.sends === 0) return purged;
  }
}

async function twoPurgers(first: Store, second: Store): Promise<void> {
  const spaceId = await seed(first);
  const before = await reports(first, spaceId);
  const [a, b] = await Promise.all([purgeUntilDone(first), purgeUntilDone(second)]);
  expect(a + b).toBe(OLD_SENDS);
  // The batches interleave (each awaits the database), so both take a share.
  expect(a).toBeGreaterThan(0);
  expect(b).toBeGreaterThan(0);
  expect((await first.listSends({ spaceId })).length).toBe(5);
  const days = await second.listReportDays(spaceId);
  expect(days.reduce((n, d) => n + d.counts.sends, 0)).toBe(OLD_SENDS);
  expect(await reports(second, spaceId)).toEqual(before);
  expect(await reports(first, spaceId)).toEqual(before);
}

describe('two purgers at once', () => {
  let db: TestDatabase;
  const dir = mkdtempSync(join(tmpdir(), 'trxmail-retention-'));
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await db.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('PostgreSQL: two nodes share the work, none counted twice, reports unchanged', async () => {
    const url = await db.freshSchemaUrl();
    const s1 = await openStore(db.config(url));
    const s2 = await openStore(db.config(url));
    try {
      await twoPurgers(s1, s2);
    } finally {
      await s1.close();
      await s2.close();
    }
  });

  it('SQLite: two processes on one file, the same', async () => {
    const path = join(dir, 'trxmail.db');
    const s1 = await openStore({ driver: 'sqlite', path });
    const s2 = await openStore({ driver: 'sqlite', path });
    try {
      await twoPurgers(s1, s2);
    } finally {
      await s1.close();
      await s2.close();
    }
  });
});
