/**
 * trxmail.yaml `retention`: how long sends (with their events) and finished webhook
 * deliveries are kept (README, "Retention"; the rules: core/retention.ts). Each is a number of
 * days: 0 keeps forever (the default: an upgrade never deletes anything by itself), else
 * MIN_RETENTION_DAYS..MAX_RETENTION_DAYS. A value out of range is a ConfigError naming the key
 * (config.ts reports the first zod issue as `<file>: retention.sendsDays: <message>, got N`).
 */
import { z } from 'zod';
import { MAX_RETENTION_DAYS, MIN_RETENTION_DAYS, isRetentionDays } from '../core/retention.js';

export interface RetentionConfig {
  /** Sends (recipients, tags, events) received more days ago than this are purged; 0: kept forever. */
  readonly sendsDays: number;
  /** Delivered or expired webhook deliveries finished more days ago than this are purged; 0: kept forever. */
  readonly webhookDays: number;
}

export const DEFAULT_RETENTION: RetentionConfig = { sendsDays: 0, webhookDays: 0 };

const days = z
  .number()
  .refine(isRetentionDays, { message: `expected 0 (keep forever) or a whole number of days from ${MIN_RETENTION_DAYS} to ${MAX_RETENTION_DAYS}` });

export const retentionSchema = z
  .strictObject({
    sendsDays: days.default(DEFAULT_RETENTION.sendsDays),
    webhookDays: days.default(DEFAULT_RETENTION.webhookDays),
  })
  .default({ ...DEFAULT_RETENTION });
