/**
 * Store contract, sending aggregate (SendingStore): limits per space, usage in rolling minute
 * buckets, the reservation that admits or refuses by core's rule (and counts only what it
 * admits), hard bounces and complaints counted since a time, pause and resume with their
 * 'space' webhook event (once per change), spaces apart, bad input refused.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { MAX_PAUSE_REASON_LENGTH } from '../../../src/core/limits.js';
import { MAX_SENDING_LIMIT } from '../../../src/core/sending-limits.js';
import { UsageError } from '../../../src/lib/errors.js';
import type { Space, Store } from '../../../src/store/store.js';
import { at, unknownSpace } from './fixture.js';
import type { CurrentFixture, Fixture } from './fixture.js';

const MIN = 60_000;

export function sendingContract(fixture: CurrentFixture): void {
  let store: Store;
  let a: Space;
  let b: Space;
  let send: Fixture['send'];
  beforeEach(() => {
    ({ store, a, b, send } = fixture());
  });

  describe('sending limits and pause', () => {
    it('a space without settings has no limits, is not paused and has used nothing', async () => {
      expect(await store.getSendingState(a.id)).toEqual({ spaceId: a.id, limits: { minute: null, hour: null, day: null }, pause: null, resumedAt: null });
      expect(await store.sendingUsage(a.id, at(0))).toEqual({ minute: 0, hour: 0, day: 0 });
    });

    it('sets and removes limits per window, space by space', async () => {
      await store.setSendingLimits(a.id, { minute: 10, day: 1000 });
      const s = await store.setSendingLimits(a.id, { hour: 100, day: null });
      expect(s.limits).toEqual({ minute: 10, hour: 100, day: null });
      expect((await store.getSendingState(b.id)).limits).toEqual({ minute: null, hour: null, day: null });
    });

    it('admits up to the limit and refuses the excess, counting only what it admits', async () => {
      await store.setSendingLimits(a.id, { minute: 3 });
      expect(await store.reserveSending(a.id, 2, at(0))).toEqual({ admitted: true, usage: { minute: 2, hour: 2, day: 2 } });
      expect((await store.reserveSending(a.id, 1, at(1000))).admitted).toBe(true);
      const refused = await store.reserveSending(a.id, 1, at(2000));
      expect(refused).toEqual({ admitted: false, usage: { minute: 3, hour: 3, day: 3 }, verdict: { kind: 'limit', window: 'minute', limit: 3, used: 3 } });
      expect(await store.sendingUsage(a.id, at(2000))).toEqual({ minute: 3, hour: 3, day: 3 });
      // Another space counts apart.
      expect((await store.reserveSending(b.id, 1, at(2000))).admitted).toBe(true);
      expect(await store.sendingUsage(b.id, at(2000))).toEqual({ minute: 1, hour: 1, day: 1 });
    });

    it('counts a space without limits or pause at once, nothing read (usage null), also when many messages arrive together', async () => {
      expect(await store.reserveSending(b.id, 2, at(0))).toEqual({ admitted: true, usage: null });
      await Promise.all(Array.from({ length: 20 }, (_, i) => store.reserveSending(b.id, 1, at(1000 + i))));
      expect(await store.sendingUsage(b.id, at(2000))).toEqual({ minute: 22, hour: 22, day: 22 });
      // A limit set afterwards sees what was counted without one.
      await store.setSendingLimits(b.id, { minute: 23 });
      expect(await store.reserveSending(b.id, 1, at(3000))).toEqual({ admitted: true, usage: { minute: 23, hour: 23, day: 23 } });
      expect((await store.reserveSending(b.id, 1, at(4000))).admitted).toBe(false);
    });

    it('countWithSend: a space without limits is admitted uncounted and the send counts its recipients in its own transaction; a send not recorded counts nothing', async () => {
      expect(await store.reserveSending(a.id, 2, at(0), { countWithSend: true })).toEqual({ admitted: true, usage: null, uncounted: 2 });
      expect(await store.sendingUsage(a.id, at(1000))).toEqual({ minute: 0, hour: 0, day: 0 });
      await store.recordSend(send({ id: 'c1', sentCount: 2 }));
      // Sends recorded together (one group commit) each count; one without a count adds nothing.
      await Promise.all([store.recordSend(send({ id: 'c2', sentCount: 1 })), store.recordSend(send({ id: 'c3', sentCount: 3 })), store.recordSend(send({ id: 'c4' }))]);
      expect(await store.sendingUsage(a.id, at(1000))).toEqual({ minute: 6, hour: 6, day: 6 });
      // A duplicate id is refused and its count is not added.
      await expect(store.recordSend(send({ id: 'c1', sentCount: 5 }))).rejects.toThrow(UsageError);
      expect(await store.sendingUsage(a.id, at(1000))).toEqual({ minute: 6, hour: 6, day: 6 });
      // Counted in the bucket of the send's receipt; other spaces apart.
      await store.recordSend(send({ id: 'c5', sentCount: 1, receivedAt: at(2 * MIN) }));
      expect(await store.sendingUsage(a.id, at(2 * MIN))).toEqual({ minute: 1, hour: 7, day: 7 });
      expect(await store.sendingUsage(b.id, at(2 * MIN))).toEqual({ minute: 0, hour: 0, day: 0 });
      // With a limit the reservation counts (and checks) as before: nothing left uncounted.
      await store.setSendingLimits(a.id, { hour: 8 });
      expect(await store.reserveSending(a.id, 1, at(2 * MIN), { countWithSend: true })).toEqual({ admitted: true, usage: { minute: 2, hour: 8, day: 8 } });
      expect((await store.reserveSending(a.id, 1, at(2 * MIN), { countWithSend: true })).admitted).toBe(false);
      await expect(store.recordSend(send({ id: 'c6', sentCount: -1 }))).rejects.toThrow(UsageError);
    });

    it('knownState: a space the caller just read without limits or pause is admitted from it; any other known state is read again', async () => {
      const unlimited = await store.getSendingState(a.id);
      // Limit and pause set after the caller read the state apply from the next message.
      await store.setSendingLimits(a.id, { minute: 0 });
      expect(await store.reserveSending(a.id, 1, at(0), { knownState: unlimited })).toEqual({ admitted: true, usage: null });
      const refused = await store.reserveSending(a.id, 1, at(0));
      expect(refused.admitted === false && refused.verdict).toEqual({ kind: 'limit', window: 'minute', limit: 0, used: 1 });
      // A known pause is not taken on trust either way: the state is read (resumed meanwhile: admitted).
      await store.setSendingLimits(a.id, { minute: null });
      await store.pauseSpace(a.id, { reason: 'checking', at: at(0), auto: false });
      const paused = await store.getSendingState(a.id);
      await store.resumeSpace(a.id, at(1));
      expect((await store.reserveSending(a.id, 1, at(2), { knownState: paused })).admitted).toBe(true);
      // Another space's state is not this space's.
      await store.pauseSpace(b.id, { reason: 'checking', at: at(0), auto: false });
      expect((await store.reserveSending(b.id, 1, at(2), { knownState: unlimited })).admitted).toBe(false);
    });

    it('rolls the windows by minute buckets: the minute passes, the hour and the day keep counting', async () => {
      const t = Math.floor(at(0).getTime() / MIN) * MIN; // the start of a bucket
      await store.setSendingLimits(a.id, { minute: 2, hour: 3 });
      expect((await store.reserveSending(a.id, 2, new Date(t + 59_000))).admitted).toBe(true);
      expect((await store.reserveSending(a.id, 1, new Date(t + 59_999))).admitted).toBe(false);
      expect(await store.reserveSending(a.id, 1, new Date(t + MIN))).toEqual({ admitted: true, usage: { minute: 1, hour: 3, day: 3 } });
      const r = await store.reserveSending(a.id, 1, new Date(t + 2 * MIN));
      expect(r.admitted === false && r.verdict).toEqual({ kind: 'limit', window: 'hour', limit: 3, used: 3 });
      // An hour after the first bucket it has left the hourly window; the day still counts it.
      expect(await store.sendingUsage(a.id, new Date(t + 60 * MIN))).toEqual({ minute: 0, hour: 1, day: 3 });
    });

    it('pause refuses every reservation with its reason; resume lifts it; each change once, with its webhook event', async () => {
      await store.setWebhook({ spaceId: a.id, url: 'https://hooks.example/x', secret: 's3cret' });
      expect(await store.pauseSpace(a.id, { reason: 'complaints under review', at: at(0), auto: false })).toBe(true);
      expect(await store.pauseSpace(a.id, { reason: 'again', at: at(10), auto: true })).toBe(false);
      const state = await store.getSendingState(a.id);
      expect(state.pause).toEqual({ reason: 'complaints under review', since: at(0), auto: false });
      const r = await store.reserveSending(a.id, 0, at(20));
      expect(r.admitted === false && r.verdict).toEqual({ kind: 'paused', reason: 'complaints under review' });
      expect((await store.getSendingState(b.id)).pause).toBeNull();
      expect(await store.resumeSpace(a.id, at(30))).toBe(true);
      expect(await store.resumeSpace(a.id, at(40))).toBe(false);
      expect(await store.getSendingState(a.id)).toMatchObject({ pause: null, resumedAt: at(30) });
      expect((await store.reserveSending(a.id, 1, at(50))).admitted).toBe(true);
      const events = (await store.listWebhookDeliveries({ spaceId: a.id })).reverse();
      expect(events.map((e) => [e.type, e.sendId, e.recipient, e.detail['state'], e.detail['reason'], e.detail['auto']])).toEqual([
        ['space', '', '', 'paused', 'complaints under review', false],
        ['space', '', '', 'resumed', null, false],
      ]);
    });

    it('counts hard bounces and complaints with the sends, since a time', async () => {
      await store.reserveSending(a.id, 4, at(0));
      await store.noteSendingOutcome(a.id, 'hard-bounce', at(MIN), at(-MIN));
      expect(await store.noteSendingOutcome(a.id, 'complaint', at(2 * MIN), at(-MIN))).toEqual({ sent: 4, hardBounced: 1, complained: 1 });
      expect(await store.sendingOutcomes(a.id, at(MIN))).toEqual({ sent: 0, hardBounced: 1, complained: 1 });
      expect(await store.sendingOutcomes(b.id, at(-MIN))).toEqual({ sent: 0, hardBounced: 0, complained: 0 });
    });

    it('refuses bad input and unknown spaces with a UsageError', async () => {
      await expect(store.getSendingState(unknownSpace)).rejects.toThrow(UsageError);
      await expect(store.setSendingLimits(a.id, { minute: -1 })).rejects.toThrow(UsageError);
      await expect(store.setSendingLimits(a.id, { hour: MAX_SENDING_LIMIT + 1 })).rejects.toThrow(UsageError);
      await expect(store.setSendingLimits(a.id, { day: 1.5 })).rejects.toThrow(UsageError);
      await expect(store.setSendingLimits(a.id, {})).rejects.toThrow(UsageError);
      expect((await store.setSendingLimits(a.id, { day: MAX_SENDING_LIMIT })).limits.day).toBe(MAX_SENDING_LIMIT);
      await expect(store.reserveSending(a.id, -1, at(0))).rejects.toThrow(UsageError);
      await expect(store.reserveSending(a.id, 1, new Date(Number.NaN))).rejects.toThrow(UsageError);
      await expect(store.pauseSpace(a.id, { reason: '', at: at(0), auto: false })).rejects.toThrow(UsageError);
      await expect(store.pauseSpace(a.id, { reason: 'x'.repeat(MAX_PAUSE_REASON_LENGTH + 1), at: at(0), auto: false })).rejects.toThrow(UsageError);
      await expect(store.pauseSpace(a.id, { reason: 'a\nb', at: at(0), auto: false })).rejects.toThrow(UsageError);
      expect(await store.pauseSpace(a.id, { reason: 'x'.repeat(MAX_PAUSE_REASON_LENGTH), at: at(0), auto: false })).toBe(true);
      await expect(store.resumeSpace(unknownSpace, at(0))).rejects.toThrow(UsageError);
    });
  });
}
