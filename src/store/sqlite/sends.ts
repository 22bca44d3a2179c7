/**
 * SQLite backend of the sends aggregate (SendBackend in ../backend.ts): sends, send_tags,
 * send_recipients and events, the open/click counts and the report (report-query.ts). Only
 * SQL: the neutral layer (../neutral/sends.ts) has checked the send's invariants, keyed its
 * addresses and decided which webhook deliveries to queue; insertSends (a group of sends, see
 * ../neutral/group-commit.ts) and insertEvent write them with the outbox module (outbox.ts) in
 * their own IMMEDIATE transaction.
 *
 * Many-id lookups (recipients of a page of sends, event counts) pass the ids as one JSON array
 * parameter (json_each): one statement whatever their number.
 *
 * Throws: what SqliteDatabase.run maps (TransientError, InvariantError); InvariantError for a
 * stored list that is not a JSON array of strings. Unknown space, foreign user, duplicate id
 * and unknown send are results, not errors.
 */
import type Database from 'better-sqlite3';
import type { BounceReason } from '../../core/bounce-reason.js';
import type { FlagSource, SuppressionList } from '../../core/types.js';
import { InvariantError } from '../../lib/errors.js';
import type { DeliveryRecord, EventCountRow, EventRecord, InsertSendResult, ReportQuery, SendBackend, SendInsert, SendPage, SendRecord, SentCount } from '../backend.js';
import type { EventType, RecipientStatus, ReportGroupBy, ReportRow, Send, SendEvent, SendRecipient, SendStatus } from '../send-store.js';
import type { SqliteDatabase } from './database.js';
import { parseDetail, parseStringArray } from '../json-columns.js';
import type { SqliteOutbox } from './outbox.js';
import type { SqliteSending } from './sending.js';
import { registerReportFunctions, runReport } from './report-query.js';
import { selectiveSearch, sendFilterWhere, sendSearchWhere } from './send-filter.js';
import { isUniqueViolation } from './sqlite-errors.js';

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

const SEND_COLS =
  's.id, s.space_id, s.user_id, s.mail_from, s.envelope_sender, s.from_addr, s.to_addr, s.bcc, ' +
  's.discarded, s.tags, s.flags, s.flags_source, s.received_at, s.status, s.not_queued_at, s.not_queued_reason, s.log_seen_at, s.node, s.message_id';
const RECIPIENT_COLS = 'send_id, address, role, status, suppressed_by, detail, reason';
const EVENT_COLS = 'id, send_id, recipient, type, at, detail';

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

function prepare(db: Database.Database) {
  return {
    spaceExists: db.prepare<[number], { one: number }>('SELECT 1 AS one FROM spaces WHERE id = ?'),
    userSpace: db.prepare<[number], { space_id: number }>('SELECT space_id FROM users WHERE id = ?'),
    insertSend: db.prepare<
      [string, number, number, string, string, string, string, string, string | null, string, string, number, FlagSource, number, SendStatus, string | null, string | null]
    >(
      'INSERT INTO sends (id, space_id, user_id, mail_from, envelope_sender, from_addr, from_key, to_addr, bcc, ' +
        'discarded, tags, flags, flags_source, received_at, status, node, message_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
    ),
    insertTag: db.prepare<[string, string]>('INSERT OR IGNORE INTO send_tags (send_id, tag) VALUES (?, ?)'),
    insertRecipient: db.prepare<[string, number, string, string, string, string, string | null, string | null]>(
      'INSERT INTO send_recipients (send_id, position, address, address_key, role, status, suppressed_by, detail) ' +
        'VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
    ),
    deleteOutbox: db.prepare<[string, number]>("DELETE FROM webhook_outbox WHERE send_id = ? AND space_id = ? AND status = 'pending'"),
    deleteEvents: db.prepare<[string]>('DELETE FROM events WHERE send_id = ?'),
    deleteRecipients: db.prepare<[string]>('DELETE FROM send_recipients WHERE send_id = ?'),
    deleteTags: db.prepare<[string]>('DELETE FROM send_tags WHERE send_id = ?'),
    deleteSend: db.prepare<[string, number]>('DELETE FROM sends WHERE id = ? AND space_id = ?'),
    getSend: db.prepare<[string], SendRow>(`SELECT ${SEND_COLS} FROM sends s WHERE s.id = ?`),
    getSendInSpace: db.prepare<[string, number], SendRow>(`SELECT ${SEND_COLS} FROM sends s WHERE s.id = ? AND s.space_id = ?`),
    recipientsOf: db.prepare<[string], RecipientRow>(
      `SELECT ${RECIPIENT_COLS} FROM send_recipients WHERE send_id IN (SELECT value FROM json_each(?)) ORDER BY send_id, position`,
    ),
    updateRecipient: db.prepare<[RecipientStatus, string | null, string | null, string, string]>(
      "UPDATE send_recipients SET status = ?, detail = ?, reason = ? WHERE send_id = ? AND address_key = ? AND role <> 'discarded'",
    ),
    syncSendStatus: db.prepare<[string, string]>(
      "UPDATE sends SET status = (SELECT status FROM send_recipients WHERE send_id = ? AND role = 'to') WHERE id = ?",
    ),
    sendSpace: db.prepare<[string], { space_id: number }>('SELECT space_id FROM sends WHERE id = ?'),
    setInLog: db.prepare<[number, string]>('UPDATE sends SET log_seen_at = ? WHERE id = ? AND log_seen_at IS NULL'),
    phantoms: db.prepare<[string, number, number, number], { id: string }>(
      "SELECT id FROM sends WHERE (node = ? OR node IS NULL) AND received_at >= ? AND received_at < ? AND log_seen_at IS NULL AND not_queued_at IS NULL AND status = 'queued' " +
        'ORDER BY received_at, rowid LIMIT ?',
    ),
    markNotQueued: db.prepare<[number, string, string]>('UPDATE sends SET not_queued_at = ?, not_queued_reason = ? WHERE id = ?'),
    insertEvent: db.prepare<[string, string, EventType, number, string]>(
      'INSERT INTO events (send_id, recipient, type, at, detail) VALUES (?, ?, ?, ?, ?)',
    ),
    listEvents: db.prepare<[string], EventRow>(`SELECT ${EVENT_COLS} FROM events WHERE send_id = ? ORDER BY at, id`),
    // json_type is 'true' only for JSON true: "machine": 1 or "true" are not machine traffic.
    countEvents: db.prepare<[string], { send_id: string; type: 'opened' | 'clicked'; machine: number; n: number }>(
      "SELECT send_id, type, json_type(detail, '$.machine') IS 'true' AS machine, count(*) AS n FROM events " +
        "WHERE send_id IN (SELECT value FROM json_each(?)) AND type IN ('opened', 'clicked') GROUP BY send_id, type, machine",
    ),
  };
}

