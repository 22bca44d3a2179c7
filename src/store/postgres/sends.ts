/**
 * PostgreSQL backend of the sends aggregate (SendBackend in ../backend.ts): sends, send_tags,
 * send_recipients and events, the open/click counts and the report (report-query.ts). Only
 * SQL: the neutral layer (../neutral/sends.ts) has checked the send's invariants, keyed its
 * addresses and decided which webhook deliveries to queue; insertSends (a group of sends, see
 * ../neutral/group-commit.ts) and insertEvent write them with the outbox module (outbox.ts) in
 * their own transaction.
 *
 * Concurrency (several nodes share the database): a duplicate send id is found with ON
 * CONFLICT DO NOTHING (the transaction goes on, nothing fails); changes to one send
 * (recipient status, delete) lock its sends row first, so the send's status always follows
 * the To recipient's committed status; insertEvent holds the send FOR SHARE so a concurrent
 * delete waits; markNotQueued takes its sends FOR UPDATE SKIP LOCKED, so two followers never
 * mark the same send twice.
 *
 * Many-value parameters (tags, recipients, ids of a page of sends, event counts) go as one
 * JSON parameter: one statement whatever their number.
 *
 * Throws: what PgDatabase.run maps (TransientError, InvariantError); InvariantError for a
 * stored list that is not a JSON array of strings. Unknown space, foreign user, duplicate id
 * and unknown send are results, not errors.
 */
import type postgres from 'postgres';
import type { BounceReason } from '../../core/bounce-reason.js';
import type { FlagSource, SuppressionList } from '../../core/types.js';
import { InvariantError } from '../../lib/errors.js';
import type { DeliveryRecord, EventCountRow, EventRecord, InsertSendResult, ReportQuery, SendBackend, SendInsert, SendPage, SendRecord, SentCount } from '../backend.js';
import { parseDetail, parseStringArray } from '../json-columns.js';
import type { EventType, RecipientStatus, ReportGroupBy, ReportRow, Send, SendEvent, SendRecipient, SendStatus } from '../send-store.js';
import type { PgDatabase, PgRunner, PgTx } from './database.js';
import type { PgOutbox } from './outbox.js';
import { countSentIn } from './sending.js';
import { runReport } from './report-query.js';
import { sendFilterConditions, sendSearchConditions, whereOf } from './sql-where.js';
import { merged } from '../../lib/merged.js';

interface SendRow {
  id: string;
  space_id: number;
  user_id: number;
  mail_from: string;
  envelope_sender: string;
  from_addr: string;
  to_addr: string;
  bcc: string | null;
  discarded: string;
  tags: string;
  flags: number;
  flags_source: FlagSource;
  received_at: number;
  status: SendStatus;
  not_queued_at: number | null;
  not_queued_reason: string | null;
  log_seen_at: number | null;
  node: string | null;
  message_id: string | null;
}
interface RecipientRow {
  send_id: string;
  address: string;
  role: SendRecipient['role'];
  status: SendRecipient['status'];
  suppressed_by: SuppressionList | null;
  detail: string | null;
  reason: BounceReason | null;
}
interface EventRow {
  id: number;
  send_id: string;
  recipient: string;
  type: EventType;
  at: number;
  detail: string;
}

function sendCols(sql: PgRunner): postgres.Fragment {
  return sql`s.id, s.space_id, s.user_id, s.mail_from, s.envelope_sender, s.from_addr, s.to_addr, s.bcc,
    s.discarded::text AS discarded, s.tags::text AS tags, s.flags, s.flags_source, s.received_at, s.status,
    s.not_queued_at, s.not_queued_reason, s.log_seen_at, s.node, s.message_id`;
}

function recipientFrom(r: RecipientRow): SendRecipient {
  return {
    address: r.address,
    role: r.role,
    status: r.status,
    suppressedBy: r.suppressed_by,
    detail: r.detail,
    ...(r.reason !== null ? { reason: r.reason } : {}),
  };
}

