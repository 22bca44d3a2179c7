/**
 * Dynamic WHERE clauses of the PostgreSQL backend (send filters for listSends and reports,
 * the delivery filter of listDeliveries) and the send filter itself, built from the client's
 * query fragments: every value stays a parameter, and a statement's text depends only on
 * which conditions are present (prepared statements are reused per combination).
 *
 * Pure. Throws nothing.
 */
import type postgres from 'postgres';
import type { SendQuery, SendSearch } from '../backend.js';
import type { PgRunner } from './database.js';

/** ' WHERE a AND b' of the conditions, or an empty fragment without any. */
export function whereOf(sql: PgRunner, conditions: readonly postgres.Fragment[]): postgres.Fragment {
  const [first, ...rest] = conditions;
  if (first === undefined) return sql``;
  return sql`WHERE ${rest.reduce((acc, c) => sql`${acc} AND ${c}`, first)}`;
}

/**
 * The conditions of a send filter over `sends s` (space, From key, date range, tags — every
 * tag must be on the send), shared by listSends (sends.ts) and the report (report-query.ts)
 * so both select the same sends for the same filter.
 */
export function sendFilterConditions(sql: PgRunner, q: SendQuery): postgres.Fragment[] {
  const conditions: postgres.Fragment[] = [];
  if (q.spaceId !== null) conditions.push(sql`s.space_id = ${q.spaceId}`);
  if (q.fromKey !== null) conditions.push(sql`s.from_key = ${q.fromKey}`);
  if (q.sinceMs !== null) conditions.push(sql`s.received_at >= ${q.sinceMs}`);
  if (q.untilMs !== null) conditions.push(sql`s.received_at < ${q.untilMs}`);
  for (const tag of q.tags) conditions.push(sql`s.id IN (SELECT send_id FROM send_tags WHERE tag = ${tag})`);
  return conditions;
}

/**
 * The search conditions of a page of sends (listSends): recipient, Message-ID, status, the
 * To's reason, the search box's text; each an index lookup (migration 3).
 */
export function sendSearchConditions(sql: PgRunner, q: SendSearch): postgres.Fragment[] {
  const conditions: postgres.Fragment[] = [];
  if (q.recipientKey !== null) conditions.push(sql`s.id IN (SELECT send_id FROM send_recipients WHERE address_key = ${q.recipientKey})`);
  if (q.messageId !== null) conditions.push(sql`s.message_id = ${q.messageId}`);
  if (q.status !== null) conditions.push(sql`s.status = ${q.status}`);
  if (q.reason !== null) {
    conditions.push(sql`EXISTS (SELECT 1 FROM send_recipients r WHERE r.send_id = s.id AND r.role = 'to' AND r.reason = ${q.reason})`);
  }
  const t = q.text;
  if (t !== null) {
    const byMessageId = t.messageId === null ? sql`` : sql`UNION SELECT id FROM sends WHERE message_id = ${t.messageId}`;
    conditions.push(sql`s.id IN (SELECT ${t.id}::text ${byMessageId} UNION SELECT send_id FROM send_recipients WHERE address_key = ${t.key})`);
  }
  return conditions;
}
