/**
 * PostgreSQL backend of the outbox aggregate (OutboxBackend in ../backend.ts): the webhooks
 * and webhook_outbox tables. Only SQL: values arrive validated from the neutral layer
 * (../neutral/outbox.ts), which also decides which events queue a delivery; queue() writes
 * them inside the caller's transaction (sends.ts, domain-auth.ts), only when the space has a
 * webhook at that moment — it holds the webhook row FOR SHARE, so a concurrent deleteWebhook
 * waits for it and then expires what it queued.
 *
 * Several nodes drain one outbox: claimDeliveries locks the due rows it takes FOR UPDATE SKIP
 * LOCKED, so two nodes claiming at once never get the same delivery.
 *
 * Throws: what PgDatabase.run maps (TransientError, InvariantError); InvariantError for a
 * stored detail that is not a JSON object.
 */
import { InvariantError } from '../../lib/errors.js';
import type { AttemptRecord, DeliveryQuery, DeliveryRecord, OutboxBackend, WebhookRecord } from '../backend.js';
import { parseDetail } from '../json-columns.js';
import type {
  DueWebhookDelivery,
  Webhook,
  WebhookBacklog,
  WebhookDelivery,
  WebhookDeliveryStatus,
  WebhookEventType,
} from '../outbox-store.js';
import type { PgDatabase, PgRunner, PgTx } from './database.js';
import { whereOf } from './sql-where.js';
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

/** The delivery columns of `webhook_outbox o` joined to `spaces sp`. */
function outboxCols(sql: PgRunner) {
  return sql`o.id, o.space_id, sp.name AS space_name, o.type, o.send_id, o.recipient, o.at, o.detail::text AS detail, o.status,
    o.attempts, o.created_at, o.next_attempt_at, o.last_error, o.done_at`;
}

export class PgOutbox implements OutboxBackend {
  constructor(private readonly db: PgDatabase) {}

  /** Inside the caller's transaction: the deliveries, when the space has a webhook. */
  async queue(tx: PgTx, spaceId: number, deliveries: readonly DeliveryRecord[]): Promise<void> {
    if (deliveries.length === 0) return;
    const hook = await tx`SELECT 1 AS one FROM webhooks WHERE space_id = ${spaceId} FOR SHARE`;
    if (hook.length === 0) return;
    for (const d of deliveries) {
      await tx`
        INSERT INTO webhook_outbox (space_id, type, send_id, recipient, at, detail, created_at, next_attempt_at)
        VALUES (${spaceId}, ${d.type}, ${d.sendId}, ${d.recipient}, ${d.atMs}, ${d.detailJson}::text::json, ${d.queuedAtMs}, ${d.queuedAtMs})`;
    }
  }

  upsertWebhook(w: WebhookRecord): Promise<void> {
    return this.db.run(async (sql) => {
      await sql`
        INSERT INTO webhooks (space_id, url, secret, created_at) VALUES (${w.spaceId}, ${w.url}, ${w.secret}, ${w.createdAtMs})
        ON CONFLICT (space_id) DO UPDATE SET url = excluded.url, secret = excluded.secret, created_at = excluded.created_at`;
    });
  }

  getWebhook(spaceId: number): Promise<Webhook | null> {
    return this.db.run(async (sql) => {
      const [row] = await sql<WebhookRow[]>`SELECT space_id, url, secret, created_at FROM webhooks WHERE space_id = ${spaceId}`;
      return row ? webhookFrom(row) : null;
    });
  }

  listWebhooks(): Promise<Webhook[]> {
    return this.db.run(async (sql) => (await sql<WebhookRow[]>`SELECT space_id, url, secret, created_at FROM webhooks ORDER BY space_id`).map(webhookFrom));
  }

  deleteWebhook(spaceId: number, reason: string, atMs: number): Promise<boolean> {
    return this.db.transaction(async (tx) => {
      const removed = (await tx`DELETE FROM webhooks WHERE space_id = ${spaceId}`).count > 0;
      if (removed) {
        await tx`
          UPDATE webhook_outbox SET status = 'expired', last_error = ${reason}, done_at = ${atMs}
          WHERE space_id = ${spaceId} AND status = 'pending'`;
      }
      return removed;
    });
  }

  claimDeliveries(nowMs: number, limit: number, leaseUntilMs: number): Promise<DueWebhookDelivery[]> {
    return this.db.transaction(async (tx) => {
      const rows = await tx<DueRow[]>`
        SELECT ${outboxCols(tx)}, w.url, w.secret FROM webhook_outbox o JOIN spaces sp ON sp.id = o.space_id
        JOIN webhooks w ON w.space_id = o.space_id
        WHERE o.status = 'pending' AND o.next_attempt_at <= ${nowMs}
        ORDER BY o.next_attempt_at, o.id LIMIT ${limit}
        FOR UPDATE OF o SKIP LOCKED`;
      if (rows.length > 0) {
        await tx`
          UPDATE webhook_outbox SET next_attempt_at = ${leaseUntilMs}
          WHERE id IN (SELECT json_array_elements_text(${JSON.stringify(rows.map((r) => r.id))}::text::json)::bigint)`;
      }
      return rows.map((r): DueWebhookDelivery => merged(deliveryFrom(merged(r, { next_attempt_at: leaseUntilMs })), { url: r.url, secret: r.secret }));
    });
  }

  finishAttempt(id: number, attempt: AttemptRecord): Promise<boolean> {
    return this.db.run(async (sql) => {
      switch (attempt.kind) {
        case 'delivered':
          return (
            await sql`
              UPDATE webhook_outbox SET status = 'delivered', attempts = attempts + 1, last_error = NULL, done_at = ${attempt.atMs}
              WHERE id = ${id} AND status = 'pending'`
          ).count > 0;
        case 'retry':
          return (
            await sql`
              UPDATE webhook_outbox SET attempts = attempts + 1, last_error = ${attempt.error}, next_attempt_at = ${attempt.retryAtMs}
              WHERE id = ${id} AND status = 'pending'`
          ).count > 0;
        case 'expired':
          return (
            await sql`
              UPDATE webhook_outbox SET status = 'expired', attempts = attempts + 1, last_error = ${attempt.error}, done_at = ${attempt.atMs}
              WHERE id = ${id} AND status = 'pending'`
          ).count > 0;
      }
    });
  }

  listDeliveries(query: DeliveryQuery): Promise<WebhookDelivery[]> {
    return this.db.run(async (sql) => {
      const conditions = [];
      if (query.spaceId !== null) conditions.push(sql`o.space_id = ${query.spaceId}`);
      if (query.status !== null) conditions.push(sql`o.status = ${query.status}`);
      const rows = await sql<OutboxRow[]>`
        SELECT ${outboxCols(sql)} FROM webhook_outbox o JOIN spaces sp ON sp.id = o.space_id ${whereOf(sql, conditions)}
        ORDER BY o.id DESC LIMIT ${query.limit}`;
      return rows.map(deliveryFrom);
    });
  }

  backlog(): Promise<WebhookBacklog> {
    return this.db.run(async (sql) => {
      const [row] = await sql<{ pending: number; expired: number; oldest: number | null }[]>`
        SELECT count(*) FILTER (WHERE status = 'pending') AS pending, count(*) FILTER (WHERE status = 'expired') AS expired,
          min(created_at) FILTER (WHERE status = 'pending') AS oldest
        FROM webhook_outbox`;
      if (!row) throw new InvariantError('backlog query returned no row');
      return { pending: row.pending, expired: row.expired, oldestPendingAt: row.oldest === null ? null : new Date(row.oldest) };
    });
  }
}
