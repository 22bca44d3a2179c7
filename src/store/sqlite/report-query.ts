/**
 * The aggregate report of the SQLite backend (SendBackend.report): one parameterised
 * statement per report, built from a fixed skeleton plus the filters that are present
 * (send-filter.ts), prepared once per distinct text and cached by SqliteDatabase (the number
 * of texts is bounded: 6 groupings × from/since/until present or not × 0..MAX_TAGS tag
 * conditions). The filter arrives validated from the neutral layer.
 *
 * The numbers are defined in src/reports/report.ts; this is their SQL. Shape of the statement:
 *   base  — the matching sends of the space joined to their To recipient, with its bounce
 *           reason and whether that reason is one of query.blockedReasons (indexes:
 *           sends_space_time / sends_space_from_time, send_tags_tag for each tag,
 *           send_recipients' primary key);
 *   ev    — per send, flags and counts from its events (events_send_time by send id); events
 *           that are about a recipient (bounced / deferred / complained) count only when their
 *           recipient's key equals the To's key (trxmail_address_key(), registered by
 *           registerReportFunctions: the loose key the recipient rows are keyed by,
 *           ../address-key.ts);
 *   m     — base + ev, one row per send;
 *   then one SELECT per grouping and one for the total row, joined with UNION ALL.
 *
 * Throws: nothing of its own; SQLite errors propagate (SqliteDatabase.run maps them).
 */
import type Database from 'better-sqlite3';
import { looseAddressKey } from '../address-key.js';
import type { ReportQuery } from '../backend.js';
import type { ReportGroupBy, ReportRow } from '../send-store.js';
import type { SqlParam, SqliteDatabase } from './database.js';
import { sendFilterWhere } from './send-filter.js';

/** Name of the SQL function giving an address's key (same as send_recipients.address_key). */
export const ADDRESS_KEY_FUNCTION = 'trxmail_address_key';

/** Registers the SQL functions the report uses on a connection (call once, at open). */
export function registerReportFunctions(db: Database.Database): void {
  db.function(ADDRESS_KEY_FUNCTION, { deterministic: true }, (value: unknown) =>
    typeof value === 'string' ? looseAddressKey(value) : null,
  );
}

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
export const AGGREGATES = `
  count(*) AS sends,
  coalesce(sum(m.status = 'delivered'), 0) AS delivered,
  coalesce(sum(m.status = 'deferred'), 0) AS deferred,
  coalesce(sum(m.hard), 0) AS bounced_hard,
  coalesce(sum(m.soft), 0) AS bounced_soft,
  coalesce(sum(m.status = 'bounced' AND m.blocked), 0) AS blocked,
  coalesce(sum(m.status = 'suppressed' AND m.suppressed_by IS 'bounce'), 0) AS suppressed_bounce,
  coalesce(sum(m.status = 'suppressed' AND m.suppressed_by IS 'unsubscribe'), 0) AS suppressed_unsubscribe,
  coalesce(sum(m.opens > 0 OR m.clicks > 0), 0) AS opened_unique,
  coalesce(sum(m.opens), 0) AS opened_total,
  coalesce(sum(m.opens_machine), 0) AS opened_machine,
  coalesce(sum(m.clicks > 0), 0) AS clicked_unique,
  coalesce(sum(m.clicks), 0) AS clicked_total,
  coalesce(sum(m.clicks_machine), 0) AS clicked_machine,
  coalesce(sum(m.complained), 0) AS complained`;

/*
 * A 'bounced' event is hard unless its detail says kind "soft" (Postfix's status=bounced log
 * line carries no kind and is permanent). A soft bounce is a 'deferred' event (a DSN with
 * action delayed, or Postfix's status=deferred) or a 'bounced' event with kind "soft".
 * json_type(...) IS 'true': only JSON true marks machine traffic (as in eventCounts).
 */
export const EVENTS_CTE = `
ev AS (
  SELECT x.send_id,
    max(x.type = 'bounced' AND NOT x.soft AND x.to_match) AS hard,
    max((x.type = 'deferred' OR (x.type = 'bounced' AND x.soft)) AND x.to_match) AS soft,
    max(x.type = 'complained' AND x.to_match) AS complained,
    sum(x.type = 'opened' AND NOT x.machine) AS opens,
    sum(x.type = 'opened' AND x.machine) AS opens_machine,
    sum(x.type = 'clicked' AND NOT x.machine) AS clicks,
    sum(x.type = 'clicked' AND x.machine) AS clicks_machine
  FROM (
    SELECT e.send_id, e.type,
      CASE WHEN e.type = 'bounced' THEN json_extract(e.detail, '$.kind') IS 'soft' ELSE 0 END AS soft,
      CASE WHEN e.type IN ('opened', 'clicked') THEN json_type(e.detail, '$.machine') IS 'true' ELSE 0 END AS machine,
      CASE WHEN e.type IN ('bounced', 'deferred', 'complained')
           THEN ${ADDRESS_KEY_FUNCTION}(e.recipient) IS b.to_key ELSE 0 END AS to_match
    -- CROSS JOIN keeps base outside: the planner, without statistics on the materialised
    -- base, would otherwise scan all events.
    FROM base b CROSS JOIN events e ON e.send_id = b.id
    WHERE e.type IN ('bounced', 'deferred', 'complained', 'opened', 'clicked')
  ) x
  GROUP BY x.send_id
),
m AS MATERIALIZED (
  SELECT b.id, b.received_at, b.from_key, b.status, b.suppressed_by, b.reason, b.to_key, b.blocked,
    coalesce(ev.hard, 0) AS hard, coalesce(ev.soft, 0) AS soft, coalesce(ev.complained, 0) AS complained,
    coalesce(ev.opens, 0) AS opens, coalesce(ev.opens_machine, 0) AS opens_machine,
    coalesce(ev.clicks, 0) AS clicks, coalesce(ev.clicks_machine, 0) AS clicks_machine
  FROM base b LEFT JOIN ev ON ev.send_id = b.id
)`;