function sendFrom(r: SendRow, recipients: SendRecipient[]): Send {
  return {
    id: r.id,
    spaceId: r.space_id,
    userId: r.user_id,
    mailFrom: r.mail_from,
    envelopeSender: r.envelope_sender,
    from: r.from_addr,
    to: r.to_addr,
    bcc: r.bcc,
    discarded: parseStringArray(r.discarded, 'discarded list'),
    tags: parseStringArray(r.tags, 'tag list'),
    flags: r.flags,
    flagsSource: r.flags_source,
    receivedAt: new Date(r.received_at),
    recipients,
    status: r.status,
    ...(r.not_queued_at !== null ? { notQueued: { at: new Date(r.not_queued_at), reason: r.not_queued_reason ?? '' } } : {}),
    ...(r.log_seen_at !== null ? { loggedAt: new Date(r.log_seen_at) } : {}),
    ...(r.node !== null ? { node: r.node } : {}),
    ...(r.message_id !== null ? { messageId: r.message_id } : {}),
  };
}

function eventFrom(r: EventRow): SendEvent {
  return { id: r.id, sendId: r.send_id, recipient: r.recipient, type: r.type, at: new Date(r.at), detail: parseDetail(r.detail) };
}

/** `ids` as a JSON array parameter's elements, for `IN (...)`. */
function jsonIds(sql: PgRunner, ids: readonly string[]): postgres.Fragment {
  return sql`SELECT json_array_elements_text(${JSON.stringify(ids)}::text::json)`;
}

/** A send's recipients with their keys, as the JSON text insertSends expands (InvariantError: a key missing). */
function recipientsJson(record: SendRecord): string {
  const s = record.send;
  return JSON.stringify(
    s.recipients.map((r, position) => {
      const key = record.recipientKeys[position];
      if (key === undefined) throw new InvariantError(`send ${s.id}: no key for recipient ${position}`);
      return { address: r.address, key, role: r.role, status: r.status, suppressedBy: r.suppressedBy, detail: r.detail };
    }),
  );
}

export class PgSends implements SendBackend {
  constructor(
    private readonly db: PgDatabase,
    private readonly outbox: PgOutbox,
  ) {}

  /**
   * The sends' statements are issued together on the transaction's connection, so the client
   * pipelines them (porsager/postgres): a group costs the round trips of one send, not of each.
   * Each send's own statements stay in order; the server runs them in the order issued.
   */
  insertSends(sends: readonly SendInsert[]): Promise<InsertSendResult[]> {
    return this.db.transaction(async (tx) => {
      const results = await Promise.all(sends.map((s) => this.insertOne(tx, s.record, recipientsJson(s.record), s.deliveries)));
      // The recorded sends' counts, summed per space and bucket and added in that order: every
      // node's transactions lock space_usage rows in the same order (no deadlock between nodes).
      const counts = new Map<string, { spaceId: number; c: SentCount }>();
      sends.forEach((s, i) => {
        const c = s.sentCount;
        if (results[i] !== 'recorded' || c === null || c.count <= 0) return;
        const spaceId = s.record.send.spaceId;
        const had = counts.get(`${spaceId}:${c.bucketMs}`);
        counts.set(`${spaceId}:${c.bucketMs}`, { spaceId, c: had ? merged(c, { count: had.c.count + c.count }) : c });
      });
      const ordered = [...counts.values()].sort((x, y) => x.spaceId - y.spaceId || x.c.bucketMs - y.c.bucketMs);
      for (const { spaceId, c } of ordered) await countSentIn(tx, spaceId, c);
      return results;
    });
  }

