/**
 * The aggregate report of the PostgreSQL backend (SendBackend.report): one parameterised
 * statement per report, the filters that are present composed into a fixed skeleton
 * (sql-where.ts). The numbers are defined in src/reports/report.ts and the statement has the
 * shape of the SQLite one (../sqlite/report-query.ts), in PostgreSQL's words:
 *   base  — the matching sends of the space joined to their To recipient, with its bounce
 *           reason and whether that reason is one of query.blockedReasons (one JSON array
 *           parameter);
 *   ev    — per send, flags and counts from its events; events about a recipient (bounced /
 *           deferred / complained) count only when their recipient's key (events.recipient_key,
 *           written with the event) equals the To's key;
 *   m     — base + ev, one row per send;
 *   then one SELECT per grouping and one for the total row, joined with UNION ALL.
 * Days are UTC calendar days. Keys sort bytewise (COLLATE "C"), as SQLite's BINARY does.
 *
 * Throws: nothing of its own; client errors propagate (PgDatabase.run maps them).
 */
import type postgres from 'postgres';
import type { ReportQuery } from '../backend.js';
import type { ReportGroupBy, ReportRow } from '../send-store.js';
import type { PgRunner } from './database.js';
import { sendFilterConditions, whereOf } from './sql-where.js';

interface RawReportRow {
  grp: ReportGroupBy | 'total';
  key: string | null;
  sends: number;
  delivered: number;
  deferred: number;
  bounced_hard: number;
  bounced_soft: number;
  blocked: number;
  suppressed_bounce: number;
  suppressed_unsubscribe: number;
  opened_unique: number;
  opened_total: number;
  opened_machine: number;
  clicked_unique: number;
  clicked_total: number;
  clicked_machine: number;
  complained: number;
}

/** The aggregate columns, the same for every row. */
export function aggregates(sql: PgRunner): postgres.Fragment {
  return sql`
    count(*) AS sends,
    count(*) FILTER (WHERE m.status = 'delivered') AS delivered,
    count(*) FILTER (WHERE m.status = 'deferred') AS deferred,
    count(*) FILTER (WHERE m.hard) AS bounced_hard,
    count(*) FILTER (WHERE m.soft) AS bounced_soft,
    count(*) FILTER (WHERE m.status = 'bounced' AND m.blocked) AS blocked,
    count(*) FILTER (WHERE m.status = 'suppressed' AND m.suppressed_by = 'bounce') AS suppressed_bounce,
    count(*) FILTER (WHERE m.status = 'suppressed' AND m.suppressed_by = 'unsubscribe') AS suppressed_unsubscribe,
    count(*) FILTER (WHERE m.opens > 0 OR m.clicks > 0) AS opened_unique,
    coalesce(sum(m.opens), 0)::bigint AS opened_total,
    coalesce(sum(m.opens_machine), 0)::bigint AS opened_machine,
    count(*) FILTER (WHERE m.clicks > 0) AS clicked_unique,
    coalesce(sum(m.clicks), 0)::bigint AS clicked_total,
    coalesce(sum(m.clicks_machine), 0)::bigint AS clicked_machine,
    count(*) FILTER (WHERE m.complained) AS complained`;
}

/*
 * A 'bounced' event is hard unless its detail says kind "soft"; a soft bounce is a 'deferred'
 * event or a 'bounced' event with kind "soft". Only JSON true in detail.machine marks machine
 * traffic (as in countEvents).
 */
export function eventsCte(sql: PgRunner): postgres.Fragment {
  return sql`
ev AS (
  SELECT x.send_id,
    bool_or(x.type = 'bounced' AND NOT x.soft AND x.to_match) AS hard,
    bool_or((x.type = 'deferred' OR (x.type = 'bounced' AND x.soft)) AND x.to_match) AS soft,
    bool_or(x.type = 'complained' AND x.to_match) AS complained,
    count(*) FILTER (WHERE x.type = 'opened' AND NOT x.machine) AS opens,
    count(*) FILTER (WHERE x.type = 'opened' AND x.machine) AS opens_machine,
    count(*) FILTER (WHERE x.type = 'clicked' AND NOT x.machine) AS clicks,
    count(*) FILTER (WHERE x.type = 'clicked' AND x.machine) AS clicks_machine
  FROM (
    SELECT e.send_id, e.type,
      coalesce(e.type = 'bounced' AND e.detail->>'kind' = 'soft', false) AS soft,
      coalesce(e.type IN ('opened', 'clicked') AND json_typeof(e.detail->'machine') = 'boolean' AND e.detail->>'machine' = 'true', false) AS machine,
      (e.type IN ('bounced', 'deferred', 'complained') AND e.recipient_key = b.to_key) AS to_match
    FROM base b JOIN events e ON e.send_id = b.id
    WHERE e.type IN ('bounced', 'deferred', 'complained', 'opened', 'clicked')
  ) x
  GROUP BY x.send_id
),
m AS MATERIALIZED (
  SELECT b.id, b.received_at, b.from_key, b.status, b.suppressed_by, b.reason, b.to_key, b.blocked,
    coalesce(ev.hard, false) AS hard, coalesce(ev.soft, false) AS soft, coalesce(ev.complained, false) AS complained,
    coalesce(ev.opens, 0) AS opens, coalesce(ev.opens_machine, 0) AS opens_machine,
    coalesce(ev.clicks, 0) AS clicks, coalesce(ev.clicks_machine, 0) AS clicks_machine
  FROM base b LEFT JOIN ev ON ev.send_id = b.id
)`;
}

