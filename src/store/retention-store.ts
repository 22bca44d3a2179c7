/**
 * The retention aggregate of the Store (README, "Retention"; the rules: core/retention.ts):
 * purging old sends with their recipients, tags and events in small batches, each batch's
 * report numbers folded into the daily aggregates in the same transaction (so the report of a
 * purged day is what it was), and purging finished webhook deliveries. What is never purged
 * here: spaces, users, domains, keys, the Bounce and Unsubscribe lists, bounce streaks,
 * pending webhook deliveries, the daily aggregates themselves.
 *
 * Several nodes may purge at once (PostgreSQL): each batch takes sends no other batch holds,
 * and buckets only ever add up, so the work is shared, never double-counted.
 *
 * Limits: a batch is 1..MAX_PURGE_BATCH_SIZE sends (default PURGE_BATCH_SIZE).
 */
import type { ReportDay } from '../core/retention.js';

export interface PurgeSendsRequest {
  /** Sends received before this go. */
  readonly before: Date;
  /** Only this space's sends; absent: every space. */
  readonly spaceId?: number;
  /** Sends in this batch at most (default PURGE_BATCH_SIZE). */
  readonly limit?: number;
}

export interface PurgeSendsResult {
  /** Sends deleted (with their recipients and tags). */
  readonly sends: number;
  /** Events deleted with them. */
  readonly events: number;
  /** Daily aggregate buckets written or added to. */
  readonly buckets: number;
}

export interface PurgeableCount {
  readonly sends: number;
  readonly events: number;
  /** Distinct UTC days (YYYY-MM-DD) of those sends, oldest and newest; null without sends. */
  readonly firstDay: string | null;
  readonly lastDay: string | null;
}

export interface RetentionStore {
  /**
   * One batch, one transaction: the oldest sends received before `before` (at most `limit`,
   * of one space or all), folded into the daily aggregates and deleted with their events.
   * Fewer than `limit` sends: nothing older is left (for this caller; another node may hold
   * some). UsageError: unknown space, invalid date or limit.
   */
  purgeSends(request: PurgeSendsRequest): Promise<PurgeSendsResult>;
  /** What purgeSends would delete before `before` (`trxmail purge --dry-run`). */
  countPurgeable(before: Date, spaceId?: number): Promise<PurgeableCount>;
  /**
   * One batch: deletes at most `limit` webhook deliveries that are delivered or expired and
   * finished (done) before `before`; how many. Pending deliveries are never deleted.
   */
  purgeWebhookDeliveries(before: Date, limit?: number): Promise<number>;
  /** The daily aggregates of a space, oldest day first (for `store copy` and tests). */
  listReportDays(spaceId: number): Promise<ReportDay[]>;
}
