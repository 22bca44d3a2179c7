/**
 * The WHERE clauses of a send filter over `sends s` (space, From key, date range, tags —
 * every tag must be on the send), shared by listSends (sends.ts) and the report
 * (report-query.ts) so both select the same sends for the same filter. The filter arrives
 * validated and keyed (SendQuery, ../backend.ts).
 *
 * Pure. Throws nothing.
 */
import type { SendQuery } from '../backend.js';
import { SqlWhere } from './sql-where.js';

export function sendFilterWhere(q: SendQuery): SqlWhere {
  const where = new SqlWhere()
    .andIf('s.space_id = ?', q.spaceId)
    .andIf('s.from_key = ?', q.fromKey)
    .andIf('s.received_at >= ?', q.sinceMs)
    .andIf('s.received_at < ?', q.untilMs);
  for (const tag of q.tags) where.and('s.id IN (SELECT send_id FROM send_tags WHERE tag = ?)', tag);
  return where;
}
