/**
 * The sending aggregate above the backends (SendingStore, ../sending-store.ts): limits, counts,
 * dates and reasons checked; the windows computed (core/sending-limits.ts); the admission
 * decided by core's sendingVerdict inside the backend's transaction; the 'space' webhook
 * event built here, queued by the backend only when the pause state changed.
 *
 * Limits: limits 0..MAX_SENDING_LIMIT, reasons 1..MAX_PAUSE_REASON_LENGTH characters without
 * control characters, counts 0..MAX_RECIPIENTS per reservation.
 *
 * Throws: UsageError (unknown space, a value outside the limits), TransientError and
 * InvariantError from the backend.
 */
import { MAX_PAUSE_REASON_LENGTH, MAX_RECIPIENTS } from '../../core/limits.js';
import {
  bucketStartMs,
  isSendingLimit,
  LIMIT_WINDOWS,
  MAX_SENDING_LIMIT,
  sendingVerdict,
  USAGE_RETENTION_MS,
  windowStartMs,
  type LimitWindow,
  type OutcomeCounts,
  type SendingUsage,
  type SendingVerdict,
} from '../../core/sending-limits.js';
import { UsageError } from '../../lib/errors.js';
import type { AccountBackend, DeliveryRecord, SendingBackend } from '../backend.js';
import type { ReserveOptions, SendingReservation, SendingState, SendingStore } from '../sending-store.js';
import { quote, toMs } from './checks.js';
import { requireSpace } from './accounts.js';

function checkReason(reason: string): string {
  const r = typeof reason === 'string' ? reason.trim() : '';
  if (r === '' || r.length > MAX_PAUSE_REASON_LENGTH || /[\u0000-\u001f\u007f]/.test(r)) {
    throw new UsageError(`pause reason ${quote(String(reason))} must be 1..${MAX_PAUSE_REASON_LENGTH} characters without control characters`);
  }
  return r;
}

function usageOf(sent: readonly number[]): SendingUsage {
  return { minute: sent[0] ?? 0, hour: sent[1] ?? 0, day: sent[2] ?? 0 };
}

export class NeutralSending implements SendingStore {
  constructor(
    private readonly backend: SendingBackend,
    private readonly accounts: AccountBackend,
  ) {}

  async getSendingState(spaceId: number): Promise<SendingState> {
    await requireSpace(this.accounts, spaceId);
    return this.backend.getState(spaceId);
  }

  async setSendingLimits(spaceId: number, patch: Partial<Record<LimitWindow, number | null>>): Promise<SendingState> {
    const checked: Partial<Record<LimitWindow, number | null>> = {};
    for (const w of LIMIT_WINDOWS) {
      const v = patch[w];
      if (v === undefined) continue;
      if (v !== null && !isSendingLimit(v)) throw new UsageError(`sending limit per ${w} must be an integer from 0 to ${MAX_SENDING_LIMIT}, got ${String(v)}`);
      checked[w] = v;
    }
    if (Object.keys(checked).length === 0) throw new UsageError('sending limits: nothing to change (give minute, hour or day)');
    await requireSpace(this.accounts, spaceId);
    return this.backend.setLimits(spaceId, checked);
  }

  async sendingUsage(spaceId: number, at: Date): Promise<SendingUsage> {
    const atMs = toMs(at, 'usage time');
    await requireSpace(this.accounts, spaceId);
    const sums = await this.backend.sums(spaceId, LIMIT_WINDOWS.map((w) => windowStartMs(w, atMs)));
    return usageOf(sums.map((s) => s.sent));
  }

