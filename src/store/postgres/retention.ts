/**
 * The retention aggregate of the PostgreSQL backend (../retention-backend.ts), as the SQLite
 * one (../sqlite/retention.ts) in PostgreSQL's words: a purge batch takes its sends
 * FOR UPDATE SKIP LOCKED (several nodes purging at once take different sends, and a send a
 * node is updating is left for the next batch), reads each one's numbers with the report's own
 * SQL (report-query.ts: eventsCte and aggregates grouped by send), adds the buckets in one
 * INSERT ... ON CONFLICT DO UPDATE (in the order given: every node locks buckets in one order,
 * so two batches never deadlock) and deletes the sends with their events, recipients and tags —
 * one transaction.
 *
 * Throws: what PgDatabase maps (TransientError, InvariantError).
 */
import type postgres from 'postgres';
import type { PurgedSend, ReportDay, ReportDayBucket } from '../../core/retention.js';
import { parseStringArray } from '../json-columns.js';
import { countsOfRow as countsOf, REPORT_DAY_COUNT_COLUMNS, type ReportDayCountRow } from '../report-day-columns.js';
import type { PurgeableRows, ReportDayQuery, RetentionBackend } from '../retention-backend.js';
import type { PurgeSendsResult } from '../retention-store.js';
import type { PgDatabase, PgRunner } from './database.js';
import { aggregates, eventsCte } from './report-query.js';
import { whereOf } from './sql-where.js';

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

/** A bucket as a json_to_recordset row (the columns of report_days). */
function bucketRow(b: ReportDayBucket): Record<string, string | number> {
  const c = b.counts;
  return {
    space_id: b.spaceId,
    day: b.day,
    from_key: b.fromKey,
    tags: JSON.stringify(b.tags),
    reason: b.reason ?? '',
    domain: b.domain,
    sends: c.sends,
    delivered: c.delivered,
    deferred: c.deferred,
    bounced_hard: c.bouncedHard,
    bounced_soft: c.bouncedSoft,
    blocked: c.blocked,
    suppressed_bounce: c.suppressedBounce,
    suppressed_unsubscribe: c.suppressedUnsubscribe,
    opened_unique: c.openedUnique,
    opened_total: c.openedTotal,
    opened_machine: c.openedMachine,
    clicked_unique: c.clickedUnique,
    clicked_total: c.clickedTotal,
    clicked_machine: c.clickedMachine,
    complained: c.complained,
  };
}

const COUNT_COLUMNS = REPORT_DAY_COUNT_COLUMNS.join(', ');

const COUNT_TYPES = REPORT_DAY_COUNT_COLUMNS.map((c) => `${c} bigint`).join(', ');

const COUNT_ADDS = REPORT_DAY_COUNT_COLUMNS.map((c) => `${c} = report_days.${c} + excluded.${c}`).join(', ');

function purgeConditions(sql: PgRunner, spaceId: number | null, beforeMs: number): postgres.Fragment {
  const conditions = [sql`received_at < ${beforeMs}`];
  if (spaceId !== null) conditions.push(sql`space_id = ${spaceId}`);
  return whereOf(sql, conditions);
}

export class PgRetention implements RetentionBackend {
  constructor(private readonly db: PgDatabase) {}

