/**
 * The retention aggregate above the backends (../retention-store.ts): checks dates, limits and
 * the space, passes core's fold (core/retention.ts foldPurgedSends) and the blocked reasons to
 * the backend's purge batch, and adds the daily aggregates of purged sends to the report
 * (reportWithDays: the live rows from the sends plus the rows from report_days, added up by
 * core's mergeReportRows).
 *
 * Limits: a purge batch is 1..MAX_PURGE_BATCH_SIZE (default PURGE_BATCH_SIZE).
 *
 * Throws: UsageError (unknown space, invalid date or limit, too many tags), TransientError and
 * InvariantError from the backend.
 */
import {
  MAX_PURGE_BATCH_SIZE,
  PURGE_BATCH_SIZE,
  foldPurgedSends,
  mergeReportRows,
  reportDayRange,
  reportFromDays,
  utcDay,
  type ReportDay,
} from '../../core/retention.js';
import { UsageError } from '../../lib/errors.js';
import type { AccountBackend } from '../backend.js';
import type { RetentionBackend } from '../retention-backend.js';
import type { PurgeableCount, PurgeSendsRequest, PurgeSendsResult, RetentionStore } from '../retention-store.js';
import type { ReportFilter, ReportGroupBy, ReportRow } from '../send-store.js';
import { requireSpace } from './accounts.js';
import { toMs } from './checks.js';
import { BLOCKED_REASONS, sendQuery } from './sends.js';

function checkBatch(limit: number | undefined): number {
  const n = limit ?? PURGE_BATCH_SIZE;
  if (!Number.isInteger(n) || n < 1 || n > MAX_PURGE_BATCH_SIZE) throw new UsageError(`purge batch must be 1..${MAX_PURGE_BATCH_SIZE}, got ${String(n)}`);
  return n;
}

export class NeutralRetention implements RetentionStore {
  constructor(
    private readonly backend: RetentionBackend,
    private readonly accounts: AccountBackend,
  ) {}

  private async space(spaceId: number | undefined): Promise<number | null> {
    if (spaceId === undefined) return null;
    await requireSpace(this.accounts, spaceId);
    return spaceId;
  }

  async purgeSends(request: PurgeSendsRequest): Promise<PurgeSendsResult> {
    const beforeMs = toMs(request.before, 'purge date');
    const limit = checkBatch(request.limit);
    const spaceId = await this.space(request.spaceId);
    return await this.backend.purgeSends(spaceId, beforeMs, limit, BLOCKED_REASONS, foldPurgedSends);
  }

  async countPurgeable(before: Date, spaceId?: number): Promise<PurgeableCount> {
    const beforeMs = toMs(before, 'purge date');
    const rows = await this.backend.countPurgeable(await this.space(spaceId), beforeMs);
    return {
      sends: rows.sends,
      events: rows.events,
      firstDay: rows.oldestMs === null ? null : utcDay(rows.oldestMs),
      lastDay: rows.newestMs === null ? null : utcDay(rows.newestMs),
    };
  }

  async purgeWebhookDeliveries(before: Date, limit?: number): Promise<number> {
    return await this.backend.purgeWebhookDeliveries(toMs(before, 'purge date'), checkBatch(limit));
  }

  async listReportDays(spaceId: number): Promise<ReportDay[]> {
    await requireSpace(this.accounts, spaceId);
    return await this.backend.reportDays({ spaceId, fromKey: null, fromDay: null, toDay: null });
  }

  /**
   * The report `live` (from the sends still kept) with the daily aggregates of the purged
   * sends added: the same filter, the same grouping, one total row.
   */
  async reportWithDays(filter: ReportFilter, groupBy: ReportGroupBy | null, live: readonly ReportRow[]): Promise<ReportRow[]> {
    const query = sendQuery(filter);
    const range = reportDayRange(query.sinceMs, query.untilMs);
    if (range === null) return [...live];
    const days = await this.backend.reportDays({ spaceId: filter.spaceId, fromKey: query.fromKey, ...range });
    if (days.length === 0) return [...live];
    return mergeReportRows(live, reportFromDays(days, query.tags, groupBy));
  }
}
