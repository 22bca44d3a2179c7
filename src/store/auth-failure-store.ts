/**
 * The login-failure aggregate of the Store: failed logins by throttle key, shared by every
 * node on the store, so that guesses spread over several nodes meet one limit
 * (src/auth/credentials.ts decides what a key is and what the limits are; the store only
 * counts). Rows live for the throttle window: each write deletes the failures older than the
 * `expireBefore` it is given, so the table holds at most one window of failures.
 *
 * Limits: 1..MAX_AUTH_FAILURE_KEYS keys per call, each 1..MAX_AUTH_FAILURE_KEY_LENGTH
 * characters without NUL.
 *
 * Throws: UsageError for keys outside those limits or an invalid date, TransientError when
 * the backend is unavailable.
 */

export interface AuthFailureStore {
  /** Failures recorded at or after `since`, for each of `keys` (a key without any: 0). */
  countAuthFailures(keys: readonly string[], since: Date): Promise<ReadonlyMap<string, number>>;
  /** Records one failure at `at` under each of `keys`, and deletes every failure (any key) before `expireBefore`; one transaction. */
  recordAuthFailure(keys: readonly string[], at: Date, expireBefore: Date): Promise<void>;
  /** Forgets every failure of `key` (a successful login clears its login-and-address count). */
  clearAuthFailures(key: string): Promise<void>;
}
