/**
 * `trxmail report`: the aggregate report of one space (Store.report; every number is defined
 * in src/reports/report.ts).
 *
 *   trxmail report --space S [--since D] [--until D] [--from A] [--tag T]... [--by day|from|tag]
 *                  [--json|--csv]
 *
 * Filters mean what they mean for `trxmail sends list` (the same parser, ../options.ts:
 * --since inclusive, --until exclusive for a date-time and covering the whole day for a plain
 * date; --from case-insensitive; every --tag must be on the send). Without --by only the total
 * row is printed; with it, one row per day (UTC), From address or tag, then the total. With
 * --by tag a send carrying two tags counts in both rows; untagged sends are the "(no tag)" row.
 * Output: an aligned table, CSV (RFC 4180, formula-safe) or JSON (an array of rows).
 *
 * Throws UsageError (bad option values, unknown space) — runCli turns it into one line.
 */
import { UsageError } from '../../lib/errors.js';
import { REPORT_GROUPINGS, reportColumns, reportRowJson } from '../../reports/report.js';
import type { ReportFilter, ReportGroupBy } from '../../store/store.js';
import { outputFormat, render, type CliContext } from '../context.js';
import { collect, parseFilterOptions } from '../options.js';

function groupOption(value: string): ReportGroupBy {
  const g = REPORT_GROUPINGS.find((x) => x === value);
  if (g === undefined) throw new UsageError(`--by: expected one of ${REPORT_GROUPINGS.join(', ')}, got "${value}"`);
  return g;
}

export function registerReportCommand(ctx: CliContext): void {
  ctx.program
    .command('report')
    .description('aggregate report of a space: sends, delivery, bounces, suppressions, opens, clicks, complaints')
    .requiredOption('-s, --space <name>', 'the space')
    .option('--since <date>', 'received at or after (ISO date or date-time)')
    .option('--until <date>', 'received before (a plain date includes that whole day)')
    .option('-f, --from <address>', 'only sends from this From address')
    .option('-t, --tag <tag>', 'only sends carrying this tag (repeat: all must match)', collect)
    .option('--by <grouping>', `one row per ${REPORT_GROUPINGS.join(' | ')}, then the total`, groupOption)
    .option('--json', 'print JSON')
    .option('--csv', 'print CSV')
    .action(
      async (o: { space: string; since?: string; until?: string; from?: string; tag?: string[]; by?: ReportGroupBy; json?: boolean; csv?: boolean }) => {
        const fmt = outputFormat(o);
        const parsed = parseFilterOptions(o);
        const filter: ReportFilter = { spaceId: (await ctx.space(o.space)).id, ...parsed };
        const groupBy = o.by ?? null;
        const rows = await (await ctx.getStore()).report(filter, groupBy);
        ctx.out(render(fmt, reportColumns(groupBy), rows, reportRowJson));
      },
    );
}