  private async insertOne(tx: PgTx, record: SendRecord, recipients: string, deliveries: readonly DeliveryRecord[]): Promise<InsertSendResult> {
    const s = record.send;
    // The user's space is the send's: then the space exists (one statement); else which one it is.
    const [user] = await tx<{ space_id: number }[]>`SELECT space_id FROM users WHERE id = ${s.userId} FOR SHARE`;
    if (user?.space_id !== s.spaceId) return (await tx`SELECT 1 AS one FROM spaces WHERE id = ${s.spaceId}`).length === 0 ? 'unknown-space' : 'foreign-user';
    const inserted = await tx`
      INSERT INTO sends (id, space_id, user_id, mail_from, envelope_sender, from_addr, from_key, to_addr, bcc,
        discarded, tags, flags, flags_source, received_at, status, node, message_id)
      VALUES (${s.id}, ${s.spaceId}, ${s.userId}, ${s.mailFrom}, ${s.envelopeSender}, ${s.from}, ${record.fromKey}, ${s.to}, ${s.bcc},
        ${JSON.stringify(s.discarded)}::text::json, ${JSON.stringify(s.tags)}::text::json, ${s.flags}, ${s.flagsSource}, ${record.receivedAtMs},
        ${record.status}, ${s.node ?? null}, ${s.messageId ?? null})
      ON CONFLICT (id) DO NOTHING RETURNING seq`;
    if (inserted.length === 0) return 'duplicate-id';
    if (s.tags.length > 0) {
      await tx`
        INSERT INTO send_tags (send_id, tag) SELECT ${s.id}, t FROM json_array_elements_text(${JSON.stringify(s.tags)}::text::json) AS t
        ON CONFLICT DO NOTHING`;
    }
    await tx`
      INSERT INTO send_recipients (send_id, position, address, address_key, role, status, suppressed_by, detail)
      SELECT ${s.id}, (r.ord - 1)::integer, r.x->>'address', r.x->>'key', r.x->>'role', r.x->>'status', r.x->>'suppressedBy', r.x->>'detail'
      FROM json_array_elements(${recipients}::text::json) WITH ORDINALITY AS r(x, ord)`;
    for (const e of record.events) {
      await tx`
        INSERT INTO events (send_id, recipient, recipient_key, type, at, detail)
        VALUES (${e.sendId}, ${e.recipient}, ${e.recipientKey}, ${e.type}, ${e.atMs}, ${e.detailJson}::text::json)`;
    }
    await this.outbox.queue(tx, s.spaceId, deliveries);
    return 'recorded';
  }

  /** Attaches recipients to send rows (one query for the whole page). */
  private async withRecipients(sql: PgRunner, rows: readonly SendRow[]): Promise<Send[]> {
    if (rows.length === 0) return [];
    const bySend = new Map<string, SendRecipient[]>();
    const recipients = await sql<RecipientRow[]>`
      SELECT send_id, address, role, status, suppressed_by, detail, reason FROM send_recipients
      WHERE send_id IN (${jsonIds(sql, rows.map((s) => s.id))}) ORDER BY send_id, position`;
    for (const r of recipients) {
      const list = bySend.get(r.send_id);
      if (list) list.push(recipientFrom(r));
      else bySend.set(r.send_id, [recipientFrom(r)]);
    }
    return rows.map((s) => sendFrom(s, bySend.get(s.id) ?? []));
  }

  getSend(id: string, spaceId: number | null): Promise<Send | null> {
    return this.db.run(async (sql) => {
      const rows =
        spaceId === null
          ? await sql<SendRow[]>`SELECT ${sendCols(sql)} FROM sends s WHERE s.id = ${id}`
          : await sql<SendRow[]>`SELECT ${sendCols(sql)} FROM sends s WHERE s.id = ${id} AND s.space_id = ${spaceId}`;
      return (await this.withRecipients(sql, rows))[0] ?? null;
    });
  }

  listSends(page: SendPage): Promise<Send[]> {
    return this.db.run(async (sql) => {
      const conditions = [...sendFilterConditions(sql, page), ...sendSearchConditions(sql, page.search)];
      if (page.before !== null) {
        const t = page.before.receivedAtMs;
        // The same-millisecond tie is broken by seq, as in the ORDER BY; the cursor's send is
        // looked up in the same space only.
        const sameSpace = page.spaceId !== null ? sql`AND c.space_id = s.space_id` : sql``;
        conditions.push(
          sql`(s.received_at < ${t} OR (s.received_at = ${t} AND s.seq < (SELECT c.seq FROM sends c WHERE c.id = ${page.before.id} ${sameSpace})))`,
        );
      }
      const rows = await sql<SendRow[]>`
        SELECT ${sendCols(sql)} FROM sends s ${whereOf(sql, conditions)}
        ORDER BY s.received_at DESC, s.seq DESC LIMIT ${page.limit} OFFSET ${page.offset}`;
      return await this.withRecipients(sql, rows);
    });
  }

  setSendInLog(sendId: string, atMs: number): Promise<boolean> {
    return this.db.run(async (sql) => (await sql`UPDATE sends SET log_seen_at = ${atMs} WHERE id = ${sendId} AND log_seen_at IS NULL`).count > 0);
  }

