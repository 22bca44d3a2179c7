import { describe, expect, it } from 'vitest';
import {
  DAY_MS,
  MAX_PURGE_BATCH_SIZE,
  MAX_RETENTION_DAYS,
  MIN_RETENTION_DAYS,
  PURGE_BATCH_SIZE,
  REPORT_COUNT_FIELDS,
  compareCodePoints,
  foldPurgedSends,
  isRetentionDays,
  latestCutoff,
  mergeReportRows,
  receivingDomain,
  reportDayRange,
  reportFromDays,
  retentionCutoff,
  utcDay,
  type DayCounts,
  type DayReportRow,
  type PurgedSend,
  type ReportDay,
} from '../../../src/core/retention.js';

const zero: DayCounts = Object.fromEntries(REPORT_COUNT_FIELDS.map((f) => [f, 0])) as unknown as DayCounts;
const counts = (over: Partial<DayCounts>): DayCounts => ({ ...zero, ...over });

function purged(over: Partial<PurgedSend>): PurgedSend {
  return { spaceId: 1, receivedAtMs: Date.UTC(2025, 0, 10, 12), fromKey: 'a@shop.example', toKey: 'r@example.net', reason: null, tags: [], counts: counts({ sends: 1 }), ...over };
}

describe('retention limits', () => {
  it('names its limits: 7 days at least, ten years at most, batches of 500 (5000 at most)', () => {
    expect(MIN_RETENTION_DAYS).toBe(7);
    expect(MAX_RETENTION_DAYS).toBe(3650);
    expect(PURGE_BATCH_SIZE).toBe(500);
    expect(MAX_PURGE_BATCH_SIZE).toBe(5000);
  });
  it('allows 0 (forever) and MIN..MAX whole days, nothing one step past', () => {
    for (const ok of [0, MIN_RETENTION_DAYS, 90, MAX_RETENTION_DAYS]) expect(isRetentionDays(ok)).toBe(true);
    for (const bad of [-1, 1, MIN_RETENTION_DAYS - 1, MAX_RETENTION_DAYS + 1, 7.5, Number.NaN]) expect(isRetentionDays(bad)).toBe(false);
  });
});

describe('retentionCutoff', () => {
  it('is midnight UTC of the day N days before today, whatever the time of day', () => {
    expect(retentionCutoff(new Date('2025-04-10T00:00:00Z'), 90).toISOString()).toBe('2025-01-10T00:00:00.000Z');
    expect(retentionCutoff(new Date('2025-04-10T23:59:59.999Z'), 90).toISOString()).toBe('2025-01-10T00:00:00.000Z');
    expect(latestCutoff(new Date('2025-04-10T12:00:00Z')).toISOString()).toBe('2025-04-03T00:00:00.000Z');
  });
});

describe('days and domains as the report SQL computes them', () => {
  it('utcDay is the UTC calendar day', () => {
    expect(utcDay(Date.UTC(2025, 0, 10, 23, 59, 59, 999))).toBe('2025-01-10');
    expect(utcDay(Date.UTC(2025, 0, 11))).toBe('2025-01-11');
  });
  it('receivingDomain is what follows the last @, the whole key without one', () => {
    expect(receivingDomain('"a@b"@example.net')).toBe('example.net');
    expect(receivingDomain('nodomain')).toBe('nodomain');
  });
  it('compares by code point (UTF-8 byte order), not UTF-16 unit', () => {
    expect(compareCodePoints('\u{1F600}', '\uFFFF')).toBeGreaterThan(0);
    expect('\u{1F600}' < '\uFFFF').toBe(true);
    expect(compareCodePoints('ab', 'abc')).toBeLessThan(0);
    expect(compareCodePoints('b', 'b')).toBe(0);
  });
  it('reportDayRange takes every day a part of [since, until) falls on', () => {
    expect(reportDayRange(Date.UTC(2025, 0, 10), Date.UTC(2025, 0, 12))).toEqual({ fromDay: '2025-01-10', toDay: '2025-01-11' });
    expect(reportDayRange(Date.UTC(2025, 0, 10, 13), Date.UTC(2025, 0, 12, 1))).toEqual({ fromDay: '2025-01-10', toDay: '2025-01-12' });
    expect(reportDayRange(null, null)).toEqual({ fromDay: null, toDay: null });
    expect(reportDayRange(5, 5)).toBeNull();
  });
});

