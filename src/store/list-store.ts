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

/**
 * Who put an entry on a list: the bounce intake or the maillog follower ('bounce'), a
 * complaint ('complaint'), the recipient's one-click unsubscribe ('unsubscribe-link'), the
 * suppression API ('api'), an operator with the CLI ('operator').
 */
export type ListSource = 'bounce' | 'complaint' | 'unsubscribe-link' | 'api' | 'operator';
export const LIST_SOURCES: readonly ListSource[] = ['bounce', 'complaint', 'unsubscribe-link', 'api', 'operator'];

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
  readonly source: ListSource;
  readonly addedAt: Date;
}

/** A new list entry; bounceReason and rule default to null, source to 'operator'. */
export interface NewListEntry {
  readonly spaceId: number;
  readonly list: SuppressionList;
  readonly address: string;
  readonly reason: string;
  readonly bounceReason?: BounceReason | null;
  readonly rule?: string | null;
  readonly source?: ListSource;
  /** Leave an entry already on the list as it is (reason, source, time): the one-click POST is idempotent. */
  readonly ifAbsent?: boolean;
  readonly addedAt: Date;
}

/**
 * A change of a list, kept for the space's history: every entry that was new on the list
 * ('added'), every removal ('removed'), with who did it and why.
 */
export interface ListChange {
  /** Increasing; the paging cursor. */
  readonly id: number;
  readonly spaceId: number;
  readonly list: SuppressionList;
  readonly address: string;
  readonly action: 'added' | 'removed';
  readonly source: ListSource;
  readonly reason: string;
  readonly at: Date;
}

/** Who removes an entry, and why (recorded as a ListChange). */
export interface ListRemoval {
  readonly source: ListSource;
  /** Default: "removed by <source>". */
  readonly reason?: string;
  readonly at: Date;
}

/** One page of a list, by address key (lower-cased address, IDN domain as A-label). */
export interface ListEntryPage {
  readonly spaceId: number;
  readonly list: SuppressionList;
  /** Only addresses whose key contains this text (compared lower-cased); null: all. */
  readonly search: string | null;
  /** The last address of the previous page: entries after it. */
  readonly after: string | null;
  /** 1..MAX_LIST_PAGE_SIZE + 1. */
  readonly limit: number;
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
   * BOUNCE_REASONS, or the rule is longer than MAX_BOUNCE_RULE_LENGTH. With `ifAbsent`, an
   * entry already there is left untouched. True when the address was not on the list before
   * (then an 'added' ListChange is recorded in the same transaction).
   */
  addListEntry(input: NewListEntry): Promise<boolean>;
  /**
   * Takes the address off the list; true when it was on it (then a 'removed' ListChange is
   * recorded in the same transaction; `by` defaults to the operator, now).
   */
  removeListEntry(spaceId: number, list: SuppressionList, address: string, by?: ListRemoval): Promise<boolean>;
  /** One page of entries by address key, optionally only those containing `search`. */
  searchListEntries(page: ListEntryPage): Promise<ListEntry[]>;
  /** The list's changes, newest first: at most `limit` (1..MAX_LIST_PAGE_SIZE + 1) with id below `before`. */
  listChanges(spaceId: number, list: SuppressionList, before: number | null, limit: number): Promise<ListChange[]>;
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