export class SqliteSends implements SendBackend {
  private readonly sql: ReturnType<typeof prepare>;

  constructor(
    private readonly db: SqliteDatabase,
    private readonly outbox: SqliteOutbox,
    private readonly sending: Pick<SqliteSending, 'countSent'>,
  ) {
    this.sql = prepare(db.db);
    registerReportFunctions(db.db);
  }

  insertSends(sends: readonly SendInsert[]): Promise<InsertSendResult[]> {
    return this.db.run(() => this.db.immediate(() => sends.map((s) => this.insertOne(s.record, s.deliveries, s.sentCount))));
  }

  /**
   * One send inside insertSends' transaction. The checks come before any write, and a duplicate
   * id fails the first INSERT, which SQLite undoes alone: a send that is not 'recorded' leaves
   * nothing behind and the transaction goes on for the others.
   */
  private insertOne(record: SendRecord, deliveries: readonly DeliveryRecord[], sentCount: SentCount | null): InsertSendResult {
    const s = record.send;
    // The user's space is the send's: then the space exists (one read); else which one it is.
    if (this.sql.userSpace.get(s.userId)?.space_id !== s.spaceId) return this.sql.spaceExists.get(s.spaceId) === undefined ? 'unknown-space' : 'foreign-user';
    try {
      this.sql.insertSend.run(
        s.id,
        s.spaceId,
        s.userId,
        s.mailFrom,
        s.envelopeSender,
        s.from,
        record.fromKey,
        s.to,
        s.bcc,
        JSON.stringify(s.discarded),
        JSON.stringify(s.tags),
        s.flags,
        s.flagsSource,
        record.receivedAtMs,
        record.status,
        s.node ?? null,
        s.messageId ?? null,
      );
    } catch (err: unknown) {
      if (isUniqueViolation(err)) return 'duplicate-id';
      throw err;
    }
    for (const tag of s.tags) this.sql.insertTag.run(s.id, tag);
    s.recipients.forEach((r, position) => {
      const key = record.recipientKeys[position];
      if (key === undefined) throw new InvariantError(`send ${s.id}: no key for recipient ${position}`);
      this.sql.insertRecipient.run(s.id, position, r.address, key, r.role, r.status, r.suppressedBy, r.detail);
    });
    for (const e of record.events) this.sql.insertEvent.run(e.sendId, e.recipient, e.type, e.atMs, e.detailJson);
    this.outbox.queue(s.spaceId, deliveries);
    if (sentCount !== null && sentCount.count > 0) this.sending.countSent(s.spaceId, sentCount);
    return 'recorded';
  }

