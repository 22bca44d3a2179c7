/**
 * The sending aggregate of the Store (issue 16 items 1–2): each space's sending limits and
 * pause state, and its usage — recipients sent, hard bounces and complaints — in one-minute
 * buckets shared by every node (core/sending-limits.ts says what they decide; the store
 * counts). Buckets older than USAGE_RETENTION_MS are deleted by the writes of their space.
 *
 * A space without a row has no limits and is not paused. Pausing and resuming queue a 'space'
 * webhook delivery (detail `{ state: 'paused' | 'resumed', reason, auto }`) in the same
 * transaction when the space has a webhook then, and only when the state changed.
 *
 * Throws: UsageError for an unknown space, a limit outside 0..MAX_SENDING_LIMIT, an empty or
 * too long reason (MAX_PAUSE_REASON_LENGTH), an invalid date or count; TransientError when
 * the backend is unavailable.
 */
import type { LimitWindow, OutcomeCounts, SendingLimits, SendingUsage, SendingVerdict, SpacePause } from '../core/sending-limits.js';

export type { LimitWindow, OutcomeCounts, SendingLimits, SendingUsage, SpacePause } from '../core/sending-limits.js';

export interface SendingState {
  readonly spaceId: number;
  readonly limits: SendingLimits;
  readonly pause: SpacePause | null;
  /** When the space was last resumed (the auto-pause counts only after it), or null. */
  readonly resumedAt: Date | null;
}

/** What reserveSending found: admitted (and counted), or the verdict that refused it (nothing counted). */
export type SendingReservation =
  /**
   * usage null: the space has no limits and no pause, so no usage was read; the count was
   * added, unless `uncounted` (ReserveOptions.countWithSend) says how many recipients the
   * caller must count with the send (NewSend.sentCount).
   */
  | { readonly admitted: true; readonly usage: SendingUsage | null; readonly uncounted?: number }
  | { readonly admitted: false; readonly usage: SendingUsage; readonly verdict: SendingVerdict };

/** How reserveSending may spare a space without limits and pause its store calls (the accept step's path). */
export interface ReserveOptions {
  /**
   * The space's state as read moments ago (checkLogin at MAIL of the same SMTP transaction):
   * without limits and pause it is admitted without reading the state again. A limit or pause
   * set since applies from the next message, as it would a moment later anyway.
   */
  readonly knownState?: SendingState;
  /**
   * Admit a space without limits and pause without counting: the result's `uncounted` is
   * `count`, which the caller adds with the send (NewSend.sentCount), in the send's own
   * transaction — one transaction per message instead of two, and a send that is not
   * recorded is not counted.
   */
  readonly countWithSend?: boolean;
}

export interface SendingStore {
  /** The space's limits and pause (no row: no limits, not paused). */
  getSendingState(spaceId: number): Promise<SendingState>;
  /** Sets the windows present in `patch` (null removes that limit). */
  setSendingLimits(spaceId: number, patch: Partial<Record<LimitWindow, number | null>>): Promise<SendingState>;
  /** Recipients counted in each window at `at`. */
  sendingUsage(spaceId: number, at: Date): Promise<SendingUsage>;
  /**
   * In one transaction (several nodes take turns per space): reads the state and the usage at
   * `at`, asks core's sendingVerdict for `count` more, and only when it admits adds `count` to
   * the bucket of `at`. count 0 is admitted unless paused, and counts nothing.
   */
  reserveSending(spaceId: number, count: number, at: Date, options?: ReserveOptions): Promise<SendingReservation>;
  /** Adds one hard bounce or complaint to the bucket of `at`; returns the counts of buckets since `since`. */
  noteSendingOutcome(spaceId: number, kind: 'hard-bounce' | 'complaint', at: Date, since: Date): Promise<OutcomeCounts>;
  /** The counts of buckets since `since`. */
  sendingOutcomes(spaceId: number, since: Date): Promise<OutcomeCounts>;
  /** False when it was paused already (nothing changes, no webhook). */
  pauseSpace(spaceId: number, input: { reason: string; at: Date; auto: boolean }): Promise<boolean>;
  /** False when it was not paused. */
  resumeSpace(spaceId: number, at: Date): Promise<boolean>;
}