const GROUP_SELECT: Readonly<Record<ReportGroupBy, string>> = {
  // received_at is non-negative milliseconds: integer division floors to the second.
  day: `SELECT 'day' AS grp, strftime('%Y-%m-%d', m.received_at / 1000, 'unixepoch') AS key, 0 AS ord, ${AGGREGATES}
        FROM m GROUP BY 2`,
  from: `SELECT 'from' AS grp, m.from_key AS key, 0 AS ord, ${AGGREGATES} FROM m GROUP BY 2`,
  // A send with several tags is in each of their groups; one without tags in the null group.
  tag: `SELECT 'tag' AS grp, t.tag AS key, 0 AS ord, ${AGGREGATES}
        FROM m LEFT JOIN send_tags t ON t.send_id = m.id GROUP BY 2`,
  // The To recipient's bounce reason (null: none).
  reason: `SELECT 'reason' AS grp, m.reason AS key, 0 AS ord, ${AGGREGATES} FROM m GROUP BY 2`,
  // The receiving domain: the To's key after its last '@' (rtrim strips every character that
  // is not '@' from the right, so its length is the position of the last '@').
  domain: `SELECT 'domain' AS grp, substr(m.to_key, length(rtrim(m.to_key, replace(m.to_key, '@', ''))) + 1) AS key, 0 AS ord, ${AGGREGATES}
        FROM m GROUP BY 2`,
};

/** The statement text and its parameters for a filter and grouping. */
export function buildReportQuery(query: ReportQuery, groupBy: ReportGroupBy | null): { text: string; params: SqlParam[] } {
  // The report always has a space (tenants never see each other's sends).
  // A send Postfix never queued (not_queued_at) is not part of any count.
  const where = sendFilterWhere(query).and('s.not_queued_at IS NULL');
  // The blocked reasons come as one JSON array parameter, the first of the statement.
  const base = `
base AS MATERIALIZED (
  SELECT s.id, s.received_at, s.from_key, s.status, r.suppressed_by, r.address_key AS to_key, r.reason,
    coalesce(r.reason IN (SELECT value FROM json_each(?)), 0) AS blocked
  FROM sends s JOIN send_recipients r ON r.send_id = s.id AND r.role = 'to'${where.clause()}
)`;
  const total = `SELECT 'total' AS grp, NULL AS key, 1 AS ord, ${AGGREGATES} FROM m`;
  const selects = groupBy === null ? total : `${GROUP_SELECT[groupBy]} UNION ALL ${total}`;
  const text =
    `WITH ${base}, ${EVENTS_CTE} ` +
    `SELECT grp, key, ${COLUMN_NAMES} FROM (${selects}) ORDER BY ord, key IS NULL, key`;
  return { text, params: [JSON.stringify(query.blockedReasons), ...where.params] };
}

const COLUMN_NAMES =
  'sends, delivered, deferred, bounced_hard, bounced_soft, blocked, suppressed_bounce, suppressed_unsubscribe, ' +
  'opened_unique, opened_total, opened_machine, clicked_unique, clicked_total, clicked_machine, complained';

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

/** Runs a report on the backend's connection (its statement cached by text). */
export function runReport(db: SqliteDatabase, query: ReportQuery, groupBy: ReportGroupBy | null): ReportRow[] {
  const { text, params } = buildReportQuery(query, groupBy);
  return db.cached<RawReportRow>(text).all(...params).map(rowFrom);
}

/** EXPLAIN QUERY PLAN lines of a report (tests check the indexes are used). */
export function reportPlan(db: SqliteDatabase, query: ReportQuery, groupBy: ReportGroupBy | null): string[] {
  const { text, params } = buildReportQuery(query, groupBy);
  return db.db
    .prepare<SqlParam[], { detail: string }>(`EXPLAIN QUERY PLAN ${text}`)
    .all(...params)
    .map((r) => r.detail);
}
