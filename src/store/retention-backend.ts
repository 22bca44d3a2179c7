/**
 * The backend seam of the retention aggregate (retention-store.ts): what sqlite/retention.ts
 * and postgres/retention.ts implement. As everywhere in backend.ts, the values come validated,
 * and the backend runs SQL only: `fold` (core/retention.ts foldPurgedSends, passed in by the
 * neutral layer) decides the buckets; the backend reads the sends' numbers with the report's
 * own SQL, and writes what `fold` returns, in the batch's transaction.
 */
import type { PurgedSend, ReportDay, ReportDayBucket } from '../core/retention.js';
import type { PurgeSendsResult } from './retention-store.js';

/** The daily aggregates a report reads: one space; from_key when given; days inclusive (null: unbounded). */
export interface ReportDayQuery {
  readonly spaceId: number;
  readonly fromKey: string | null;
  readonly fromDay: string | null;
  readonly toDay: string | null;
}

export interface PurgeableRows {
  readonly sends: number;
  readonly events: number;
  readonly oldestMs: number | null;
  readonly newestMs: number | null;
}

export interface RetentionBackend {
  /**
   * One transaction: takes the oldest sends with received_at < beforeMs (of `spaceId`, or any
   * when null; at most `limit`; on PostgreSQL FOR UPDATE SKIP LOCKED), reads each one's
   * report numbers (sends never queued are left out: they are in no report; blockedReasons as
   * ReportQuery's), adds the buckets `fold` returns to report_days (in their order), and
   * deletes the sends with their events, recipients and tags.
   */
  purgeSends(
    spaceId: number | null,
    beforeMs: number,
    limit: number,
    blockedReasons: readonly string[],
    fold: (sends: readonly PurgedSend[]) => readonly ReportDayBucket[],
  ): Promise<PurgeSendsResult>;
  /** Sends received before beforeMs (of the space or all), their events, and their oldest and newest received_at (null without sends). */
  countPurgeable(spaceId: number | null, beforeMs: number): Promise<PurgeableRows>;
  /** Deletes at most `limit` delivered or expired webhook deliveries with done_at < beforeMs; how many. */
  purgeWebhookDeliveries(beforeMs: number, limit: number): Promise<number>;
  /** By day, then the bucket's key columns. */
  reportDays(query: ReportDayQuery): Promise<ReportDay[]>;
}
