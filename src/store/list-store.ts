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
import type { SuppressionAnswer, SuppressionList } from '../core/types.js';

export interface ListEntry {
  readonly spaceId: number;
  readonly list: SuppressionList;
  readonly address: string;
  readonly reason: string;
  readonly addedAt: Date;
}

export interface ListStore {
  /**
   * Adding an address that is on the list already updates reason and time. UsageError when
   * the address is not an address.
   */
  addListEntry(input: { spaceId: number; list: SuppressionList; address: string; reason: string; addedAt: Date }): Promise<void>;
  removeListEntry(spaceId: number, list: SuppressionList, address: string): Promise<boolean>;
  /** Ordered by address (lower-cased); `address` is shown as first added. */
  listEntries(spaceId: number, list: SuppressionList): Promise<ListEntry[]>;
  /**
   * Both lists for many addresses (at most MAX_RECIPIENTS) in one round trip; keys are the
   * addresses exactly as passed, every one of them present ({} when on no list, or when the
   * string is not an address).
   */
  lookupSuppression(spaceId: number, addresses: readonly string[]): Promise<Record<string, SuppressionAnswer>>;
}
