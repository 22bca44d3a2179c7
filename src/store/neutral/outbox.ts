/**
 * The outbox aggregate above the backends (OutboxStore): webhook URLs checked
 * (src/lib/webhook-url.ts), secrets non-empty, unknown spaces refused, claim limits and
 * leases checked, an attempt's outcome turned into delivered / retry / expired with its
 * error cut at MAX_WEBHOOK_ERROR_LENGTH. The backend (backend.ts) only runs SQL.
 *
 * Limits: at most MAX_WEBHOOK_BATCH deliveries per claim.
 *
 * Throws: UsageError (unknown space, bad URL, empty secret, invalid date, limit or lease),
 * TransientError and InvariantError from the backend.
 */
import { UsageError } from '../../lib/errors.js';
import { MAX_WEBHOOK_BATCH, MAX_WEBHOOK_ERROR_LENGTH } from '../../lib/limits.js';
import { checkWebhookUrl } from '../../lib/webhook-url.js';
import type { AccountBackend, AttemptRecord, OutboxBackend } from '../backend.js';
import type {
  DueWebhookDelivery,
  OutboxStore,
  Webhook,
  WebhookBacklog,
  WebhookDelivery,
  WebhookDeliveryStatus,
  WebhookOutcome,
} from '../outbox-store.js';
import { requireSpace } from './accounts.js';
import { checkCount, requireText, toMs } from './checks.js';

/** Last error of the pending deliveries a removed webhook leaves behind. */
export const WEBHOOK_REMOVED = 'webhook removed';

/** An attempt's outcome in backend terms (UsageError: invalid date). */
export function attemptRecord(outcome: WebhookOutcome): AttemptRecord {
  const atMs = toMs(outcome.at, 'outcome time');
  if (outcome.delivered) return { kind: 'delivered', atMs };
  const error = outcome.error.slice(0, MAX_WEBHOOK_ERROR_LENGTH);
  if (outcome.retryAt === null) return { kind: 'expired', error, atMs };
  return { kind: 'retry', error, retryAtMs: toMs(outcome.retryAt, 'retry time') };
}

export class NeutralOutbox implements OutboxStore {
  constructor(
    private readonly backend: OutboxBackend,
    private readonly accounts: AccountBackend,
  ) {}

  async setWebhook(input: { spaceId: number; url: string; secret: string }): Promise<Webhook> {
    const url = checkWebhookUrl(input.url);
    const secret = requireText(input.secret, 'webhook secret');
    await requireSpace(this.accounts, input.spaceId);
    const createdAtMs = Date.now();
    await this.backend.upsertWebhook({ spaceId: input.spaceId, url, secret, createdAtMs });
    return { spaceId: input.spaceId, url, secret, createdAt: new Date(createdAtMs) };
  }

  getWebhook(spaceId: number): Promise<Webhook | null> {
    return this.backend.getWebhook(spaceId);
  }

  async removeWebhook(spaceId: number): Promise<boolean> {
    await requireSpace(this.accounts, spaceId);
    return await this.backend.deleteWebhook(spaceId, WEBHOOK_REMOVED, Date.now());
  }

  listWebhooks(): Promise<Webhook[]> {
    return this.backend.listWebhooks();
  }

  async claimWebhookDeliveries(now: Date, limit: number, leaseMs: number): Promise<DueWebhookDelivery[]> {
    const nowMs = toMs(now, 'now');
    checkCount(limit, 'limit');
    checkCount(leaseMs, 'lease');
    if (limit > MAX_WEBHOOK_BATCH) throw new UsageError(`at most ${MAX_WEBHOOK_BATCH} webhook deliveries per claim`);
    if (limit === 0) return [];
    return await this.backend.claimDeliveries(nowMs, limit, nowMs + leaseMs);
  }

  async completeWebhookDelivery(id: number, outcome: WebhookOutcome): Promise<boolean> {
    return await this.backend.finishAttempt(id, attemptRecord(outcome));
  }

  async listWebhookDeliveries(filter: { spaceId?: number; status?: WebhookDeliveryStatus; limit?: number }): Promise<WebhookDelivery[]> {
    const limit = filter.limit === undefined ? null : checkCount(filter.limit, 'limit');
    return await this.backend.listDeliveries({ spaceId: filter.spaceId ?? null, status: filter.status ?? null, limit });
  }

  webhookBacklog(): Promise<WebhookBacklog> {
    return this.backend.backlog();
  }
}
