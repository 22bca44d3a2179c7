/**
 * When to retry a failed webhook delivery (pure; time and randomness are passed in).
 *
 * Exponential backoff with "equal jitter": after the n-th failed attempt the nominal delay is
 * min(WEBHOOK_MAX_RETRY_MS, WEBHOOK_FIRST_RETRY_MS * 2^(n-1)) and the real one is drawn from
 * [nominal/2, nominal], so deliveries that failed together (an endpoint that was down) do not
 * come back together. A delivery whose next attempt would fall after createdAt +
 * WEBHOOK_EXPIRY_MS is given up ('expired') instead. With the defaults: 10 s, 20 s, 40 s, ...
 * about 1 h from the 10th failure on, about 80 attempts in 3 days.
 */

/** Nominal delay after the first failed attempt. */
export const WEBHOOK_FIRST_RETRY_MS = 10_000;
/** Largest nominal delay between two attempts. */
export const WEBHOOK_MAX_RETRY_MS = 60 * 60 * 1000;
/** A delivery not done this long after it was queued is given up ('expired'). */
export const WEBHOOK_EXPIRY_MS = 3 * 24 * 60 * 60 * 1000;

export interface BackoffPolicy {
  readonly firstRetryMs: number;
  readonly maxRetryMs: number;
  readonly expiryMs: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = {
  firstRetryMs: WEBHOOK_FIRST_RETRY_MS,
  maxRetryMs: WEBHOOK_MAX_RETRY_MS,
  expiryMs: WEBHOOK_EXPIRY_MS,
};

/** Delay (ms) after `failures` failed attempts (1 = the first); `random` in [0, 1). */
export function retryDelayMs(failures: number, random: number, policy: BackoffPolicy = DEFAULT_BACKOFF): number {
  const n = Math.max(1, Math.floor(failures));
  // 2^(n-1) overflows to Infinity for large n; min() keeps the cap.
  const nominal = Math.min(policy.maxRetryMs, policy.firstRetryMs * 2 ** Math.min(n - 1, 60));
  const r = Math.min(Math.max(random, 0), 1);
  return Math.round(nominal / 2 + (nominal / 2) * r);
}

/** The next attempt's time, or null when the delivery should expire. */
export function nextAttempt(createdAt: Date, failures: number, now: Date, random: number, policy: BackoffPolicy = DEFAULT_BACKOFF): Date | null {
  const at = now.getTime() + retryDelayMs(failures, random, policy);
  return at > createdAt.getTime() + policy.expiryMs ? null : new Date(at);
}
