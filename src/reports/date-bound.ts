/**
 * The date grammar of report filters, ONE for the CLI (`--since`/`--until` of `sends list` and
 * `report`) and the reports API (`since`/`until` of /api/v1/report and /api/v1/sends):
 * ISO 8601 as profiled by RFC 3339.
 *
 *   date        YYYY-MM-DD                           a whole UTC day; the day must exist
 *                                                    (2026-02-30 does not roll over to March)
 *   date-time   YYYY-MM-DD"T"HH:MM[:SS[.fff]]ZONE    ZONE = Z | +HH:MM | +HHMM (or -); a zone is
 *                                                    required: no local times
 *
 * A `since` bound is inclusive. An `until` bound is exclusive; a plain date there stands for
 * the END of that day (the next midnight UTC), so since = until = D selects the whole day D.
 *
 * `allowSpace`: a space instead of "T" between date and time (RFC 3339 §5.6 allows it for
 * readability). The CLI has always taken it, the API has always refused it (its tests say so);
 * the option keeps both as they were.
 *
 * Pure; returns null for anything else and never throws (callers word their own errors).
 */

export interface DateBoundOptions {
  /** The value is an `until` bound: a plain date moves to the next midnight (UTC). */
  readonly endOfDay: boolean;
  /** Accept `YYYY-MM-DD HH:MM…` as well as `YYYY-MM-DDTHH:MM…`. */
  readonly allowSpace: boolean;
}

const DAY_MS = 86_400_000;
const DATE_ONLY = /^\d{4}-\d{2}-\d{2}$/;
const DATE_TIME = /^\d{4}-\d{2}-\d{2}([T ])\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:?\d{2})$/;

/** The instant a --since/--until (CLI) or since/until (API) value names, or null. */
export function parseDateBound(value: string, opts: DateBoundOptions): Date | null {
  let d: Date;
  if (DATE_ONLY.test(value)) {
    d = new Date(`${value}T00:00:00Z`);
    if (Number.isNaN(d.getTime()) || d.toISOString().slice(0, 10) !== value) return null;
    if (opts.endOfDay) d = new Date(d.getTime() + DAY_MS);
    return d;
  }
  const m = DATE_TIME.exec(value);
  if (m === null || (m[1] === ' ' && !opts.allowSpace)) return null;
  d = new Date(value.replace(' ', 'T'));
  return Number.isNaN(d.getTime()) ? null : d;
}