  async reserveSending(spaceId: number, count: number, at: Date, options: ReserveOptions = {}): Promise<SendingReservation> {
    if (!Number.isSafeInteger(count) || count < 0 || count > MAX_RECIPIENTS) {
      throw new UsageError(`reservation must be 0..${MAX_RECIPIENTS} recipients, got ${String(count)}`);
    }
    const atMs = toMs(at, 'reservation time');
    await requireSpace(this.accounts, spaceId);
    // Most spaces have no limits and no pause: nothing to decide, so the count is added without
    // the serialised read-check-count below (on PostgreSQL that locks the space's row, and every
    // concurrent message of the space would queue behind it). A limit or pause set at the same
    // moment applies from the next message.
    const unlimited = (s: SendingState): boolean => s.pause === null && LIMIT_WINDOWS.every((w) => s.limits[w] === null);
    const known = options.knownState;
    const state = known !== undefined && known.spaceId === spaceId && unlimited(known) ? known : await this.backend.getState(spaceId);
    if (unlimited(state)) {
      if (options.countWithSend === true) return { admitted: true, usage: null, uncounted: count };
      if (count > 0) await this.backend.addSent(spaceId, count, bucketStartMs(atMs), atMs - USAGE_RETENTION_MS);
      return { admitted: true, usage: null };
    }
    let verdict: SendingVerdict | null = null;
    const found = await this.backend.reserve(
      spaceId,
      count,
      bucketStartMs(atMs),
      LIMIT_WINDOWS.map((w) => windowStartMs(w, atMs)),
      atMs - USAGE_RETENTION_MS,
      (state, sent) => {
        verdict = sendingVerdict(state.pause, state.limits, usageOf(sent), count);
        return verdict === null;
      },
    );
    const before = usageOf(found.sent);
    if (found.admitted) return { admitted: true, usage: { minute: before.minute + count, hour: before.hour + count, day: before.day + count } };
    const refused = verdict as SendingVerdict | null;
    if (refused === null) throw new UsageError('reservation refused without a verdict');
    return { admitted: false, usage: before, verdict: refused };
  }

  async noteSendingOutcome(spaceId: number, kind: 'hard-bounce' | 'complaint', at: Date, since: Date): Promise<OutcomeCounts> {
    if (kind !== 'hard-bounce' && kind !== 'complaint') throw new UsageError(`outcome ${quote(String(kind))} is not hard-bounce or complaint`);
    const atMs = toMs(at, 'outcome time');
    const sinceMs = toMs(since, 'since');
    await requireSpace(this.accounts, spaceId);
    return this.backend.bumpOutcome(spaceId, kind === 'hard-bounce' ? 'hard_bounced' : 'complained', bucketStartMs(atMs), sinceMs, atMs - USAGE_RETENTION_MS);
  }

  async sendingOutcomes(spaceId: number, since: Date): Promise<OutcomeCounts> {
    const sinceMs = toMs(since, 'since');
    await requireSpace(this.accounts, spaceId);
    const [sums] = await this.backend.sums(spaceId, [sinceMs]);
    return sums ?? { sent: 0, hardBounced: 0, complained: 0 };
  }

  async pauseSpace(spaceId: number, input: { reason: string; at: Date; auto: boolean }): Promise<boolean> {
    const reason = checkReason(input.reason);
    const atMs = toMs(input.at, 'pause time');
    const auto = input.auto === true;
    await requireSpace(this.accounts, spaceId);
    return this.backend.setPause(spaceId, { reason, auto }, atMs, spaceEvent('paused', reason, auto, atMs));
  }

  async resumeSpace(spaceId: number, at: Date): Promise<boolean> {
    const atMs = toMs(at, 'resume time');
    await requireSpace(this.accounts, spaceId);
    return this.backend.setPause(spaceId, null, atMs, spaceEvent('resumed', null, false, atMs));
  }
}

/** The 'space' webhook event: no send and no recipient ('' like a 'domain' event). */
function spaceEvent(state: 'paused' | 'resumed', reason: string | null, auto: boolean, atMs: number): DeliveryRecord {
  return {
    type: 'space',
    sendId: '',
    recipient: '',
    atMs,
    detailJson: JSON.stringify({ state, reason, auto, at: new Date(atMs).toISOString() }),
    queuedAtMs: Date.now(),
  };
}
