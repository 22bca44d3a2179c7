/**
 * The outbox aggregate of the Store: each space's webhook endpoint and the webhook deliveries
 * (one outbox row per event to push) the dispatcher claims, sends and completes.
 *
 * Rows are written by the sends aggregate (recordSend, addEvent) and by the domain-auth
 * aggregate (recordDomainCheck, when a domain's status changes) in the event's transaction;
 * which events queue a delivery is decided above the backends (neutral/sends.ts,
 * neutral/domain-auth.ts).
 *
 * Limits: claimWebhookDeliveries takes at most MAX_WEBHOOK_BATCH; a delivery's last error is
 * cut at MAX_WEBHOOK_ERROR_LENGTH characters; URLs at most MAX_WEBHOOK_URL_LENGTH.
 *
 * Throws: UsageError for operator mistakes (unknown space, a URL that is not https or http to
 * loopback, an empty secret, invalid date, limit or lease), TransientError when the backend is
 * unavailable.
 */
import type { EventType } from './send-store.js';

/** Webhook event types about one send and recipient (every send event type but 'accepted'). */
export type SendWebhookEventType = Exclude<EventType, 'accepted'>;
/**
 * Event types pushed to a space's webhook: the send events, and 'domain' — a sender domain's
 * DNS check status changed (queued by recordDomainCheck; it has no send and no recipient:
 * sendId and recipient are ''), and 'space' — the space was paused or resumed (queued by
 * pauseSpace/resumeSpace, sending-store.ts; no send and no recipient either).
 */
export type WebhookEventType = SendWebhookEventType | 'domain' | 'space';
export const WEBHOOK_EVENT_TYPES: readonly WebhookEventType[] = [
  'delivered',
  'bounced',
  'deferred',
  'opened',
  'clicked',
  'complained',
  'suppressed',
  'unsubscribed',
  'domain',
  'space',
];

/**
 * A space's webhook endpoint. The secret is stored as given (not hashed): every request is
 * signed with it (HMAC-SHA256), so the store must be able to give it back. It is shown to
 * the operator once, at `webhook set`, and never logged.
 */
export interface Webhook {
  readonly spaceId: number;
  /** https://, or http:// to a loopback host (src/lib/webhook-url.ts), normalised. */
  readonly url: string;
  readonly secret: string;
  readonly createdAt: Date;
}

export type WebhookDeliveryStatus = 'pending' | 'delivered' | 'expired';

/**
 * One event waiting for (or done with) its POST to the space's webhook: the outbox row.
 * Written in the same transaction as the event (addEvent; recordSend for suppressed
 * recipients; recordDomainCheck for a domain status change), only when the space has a
 * webhook at that moment.
 */
export interface WebhookDelivery {
  /** Outbox row id: the `id` of the JSON body, the same on every retry (receivers dedupe on it). */
  readonly id: number;
  readonly spaceId: number;
  readonly spaceName: string;
  readonly type: WebhookEventType;
  /** '' for a 'domain' or 'space' event. */
  readonly sendId: string;
  /** '' for a 'domain' or 'space' event. */
  readonly recipient: string;
  readonly at: Date;
  readonly detail: Readonly<Record<string, unknown>>;
  readonly status: WebhookDeliveryStatus;
  /** Finished attempts (successful or not). */
  readonly attempts: number;
  readonly createdAt: Date;
  /** When the dispatcher may try next (pending), while claimed: the end of the lease. */
  readonly nextAttemptAt: Date;
  readonly lastError: string | null;
  /** When it was delivered or expired. */
  readonly doneAt: Date | null;
}

/** A claimed delivery with what the dispatcher needs to send it. */
export interface DueWebhookDelivery extends WebhookDelivery {
  readonly url: string;
  readonly secret: string;
}

export type WebhookOutcome =
  | { readonly delivered: true; readonly at: Date }
  /** retryAt null: give up (status 'expired'). */
  | { readonly delivered: false; readonly at: Date; readonly error: string; readonly retryAt: Date | null };

export interface WebhookBacklog {
  readonly pending: number;
  readonly expired: number;
  /** createdAt of the oldest pending delivery. */
  readonly oldestPendingAt: Date | null;
}

export interface OutboxStore {
  /**
   * Sets (or replaces) the space's webhook. UsageError for an unknown space, a URL that is
   * not https (or http to loopback), or an empty secret.
   */
  setWebhook(input: { spaceId: number; url: string; secret: string }): Promise<Webhook>;
  getWebhook(spaceId: number): Promise<Webhook | null>;
  /** False when the space had none. Its pending deliveries expire ("webhook removed"). */
  removeWebhook(spaceId: number): Promise<boolean>;
  /** Ordered by space id. */
  listWebhooks(): Promise<Webhook[]>;
  /**
   * Claims up to `limit` (at most MAX_WEBHOOK_BATCH) pending deliveries due at `now`, oldest
   * due first, and moves their nextAttemptAt to now + leaseMs in the same transaction, so
   * another dispatcher (or this one's next pass) does not take them while they are in flight;
   * a crash mid-request leaves them to be retried when the lease ends.
   */
  claimWebhookDeliveries(now: Date, limit: number, leaseMs: number): Promise<DueWebhookDelivery[]>;
  /** Records an attempt's outcome (attempts + 1). False when the delivery is not pending. */
  completeWebhookDelivery(id: number, outcome: WebhookOutcome): Promise<boolean>;
  /** Newest first; `limit` default no limit. */
  listWebhookDeliveries(filter: { spaceId?: number; status?: WebhookDeliveryStatus; limit?: number }): Promise<WebhookDelivery[]>;
  webhookBacklog(): Promise<WebhookBacklog>;
}
