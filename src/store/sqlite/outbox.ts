/**
 * SQLite backend of the outbox aggregate (OutboxBackend in ../backend.ts): the webhooks and
 * webhook_outbox tables. Only SQL: values arrive validated from the neutral layer
 * (../neutral/outbox.ts), which also decides which events queue a delivery; queue() writes
 * them inside the sends module's transaction (sends.ts), only when the space has a webhook
 * at that moment.
 *
 * Throws: what SqliteDatabase.run maps (TransientError, InvariantError); InvariantError for a
 * stored detail that is not a JSON object.
 */
import type Database from 'better-sqlite3';
import { InvariantError } from '../../lib/errors.js';
import type { AttemptRecord, DeliveryQuery, DeliveryRecord, OutboxBackend, WebhookRecord } from '../backend.js';
import type {
  DueWebhookDelivery,
  Webhook,
  WebhookBacklog,
  WebhookDelivery,
  WebhookDeliveryStatus,
  WebhookEventType,
} from '../outbox-store.js';
import type { SqliteDatabase } from './database.js';
import { parseDetail } from '../json-columns.js';
import { SqlWhere } from './sql-where.js';
import { merged } from '../../lib/merged.js';

interface WebhookRow {
  space_id: number;
  url: string;
  secret: string;
  created_at: number;
}
interface OutboxRow {
  id: number;
  space_id: number;
  space_name: string;
  type: WebhookEventType;
  send_id: string;
  recipient: string;
  at: number;
  detail: string;
  status: WebhookDeliveryStatus;
  attempts: number;
  created_at: number;
  next_attempt_at: number;
  last_error: string | null;
  done_at: number | null;
}
type DueRow = OutboxRow & { url: string; secret: string };

const WEBHOOK_COLS = 'space_id, url, secret, created_at';
const OUTBOX_COLS =
  'o.id, o.space_id, sp.name AS space_name, o.type, o.send_id, o.recipient, o.at, o.detail, o.status, o.attempts, ' +
  'o.created_at, o.next_attempt_at, o.last_error, o.done_at';

function webhookFrom(r: WebhookRow): Webhook {
  return { spaceId: r.space_id, url: r.url, secret: r.secret, createdAt: new Date(r.created_at) };
}

function deliveryFrom(r: OutboxRow): WebhookDelivery {
  return {
    id: r.id,
    spaceId: r.space_id,
    spaceName: r.space_name,
    type: r.type,
    sendId: r.send_id,
    recipient: r.recipient,
    at: new Date(r.at),
    detail: parseDetail(r.detail),
    status: r.status,
    attempts: r.attempts,
    createdAt: new Date(r.created_at),
    nextAttemptAt: new Date(r.next_attempt_at),
    lastError: r.last_error,
    doneAt: r.done_at === null ? null : new Date(r.done_at),
  };
}

function prepare(db: Database.Database) {
  return {
    hasWebhook: db.prepare<[number], { one: number }>('SELECT 1 AS one FROM webhooks WHERE space_id = ?'),
    upsertWebhook: db.prepare<[number, string, string, number]>(
      'INSERT INTO webhooks (space_id, url, secret, created_at) VALUES (?, ?, ?, ?) ' +
        'ON CONFLICT (space_id) DO UPDATE SET url = excluded.url, secret = excluded.secret, created_at = excluded.created_at',
    ),
    getWebhook: db.prepare<[number], WebhookRow>(`SELECT ${WEBHOOK_COLS} FROM webhooks WHERE space_id = ?`),
    deleteWebhook: db.prepare<[number]>('DELETE FROM webhooks WHERE space_id = ?'),
    listWebhooks: db.prepare<[], WebhookRow>(`SELECT ${WEBHOOK_COLS} FROM webhooks ORDER BY space_id`),
    expireSpace: db.prepare<[string, number, number]>(
      "UPDATE webhook_outbox SET status = 'expired', last_error = ?, done_at = ? WHERE space_id = ? AND status = 'pending'",
    ),
    insert: db.prepare<[number, WebhookEventType, string, string, number, string, number, number]>(
      'INSERT INTO webhook_outbox (space_id, type, send_id, recipient, at, detail, created_at, next_attempt_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
    ),
    due: db.prepare<[number, number], DueRow>(
      `SELECT ${OUTBOX_COLS}, w.url, w.secret FROM webhook_outbox o JOIN spaces sp ON sp.id = o.space_id ` +
        "JOIN webhooks w ON w.space_id = o.space_id WHERE o.status = 'pending' AND o.next_attempt_at <= ? " +
        'ORDER BY o.next_attempt_at, o.id LIMIT ?',
    ),
    lease: db.prepare<[number, number]>('UPDATE webhook_outbox SET next_attempt_at = ? WHERE id = ?'),
    delivered: db.prepare<[number, number]>(
      "UPDATE webhook_outbox SET status = 'delivered', attempts = attempts + 1, last_error = NULL, done_at = ? WHERE id = ? AND status = 'pending'",
    ),
    retry: db.prepare<[string, number, number]>(
      "UPDATE webhook_outbox SET attempts = attempts + 1, last_error = ?, next_attempt_at = ? WHERE id = ? AND status = 'pending'",
    ),
    expire: db.prepare<[string, number, number]>(
      "UPDATE webhook_outbox SET status = 'expired', attempts = attempts + 1, last_error = ?, done_at = ? WHERE id = ? AND status = 'pending'",
    ),
    backlog: db.prepare<[], { pending: number; expired: number; oldest: number | null }>(
      "SELECT coalesce(sum(status = 'pending'), 0) AS pending, coalesce(sum(status = 'expired'), 0) AS expired, " +
        "min(CASE WHEN status = 'pending' THEN created_at END) AS oldest FROM webhook_outbox",
    ),
  };
}

