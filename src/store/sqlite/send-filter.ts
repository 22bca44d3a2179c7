/**
 * The WHERE clauses of a send filter over `sends s` (space, From key, date range, tags —
 * every tag must be on the send), shared by listSends (sends.ts) and the report
 * (report-query.ts) so both select the same sends for the same filter, and the search terms of
 * listSends (recipient, Message-ID, status, To's reason, the search box's text), each through
 * an index (migration 8: sends.message_id, send_recipients.address_key). The filter arrives
 * validated and keyed (SendQuery, SendSearch, ../backend.ts).
 *
 * Pure. Throws nothing.
 */
import type { SendQuery, SendSearch } from '../backend.js';
import { SqlWhere } from './sql-where.js';

/**
 * `spaceIndex: false` writes the space condition as `+s.space_id` so SQLite does not drive the
 * query from the space's sends (sends_space_time, which also gives the order): a selective
 * search term's index (a recipient, a Message-ID, an id) must, or a rare recipient would cost a
 * scan of the whole space. Measured with EXPLAIN QUERY PLAN on a schema without statistics.
 */
export function sendFilterWhere(q: SendQuery, opts: { spaceIndex?: boolean } = {}): SqlWhere {
  const where = new SqlWhere()
    .andIf(opts.spaceIndex === false ? '+s.space_id = ?' : 's.space_id = ?', q.spaceId)
    .andIf('s.from_key = ?', q.fromKey)
    .andIf('s.received_at >= ?', q.sinceMs)
    .andIf('s.received_at < ?', q.untilMs);
  for (const tag of q.tags) where.and('s.id IN (SELECT send_id FROM send_tags WHERE tag = ?)', tag);
  return where;
}

/** True when the search has a term an index finds few sends by (recipient, Message-ID, text). */
export function selectiveSearch(q: SendSearch): boolean {
  return q.recipientKey !== null || q.messageId !== null || q.text !== null;
}

/** Adds the search conditions of a page of sends to `where`. */
export function sendSearchWhere(where: SqlWhere, q: SendSearch): SqlWhere {
  where
    .andIf('s.id IN (SELECT send_id FROM send_recipients WHERE address_key = ?)', q.recipientKey)
    .andIf('s.message_id = ?', q.messageId)
    .andIf('s.status = ?', q.status)
    .andIf("EXISTS (SELECT 1 FROM send_recipients r WHERE r.send_id = s.id AND r.role = 'to' AND r.reason = ?)", q.reason);
  if (q.text !== null) {
    const t = q.text;
    // Each branch is an index lookup (sends' key, sends_message_id, send_recipients_key).
    if (t.messageId === null) {
      where.and('s.id IN (SELECT ? UNION SELECT send_id FROM send_recipients WHERE address_key = ?)', t.id, t.key);
    } else {
      where.and(
        's.id IN (SELECT ? UNION SELECT id FROM sends WHERE message_id = ? UNION SELECT send_id FROM send_recipients WHERE address_key = ?)',
        t.id,
        t.messageId,
        t.key,
      );
    }
  }
  return where;
}