  markNotQueued(node: string, sinceMs: number, beforeMs: number, atMs: number, reason: string, limit: number): Promise<string[]> {
    return this.db.transaction(async (tx) => {
      const ids = (
        await tx<{ id: string }[]>`
          SELECT id FROM sends
          WHERE (node = ${node} OR node IS NULL) AND received_at >= ${sinceMs} AND received_at < ${beforeMs} AND log_seen_at IS NULL AND not_queued_at IS NULL AND status = 'queued'
          ORDER BY received_at, seq LIMIT ${limit} FOR UPDATE SKIP LOCKED`
      ).map((r) => r.id);
      if (ids.length > 0) {
        await tx`UPDATE sends SET not_queued_at = ${atMs}, not_queued_reason = ${reason} WHERE id IN (${jsonIds(tx, ids)})`;
      }
      return ids;
    });
  }

  report(query: ReportQuery, groupBy: ReportGroupBy | null): Promise<ReportRow[]> {
    return this.db.run((sql) => runReport(sql, query, groupBy));
  }

  updateRecipientStatus(sendId: string, addressKey: string, status: RecipientStatus, detail: string | null, reason: string | null): Promise<boolean> {
    return this.db.transaction(async (tx) => {
      if ((await tx`SELECT 1 AS one FROM sends WHERE id = ${sendId} FOR UPDATE`).length === 0) return false;
      const changed = (
        await tx`
          UPDATE send_recipients SET status = ${status}, detail = ${detail}, reason = ${reason}
          WHERE send_id = ${sendId} AND address_key = ${addressKey} AND role <> 'discarded'`
      ).count > 0;
      if (changed) {
        await tx`UPDATE sends SET status = (SELECT status FROM send_recipients WHERE send_id = ${sendId} AND role = 'to') WHERE id = ${sendId}`;
      }
      return changed;
    });
  }

  deleteSend(id: string, spaceId: number): Promise<boolean> {
    return this.db.transaction(async (tx) => {
      if ((await tx`SELECT 1 AS one FROM sends WHERE id = ${id} AND space_id = ${spaceId} FOR UPDATE`).length === 0) return false;
      await tx`DELETE FROM webhook_outbox WHERE send_id = ${id} AND space_id = ${spaceId} AND status = 'pending'`;
      await tx`DELETE FROM events WHERE send_id = ${id}`;
      await tx`DELETE FROM send_recipients WHERE send_id = ${id}`;
      await tx`DELETE FROM send_tags WHERE send_id = ${id}`;
      return (await tx`DELETE FROM sends WHERE id = ${id} AND space_id = ${spaceId}`).count > 0;
    });
  }

  insertEvent(event: EventRecord, delivery: DeliveryRecord | null): Promise<number | 'unknown-send'> {
    return this.db.transaction(async (tx) => {
      const [send] = await tx<{ space_id: number }[]>`SELECT space_id FROM sends WHERE id = ${event.sendId} FOR SHARE`;
      if (send === undefined) return 'unknown-send' as const;
      const [row] = await tx<{ id: number }[]>`
        INSERT INTO events (send_id, recipient, recipient_key, type, at, detail)
        VALUES (${event.sendId}, ${event.recipient}, ${event.recipientKey}, ${event.type}, ${event.atMs}, ${event.detailJson}::text::json)
        RETURNING id`;
      if (row === undefined) throw new InvariantError('event vanished after insert');
      if (delivery !== null) await this.outbox.queue(tx, send.space_id, [delivery]);
      return row.id;
    });
  }

  listEvents(sendId: string): Promise<SendEvent[]> {
    return this.db.run(async (sql) =>
      (
        await sql<EventRow[]>`SELECT id, send_id, recipient, type, at, detail::text AS detail FROM events WHERE send_id = ${sendId} ORDER BY at, id`
      ).map(eventFrom),
    );
  }

  countEvents(sendIds: readonly string[]): Promise<EventCountRow[]> {
    return this.db.run(async (sql) => {
      // Only JSON true is machine traffic: "machine": 1 or "true" are not.
      const rows = await sql<{ send_id: string; type: 'opened' | 'clicked'; machine: boolean; n: number }[]>`
        SELECT send_id, type, coalesce(json_typeof(detail->'machine') = 'boolean' AND detail->>'machine' = 'true', false) AS machine,
          count(*) AS n
        FROM events WHERE send_id IN (${jsonIds(sql, sendIds)}) AND type IN ('opened', 'clicked') GROUP BY 1, 2, 3`;
      return rows.map((r) => ({ sendId: r.send_id, type: r.type, machine: r.machine, n: r.n }));
    });
  }
}