export class SqliteOutbox implements OutboxBackend {
  private readonly sql: ReturnType<typeof prepare>;

  constructor(private readonly db: SqliteDatabase) {
    this.sql = prepare(db.db);
  }

  /** Inside the caller's transaction: the deliveries, when the space has a webhook. */
  queue(spaceId: number, deliveries: readonly DeliveryRecord[]): void {
    if (deliveries.length === 0 || this.sql.hasWebhook.get(spaceId) === undefined) return;
    for (const d of deliveries) {
      this.sql.insert.run(spaceId, d.type, d.sendId, d.recipient, d.atMs, d.detailJson, d.queuedAtMs, d.queuedAtMs);
    }
  }

  upsertWebhook(w: WebhookRecord): Promise<void> {
    return this.db.run(() => {
      this.sql.upsertWebhook.run(w.spaceId, w.url, w.secret, w.createdAtMs);
    });
  }

  getWebhook(spaceId: number): Promise<Webhook | null> {
    return this.db.run(() => {
      const row = this.sql.getWebhook.get(spaceId);
      return row ? webhookFrom(row) : null;
    });
  }

  listWebhooks(): Promise<Webhook[]> {
    return this.db.run(() => this.sql.listWebhooks.all().map(webhookFrom));
  }

  deleteWebhook(spaceId: number, reason: string, atMs: number): Promise<boolean> {
    return this.db.run(() =>
      this.db.immediate(() => {
        const removed = this.sql.deleteWebhook.run(spaceId).changes > 0;
        if (removed) this.sql.expireSpace.run(reason, atMs, spaceId);
        return removed;
      }),
    );
  }

  claimDeliveries(nowMs: number, limit: number, leaseUntilMs: number): Promise<DueWebhookDelivery[]> {
    return this.db.run(() =>
      this.db.immediate(() => {
        const rows = this.sql.due.all(nowMs, limit);
        for (const r of rows) this.sql.lease.run(leaseUntilMs, r.id);
        return rows.map((r): DueWebhookDelivery => merged(deliveryFrom(merged(r, { next_attempt_at: leaseUntilMs })), { url: r.url, secret: r.secret }));
      }),
    );
  }

  finishAttempt(id: number, attempt: AttemptRecord): Promise<boolean> {
    return this.db.run(() => {
      switch (attempt.kind) {
        case 'delivered':
          return this.sql.delivered.run(attempt.atMs, id).changes > 0;
        case 'retry':
          return this.sql.retry.run(attempt.error, attempt.retryAtMs, id).changes > 0;
        case 'expired':
          return this.sql.expire.run(attempt.error, attempt.atMs, id).changes > 0;
      }
    });
  }

  listDeliveries(query: DeliveryQuery): Promise<WebhookDelivery[]> {
    return this.db.run(() => {
      const where = new SqlWhere().andIf('o.space_id = ?', query.spaceId).andIf('o.status = ?', query.status);
      const text =
        `SELECT ${OUTBOX_COLS} FROM webhook_outbox o JOIN spaces sp ON sp.id = o.space_id${where.clause()} ORDER BY o.id DESC LIMIT ?`;
      return this.db
        .cached<OutboxRow>(text)
        .all(...where.params, query.limit ?? -1)
        .map(deliveryFrom);
    });
  }

  backlog(): Promise<WebhookBacklog> {
    return this.db.run(() => {
      const row = this.sql.backlog.get();
      if (!row) throw new InvariantError('backlog query returned no row');
      return { pending: row.pending, expired: row.expired, oldestPendingAt: row.oldest === null ? null : new Date(row.oldest) };
    });
  }
}
