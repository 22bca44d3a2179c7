/**
 * The retention aggregate of the SQLite backend (../retention-backend.ts): purge batches that
 * fold the purged sends' report numbers into report_days (migration 8) and delete the sends
 * with their events, recipients and tags in one IMMEDIATE transaction; the purge of finished
 * webhook deliveries; the daily aggregates a report reads.
 *
 * Each send's numbers come from the report's own SQL (report-query.ts: EVENTS_CTE and
 * AGGREGATES grouped by send), so what is folded is exactly what the report counted.
 * A batch holds the write lock for one batch only (PURGE_BATCH_SIZE sends by default): the
 * milter's writes wait at most that long.
 *
 * Throws: what SqliteDatabase.run maps (TransientError, InvariantError).
 */
import type { PurgedSend, ReportDay, ReportDayBucket } from '../../core/retention.js';
import { parseStringArray } from '../json-columns.js';
import { countsOfRow as countsOf, REPORT_DAY_COUNT_COLUMNS, type ReportDayCountRow } from '../report-day-columns.js';
import type { PurgeableRows, ReportDayQuery, RetentionBackend } from '../retention-backend.js';
import type { PurgeSendsResult } from '../retention-store.js';
import type { SqlParam, SqliteDatabase } from './database.js';
import { AGGREGATES, EVENTS_CTE } from './report-query.js';
import { SqlWhere } from './sql-where.js';

const COUNT_COLUMNS = REPORT_DAY_COUNT_COLUMNS;
type CountRow = ReportDayCountRow;

interface MetricsRow extends CountRow {
  id: string;
  received_at: number;
  from_key: string;
  to_key: string;
  reason: string | null;
  tags: string;
}

interface DayRow extends CountRow {
  day: string;
  from_key: string;
  tags: string;
  reason: string;
  domain: string;
}

/** Per send of the batch (a JSON array of ids), the report's numbers; blocked reasons first. */
const SEND_NUMBERS = `
WITH base AS MATERIALIZED (
  SELECT s.id, s.received_at, s.from_key, s.status, r.suppressed_by, r.address_key AS to_key, r.reason,
    coalesce(r.reason IN (SELECT value FROM json_each(?)), 0) AS blocked
  FROM sends s JOIN send_recipients r ON r.send_id = s.id AND r.role = 'to'
  WHERE s.id IN (SELECT value FROM json_each(?)) AND s.not_queued_at IS NULL
), ${EVENTS_CTE}
SELECT m.id, m.received_at, m.from_key, m.to_key, m.reason,
  (SELECT json_group_array(t.tag) FROM send_tags t WHERE t.send_id = m.id) AS tags,
  ${AGGREGATES}
FROM m GROUP BY m.id`;

const UPSERT_DAY = `
INSERT INTO report_days (space_id, day, from_key, tags, reason, domain, ${COUNT_COLUMNS.join(', ')})
VALUES (?, ?, ?, ?, ?, ?, ${COUNT_COLUMNS.map(() => '?').join(', ')})
ON CONFLICT (space_id, day, from_key, tags, reason, domain) DO UPDATE SET
  ${COUNT_COLUMNS.map((c) => `${c} = ${c} + excluded.${c}`).join(', ')}`;

function countParams(c: PurgedSend['counts']): number[] {
  return [
    c.sends,
    c.delivered,
    c.deferred,
    c.bouncedHard,
    c.bouncedSoft,
    c.blocked,
    c.suppressedBounce,
    c.suppressedUnsubscribe,
    c.openedUnique,
    c.openedTotal,
    c.openedMachine,
    c.clickedUnique,
    c.clickedTotal,
    c.clickedMachine,
    c.complained,
  ];
}

export class SqliteRetention implements RetentionBackend {
  constructor(private readonly db: SqliteDatabase) {}

