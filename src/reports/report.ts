/**
 * Aggregate reports: what every number means, and the shared shapes the CLI (`trxmail
 * report`) and the reports API (`GET /api/v1/report`) print. The numbers come from one SQL
 * query in the store (Store.report; SQLite: src/store/sqlite/report-query.ts).
 *
 * Which sends: those of ONE space with receivedAt in [since, until) (each bound optional),
 * From equal to `from` (case-insensitive, IDN-aware) when given, and carrying EVERY given tag.
 *
 * Numbers are about the send's To recipient, so each counts SENDS (a send at most once),
 * except the *Total and *Machine numbers, which count EVENTS:
 *   sends                  sends matching the filter.
 *   delivered              sends whose To recipient's status is `delivered`.
 *   deferred               sends whose To recipient's status is `deferred` now (Postfix still
 *                          retrying, or a soft bounce without a final outcome yet).
 *   bouncedHard            sends with at least one hard `bounced` event for the To (a `bounced`
 *                          event is hard unless its detail says `kind: "soft"`; Postfix's
 *                          status=bounced log line is permanent).
 *   bouncedSoft            sends with at least one soft bounce for the To: a `deferred` event,
 *                          or a `bounced` event with `kind: "soft"` — whatever came after (a
 *                          send deferred once and then delivered counts in both).
 *   blocked                sends whose To bounced (status `bounced`) for a reason on the SENDING
 *                          side (core/bounce-reason.ts SENDER_SIDE_REASONS: blocked IP or
 *                          blocklist, SPF/DKIM/DMARC failure, content/spam, policy, rate limit):
 *                          the address was not put on the Bounce list. Also in bouncedHard or
 *                          bouncedSoft, by the permanence of the failure.
 *   suppressedBounce       sends whose To was suppressed by the Bounce list.
 *   suppressedUnsubscribe  sends whose To was suppressed by the Unsubscribe list.
 *   openedUnique           sends a person opened: a person's `opened` event OR a person's
 *                          `clicked` event (a click proves the open when images were
 *                          blocked; as EventCounts.uniqueOpened).
 *   openedTotal            people's `opened` events.
 *   openedMachine          `opened` events marked machine traffic (detail `machine: true`:
 *                          image proxies, scanners); never in openedUnique / openedTotal.
 *   clickedUnique          sends with at least one person's `clicked` event.
 *   clickedTotal           people's `clicked` events.
 *   clickedMachine         `clicked` events marked machine traffic.
 *   complained             sends with at least one `complained` event for the To.
 * "For the To": the event's recipient has the To's address key (case-insensitive, IDN-aware);
 * events about the BCC copy never count. Opens and clicks need no such match: only the To's
 * copy is tracked.
 *
 * Grouping (one row per group, then always a `total` row counting every matching send once):
 *   day   the UTC day (YYYY-MM-DD) the send was RECEIVED; its later events count on that day.
 *   from  the From address's key (lower-cased, IDN domain as A-label).
 *   tag   each tag; a send with two tags counts in BOTH groups (so groups may add up to more
 *         than the total), sends without tags in a group with key null ("(no tag)").
 *   reason  the To recipient's bounce reason: why its last delivery attempt failed (set by a
 *         bounce or a deferral, cleared by a delivery); sends without one in the group with key
 *         null ("(none)"). The counts by reason.
 *   domain  the To recipient's domain (the receiving domain: lower-case, IDN as A-label), e.g.
 *         to see which receiver blocks the relay.
 * Groups without sends are not listed.
 */
import type { Cell, Column } from '../lib/table.js';
import type { ReportCounts, ReportGroupBy, ReportRow } from '../store/store.js';

export const REPORT_GROUPINGS: readonly ReportGroupBy[] = ['day', 'from', 'tag', 'reason', 'domain'];

/** The numbers in their print order, with the column header of tables and CSV. */
export const REPORT_NUMBERS: readonly { readonly field: keyof ReportCounts; readonly header: string }[] = [
  { field: 'sends', header: 'SENDS' },
  { field: 'delivered', header: 'DELIVERED' },
  { field: 'deferred', header: 'DEFERRED' },
  { field: 'bouncedHard', header: 'BOUNCED_HARD' },
  { field: 'bouncedSoft', header: 'BOUNCED_SOFT' },
  { field: 'blocked', header: 'BLOCKED' },
  { field: 'suppressedBounce', header: 'SUPPRESSED_BOUNCE' },
  { field: 'suppressedUnsubscribe', header: 'SUPPRESSED_UNSUB' },
  { field: 'openedUnique', header: 'OPENED' },
  { field: 'openedTotal', header: 'OPENS' },
  { field: 'openedMachine', header: 'OPENS_MACHINE' },
  { field: 'clickedUnique', header: 'CLICKED' },
  { field: 'clickedTotal', header: 'CLICKS' },
  { field: 'clickedMachine', header: 'CLICKS_MACHINE' },
  { field: 'complained', header: 'COMPLAINED' },
];

/** Text of a row's key in tables and CSV. */
export function reportKeyText(row: ReportRow): string {
  if (row.group === 'total') return 'total';
  if (row.key === null) return row.group === 'tag' ? '(no tag)' : row.group === 'reason' ? '(none)' : '';
  return row.key;
}

/** Columns for formatTable / formatCsv: the group's key, then every number. */
export function reportColumns(groupBy: ReportGroupBy | null): Column<ReportRow>[] {
  const keyHeader = groupBy === null ? 'ROW' : groupBy.toUpperCase();
  return [
    { header: keyHeader, value: (r): Cell => reportKeyText(r) },
    ...REPORT_NUMBERS.map(({ field, header }) => ({ header, value: (r: ReportRow): Cell => r[field] })),
  ];
}

/** JSON of one row: `group`, `key` (null for the total and the untagged group), the numbers. */
export function reportRowJson(row: ReportRow): Record<string, string | number | null> {
  const out: Record<string, string | number | null> = { group: row.group, key: row.key };
  for (const { field } of REPORT_NUMBERS) out[field] = row[field];
  return out;
}
