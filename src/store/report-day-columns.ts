/**
 * The count columns of report_days (and of the report's per-send numbers), shared by the
 * SQLite and PostgreSQL retention backends: their names in core's REPORT_COUNT_FIELDS order,
 * the row type, and the mapping of a row to core's counts. No SQL, no I/O.
 */
import type { PurgedSend } from '../core/retention.js';

export const REPORT_DAY_COUNT_COLUMNS = [
  'sends',
  'delivered',
  'deferred',
  'bounced_hard',
  'bounced_soft',
  'blocked',
  'suppressed_bounce',
  'suppressed_unsubscribe',
  'opened_unique',
  'opened_total',
  'opened_machine',
  'clicked_unique',
  'clicked_total',
  'clicked_machine',
  'complained',
] as const;

export type ReportDayCountRow = Record<(typeof REPORT_DAY_COUNT_COLUMNS)[number], number>;

/** A row's counts as core names them. */
export function countsOfRow(row: ReportDayCountRow): PurgedSend['counts'] {
  return {
    sends: row.sends,
    delivered: row.delivered,
    deferred: row.deferred,
    bouncedHard: row.bounced_hard,
    bouncedSoft: row.bounced_soft,
    blocked: row.blocked,
    suppressedBounce: row.suppressed_bounce,
    suppressedUnsubscribe: row.suppressed_unsubscribe,
    openedUnique: row.opened_unique,
    openedTotal: row.opened_total,
    openedMachine: row.opened_machine,
    clickedUnique: row.clicked_unique,
    clickedTotal: row.clicked_total,
    clickedMachine: row.clicked_machine,
    complained: row.complained,
  };
}
