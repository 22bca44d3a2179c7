/**
 * Store contract, login-failure aggregate (AuthFailureStore): failures counted per key since a
 * time, expired ones deleted on write, one key cleared alone, bad keys refused.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { UsageError } from '../../../src/lib/errors.js';
import { MAX_AUTH_FAILURE_KEYS, MAX_AUTH_FAILURE_KEY_LENGTH } from '../../../src/lib/limits.js';
import type { Store } from '../../../src/store/store.js';
import { at } from './fixture.js';
import type { CurrentFixture } from './fixture.js';

export function authFailuresContract(fixture: CurrentFixture): void {
  let store: Store;
  beforeEach(() => {
    ({ store } = fixture());
  });
  const ADDRESS = JSON.stringify(['address', '192.0.2.7']);
  const PAIR = JSON.stringify(['pair', '192.0.2.7\u0000app@shop.example']);

  describe('login failures', () => {
    it('counts failures per key since a time; a key without any counts 0', async () => {
      expect(await store.countAuthFailures([ADDRESS, PAIR], at(0))).toEqual(new Map([[ADDRESS, 0], [PAIR, 0]]));
      await store.recordAuthFailure([ADDRESS, PAIR], at(1000), at(-300_000));
      await store.recordAuthFailure([ADDRESS, PAIR], at(2000), at(-300_000));
      await store.recordAuthFailure([ADDRESS], at(3000), at(-300_000));
      expect(await store.countAuthFailures([ADDRESS, PAIR], at(0))).toEqual(new Map([[ADDRESS, 3], [PAIR, 2]]));
      expect(await store.countAuthFailures([ADDRESS, PAIR], at(2000))).toEqual(new Map([[ADDRESS, 2], [PAIR, 1]]));
      expect(await store.countAuthFailures(['other'], at(0))).toEqual(new Map([['other', 0]]));
    });

    it('a write deletes the failures of every key older than expireBefore', async () => {
      await store.recordAuthFailure(['a'], at(0), at(-1));
      await store.recordAuthFailure(['b'], at(10), at(-1));
      await store.recordAuthFailure(['c'], at(20), at(5));
      expect(await store.countAuthFailures(['a', 'b', 'c'], at(-1_000_000))).toEqual(new Map([['a', 0], ['b', 1], ['c', 1]]));
    });

    it('clears one key only', async () => {
      await store.recordAuthFailure([ADDRESS, PAIR], at(1000), at(0));
      await store.clearAuthFailures(PAIR);
      expect(await store.countAuthFailures([ADDRESS, PAIR], at(0))).toEqual(new Map([[ADDRESS, 1], [PAIR, 0]]));
    });

    it('refuses bad keys with a UsageError', async () => {
      await expect(store.countAuthFailures([], at(0))).rejects.toThrow(UsageError);
      await expect(store.countAuthFailures(Array.from({ length: MAX_AUTH_FAILURE_KEYS + 1 }, (_, i) => `k${i}`), at(0))).rejects.toThrow(UsageError);
      await expect(store.recordAuthFailure([''], at(0), at(0))).rejects.toThrow(UsageError);
      await expect(store.recordAuthFailure(['x'.repeat(MAX_AUTH_FAILURE_KEY_LENGTH + 1)], at(0), at(0))).rejects.toThrow(UsageError);
      await expect(store.clearAuthFailures('a\u0000b')).rejects.toThrow(UsageError);
      await expect(store.recordAuthFailure(['k'], new Date(Number.NaN), at(0))).rejects.toThrow(UsageError);
    });
  });
}
