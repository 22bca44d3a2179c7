/**
 * Waiting for an event instead of polling: the first value that matches, among those already
 * seen (kept by the caller, e.g. every log line so far) or still to come on `emitter`. Checking
 * what was kept first means an event that fired before the wait began is not missed.
 * Never times out itself: the test's own timeout ends a wait for an event that never comes.
 */
import type { EventEmitter } from 'node:events';

export function firstMatch<T>(seen: readonly T[], emitter: EventEmitter, event: string, match: (value: T) => boolean): Promise<T> {
  const found = seen.find(match);
  if (found !== undefined) return Promise.resolve(found);
  return new Promise((resolve) => {
    const on = (value: T): void => {
      if (!match(value)) return;
      emitter.off(event, on);
      resolve(value);
    };
    emitter.on(event, on);
  });
}
