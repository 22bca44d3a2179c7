/**
 * Retention: how long sends and their events are kept, and how the report keeps its numbers
 * for the days whose sends are gone (README, "Retention").
 *
 * Rules, once:
 *  - The cutoff of a retention of N days is the start (00:00 UTC) of the day N days before
 *    today's: sends received before it are purged (whole UTC days are kept on the boundary).
 *  - Before a send is deleted, its contribution to every report number is folded into a DAILY
 *    AGGREGATE: one bucket per (space, UTC day received, From key, tag set, To's bounce reason,
 *    To's domain) holding the 15 report numbers summed over its sends. Each number of a report
 *    row is a sum over sends (a send counts 0 or 1 in a *unique/sends number, its events in a
 *    *Total/*Machine one), so summing buckets gives exactly what the sends gave, for every
 *    grouping (day, from, tag, reason, domain) and every filter by From and tags. A batch of a
 *    day's sends adds to the same buckets as the rest of that day later: a day purged in
 *    several batches (or by several nodes) reports the same numbers at every moment.
 *  - Date bounds: an aggregate has no time of day, so a purged day counts in full when any
 *    part of it lies in [since, until) (a plain-date range, the CLI's and the report page's,
 *    is exact).
 *  - Sends Postfix never queued are not in any report; they are deleted without a bucket.
 *
 * Pure: no I/O, no clock (now is passed in). Throws nothing.
 */
import { MAX_TAGS } from './limits.js';

/** The shortest retention: Postfix retries for up to 5 days (maximal_queue_lifetime) and late bounces must still find their send. */
export const MIN_RETENTION_DAYS = 7;
/** The longest retention that can be configured (ten years). */
export const MAX_RETENTION_DAYS = 3650;
/** Sends deleted (and aggregated) per transaction: a purge never holds the write lock for long (SQLite). */
export const PURGE_BATCH_SIZE = 500;
/** The largest batch a caller may ask for. */
export const MAX_PURGE_BATCH_SIZE = 5000;

export const DAY_MS = 86_400_000;

/** The report numbers, in their order (as store ReportCounts and reports/report.ts). */
export const REPORT_COUNT_FIELDS = [
  'sends',
  'delivered',
  'deferred',
  'bouncedHard',
  'bouncedSoft',
  'blocked',
  'suppressedBounce',
  'suppressedUnsubscribe',
  'openedUnique',
  'openedTotal',
  'openedMachine',
  'clickedUnique',
  'clickedTotal',
  'clickedMachine',
  'complained',
] as const;

export type ReportCountField = (typeof REPORT_COUNT_FIELDS)[number];
export type DayCounts = Readonly<Record<ReportCountField, number>>;

/** One send about to be purged: what the report counted for it. */
export interface PurgedSend {
  readonly spaceId: number;
  readonly receivedAtMs: number;
  readonly fromKey: string;
  /** The To recipient's key. */
  readonly toKey: string;
  /** The To's bounce reason; null: none. */
  readonly reason: string | null;
  readonly tags: readonly string[];
  /** This send's contribution to each report number. */
  readonly counts: DayCounts;
}

/** One daily aggregate bucket (without its space: a report reads one space). */
export interface ReportDay {
  /** YYYY-MM-DD, UTC. */
  readonly day: string;
  readonly fromKey: string;
  /** Distinct, sorted (code point order). */
  readonly tags: readonly string[];
  readonly reason: string | null;
  readonly domain: string;
  readonly counts: DayCounts;
}

export interface ReportDayBucket extends ReportDay {
  readonly spaceId: number;
}

/** A report row in core's terms (store ReportRow has this shape). */
export interface DayReportRow extends DayCounts {
  readonly group: 'day' | 'from' | 'tag' | 'reason' | 'domain' | 'total';
  readonly key: string | null;
}

export type DayGroupBy = Exclude<DayReportRow['group'], 'total'>;

/** The cutoff of a retention of `days` days at `now`: sends received before it go. */
export function retentionCutoff(now: Date, days: number): Date {
  const today = Math.floor(now.getTime() / DAY_MS) * DAY_MS;
  return new Date(today - days * DAY_MS);
}

/** Whether `days` is an allowed retention (0 = keep forever). */
export function isRetentionDays(days: number): boolean {
  return Number.isInteger(days) && (days === 0 || (days >= MIN_RETENTION_DAYS && days <= MAX_RETENTION_DAYS));
}

/** The latest cutoff allowed at `now` (a purge keeps at least MIN_RETENTION_DAYS). */
export function latestCutoff(now: Date): Date {
  return retentionCutoff(now, MIN_RETENTION_DAYS);
}

/** YYYY-MM-DD of the UTC day of `ms`. */
export function utcDay(ms: number): string {
  return new Date(Math.floor(ms / DAY_MS) * DAY_MS).toISOString().slice(0, 10);
}

/** The receiving domain of a To key: after its last '@' (the whole key without one), as the report's SQL. */
export function receivingDomain(toKey: string): string {
  return toKey.slice(toKey.lastIndexOf('@') + 1);
}

/** Code point order (= UTF-8 byte order: SQLite BINARY, PostgreSQL COLLATE "C"). */
export function compareCodePoints(a: string, b: string): number {
  const x = [...a];
  const y = [...b];
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    const d = (x[i]?.codePointAt(0) ?? 0) - (y[i]?.codePointAt(0) ?? 0);
    if (d !== 0) return d;
  }
  return x.length - y.length;
}

