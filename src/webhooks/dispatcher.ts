/**
 * The webhook dispatcher: POSTs queued events (the store's webhook outbox) to each space's
 * endpoint, signed (signature.ts), retried with backoff (backoff.ts) until delivered or expired.
 *
 * Never blocks mail flow: events are queued by the store in the event's own transaction; this
 * runs on its own timer (every WEBHOOK_POLL_INTERVAL_MS, at once again after a full batch),
 * claims at most `concurrency` due deliveries per pass with a lease (request timeout + margin,
 * so a crash mid-request only delays a retry), POSTs them in parallel with a request timeout,
 * and records each outcome. One pass at a time: a slow endpoint slows only the webhooks.
 * No retry storm: each delivery waits its own jittered, growing delay; a dead endpoint costs
 * at most `concurrency` requests per pass.
 *
 * Body (JSON, UTF-8): { id, type, sendId, recipient, at (ISO 8601), detail, space (name) };
 * a 'domain' event (a sender domain's DNS check status changed) has no send and no recipient:
 * { id, type: "domain", at, detail: { domain, from, to, at, missing }, space }; a 'space' event
 * (the space was paused or resumed) neither: { id, type: "space", at, detail: { state, reason, auto, at }, space }.
 * 2xx = delivered; anything else (3xx too: redirects are not followed), a network error or
 * a timeout = failed, retried. Only the status is read; the response body is discarded.
 * Logs delivery id, space, type and the error; never the secret or the body.
 *
 * Throws nothing from start/runOnce/close: store failures are logged and retried next pass.
 */
import { errorForLog, type Logger } from '../lib/logger.js';
import { MAX_WEBHOOK_BATCH } from '../lib/limits.js';
import { metrics as globalMetrics, type TrxMetrics } from '../metrics/metrics.js';
import type { DueWebhookDelivery, Store } from '../store/store.js';
import { DEFAULT_BACKOFF, nextAttempt, type BackoffPolicy } from './backoff.js';
import { SIGNATURE_HEADER, TIMESTAMP_HEADER, signWebhook } from './signature.js';
import { merged } from '../lib/merged.js';

/** How long one POST may take, connect to last response header (ms). */
export const WEBHOOK_REQUEST_TIMEOUT_MS = 10_000;
/** Pause between two passes when the last one did not fill its batch (ms). */
export const WEBHOOK_POLL_INTERVAL_MS = 1_000;
/** Deliveries in flight at once (and claimed per pass). */
export const WEBHOOK_CONCURRENCY = 8;
/** Lease beyond the request timeout before a claimed delivery may be claimed again (ms). */
export const WEBHOOK_LEASE_MARGIN_MS = 30_000;
export const WEBHOOK_USER_AGENT = 'trxmail-webhook/1';

/** The body of a send event (delivered, bounced, opened, ...). */
export interface SendWebhookPayload {
  readonly id: number;
  readonly type: string;
  readonly sendId: string;
  readonly recipient: string;
  readonly at: string;
  readonly detail: Readonly<Record<string, unknown>>;
  readonly space: string;
}

/**
 * The body of a 'domain' event (detail { domain, from, to, at, missing }) or a 'space' event
 * (detail { state: 'paused' | 'resumed', reason, auto, at }): no send, no recipient.
 */
export interface DomainWebhookPayload {
  readonly id: number;
  readonly type: 'domain' | 'space';
  readonly at: string;
  readonly detail: Readonly<Record<string, unknown>>;
  readonly space: string;
}

export type WebhookPayload = SendWebhookPayload | DomainWebhookPayload;

export function webhookBody(d: DueWebhookDelivery): string {
  const at = d.at.toISOString();
  const payload: WebhookPayload =
    d.type === 'domain' || d.type === 'space'
      ? { id: d.id, type: d.type, at, detail: d.detail, space: d.spaceName }
      : { id: d.id, type: d.type, sendId: d.sendId, recipient: d.recipient, at, detail: d.detail, space: d.spaceName };
  return JSON.stringify(payload);
}

/** One HTTP POST; resolves with the status, rejects on network error or timeout. */
export type WebhookPoster = (url: string, headers: Record<string, string>, body: string, timeoutMs: number) => Promise<number>;

export const fetchPoster: WebhookPoster = async (url, headers, body, timeoutMs) => {
  const res = await fetch(url, { method: 'POST', headers, body, redirect: 'manual', signal: AbortSignal.timeout(timeoutMs) });
  await res.body?.cancel().catch(() => undefined);
  return res.status;
};

export interface WebhookDispatcherOptions {
  readonly store: Pick<Store, 'claimWebhookDeliveries' | 'completeWebhookDelivery'>;
  readonly logger: Logger;
  readonly clock?: () => Date;
  /** In [0, 1): the jitter. */
  readonly random?: () => number;
  readonly post?: WebhookPoster;
  readonly backoff?: BackoffPolicy;
  readonly concurrency?: number;
  readonly requestTimeoutMs?: number;
  readonly pollIntervalMs?: number;
  readonly metrics?: TrxMetrics;
}

