/**
 * Retention, enforced (README, "Retention"; rules in core/retention.ts): the purge loops
 * shared by `trxmail purge` and `serve`, and the scheduled purge `serve` runs.
 *
 * purgeSendsBefore / purgeWebhooksBefore: one store batch after another (PURGE_BATCH_SIZE
 * sends per transaction, so the SQLite write lock is never held for long), yielding to the
 * event loop between batches, until a batch comes back short or `shouldStop` says so.
 *
 * RetentionPurger (serve): at start and then every RETENTION_RUN_INTERVAL_MS, when
 * retention.sendsDays (or webhookDays) is not 0: sends received before retentionCutoff(now,
 * sendsDays) are folded into the daily aggregates and deleted; finished webhook deliveries
 * done before retentionCutoff(now, webhookDays) are deleted. Runs never overlap; several nodes
 * on one PostgreSQL store may run it at once (the batches take different sends). A failure is
 * a warn log line and the next run tries again. Timers are unref'd; stop() lets the batch in
 * flight finish and skips the rest.
 *
 * Throws: purgeSendsBefore / purgeWebhooksBefore what the store throws; RetentionPurger never.
 */
import type { RetentionConfig } from '../config/retention.js';
import { PURGE_BATCH_SIZE, retentionCutoff } from '../core/retention.js';
import { errorForLog, type Logger } from '../lib/logger.js';
import type { RetentionStore } from '../store/store.js';

/** How often `serve` purges (and once at start). */
export const RETENTION_RUN_INTERVAL_MS = 15 * 60_000;

export interface PurgeTotals {
  readonly sends: number;
  readonly events: number;
  readonly buckets: number;
  readonly batches: number;
}

export interface PurgeLoopOptions {
  readonly before: Date;
  readonly spaceId?: number;
  /** Sends per batch (default PURGE_BATCH_SIZE). */
  readonly batch?: number;
  /** Checked before each batch: true stops the loop (serve is stopping). */
  readonly shouldStop?: () => boolean;
}

const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** Purges every send received before `before` (of the space, or all), batch after batch. */
export async function purgeSendsBefore(store: Pick<RetentionStore, 'purgeSends'>, opts: PurgeLoopOptions): Promise<PurgeTotals> {
  const limit = opts.batch ?? PURGE_BATCH_SIZE;
  const totals = { sends: 0, events: 0, buckets: 0, batches: 0 };
  while (!(opts.shouldStop?.() ?? false)) {
    const r = await store.purgeSends({ before: opts.before, limit, ...(opts.spaceId === undefined ? {} : { spaceId: opts.spaceId }) });
    totals.batches += 1;
    totals.sends += r.sends;
    totals.events += r.events;
    totals.buckets += r.buckets;
    if (r.sends < limit) break;
    await yieldToEventLoop();
  }
  return totals;
}

/** Purges every delivered or expired webhook delivery done before `before`, batch after batch; how many. */
export async function purgeWebhooksBefore(store: Pick<RetentionStore, 'purgeWebhookDeliveries'>, opts: Omit<PurgeLoopOptions, 'spaceId'>): Promise<number> {
  const limit = opts.batch ?? PURGE_BATCH_SIZE;
  let total = 0;
  while (!(opts.shouldStop?.() ?? false)) {
    const n = await store.purgeWebhookDeliveries(opts.before, limit);
    total += n;
    if (n < limit) break;
    await yieldToEventLoop();
  }
  return total;
}

export interface RetentionRun {
  readonly sends: PurgeTotals | null;
  readonly webhookDeliveries: number | null;
  /** Whether a part failed (logged). */
  readonly failed: boolean;
}

export interface RetentionPurgerOptions {
  readonly store: Pick<RetentionStore, 'purgeSends' | 'purgeWebhookDeliveries'>;
  readonly retention: RetentionConfig;
  readonly logger: Logger;
  readonly clock?: () => Date;
  /** Sends per batch (default PURGE_BATCH_SIZE). */
  readonly batch?: number;
}

export class RetentionPurger {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<RetentionRun> | null = null;
  private stopped = true;
  /** stop() was called: a run in flight skips the batches it has not started. */
  private halted = false;
  private readonly clock: () => Date;

  constructor(private readonly opts: RetentionPurgerOptions) {
    this.clock = opts.clock ?? (() => new Date());
  }

  /** Whether anything is to be purged at all (a retention is configured). */
  get enabled(): boolean {
    return this.opts.retention.sendsDays > 0 || this.opts.retention.webhookDays > 0;
  }

  /** Runs once now, then every RETENTION_RUN_INTERVAL_MS; nothing when no retention is configured. Idempotent. */
  start(): void {
    if (!this.stopped || !this.enabled) return;
    this.stopped = false;
    this.halted = false;
    void this.runOnce().then(() => this.schedule());
  }

  /** Cancels the timer; the batch in flight finishes, the rest waits for the next start. Never rejects. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.halted = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.running;
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.runOnce().then(() => this.schedule());
    }, RETENTION_RUN_INTERVAL_MS);
    this.timer.unref();
  }

  /** One run at `now` (default the clock); during a run, that run. Never rejects. */
  runOnce(now?: Date): Promise<RetentionRun> {
    if (this.running) return this.running;
    const run = this.run(now ?? this.clock()).finally(() => {
      this.running = null;
    });
    this.running = run;
    return run;
  }

  private async run(now: Date): Promise<RetentionRun> {
    const { store, retention, logger, batch } = this.opts;
    const shouldStop = (): boolean => this.halted;
    let failed = false;
    let sends: PurgeTotals | null = null;
    let webhookDeliveries: number | null = null;
    if (retention.sendsDays > 0) {
      const before = retentionCutoff(now, retention.sendsDays);
      try {
        sends = await purgeSendsBefore(store, { before, shouldStop, ...(batch === undefined ? {} : { batch }) });
        if (sends.sends > 0) {
          logger.info(
            { sends: sends.sends, events: sends.events, before: before.toISOString() },
            `retention: purged ${sends.sends} sends (${sends.events} events) received before ${before.toISOString().slice(0, 10)}; their report numbers are kept per day`,
          );
        }
      } catch (err: unknown) {
        failed = true;
        logger.warn({ err: errorForLog(err, false) }, 'retention: purging sends failed; the next run tries again');
      }
    }
    if (retention.webhookDays > 0) {
      const before = retentionCutoff(now, retention.webhookDays);
      try {
        webhookDeliveries = await purgeWebhooksBefore(store, { before, shouldStop, ...(batch === undefined ? {} : { batch }) });
        if (webhookDeliveries > 0) {
          logger.info({ deliveries: webhookDeliveries, before: before.toISOString() }, `retention: purged ${webhookDeliveries} finished webhook deliveries done before ${before.toISOString().slice(0, 10)}`);
        }
      } catch (err: unknown) {
        failed = true;
        logger.warn({ err: errorForLog(err, false) }, 'retention: purging webhook deliveries failed; the next run tries again');
      }
    }
    return { sends, webhookDeliveries, failed };
  }
}
