/**
 * Option values several commands take, parsed once: X-Mxm-Flags and X-Mxm-Unsubscribe
 * default values (`space`, `from`),
 * repeatable options, and the report filter of `sends list` and `report` (--since, --until,
 * --from, --tag; dates in the grammar of src/reports/date-bound.ts, which the reports API
 * shares). Throws UsageError naming the option; commander reports it as one line.
 */
import { MAX_FLAGS } from '../core/types.js';
import { isUnsubscribeDefault, type UnsubscribeDefault } from '../core/unsubscribe.js';
import { UsageError } from '../lib/errors.js';
import { parseDateBound } from '../reports/date-bound.js';

/**
 * `--flags` value: an integer 0-15, or `default` (= not configured). Returns the string
 * 'default' rather than null: commander turns a null from a parser into ''.
 */
export function parseFlagsOption(value: string): number | 'default' {
  if (value === 'default') return 'default';
  if (!/^\d{1,2}$/.test(value) || Number(value) > MAX_FLAGS) {
    throw new UsageError(`flags must be an integer from 0 to ${MAX_FLAGS} or "default", got "${value}"`);
  }
  return Number(value);
}

/** What the store keeps for a parsed --flags value: null means "not configured". */
export function flagsValue(f: number | 'default' | undefined): number | null {
  return f === undefined || f === 'default' ? null : f;
}

/** How flags print: a number, or "default". */
export function flagsText(flags: number | null): string {
  return flags === null ? 'default' : String(flags);
}

/** `--unsubscribe` value: one-click, none, or `default` (= not configured; returned as a string, like parseFlagsOption). */
export function parseUnsubscribeOption(value: string): UnsubscribeDefault | 'default' {
  const v = value.trim().toLowerCase();
  if (v === 'default' || isUnsubscribeDefault(v)) return v;
  throw new UsageError(`--unsubscribe must be "one-click", "none" or "default", got "${value}"`);
}

/** What the store keeps for a parsed --unsubscribe value: null means "not configured". */
export function unsubscribeValue(u: UnsubscribeDefault | 'default'): UnsubscribeDefault | null {
  return u === 'default' ? null : u;
}

/** How an unsubscribe default prints: its value, or "default" (none configured: off unless asked per message). */
export function unsubscribeText(u: UnsubscribeDefault | null): string {
  return u ?? 'default';
}

/** Commander argument parser of a repeatable option: every value, in order. */
export function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/**
 * Parse a --since/--until value. `endOfDay` moves a plain date to the next midnight (UTC).
 * The CLI takes a space between date and time too (`"2026-11-22 10:00Z"`).
 */
export function parseDateOption(name: string, value: string, endOfDay: boolean): Date {
  const d = parseDateBound(value, { endOfDay, allowSpace: true });
  if (d === null) throw new UsageError(`${name}: expected a date like 2026-11-22 or 2026-11-22T10:00:00Z, got "${value}"`);
  return d;
}

/** The report filter options as given on the command line. */
export interface FilterOptions {
  readonly since?: string;
  readonly until?: string;
  readonly from?: string;
  readonly tag?: string[];
}

/** The parts of a SendFilter / ReportFilter the options set (absent options stay absent). */
export interface ParsedFilter {
  since?: Date;
  until?: Date;
  tags?: string[];
  from?: string;
}

/**
 * --since (inclusive), --until (exclusive; a plain date includes that day), --tag (every one
 * must be on the send; blank ones dropped), --from. UsageError when --since is not before --until.
 */
export function parseFilterOptions(o: FilterOptions): ParsedFilter {
  const filter: ParsedFilter = {};
  if (o.since !== undefined) filter.since = parseDateOption('--since', o.since, false);
  if (o.until !== undefined) filter.until = parseDateOption('--until', o.until, true);
  if (filter.since && filter.until && filter.since >= filter.until) throw new UsageError('--since must be before --until');
  if (o.tag) filter.tags = o.tag.map((t) => t.trim()).filter((t) => t !== '');
  if (o.from !== undefined) filter.from = o.from;
  return filter;
}
