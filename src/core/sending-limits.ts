/**
 * Sending limits and the pause of a space (issue 16 items 1–2): the rules, once.
 *
 * Usage is counted per recipient a message is delivered to (the To and the BCC that are not
 * suppressed), in one-minute buckets per space kept in the store (shared by every node). The
 * windows roll at minute resolution: the per-minute window is the current minute's bucket, the
 * hourly window that bucket and the 59 before, the daily window that bucket and the 1,439
 * before (windowStartMs).
 *
 *  - sendingVerdict: may a space send `adding` more now? A paused space may not (its reason);
 *    else the first window (minute, hour, day) whose limit `usage + adding` would pass.
 *    The policy service asks with adding = 1 at each RCPT; the accept step asks again at end
 *    of message with the message's delivered recipients, in the store transaction that counts
 *    them, so a burst spread over several nodes cannot pass a limit.
 *  - autoPauseVerdict: does a space's hard-bounce or complaint rate over the auto-pause window
 *    (counted since the window start or the last resume, whichever is later) cross its
 *    threshold, once at least `minVolume` recipients were sent in it?
 *
 * Pure: no I/O, no clock (times are passed in as milliseconds). Throws nothing.
 */
import { MAX_PAUSE_REASON_LENGTH } from './limits.js';
import { rejection } from './replies.js';
import type { Rejection } from './types.js';

export type LimitWindow = 'minute' | 'hour' | 'day';
export const LIMIT_WINDOWS: readonly LimitWindow[] = ['minute', 'hour', 'day'];
export const LIMIT_WINDOW_MS: Readonly<Record<LimitWindow, number>> = { minute: 60_000, hour: 3_600_000, day: 86_400_000 };
/** The store counts usage in buckets of this many milliseconds (one minute). */
export const USAGE_BUCKET_MS = 60_000;
/** Highest sending limit a space can be given (per window); higher is refused. */
export const MAX_SENDING_LIMIT = 100_000_000;
/** Longest auto-pause window (config `autoPause.windowHours`). */
export const MAX_AUTO_PAUSE_WINDOW_HOURS = 168;
/** How long usage buckets are kept: the longest window that can read them. */
export const USAGE_RETENTION_MS = MAX_AUTO_PAUSE_WINDOW_HOURS * 3_600_000;
export { MAX_PAUSE_REASON_LENGTH };

/** Per-window limits; null = no limit in that window. */
export type SendingLimits = Readonly<Record<LimitWindow, number | null>>;
export const NO_LIMITS: SendingLimits = { minute: null, hour: null, day: null };
/** Recipients counted in each window. */
export type SendingUsage = Readonly<Record<LimitWindow, number>>;

export interface SpacePause {
  readonly reason: string;
  readonly since: Date;
  /** Paused by the auto-pause rule (true) or by an operator (false). */
  readonly auto: boolean;
}

export type SendingVerdict =
  | { readonly kind: 'paused'; readonly reason: string }
  | { readonly kind: 'limit'; readonly window: LimitWindow; readonly limit: number; readonly used: number };

/** Start of the bucket holding `atMs`. */
export function bucketStartMs(atMs: number): number {
  return Math.floor(atMs / USAGE_BUCKET_MS) * USAGE_BUCKET_MS;
}

/** The first bucket start counted in `window` at `atMs` (the window rolls at minute resolution). */
export function windowStartMs(window: LimitWindow, atMs: number): number {
  return bucketStartMs(atMs) - LIMIT_WINDOW_MS[window] + USAGE_BUCKET_MS;
}

/** Null: the space may send `adding` more recipients; else why not. */
export function sendingVerdict(pause: SpacePause | null, limits: SendingLimits, usage: SendingUsage, adding: number): SendingVerdict | null {
  if (pause !== null) return { kind: 'paused', reason: pause.reason };
  for (const window of LIMIT_WINDOWS) {
    const limit = limits[window];
    if (limit !== null && usage[window] + adding > limit) return { kind: 'limit', window, limit, used: usage[window] };
  }
  return null;
}

/** The reply of a verdict (core's table: `sending-limit` 451 4.7.0, `space-paused` 451 4.7.1). */
export function sendingRejection(v: SendingVerdict): Rejection {
  return v.kind === 'paused' ? rejection('space-paused', v.reason) : rejection('sending-limit', v.limit, v.window);
}

/** Whether `n` is a valid limit for one window. */
export function isSendingLimit(n: unknown): n is number {
  return typeof n === 'number' && Number.isInteger(n) && n >= 0 && n <= MAX_SENDING_LIMIT;
}

// ---- automatic pause -----------------------------------------------------------------------

/** trxmail.yaml `autoPause`: rates in percent of the recipients sent in the window. */
export interface AutoPauseSettings {
  readonly enabled: boolean;
  readonly windowHours: number;
  /** Recipients sent in the window before any rate counts. */
  readonly minVolume: number;
  readonly hardBounceRate: number;
  readonly complaintRate: number;
}

/** Near Amazon SES's pause levels: 10 % hard bounces, 0.5 % complaints, over a day, from 100 recipients. */
export const DEFAULT_AUTO_PAUSE: AutoPauseSettings = { enabled: true, windowHours: 24, minVolume: 100, hardBounceRate: 10, complaintRate: 0.5 };

export interface OutcomeCounts {
  /** Recipients sent (counted at acceptance). */
  readonly sent: number;
  /** Hard bounces: bounces that listed the address (core/bounce-listing.ts). */
  readonly hardBounced: number;
  readonly complained: number;
}

export interface AutoPauseVerdict {
  readonly kind: 'hard-bounce' | 'complaint';
  /** In percent. */
  readonly rate: number;
  readonly threshold: number;
  /** The pause reason clients see (in the 451) and the webhook carries. */
  readonly reason: string;
}

/** The start of the auto-pause window at `atMs`: windowHours back, or the last resume when later. */
export function autoPauseSinceMs(settings: AutoPauseSettings, atMs: number, resumedAtMs: number | null): number {
  const start = bucketStartMs(atMs) - settings.windowHours * 3_600_000 + USAGE_BUCKET_MS;
  return resumedAtMs !== null && resumedAtMs > start ? resumedAtMs : start;
}

function percent(n: number): string {
  return `${(Math.round(n * 10) / 10).toFixed(1)}%`;
}

/** Null: no pause; else which rate crossed its threshold. */
export function autoPauseVerdict(settings: AutoPauseSettings, counts: OutcomeCounts): AutoPauseVerdict | null {
  if (!settings.enabled || counts.sent < settings.minVolume || counts.sent <= 0) return null;
  const check = (kind: AutoPauseVerdict['kind'], n: number, threshold: number): AutoPauseVerdict | null => {
    const rate = (n / counts.sent) * 100;
    if (rate < threshold) return null;
    const what = kind === 'hard-bounce' ? 'hard-bounce' : 'complaint';
    return { kind, rate, threshold, reason: `${what} rate ${percent(rate)} over ${settings.windowHours} h (limit ${threshold}%)` };
  };
  return check('complaint', counts.complained, settings.complaintRate) ?? check('hard-bounce', counts.hardBounced, settings.hardBounceRate);
}
