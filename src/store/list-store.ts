/**
 * The suppression-lists aggregate of the Store: each space's Bounce and Unsubscribe lists,
 * and the lookup the milter makes for every message.
 *
 * Entries are keyed by the address with its domain normalised (IDN-aware) and the local part
 * lower-cased, so suppression matches case-insensitively; the address is shown as first added.
 *
 * Limits: lookupSuppression takes at most MAX_RECIPIENTS addresses.
 *
 * Throws: UsageError for operator mistakes (unknown space, not an address, invalid date, too
 * many addresses), TransientError when the backend is unavailable.
 */
import type { BounceReason } from '../core/bounce-reason.js';
import type { SuppressionAnswer, SuppressionList } from '../core/types.js';

export interface ListEntry {
  readonly spaceId: number;
  readonly list: SuppressionList;
  readonly address: string;
  /** Why, as text ("hard bounce 5.1.1: …", "complaint (abuse)", an operator's words). */
  readonly reason: string;
  /** The bounce reason (core/bounce-reason.ts) that listed it; null for complaints and operators' entries. */
  readonly bounceReason: BounceReason | null;
  /** The classifier's rule that decided the reason ('status:5.1.1', 'text:user-unknown'), or null. */
  readonly rule: string | null;
  readonly addedAt: Date;
}

/** A new list entry; bounceReason and rule default to null. */
export interface NewListEntry {
  readonly spaceId: number;
  readonly list: SuppressionList;
  readonly address: string;
  readonly reason: string;
  readonly bounceReason?: BounceReason | null;
  readonly rule?: string | null;
  readonly addedAt: Date;
}

/** An address's run of final mailbox-full bounces with no delivery in between (core/bounce-listing.ts). */
export interface BounceStreakState {
  readonly count: number;
  readonly firstAt: Date;
  readonly lastAt: Date;
}

export interface ListStore {
  /**
   * Adding an address that is on the list already updates reason, bounce reason, rule and
   * time. UsageError when the address is not an address, the bounce reason is not one of
   * BOUNCE_REASONS, or the rule is longer than MAX_BOUNCE_RULE_LENGTH.
   */
  addListEntry(input: NewListEntry): Promise<void>;
  removeListEntry(spaceId: number, list: SuppressionList, address: string): Promise<boolean>;
  /** Ordered by address (lower-cased); `address` is shown as first added. */
  listEntries(spaceId: number, list: SuppressionList): Promise<ListEntry[]>;
  /**
   * Both lists for many addresses (at most MAX_RECIPIENTS) in one round trip; keys are the
   * addresses exactly as passed, every one of them present ({} when on no list, or when the
   * string is not an address).
   */
  lookupSuppression(spaceId: number, addresses: readonly string[]): Promise<Record<string, SuppressionAnswer>>;
  /**
   * Adds one bounce for `reason` to the address's streak in the space (a new streak starts at
   * count 1, firstAt = at) and returns the streak afterwards, in one transaction. UsageError for
   * an unknown space, not an address, an unknown reason or an invalid date.
   */
  noteBounceStreak(input: { spaceId: number; address: string; reason: BounceReason; at: Date }): Promise<BounceStreakState>;
  /** Ends every streak of the address in the space (it took a delivery, or was listed); UsageError as above. */
  clearBounceStreaks(spaceId: number, address: string): Promise<void>;
}
