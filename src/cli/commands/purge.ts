/**
 * `trxmail purge`: enforce the retention now (README, "Retention"; the same loops as `serve`,
 * src/retention/purger.ts).
 *
 *   trxmail purge [--before YYYY-MM-DD] [--space S] [--dry-run] [--json]
 *
 * Sends received before the cutoff — midnight UTC of --before, else of the day
 * retention.sendsDays before today — are folded into the daily report aggregates and deleted
 * with their events, in batches of PURGE_BATCH_SIZE; with --space only that space's. Without
 * --space, finished webhook deliveries older than retention.webhookDays go too (when set).
 * --dry-run counts what would go and changes nothing. A cutoff later than
 * MIN_RETENTION_DAYS before today is refused (late bounces must still find their send).
 *
 * Throws UsageError (bad date, cutoff too late, no retention configured and no --before,
 * unknown space) — runCli turns it into one line and exit 1.
 */
import { latestCutoff, MIN_RETENTION_DAYS, retentionCutoff, utcDay } from '../../core/retention.js';
import { UsageError } from '../../lib/errors.js';
import { purgeSendsBefore, purgeWebhooksBefore } from '../../retention/purger.js';
import type { CliContext } from '../context.js';

const PLAIN_DATE = /^\d{4}-\d{2}-\d{2}$/;

/** Midnight UTC of a YYYY-MM-DD that exists, else UsageError naming --before. */
function beforeOption(value: string): Date {
  const d = new Date(`${value}T00:00:00Z`);
  if (!PLAIN_DATE.test(value) || Number.isNaN(d.getTime()) || d.toISOString().slice(0, 10) !== value) {
    throw new UsageError(`--before: expected a date YYYY-MM-DD (whole UTC days are purged), got "${value}"`);
  }
  return d;
}

interface PurgeOptions {
  before?: Date;
  space?: string;
  dryRun?: boolean;
  json?: boolean;
}

export function registerPurgeCommand(ctx: CliContext): void {
  ctx.program
    .command('purge')
    .description('purge old sends and events now (their report numbers are kept per day), and finished webhook deliveries')
    .option('--before <date>', 'purge sends received before this UTC day (default: retention.sendsDays before today)', beforeOption)
    .option('-s, --space <name>', 'only this space')
    .option('--dry-run', 'count what would be purged, change nothing')
    .option('--json', 'print JSON')
    .action(async (o: PurgeOptions) => {
      const now = (ctx.io.clock ?? (() => new Date()))();
      const config = ctx.getConfig();
      const { sendsDays, webhookDays } = config.retention;
      let before: Date;
      if (o.before !== undefined) {
        before = o.before;
        const latest = latestCutoff(now);
        if (before.getTime() > latest.getTime()) {
          throw new UsageError(`--before: at most ${utcDay(latest.getTime())} (the last ${MIN_RETENTION_DAYS} days are always kept), got ${utcDay(before.getTime())}`);
        }
      } else if (sendsDays > 0) {
        before = retentionCutoff(now, sendsDays);
      } else {
        throw new UsageError(`nothing to purge: retention.sendsDays is 0 (keep forever)${config.file === null ? '' : ` in ${config.file}`}; give --before YYYY-MM-DD`);
      }
      const store = await ctx.getStore();
      const spaceId = o.space === undefined ? undefined : (await ctx.space(o.space)).id;
      const webhooksBefore = spaceId === undefined && webhookDays > 0 ? retentionCutoff(now, webhookDays) : null;
      const day = utcDay(before.getTime());
      if (o.dryRun === true) {
        const c = await store.countPurgeable(before, spaceId);
        if (o.json === true) {
          ctx.out(JSON.stringify({ dryRun: true, before: day, sends: c.sends, events: c.events, firstDay: c.firstDay, lastDay: c.lastDay }) + '\n');
          return;
        }
        const days = c.firstDay === null ? '' : ` (days ${c.firstDay} to ${c.lastDay})`;
        ctx.out(`would purge ${c.sends} sends (${c.events} events) received before ${day}${days}; nothing changed\n`);
        if (webhooksBefore !== null) ctx.out(`would purge finished webhook deliveries done before ${utcDay(webhooksBefore.getTime())}\n`);
        return;
      }
      const sends = await purgeSendsBefore(store, { before, ...(spaceId === undefined ? {} : { spaceId }) });
      const deliveries = webhooksBefore === null ? null : await purgeWebhooksBefore(store, { before: webhooksBefore });
      if (o.json === true) {
        ctx.out(JSON.stringify({ before: day, sends: sends.sends, events: sends.events, aggregateRows: sends.buckets, batches: sends.batches, webhookDeliveries: deliveries }) + '\n');
        return;
      }
      ctx.out(`purged ${sends.sends} sends (${sends.events} events) received before ${day}: ${sends.buckets} daily aggregate rows written, in ${sends.batches} batches\n`);
      if (deliveries !== null && webhooksBefore !== null) {
        ctx.out(`purged ${deliveries} finished webhook deliveries done before ${utcDay(webhooksBefore.getTime())}\n`);
      }
    });
}