  purgeSends(
    spaceId: number | null,
    beforeMs: number,
    limit: number,
    blockedReasons: readonly string[],
    fold: (sends: readonly PurgedSend[]) => readonly ReportDayBucket[],
  ): Promise<PurgeSendsResult> {
    return this.db.transaction(async (tx) => {
      const batch = await tx<{ id: string; space_id: number }[]>`
        SELECT id, space_id FROM sends ${purgeConditions(tx, spaceId, beforeMs)}
        ORDER BY received_at, seq LIMIT ${limit} FOR UPDATE SKIP LOCKED`;
      if (batch.length === 0) return { sends: 0, events: 0, buckets: 0 };
      const ids = JSON.stringify(batch.map((s) => s.id));
      const inBatch = (): postgres.Fragment => tx`SELECT json_array_elements_text(${ids}::text::json)`;
      const spaceOf = new Map(batch.map((s) => [s.id, s.space_id]));
      const rows = await tx<MetricsRow[]>`
        WITH base AS MATERIALIZED (
          SELECT s.id, s.received_at, s.from_key, s.status, r.suppressed_by, r.address_key AS to_key, r.reason,
            coalesce(r.reason IN (SELECT json_array_elements_text(${JSON.stringify(blockedReasons)}::text::json)), false) AS blocked
          FROM sends s JOIN send_recipients r ON r.send_id = s.id AND r.role = 'to'
          WHERE s.id IN (${inBatch()}) AND s.not_queued_at IS NULL
        ), ${eventsCte(tx)}
        SELECT m.id, m.received_at, m.from_key, m.to_key, m.reason,
          (SELECT coalesce(json_agg(t.tag), '[]'::json)::text FROM send_tags t WHERE t.send_id = m.id) AS tags,
          ${aggregates(tx)}
        FROM m GROUP BY m.id, m.received_at, m.from_key, m.to_key, m.reason`;
      const sends: PurgedSend[] = rows.map((r) => ({
        spaceId: spaceOf.get(r.id) ?? 0,
        receivedAtMs: r.received_at,
        fromKey: r.from_key,
        toKey: r.to_key,
        reason: r.reason,
        tags: parseStringArray(r.tags, 'send tags'),
        counts: countsOf(r),
      }));
      const buckets = fold(sends);
      if (buckets.length > 0) {
        await tx.unsafe(
          `INSERT INTO report_days (space_id, day, from_key, tags, reason, domain, ${COUNT_COLUMNS})
           SELECT space_id, day, from_key, tags, reason, domain, ${COUNT_COLUMNS}
           FROM json_to_recordset($1::text::json) AS x(space_id bigint, day text, from_key text, tags text, reason text, domain text, ${COUNT_TYPES})
           ON CONFLICT (space_id, day, from_key, tags, reason, domain) DO UPDATE SET ${COUNT_ADDS}`,
          [JSON.stringify(buckets.map(bucketRow))],
        );
      }
      const events = (await tx`DELETE FROM events WHERE send_id IN (${inBatch()})`).count;
      await tx`DELETE FROM send_recipients WHERE send_id IN (${inBatch()})`;
      await tx`DELETE FROM send_tags WHERE send_id IN (${inBatch()})`;
      const deleted = (await tx`DELETE FROM sends WHERE id IN (${inBatch()})`).count;
      return { sends: deleted, events, buckets: buckets.length };
    });
  }

  countPurgeable(spaceId: number | null, beforeMs: number): Promise<PurgeableRows> {
    return this.db.run(async (sql) => {
      const where = purgeConditions(sql, spaceId, beforeMs);
      const [row] = await sql<{ n: number; oldest: number | null; newest: number | null; events: number }[]>`
        SELECT count(*) AS n, min(received_at) AS oldest, max(received_at) AS newest,
          (SELECT count(*) FROM events WHERE send_id IN (SELECT id FROM sends ${where})) AS events
        FROM sends ${where}`;
      return { sends: row?.n ?? 0, events: row?.events ?? 0, oldestMs: row?.oldest ?? null, newestMs: row?.newest ?? null };
    });
  }

  purgeWebhookDeliveries(beforeMs: number, limit: number): Promise<number> {
    return this.db.run(
      async (sql) =>
        (
          await sql`
            DELETE FROM webhook_outbox WHERE id IN (
              SELECT id FROM webhook_outbox WHERE status IN ('delivered', 'expired') AND done_at < ${beforeMs}
              ORDER BY id LIMIT ${limit} FOR UPDATE SKIP LOCKED)`
        ).count,
    );
  }

  reportDays(query: ReportDayQuery): Promise<ReportDay[]> {
    return this.db.run(async (sql) => {
      const conditions = [sql`space_id = ${query.spaceId}`];
      if (query.fromKey !== null) conditions.push(sql`from_key = ${query.fromKey}`);
      if (query.fromDay !== null) conditions.push(sql`day >= ${query.fromDay}`);
      if (query.toDay !== null) conditions.push(sql`day <= ${query.toDay}`);
      const rows = await sql<DayRow[]>`
        SELECT day, from_key, tags, reason, domain, ${sql.unsafe(COUNT_COLUMNS)} FROM report_days ${whereOf(sql, conditions)}
        ORDER BY day COLLATE "C", from_key COLLATE "C", tags COLLATE "C", reason COLLATE "C", domain COLLATE "C"`;
      return rows.map((r) => ({
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
