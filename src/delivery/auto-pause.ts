/**
 * The automatic pause of a space (issue 16 item 2), evaluated each time the delivery recorder
 * (recorder.ts, shared by the bounce intake and the maillog follower) records a hard bounce (a
 * bounce that listed the address, core/bounce-listing.ts) or a complaint: the outcome is
 * counted in the store's usage buckets of the space, and core's autoPauseVerdict looks at the
 * counts since the window start (trxmail.yaml `autoPause.windowHours`) or the last resume,
 * whichever is later — so a space an operator resumed starts afresh. When a rate crosses its
 * threshold the space is paused (store.pauseSpace: the 'space' webhook event is queued in the
 * same transaction) and a warning is logged.
 *
 * Throws what the store throws (TransientError when it is unavailable).
 */
import { autoPauseSinceMs, autoPauseVerdict, type AutoPauseSettings, type AutoPauseVerdict } from '../core/sending-limits.js';
import type { Logger } from '../lib/logger.js';
import type { Store } from '../store/store.js';

export class AutoPause {
  constructor(
    private readonly store: Pick<Store, 'getSendingState' | 'noteSendingOutcome' | 'pauseSpace'>,
    private readonly settings: AutoPauseSettings,
    private readonly logger: Logger | null = null,
  ) {}

  /** Counts the outcome; the verdict when this outcome paused the space, else null. */
  async note(spaceId: number, kind: 'hard-bounce' | 'complaint', at: Date): Promise<AutoPauseVerdict | null> {
    const state = await this.store.getSendingState(spaceId);
    const since = autoPauseSinceMs(this.settings, at.getTime(), state.resumedAt?.getTime() ?? null);
    const counts = await this.store.noteSendingOutcome(spaceId, kind, at, new Date(since));
    if (state.pause !== null) return null;
    const verdict = autoPauseVerdict(this.settings, counts);
    if (verdict === null) return null;
    const changed = await this.store.pauseSpace(spaceId, { reason: verdict.reason, at, auto: true });
    if (!changed) return null;
    this.logger?.warn({ spaceId, reason: verdict.reason, counts }, 'space paused automatically: new mail gets 451 4.7.1 until `trxmail space resume`');
    return verdict;
  }
}
