/**
 * Store.report over a real SQLite store seeded by seed.ts: every number of every grouping
 * against a hand count (derived in the comments from seed.ts's table), the filters (date
 * edges, from case-insensitively, one tag, two tags), and the other space never counted.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UsageError } from '../../src/lib/errors.js';
import { MAX_TAGS } from '../../src/lib/limits.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import type { ReportCounts, ReportFilter, ReportRow } from '../../src/store/store.js';
import { seedReports, type Seeded } from './seed.js';

/** Numbers in REPORT_NUMBERS order, to keep the hand counts on one line each. */
type Nums = [number, number, number, number, number, number, number, number, number, number, number, number, number, number];
function counts(n: Nums): ReportCounts {
  const [sends, delivered, deferred, bouncedHard, bouncedSoft, suppressedBounce, suppressedUnsubscribe, openedUnique, openedTotal, openedMachine, clickedUnique, clickedTotal, clickedMachine, complained] = n;
  // blocked: none of these sends bounced for a sender-side reason (test/store/contract covers it).
  return { sends, delivered, deferred, bouncedHard, bouncedSoft, blocked: 0, suppressedBounce, suppressedUnsubscribe, openedUnique, openedTotal, openedMachine, clickedUnique, clickedTotal, clickedMachine, complained };
}
const row = (group: ReportRow['group'], key: string | null, n: Nums): ReportRow => ({ group, key, ...counts(n) });

//                  sends deliv defer hard soft supB supU oUniq oTot oMach cUniq cTot cMach compl
// Total over a1 a10 a2 a3 a4 a5 a6 a7 a8 (a0 before since, a9 at until):
//   delivered a1 a6 a7; deferred a3; hard a2 (a6's is the BCC's); soft a3 (deferred), a6 (deferred),
//   a7 (bounced kind soft); supB a4; supU a10 a5; opened-unique a1 a7 a8 + a6 (a person's click);
//   opens 4 (a1) + 1 (a7) + 1 (a8); machine opens 3 (a1) + 2 (a3); clicked-unique a1 a6;
//   clicks 1 (a1) + 3 (a6); machine clicks 7 (a1) + 2 (a6); complained a1 a6 (a7's is the BCC's).
const TOTAL: Nums = [9, 3, 1, 1, 3, 1, 2, 4, 6, 5, 2, 4, 9, 2];
// 2026-03-01: a1 a10 a2. 2026-03-02: a3 a4 a5. 2026-03-03: a6 a7 a8.
const DAY1: Nums = [3, 1, 0, 1, 0, 0, 1, 1, 4, 3, 1, 1, 7, 1];
const DAY2: Nums = [3, 0, 1, 0, 1, 1, 1, 0, 0, 2, 0, 0, 0, 0];
const DAY3: Nums = [3, 2, 0, 0, 2, 0, 0, 3, 2, 0, 1, 3, 2, 1];
// alerts: a10 a3 a5 a8 (a8 opened once). news: a1 a2 (News@SHOP.example) a4 a6 a7.
const ALERTS: Nums = [4, 0, 1, 0, 1, 0, 2, 1, 1, 2, 0, 0, 0, 0];
const NEWS: Nums = [5, 3, 0, 1, 2, 1, 0, 3, 5, 3, 2, 4, 9, 2];
// promo: a1 a2 a5 a6. spring: a1 a3 a6 a7. vip: a6 a8. no tag: a10 a4.
const PROMO: Nums = [4, 2, 0, 1, 1, 0, 1, 2, 4, 3, 2, 4, 9, 2];
const SPRING: Nums = [4, 3, 1, 0, 3, 0, 0, 3, 5, 5, 2, 4, 9, 2];
const VIP: Nums = [2, 1, 0, 0, 1, 0, 0, 2, 1, 0, 1, 3, 2, 1];
const UNTAGGED: Nums = [2, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0];
// promo AND spring: a1 a6.
const PROMO_SPRING: Nums = [2, 2, 0, 0, 1, 0, 0, 2, 4, 3, 2, 4, 9, 2];

const root = mkdtempSync(join(tmpdir(), 'trxmail-report-'));
let store: SqliteStore;
let seed: Seeded;
let range: ReportFilter;

beforeAll(async () => {
  store = SqliteStore.open(join(root, 'trxmail.db'));
  seed = await seedReports(store);
  range = { spaceId: seed.alpha.id, since: new Date('2026-03-01T00:00:00Z'), until: new Date('2026-03-04T00:00:00Z') };
});
afterAll(async () => {
  await store.close();
  rmSync(root, { recursive: true, force: true });
});

describe('every number of every grouping', () => {
  it('total only', async () => {
    expect(await store.report(range, null)).toEqual([row('total', null, TOTAL)]);
  });

  it('by day (UTC day of receipt), then the total', async () => {
    expect(await store.report(range, 'day')).toEqual([
      row('day', '2026-03-01', DAY1),
      row('day', '2026-03-02', DAY2),
      row('day', '2026-03-03', DAY3),
      row('total', null, TOTAL),
    ]);
  });

  it('by from address (key, case folded), then the total', async () => {
    expect(await store.report(range, 'from')).toEqual([
      row('from', 'alerts@shop.example', ALERTS),
      row('from', 'news@shop.example', NEWS),
      row('total', null, TOTAL),
    ]);
  });

  it('by tag: a send with several tags counts in each; untagged last; the total counts each send once', async () => {
    const rows = await store.report(range, 'tag');
    expect(rows).toEqual([
      row('tag', 'promo', PROMO),
      row('tag', 'spring', SPRING),
      row('tag', 'vip', VIP),
      row('tag', null, UNTAGGED),
      row('total', null, TOTAL),
    ]);
    // 4 + 4 + 2 + 2 = 12 group memberships for 9 sends.
    expect(rows.slice(0, -1).reduce((n, r) => n + r.sends, 0)).toBe(12);
  });
});