function groupSelect(sql: PgRunner, groupBy: ReportGroupBy): postgres.Fragment {
  switch (groupBy) {
    case 'day':
      // received_at is non-negative milliseconds: integer division floors to the second.
      return sql`SELECT 'day' AS grp, to_char(to_timestamp((m.received_at / 1000)::double precision) AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS key,
        0 AS ord, ${aggregates(sql)} FROM m GROUP BY 2`;
    case 'from':
      return sql`SELECT 'from' AS grp, m.from_key AS key, 0 AS ord, ${aggregates(sql)} FROM m GROUP BY 2`;
    case 'tag':
      // A send with several tags is in each of their groups; one without tags in the null group.
      return sql`SELECT 'tag' AS grp, t.tag AS key, 0 AS ord, ${aggregates(sql)} FROM m LEFT JOIN send_tags t ON t.send_id = m.id GROUP BY 2`;
    case 'reason':
      // The To recipient's bounce reason (null: none).
      return sql`SELECT 'reason' AS grp, m.reason AS key, 0 AS ord, ${aggregates(sql)} FROM m GROUP BY 2`;
    case 'domain':
      // The receiving domain: the To's key after its last '@' (the whole key if it has none).
      return sql`SELECT 'domain' AS grp, reverse(split_part(reverse(m.to_key), '@', 1)) AS key, 0 AS ord, ${aggregates(sql)} FROM m GROUP BY 2`;
  }
}

function rowFrom(r: RawReportRow): ReportRow {
  return {
    group: r.grp,
    key: r.key,
    sends: r.sends,
    delivered: r.delivered,
    deferred: r.deferred,
    bouncedHard: r.bounced_hard,
    bouncedSoft: r.bounced_soft,
    blocked: r.blocked,
    suppressedBounce: r.suppressed_bounce,
    suppressedUnsubscribe: r.suppressed_unsubscribe,
    openedUnique: r.opened_unique,
    openedTotal: r.opened_total,
    openedMachine: r.opened_machine,
    clickedUnique: r.clicked_unique,
    clickedTotal: r.clicked_total,
    clickedMachine: r.clicked_machine,
    complained: r.complained,
  };
}

/** Runs a report on `sql`. */
export async function runReport(sql: PgRunner, query: ReportQuery, groupBy: ReportGroupBy | null): Promise<ReportRow[]> {
  // The report always has a space (tenants never see each other's sends); a send Postfix never
  // queued (not_queued_at) is not part of any count.
  const where = whereOf(sql, [...sendFilterConditions(sql, query), sql`s.not_queued_at IS NULL`]);
  const total = sql`SELECT 'total' AS grp, NULL::text AS key, 1 AS ord, ${aggregates(sql)} FROM m`;
  const selects = groupBy === null ? total : sql`${groupSelect(sql, groupBy)} UNION ALL ${total}`;
  const rows = await sql<RawReportRow[]>`
    WITH base AS MATERIALIZED (
      SELECT s.id, s.received_at, s.from_key, s.status, r.suppressed_by, r.address_key AS to_key, r.reason,
        coalesce(r.reason IN (SELECT json_array_elements_text(${JSON.stringify(query.blockedReasons)}::text::json)), false) AS blocked
      FROM sends s JOIN send_recipients r ON r.send_id = s.id AND r.role = 'to' ${where}
    ), ${eventsCte(sql)}
    SELECT grp, key, sends, delivered, deferred, bounced_hard, bounced_soft, blocked, suppressed_bounce, suppressed_unsubscribe,
      opened_unique, opened_total, opened_machine, clicked_unique, clicked_total, clicked_machine, complained
    FROM (${selects}) t ORDER BY ord, key IS NULL, key COLLATE "C"`;
  return rows.map(rowFrom);
}