  purgeSends(
    spaceId: number | null,
    beforeMs: number,
    limit: number,
    blockedReasons: readonly string[],
    fold: (sends: readonly PurgedSend[]) => readonly ReportDayBucket[],
  ): Promise<PurgeSendsResult> {
    return this.db.run(() =>
      this.db.immediate(() => {
        const where = new SqlWhere().and('received_at < ?', beforeMs).andIf('space_id = ?', spaceId);
        const batch = this.db
          .cached<{ id: string; space_id: number }>(`SELECT id, space_id FROM sends${where.clause()} ORDER BY received_at, rowid LIMIT ?`)
          .all(...where.params, limit);
        if (batch.length === 0) return { sends: 0, events: 0, buckets: 0 };
        const ids = JSON.stringify(batch.map((s) => s.id));
        const spaceOf = new Map(batch.map((s) => [s.id, s.space_id]));
        const sends: PurgedSend[] = this.db
          .cached<MetricsRow>(SEND_NUMBERS)
          .all(JSON.stringify(blockedReasons), ids)
          .map((r) => ({
            spaceId: spaceOf.get(r.id) ?? 0,
            receivedAtMs: r.received_at,
            fromKey: r.from_key,
            toKey: r.to_key,
            reason: r.reason,
            tags: parseStringArray(r.tags, 'send tags'),
            counts: countsOf(r),
          }));
        const buckets = fold(sends);
        const upsert = this.db.cached(UPSERT_DAY);
        for (const b of buckets) {
          upsert.run(b.spaceId, b.day, b.fromKey, JSON.stringify(b.tags), b.reason ?? '', b.domain, ...countParams(b.counts));
        }
        const inBatch = 'IN (SELECT value FROM json_each(?))';
        const events = this.db.cached(`DELETE FROM events WHERE send_id ${inBatch}`).run(ids).changes;
        this.db.cached(`DELETE FROM send_recipients WHERE send_id ${inBatch}`).run(ids);
        this.db.cached(`DELETE FROM send_tags WHERE send_id ${inBatch}`).run(ids);
        const deleted = this.db.cached(`DELETE FROM sends WHERE id ${inBatch}`).run(ids).changes;
        return { sends: deleted, events, buckets: buckets.length };
      }),
    );
  }

  countPurgeable(spaceId: number | null, beforeMs: number): Promise<PurgeableRows> {
    return this.db.run(() => {
      const where = new SqlWhere().and('received_at < ?', beforeMs).andIf('space_id = ?', spaceId);
      const row = this.db
        .cached<{ n: number; oldest: number | null; newest: number | null }>(
          `SELECT count(*) AS n, min(received_at) AS oldest, max(received_at) AS newest FROM sends${where.clause()}`,
        )
        .get(...where.params);
      const events = this.db
        .cached<{ n: number }>(`SELECT count(*) AS n FROM events WHERE send_id IN (SELECT id FROM sends${where.clause()})`)
        .get(...where.params);
      return { sends: row?.n ?? 0, events: events?.n ?? 0, oldestMs: row?.oldest ?? null, newestMs: row?.newest ?? null };
    });
  }

  purgeWebhookDeliveries(beforeMs: number, limit: number): Promise<number> {
    return this.db.run(
      () =>
        this.db
          .cached(
            'DELETE FROM webhook_outbox WHERE id IN (SELECT id FROM webhook_outbox ' +
              "WHERE status IN ('delivered', 'expired') AND done_at < ? ORDER BY id LIMIT ?)",
          )
          .run(beforeMs, limit).changes,
    );
  }

  reportDays(query: ReportDayQuery): Promise<ReportDay[]> {
    return this.db.run(() => {
      const where = new SqlWhere()
        .and('space_id = ?', query.spaceId)
        .andIf('from_key = ?', query.fromKey)
        .andIf('day >= ?', query.fromDay)
        .andIf('day <= ?', query.toDay);
      const params: SqlParam[] = where.params;
      return this.db
        .cached<DayRow>(`SELECT day, from_key, tags, reason, domain, ${COUNT_COLUMNS.join(', ')} FROM report_days${where.clause()} ORDER BY day, from_key, tags, reason, domain`)
        .all(...params)
        .map((r) => ({
          day: r.day,
          fromKey: r.from_key,
          tags: parseStringArray(r.tags, 'report day tags'),
          reason: r.reason === '' ? null : r.reason,
          domain: r.domain,
          counts: countsOf(r),
        }));
    });
  }
}