export interface PassResult {
  readonly delivered: number;
  readonly failed: number;
  readonly expired: number;
}

function describeError(err: unknown): string {
  if (err instanceof Error) {
    if (err.name === 'TimeoutError' || err.name === 'AbortError') return 'timeout';
    const cause = (err as { cause?: unknown }).cause;
    const code = cause instanceof Error ? (cause as { code?: unknown }).code : undefined;
    return typeof code === 'string' ? `${err.message}: ${code}` : err.message;
  }
  return String(err);
}

export class WebhookDispatcher {
  private readonly opts: Required<Omit<WebhookDispatcherOptions, 'store' | 'logger'>>;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<PassResult> | null = null;
  private stopped = true;

  constructor(private readonly base: WebhookDispatcherOptions) {
    this.opts = {
      clock: base.clock ?? (() => new Date()),
      random: base.random ?? Math.random,
      post: base.post ?? fetchPoster,
      backoff: base.backoff ?? DEFAULT_BACKOFF,
      concurrency: Math.min(Math.max(1, base.concurrency ?? WEBHOOK_CONCURRENCY), MAX_WEBHOOK_BATCH),
      requestTimeoutMs: base.requestTimeoutMs ?? WEBHOOK_REQUEST_TIMEOUT_MS,
      pollIntervalMs: base.pollIntervalMs ?? WEBHOOK_POLL_INTERVAL_MS,
      metrics: base.metrics ?? globalMetrics,
    };
  }

  /** Starts the timer (idempotent). */
  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.schedule(0);
  }

  /** Stops the timer and waits for the pass in flight (bounded by the request timeout). */
  async close(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.running?.catch(() => undefined);
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.runOnce().then((r) => {
        const full = r.delivered + r.failed + r.expired >= this.opts.concurrency;
        this.schedule(full ? 0 : this.opts.pollIntervalMs);
      });
    }, ms);
    this.timer.unref();
  }

  /** One pass: claim due deliveries, POST them, record the outcomes. Never rejects. */
  runOnce(): Promise<PassResult> {
    if (this.running) return this.running;
    const pass = this.pass().finally(() => {
      this.running = null;
    });
    this.running = pass;
    return pass;
  }

  private async pass(): Promise<PassResult> {
    const { store, logger } = this.base;
    const result = { delivered: 0, failed: 0, expired: 0 };
    let due: DueWebhookDelivery[];
    try {
      due = await store.claimWebhookDeliveries(this.opts.clock(), this.opts.concurrency, this.opts.requestTimeoutMs + WEBHOOK_LEASE_MARGIN_MS);
    } catch (err: unknown) {
      logger.error({ err: errorForLog(err, false) }, 'webhooks: could not read the outbox');
      return result;
    }
    await Promise.all(
      due.map(async (d) => {
        const outcome = await this.attempt(d);
        result[outcome] += 1;
        this.opts.metrics.webhookDeliveries.inc({ result: outcome });
      }),
    );
    return result;
  }

  private async attempt(d: DueWebhookDelivery): Promise<'delivered' | 'failed' | 'expired'> {
    const { store, logger } = this.base;
    const body = webhookBody(d);
    const timestamp = Math.floor(this.opts.clock().getTime() / 1000);
    const headers = {
      'content-type': 'application/json; charset=utf-8',
      'user-agent': WEBHOOK_USER_AGENT,
      [TIMESTAMP_HEADER]: String(timestamp),
      [SIGNATURE_HEADER]: signWebhook(d.secret, timestamp, body),
    };
    let error: string | null;
    try {
      const status = await this.opts.post(d.url, headers, body, this.opts.requestTimeoutMs);
      error = status >= 200 && status < 300 ? null : `HTTP ${status}`;
    } catch (err: unknown) {
      error = describeError(err);
    }
    const now = this.opts.clock();
    const where = { delivery: d.id, space: d.spaceName, type: d.type, sendId: d.sendId, attempt: d.attempts + 1 };
    const retryAt = error === null ? null : nextAttempt(d.createdAt, d.attempts + 1, now, this.opts.random(), this.opts.backoff);
    try {
      await store.completeWebhookDelivery(
        d.id,
        error === null ? { delivered: true, at: now } : { delivered: false, at: now, error, retryAt },
      );
    } catch (err: unknown) {
      // The lease runs out and the delivery is tried again: at least once, never lost.
      logger.error(merged(where, { err: errorForLog(err, false) }), 'webhooks: could not record an outcome');
    }
    if (error === null) {
      logger.debug(where, 'webhooks: delivered');
      return 'delivered';
    }
    if (retryAt === null) {
      logger.warn(merged(where, { error }), 'webhooks: delivery expired, giving up');
      return 'expired';
    }
    logger.info(merged(where, { error, retryAt: retryAt.toISOString() }), 'webhooks: delivery failed, will retry');
    return 'failed';
  }
}
