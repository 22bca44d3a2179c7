/**
 * The login-failure aggregate above the backends (AuthFailureStore): keys and dates checked
 * before the backend (backend.ts) counts or writes.
 *
 * Limits: MAX_AUTH_FAILURE_KEYS keys per call, MAX_AUTH_FAILURE_KEY_LENGTH characters each.
 *
 * Throws: UsageError (a key outside the limits, an invalid date), TransientError and
 * InvariantError from the backend.
 */
import { UsageError } from '../../lib/errors.js';
import { MAX_AUTH_FAILURE_KEYS, MAX_AUTH_FAILURE_KEY_LENGTH } from '../../lib/limits.js';
import type { AuthFailureStore } from '../auth-failure-store.js';
import type { AuthFailureBackend } from '../backend.js';
import { quote, toMs } from './checks.js';

function checkKeys(keys: readonly string[]): string[] {
  if (!Array.isArray(keys) || keys.length < 1 || keys.length > MAX_AUTH_FAILURE_KEYS) {
    throw new UsageError(`login failures: 1..${MAX_AUTH_FAILURE_KEYS} keys per call`);
  }
  return [...new Set(keys.map(checkKey))];
}

function checkKey(key: string): string {
  if (typeof key !== 'string' || key === '' || key.length > MAX_AUTH_FAILURE_KEY_LENGTH || key.includes('\u0000')) {
    throw new UsageError(`login failure key ${quote(String(key).slice(0, 40))} must be 1..${MAX_AUTH_FAILURE_KEY_LENGTH} characters without NUL`);
  }
  return key;
}

export class NeutralAuthFailures implements AuthFailureStore {
  constructor(private readonly backend: AuthFailureBackend) {}

  async countAuthFailures(keys: readonly string[], since: Date): Promise<ReadonlyMap<string, number>> {
    const checked = checkKeys(keys);
    const counts = await this.backend.countFailures(checked, toMs(since, 'since'));
    return new Map(checked.map((k) => [k, counts[k] ?? 0]));
  }

  async recordAuthFailure(keys: readonly string[], at: Date, expireBefore: Date): Promise<void> {
    await this.backend.recordFailure(checkKeys(keys), toMs(at, 'failure time'), toMs(expireBefore, 'expireBefore'));
  }

  async clearAuthFailures(key: string): Promise<void> {
    await this.backend.clearFailures(checkKey(key));
  }
}