function zeroCounts(): Record<ReportCountField, number> {
  return Object.fromEntries(REPORT_COUNT_FIELDS.map((f) => [f, 0])) as Record<ReportCountField, number>;
}

function addInto(target: Record<ReportCountField, number>, add: DayCounts): void {
  for (const f of REPORT_COUNT_FIELDS) target[f] += add[f];
}

/** Canonical tag set: distinct, sorted by code point. */
export function tagSet(tags: readonly string[]): string[] {
  return [...new Set(tags)].sort(compareCodePoints);
}

function bucketKey(b: Omit<ReportDayBucket, 'counts'>): string {
  return JSON.stringify([b.spaceId, b.day, b.fromKey, b.tags, b.reason, b.domain]);
}

/**
 * The buckets a batch of purged sends adds to the daily aggregates, sorted by their key (so
 * every writer locks the buckets it updates in one order: two nodes purging at once never
 * deadlock).
 */
export function foldPurgedSends(sends: readonly PurgedSend[]): ReportDayBucket[] {
  const buckets = new Map<string, { bucket: Omit<ReportDayBucket, 'counts'>; counts: Record<ReportCountField, number> }>();
  for (const s of sends) {
    const bucket = { spaceId: s.spaceId, day: utcDay(s.receivedAtMs), fromKey: s.fromKey, tags: tagSet(s.tags), reason: s.reason, domain: receivingDomain(s.toKey) };
    const key = bucketKey(bucket);
    let entry = buckets.get(key);
    if (entry === undefined) {
      entry = { bucket, counts: zeroCounts() };
      buckets.set(key, entry);
    }
    addInto(entry.counts, s.counts);
  }
  return [...buckets.entries()]
    .sort(([a], [b]) => compareCodePoints(a, b))
    .map(([, e]) => Object.assign({}, e.bucket, { counts: e.counts }));
}

/**
 * The days of aggregates a report range [sinceMs, untilMs) reads: every day with a part in it
 * (first and last, inclusive; null: unbounded). Null when the range is empty.
 */
export function reportDayRange(sinceMs: number | null, untilMs: number | null): { fromDay: string | null; toDay: string | null } | null {
  if (sinceMs !== null && untilMs !== null && untilMs <= sinceMs) return null;
  return { fromDay: sinceMs === null ? null : utcDay(sinceMs), toDay: untilMs === null ? null : utcDay(untilMs - 1) };
}

function groupKeys(day: ReportDay, groupBy: DayGroupBy): (string | null)[] {
  switch (groupBy) {
    case 'day':
      return [day.day];
    case 'from':
      return [day.fromKey];
    case 'tag':
      return day.tags.length === 0 ? [null] : [...day.tags];
    case 'reason':
      return [day.reason];
    case 'domain':
      return [day.domain];
  }
}

function sortRows(rows: DayReportRow[]): DayReportRow[] {
  const order = (r: DayReportRow): number => (r.group === 'total' ? 1 : 0);
  return rows.sort((a, b) => {
    if (order(a) !== order(b)) return order(a) - order(b);
    if (a.key === null || b.key === null) return (a.key === null ? 1 : 0) - (b.key === null ? 1 : 0);
    return compareCodePoints(a.key, b.key);
  });
}

function rowsFrom(groups: Map<string | null, Record<ReportCountField, number>>, group: DayReportRow['group']): DayReportRow[] {
  return [...groups.entries()].map(([key, counts]) => ({ group, key, ...counts }));
}

/**
 * The report rows of the aggregates `days` (one space, already limited to the From and the
 * day range): those carrying every tag of `tags` (at most MAX_TAGS), grouped as the report
 * groups sends, then the total row — in the report's order.
 */
export function reportFromDays(days: readonly ReportDay[], tags: readonly string[], groupBy: DayGroupBy | null): DayReportRow[] {
  const wanted = tags.slice(0, MAX_TAGS);
  const total = zeroCounts();
  const groups = new Map<string | null, Record<ReportCountField, number>>();
  for (const d of days) {
    if (!wanted.every((t) => d.tags.includes(t))) continue;
    addInto(total, d.counts);
    if (groupBy === null) continue;
    for (const key of groupKeys(d, groupBy)) {
      let counts = groups.get(key);
      if (counts === undefined) {
        counts = zeroCounts();
        groups.set(key, counts);
      }
      addInto(counts, d.counts);
    }
  }
  return sortRows([...rowsFrom(groups, groupBy ?? 'total'), { group: 'total', key: null, ...total }]);
}

/**
 * Two reports of the same grouping added up: rows with the same group and key summed, one
 * total row, in the report's order. `live` comes first in identity (its rows are kept when
 * `days` has nothing for them).
 */
export function mergeReportRows<R extends DayReportRow>(live: readonly R[], days: readonly DayReportRow[]): DayReportRow[] {
  const merged = new Map<string, { group: DayReportRow['group']; key: string | null; counts: Record<ReportCountField, number> }>();
  for (const row of [...live, ...days]) {
    const id = JSON.stringify([row.group, row.key]);
    let entry = merged.get(id);
    if (entry === undefined) {
      entry = { group: row.group, key: row.key, counts: zeroCounts() };
      merged.set(id, entry);
    }
    addInto(entry.counts, row);
  }
  return sortRows([...merged.values()].map((e) => ({ group: e.group, key: e.key, ...e.counts })));
}