  /** Attaches recipients to send rows (one query for the whole page). */
  private withRecipients(rows: SendRow[]): Send[] {
    if (rows.length === 0) return [];
    const bySend = new Map<string, SendRecipient[]>();
    for (const r of this.sql.recipientsOf.all(JSON.stringify(rows.map((s) => s.id)))) {
      const list = bySend.get(r.send_id);
      if (list) list.push(recipientFrom(r));
      else bySend.set(r.send_id, [recipientFrom(r)]);
    }
    return rows.map((s) => sendFrom(s, bySend.get(s.id) ?? []));
  }

  getSend(id: string, spaceId: number | null): Promise<Send | null> {
    return this.db.run(() => {
      const row = spaceId === null ? this.sql.getSend.get(id) : this.sql.getSendInSpace.get(id, spaceId);
      return row ? (this.withRecipients([row])[0] ?? null) : null;
    });
  }

  listSends(page: SendPage): Promise<Send[]> {
    return this.db.run(() => {
      const where = sendSearchWhere(sendFilterWhere(page, { spaceIndex: !selectiveSearch(page.search) }), page.search);
      if (page.before !== null) {
        const t = page.before.receivedAtMs;
        // The same-millisecond tie is broken by rowid, as in the ORDER BY; the cursor's send is
        // looked up in the same space only.
        const sameSpace = page.spaceId !== null ? ' AND c.space_id = s.space_id' : '';
        where.and(
          `(s.received_at < ? OR (s.received_at = ? AND s.rowid < (SELECT c.rowid FROM sends c WHERE c.id = ?${sameSpace})))`,
          t,
          t,
          page.before.id,
        );
      }
      const text = `SELECT ${SEND_COLS} FROM sends s${where.clause()} ORDER BY s.received_at DESC, s.rowid DESC LIMIT ? OFFSET ?`;
      return this.withRecipients(this.db.cached<SendRow>(text).all(...where.params, page.limit ?? -1, page.offset));
    });
  }

  setSendInLog(sendId: string, atMs: number): Promise<boolean> {
    return this.db.run(() => this.sql.setInLog.run(atMs, sendId).changes > 0);
  }

  markNotQueued(node: string, sinceMs: number, beforeMs: number, atMs: number, reason: string, limit: number): Promise<string[]> {
    return this.db.run(() =>
      this.db.immediate(() => {
        const ids = this.sql.phantoms.all(node, sinceMs, beforeMs, limit).map((r) => r.id);
        for (const id of ids) this.sql.markNotQueued.run(atMs, reason, id);
        return ids;
      }),
    );
  }

  report(query: ReportQuery, groupBy: ReportGroupBy | null): Promise<ReportRow[]> {
    return this.db.run(() => runReport(this.db, query, groupBy));
  }

  updateRecipientStatus(sendId: string, addressKey: string, status: RecipientStatus, detail: string | null, reason: string | null): Promise<boolean> {
    return this.db.run(() =>
      this.db.immediate(() => {
        const changed = this.sql.updateRecipient.run(status, detail, reason, sendId, addressKey).changes > 0;
        if (changed) this.sql.syncSendStatus.run(sendId, sendId);
        return changed;
      }),
    );
  }

  deleteSend(id: string, spaceId: number): Promise<boolean> {
    return this.db.run(() =>
      this.db.immediate(() => {
        if (this.sql.getSendInSpace.get(id, spaceId) === undefined) return false;
        this.sql.deleteOutbox.run(id, spaceId);
        this.sql.deleteEvents.run(id);
        this.sql.deleteRecipients.run(id);
        this.sql.deleteTags.run(id);
        return this.sql.deleteSend.run(id, spaceId).changes > 0;
      }),
    );
  }

  insertEvent(event: EventRecord, delivery: DeliveryRecord | null): Promise<number | 'unknown-send'> {
    return this.db.run(() =>
      this.db.immediate(() => {
        const send = this.sql.sendSpace.get(event.sendId);
        if (send === undefined) return 'unknown-send';
        const info = this.sql.insertEvent.run(event.sendId, event.recipient, event.type, event.atMs, event.detailJson);
        if (delivery !== null) this.outbox.queue(send.space_id, [delivery]);
        return Number(info.lastInsertRowid);
      }),
    );
  }

  listEvents(sendId: string): Promise<SendEvent[]> {
    return this.db.run(() => this.sql.listEvents.all(sendId).map(eventFrom));
  }

  countEvents(sendIds: readonly string[]): Promise<EventCountRow[]> {
    return this.db.run(() =>
      this.sql.countEvents.all(JSON.stringify(sendIds)).map((r) => ({ sendId: r.send_id, type: r.type, machine: r.machine === 1, n: r.n })),
    );
  }
}
