/**
 * core/sending-limits.ts: which limit a space passes, the pause first, the rolling windows at
 * minute resolution, the automatic pause's thresholds and minimum volume, and the replies.
 */
import { describe, expect, it } from 'vitest';
import { MAX_PAUSE_REASON_LENGTH } from '../../../src/core/limits.js';
import {
  autoPauseSinceMs,
  autoPauseVerdict,
  DEFAULT_AUTO_PAUSE,
  isSendingLimit,
  MAX_SENDING_LIMIT,
  NO_LIMITS,
  sendingRejection,
  sendingVerdict,
  windowStartMs,
} from '../../../src/core/sending-limits.js';

const usage = (minute: number, hour = minute, day = hour) => ({ minute, hour, day });
const T = Date.UTC(2026, 0, 1, 10, 30, 45); // 45 s into a minute

describe('sendingVerdict', () => {
  it('no limits: always admitted', () => {
    expect(sendingVerdict(null, NO_LIMITS, usage(1e9), 1000)).toBeNull();
  });

  it('admits up to the limit, refuses one past it, naming the window', () => {
    const limits = { minute: 10, hour: 100, day: null };
    expect(sendingVerdict(null, limits, usage(9, 50), 1)).toBeNull();
    expect(sendingVerdict(null, limits, usage(10, 50), 1)).toEqual({ kind: 'limit', window: 'minute', limit: 10, used: 10 });
    expect(sendingVerdict(null, limits, usage(9, 50), 2)).toEqual({ kind: 'limit', window: 'minute', limit: 10, used: 9 });
    expect(sendingVerdict(null, limits, usage(0, 100), 1)).toEqual({ kind: 'limit', window: 'hour', limit: 100, used: 100 });
    expect(sendingVerdict(null, { minute: null, hour: null, day: 0 }, usage(0), 1)).toMatchObject({ window: 'day', limit: 0 });
    expect(sendingVerdict(null, { minute: null, hour: null, day: 0 }, usage(0), 0)).toBeNull();
  });

  it('a pause comes first, with its reason', () => {
    expect(sendingVerdict({ reason: 'overdue', since: new Date(T), auto: false }, NO_LIMITS, usage(0), 0)).toEqual({ kind: 'paused', reason: 'overdue' });
  });

  it('replies: 451 4.7.0 naming the limit, 451 4.7.1 with the reason (cut, printable)', () => {
    expect(sendingRejection({ kind: 'limit', window: 'minute', limit: 100, used: 100 })).toEqual({
      kind: 'reject',
      reason: 'sending-limit',
      code: 451,
      enhanced: '4.7.0',
      text: 'Sending limit of 100 messages per minute reached for this space; try again later',
    });
    expect(sendingRejection({ kind: 'paused', reason: 'hard-bounce rate 12.0% over 24 h (limit 10%)' }).text).toBe(
      'Sending paused for this space: hard-bounce rate 12.0% over 24 h (limit 10%); contact your administrator',
    );
    const long = sendingRejection({ kind: 'paused', reason: 'é'.repeat(MAX_PAUSE_REASON_LENGTH + 1) }).text;
    expect(long).toBe(`Sending paused for this space: ${'?'.repeat(MAX_PAUSE_REASON_LENGTH)}...; contact your administrator`);
  });

  it('limits: whole numbers 0..MAX_SENDING_LIMIT', () => {
    expect(isSendingLimit(0)).toBe(true);
    expect(isSendingLimit(MAX_SENDING_LIMIT)).toBe(true);
    expect(isSendingLimit(MAX_SENDING_LIMIT + 1)).toBe(false);
    expect(isSendingLimit(-1)).toBe(false);
    expect(isSendingLimit(1.5)).toBe(false);
  });
});

describe('windows', () => {
  it('roll at minute resolution: the minute is the current bucket, the hour 60 buckets, the day 1440', () => {
    const bucket = Date.UTC(2026, 0, 1, 10, 30, 0);
    expect(windowStartMs('minute', T)).toBe(bucket);
    expect(windowStartMs('hour', T)).toBe(bucket - 59 * 60_000);
    expect(windowStartMs('day', T)).toBe(bucket - 1439 * 60_000);
  });

  it('the auto-pause window starts windowHours back, or at the last resume when later', () => {
    const start = windowStartMs('day', T);
    expect(autoPauseSinceMs(DEFAULT_AUTO_PAUSE, T, null)).toBe(start);
    expect(autoPauseSinceMs(DEFAULT_AUTO_PAUSE, T, start - 1)).toBe(start);
    expect(autoPauseSinceMs(DEFAULT_AUTO_PAUSE, T, T - 5000)).toBe(T - 5000);
  });
});

describe('autoPauseVerdict', () => {
  const s = DEFAULT_AUTO_PAUSE; // 24 h, 100 recipients, 10 % hard bounces, 0.5 % complaints

  it('nothing below the minimum volume, however bad', () => {
    expect(autoPauseVerdict(s, { sent: 99, hardBounced: 99, complained: 99 })).toBeNull();
    expect(autoPauseVerdict(s, { sent: 0, hardBounced: 5, complained: 0 })).toBeNull();
  });

  it('pauses at the hard-bounce threshold, not one below it', () => {
    expect(autoPauseVerdict(s, { sent: 100, hardBounced: 9, complained: 0 })).toBeNull();
    expect(autoPauseVerdict(s, { sent: 100, hardBounced: 10, complained: 0 })).toEqual({
      kind: 'hard-bounce',
      rate: 10,
      threshold: 10,
      reason: 'hard-bounce rate 10.0% over 24 h (limit 10%)',
    });
  });

  it('pauses at the complaint threshold (checked first)', () => {
    expect(autoPauseVerdict(s, { sent: 1000, hardBounced: 0, complained: 4 })).toBeNull();
    expect(autoPauseVerdict(s, { sent: 1000, hardBounced: 200, complained: 5 })).toMatchObject({ kind: 'complaint', reason: 'complaint rate 0.5% over 24 h (limit 0.5%)' });
  });

  it('never when disabled', () => {
    expect(autoPauseVerdict({ ...s, enabled: false }, { sent: 100, hardBounced: 100, complained: 100 })).toBeNull();
  });
});