describe('filters', () => {
  it('date edges: since is inclusive, until exclusive, to the millisecond', async () => {
    const day2 = { spaceId: seed.alpha.id, since: new Date('2026-03-02T00:00:00.000Z'), until: new Date('2026-03-03T00:00:00.000Z') };
    expect(await store.report(day2, null)).toEqual([row('total', null, DAY2)]); // a3 at since: in; a2 1 ms before: out
    const upTo = await store.report({ spaceId: seed.alpha.id, until: new Date('2026-03-02T00:00:00.000Z') }, 'day');
    // a0 (2026-02-28, opened once by a person) + day 1; a3 at until: out.
    expect(upTo.map((r) => [r.key, r.sends])).toEqual([
      ['2026-02-28', 1],
      ['2026-03-01', 3],
      [null, 4],
    ]);
    expect(upTo[0]).toEqual(row('day', '2026-02-28', [1, 1, 0, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0]));
    const from9 = await store.report({ spaceId: seed.alpha.id, since: new Date('2026-03-04T00:00:00.000Z') }, null);
    expect(from9).toEqual([row('total', null, [1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0])]); // a9 alone
    const empty = await store.report({ ...range, since: new Date('2026-03-03T23:00:00.001Z') }, 'day');
    expect(empty).toEqual([row('total', null, [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0])]);
  });

  it('no date bounds: every send of the space (a0 and a9 too)', async () => {
    const [total] = await store.report({ spaceId: seed.alpha.id }, null);
    expect(total?.sends).toBe(11);
  });

  it('from, compared case-insensitively', async () => {
    expect(await store.report({ ...range, from: 'NEWS@Shop.Example' }, null)).toEqual([row('total', null, NEWS)]);
    expect(await store.report({ ...range, from: 'alerts@shop.example' }, 'from')).toEqual([
      row('from', 'alerts@shop.example', ALERTS),
      row('total', null, ALERTS),
    ]);
    expect((await store.report({ ...range, from: 'nobody@shop.example' }, null))[0]?.sends).toBe(0);
  });

  it('one tag', async () => {
    expect(await store.report({ ...range, tags: ['promo'] }, null)).toEqual([row('total', null, PROMO)]);
    // Tags match exactly (case-sensitive), as in `sends list`.
    expect((await store.report({ ...range, tags: ['Promo'] }, null))[0]?.sends).toBe(0);
  });

  it('two tags: both must be on the send; grouping by tag shows the sends\' other tags too', async () => {
    expect(await store.report({ ...range, tags: ['promo', 'spring'] }, null)).toEqual([row('total', null, PROMO_SPRING)]);
    const byTag = await store.report({ ...range, tags: ['spring', 'promo'] }, 'tag');
    expect(byTag.map((r) => [r.key, r.sends])).toEqual([
      ['promo', 2],
      ['spring', 2],
      ['vip', 1],
      [null, 2],
    ]);
  });

  it('tags and from and dates together', async () => {
    // news + spring in day 3: a6 a7.
    const r = await store.report({ spaceId: seed.alpha.id, since: new Date('2026-03-03T00:00:00Z'), from: 'news@shop.example', tags: ['spring'] }, null);
    expect(r).toEqual([row('total', null, [2, 2, 0, 0, 2, 0, 0, 2, 1, 0, 1, 3, 2, 1])]);
  });
});

describe('spaces', () => {
  it("the other space's sends and events are never counted", async () => {
    // beta: b1 (delivered, 5 opens, complained), b2 (hard bounce).
    expect(await store.report({ spaceId: seed.beta.id }, 'day')).toEqual([
      row('day', '2026-03-01', [1, 1, 0, 0, 0, 0, 0, 1, 5, 0, 0, 0, 0, 1]),
      row('day', '2026-03-02', [1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
      row('total', null, [2, 1, 0, 1, 0, 0, 0, 1, 5, 0, 0, 0, 0, 1]),
    ]);
  });

  it('refuses an unknown space, bad dates and too many tags (UsageError)', async () => {
    await expect(store.report({ spaceId: 987654 }, null)).rejects.toBeInstanceOf(UsageError);
    await expect(store.report({ spaceId: seed.alpha.id, since: new Date(NaN) }, null)).rejects.toBeInstanceOf(UsageError);
    const tags = Array.from({ length: MAX_TAGS + 1 }, (_, i) => `t${i}`);
    await expect(store.report({ spaceId: seed.alpha.id, tags }, null)).rejects.toBeInstanceOf(UsageError);
    expect(await store.report({ spaceId: seed.alpha.id, tags: tags.slice(0, MAX_TAGS) }, null)).toHaveLength(1);
  });
});

describe('query plan', () => {
  it('uses the indexes: no full scan of sends, events or send_tags', () => {
    for (const groupBy of [null, 'day', 'from', 'tag'] as const) {
      for (const filter of [range, { ...range, from: 'news@shop.example' }, { ...range, tags: ['promo', 'spring'] }]) {
        const plan = store.reportPlan(filter, groupBy).join('\n');
        expect(plan).not.toMatch(/SCAN (s|sends|e|events|t|send_tags|r|send_recipients)\b/);
        expect(plan).toMatch(/SEARCH s USING INDEX sends_space_(from_)?time/);
        expect(plan).toMatch(/SEARCH e USING INDEX events_send_time/);
      }
    }
  });
});