describe('foldPurgedSends', () => {
  it('sums sends of one bucket, keeps different tag sets, reasons, domains and days apart, in key order (one lock order for every node)', () => {
    const buckets = foldPurgedSends([
      purged({ tags: ['b', 'a', 'a'], counts: counts({ sends: 1, openedTotal: 2 }) }),
      purged({ tags: ['a', 'b'], toKey: 'x@example.net', counts: counts({ sends: 1, openedTotal: 3, delivered: 1 }) }),
      purged({ tags: ['a'] }),
      purged({ reason: 'blocked', toKey: 'r@gmail.example' }),
      purged({ receivedAtMs: Date.UTC(2025, 0, 9, 23) }),
      purged({ spaceId: 2 }),
    ]);
    expect(buckets.map((b) => [b.spaceId, b.day, b.tags, b.reason, b.domain, b.counts.sends, b.counts.openedTotal, b.counts.delivered])).toEqual([
      [1, '2025-01-09', [], null, 'example.net', 1, 0, 0],
      [1, '2025-01-10', ['a', 'b'], null, 'example.net', 2, 5, 1],
      [1, '2025-01-10', ['a'], null, 'example.net', 1, 0, 0],
      [1, '2025-01-10', [], 'blocked', 'gmail.example', 1, 0, 0],
      [2, '2025-01-10', [], null, 'example.net', 1, 0, 0],
    ]);
    expect(foldPurgedSends([])).toEqual([]);
  });
});

describe('reportFromDays and mergeReportRows', () => {
  const day = (over: Partial<ReportDay>): ReportDay => ({ day: '2025-01-10', fromKey: 'a@shop.example', tags: [], reason: null, domain: 'example.net', counts: counts({ sends: 1 }), ...over });
  const days = [
    day({ tags: ['welcome', 'spring'], counts: counts({ sends: 2, clickedUnique: 1 }) }),
    day({ tags: ['welcome'], reason: 'blocked', domain: 'gmail.example', counts: counts({ sends: 3, blocked: 3 }) }),
    day({ day: '2025-01-11', fromKey: 'b@shop.example' }),
  ];
  const keyed = (rows: DayReportRow[]): [string, string | null, number][] => rows.map((r) => [r.group, r.key, r.sends]);

  it('groups like the report: by tag each tag (untagged last), total once', () => {
    expect(keyed(reportFromDays(days, [], 'tag'))).toEqual([
      ['tag', 'spring', 2],
      ['tag', 'welcome', 5],
      ['tag', null, 1],
      ['total', null, 6],
    ]);
    expect(keyed(reportFromDays(days, [], 'reason'))).toEqual([['reason', 'blocked', 3], ['reason', null, 3], ['total', null, 6]]);
    expect(keyed(reportFromDays(days, [], 'day'))).toEqual([['day', '2025-01-10', 5], ['day', '2025-01-11', 1], ['total', null, 6]]);
    expect(keyed(reportFromDays(days, [], 'domain'))).toEqual([['domain', 'example.net', 3], ['domain', 'gmail.example', 3], ['total', null, 6]]);
    expect(keyed(reportFromDays(days, [], null))).toEqual([['total', null, 6]]);
  });
  it('keeps only buckets carrying every tag asked for', () => {
    expect(keyed(reportFromDays(days, ['welcome', 'spring'], 'from'))).toEqual([['from', 'a@shop.example', 2], ['total', null, 2]]);
    expect(keyed(reportFromDays(days, ['nope'], 'from'))).toEqual([['total', null, 0]]);
  });
  it('adds two reports row by row, one total, in the report order', () => {
    const live: DayReportRow[] = [
      { group: 'day', key: '2025-01-12', ...counts({ sends: 4, delivered: 4 }) },
      { group: 'total', key: null, ...counts({ sends: 4, delivered: 4 }) },
    ];
    const merged = mergeReportRows(live, reportFromDays(days, [], 'day'));
    expect(keyed(merged)).toEqual([['day', '2025-01-10', 5], ['day', '2025-01-11', 1], ['day', '2025-01-12', 4], ['total', null, 10]]);
    expect(merged.at(-1)?.delivered).toBe(4);
    expect(merged.at(-1)?.clickedUnique).toBe(1);
    expect(merged[0]?.blocked).toBe(3);
  });
  it('tells one day from another only by the UTC day', () => {
    expect(DAY_MS).toBe(24 * 3600 * 1000);
  });
});
