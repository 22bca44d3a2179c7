/**
 * The suppression-lists aggregate above the backends (ListStore): addresses keyed
 * (address-key.ts), dates checked, unknown spaces refused, and the lookup answer assembled
 * for every address exactly as passed. The backend (backend.ts) only runs SQL.
 *
 * Every entry new on a list and every removal is recorded as a list change by the backend in
 * the same transaction (the list's history); the neutral layer checks the list, the source
 * and the page size (MAX_LIST_PAGE_SIZE) and search length (MAX_LIST_SEARCH_LENGTH).
 *
 * Limits: lookupSuppression takes at most MAX_RECIPIENTS addresses; addresses longer than
 * MAX_ADDRESS_LENGTH are not addresses.
 *
 * Throws: UsageError (unknown space, not an address, invalid date, too many addresses),
 * TransientError and InvariantError from the backend.
 */
import type { BounceReason } from '../../core/bounce-reason.js';
import type { SuppressionAnswer, SuppressionList } from '../../core/types.js';
import { UsageError } from '../../lib/errors.js';
import { MAX_LIST_PAGE_SIZE, MAX_LIST_SEARCH_LENGTH, MAX_RECIPIENTS } from '../../lib/limits.js';
import { addressKey } from '../address-key.js';
import type { AccountBackend, ListBackend } from '../backend.js';
import { LIST_SOURCES, type BounceStreakState, type ListChange, type ListEntry, type ListEntryPage, type ListRemoval, type ListSource, type ListStore, type NewListEntry } from '../list-store.js';
import { requireSpace, unlessUnknownSpace } from './accounts.js';
import { checkBounceReason, checkBounceRule, requireAddressKey, toMs } from './checks.js';

function checkList(list: unknown): SuppressionList {
  if (list !== 'bounce' && list !== 'unsubscribe') throw new UsageError('list must be bounce or unsubscribe');
  return list;
}

function checkSource(source: unknown): ListSource {
  if (!(LIST_SOURCES as readonly unknown[]).includes(source)) throw new UsageError(`list source must be one of ${LIST_SOURCES.join(', ')}`);
  return source as ListSource;
}

function checkLimit(limit: number): void {
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_LIST_PAGE_SIZE + 1) throw new UsageError(`page size must be 1..${MAX_LIST_PAGE_SIZE}`);
}

type Hits = { bounce?: { reason: string }; unsubscribe?: { reason: string } };

export class NeutralLists implements ListStore {
  constructor(
    private readonly backend: ListBackend,
    private readonly accounts: AccountBackend,
  ) {}

  async addListEntry(input: NewListEntry): Promise<boolean> {
    const address = input.address.trim();
    const addressKeyed = requireAddressKey(address, 'list address');
    const addedAtMs = toMs(input.addedAt, 'addedAt');
    const bounceReason = checkBounceReason(input.bounceReason, 'list entry bounce reason');
    const rule = checkBounceRule(input.rule);
    const list = checkList(input.list);
    const source = checkSource(input.source ?? 'operator');
    if (typeof input.reason !== 'string') throw new UsageError('a list entry needs a reason');
    await requireSpace(this.accounts, input.spaceId);
    return await this.backend.upsertListEntry(
      { spaceId: input.spaceId, list, addressKey: addressKeyed, address, reason: input.reason, bounceReason, rule, source, addedAtMs },
      input.ifAbsent === true,
    );
  }

  async searchListEntries(page: ListEntryPage): Promise<ListEntry[]> {
    const list = checkList(page.list);
    checkLimit(page.limit);
    const afterKey = page.after === null ? null : requireAddressKey(page.after, 'cursor address');
    const contains = page.search === null || page.search === '' ? null : page.search.toLowerCase();
    if (contains !== null && contains.length > MAX_LIST_SEARCH_LENGTH) throw new UsageError(`search text longer than ${MAX_LIST_SEARCH_LENGTH} characters`);
    return unlessUnknownSpace(this.accounts, page.spaceId, await this.backend.searchListEntries({ spaceId: page.spaceId, list, contains, afterKey, limit: page.limit }));
  }

  async listChanges(spaceId: number, list: SuppressionList, before: number | null, limit: number): Promise<ListChange[]> {
    checkList(list);
    checkLimit(limit);
    if (before !== null && (!Number.isSafeInteger(before) || before < 1)) throw new UsageError('change cursor must be a positive integer');
    return unlessUnknownSpace(this.accounts, spaceId, await this.backend.listChanges(spaceId, list, before, limit));
  }

  async noteBounceStreak(input: { spaceId: number; address: string; reason: BounceReason; at: Date }): Promise<BounceStreakState> {
    const key = requireAddressKey(input.address, 'streak address');
    const reason = checkBounceReason(input.reason, 'streak reason');
    if (reason === null) throw new UsageError('a bounce streak needs a reason');
    const atMs = toMs(input.at, 'streak time');
    await requireSpace(this.accounts, input.spaceId);
    const row = await this.backend.bumpBounceStreak(input.spaceId, key, reason, atMs);
    return { count: row.count, firstAt: new Date(row.firstAtMs), lastAt: new Date(row.lastAtMs) };
  }

  async clearBounceStreaks(spaceId: number, address: string): Promise<void> {
    const key = requireAddressKey(address, 'streak address');
    await requireSpace(this.accounts, spaceId);
    await this.backend.deleteBounceStreaks(spaceId, key);
  }

  async removeListEntry(spaceId: number, list: SuppressionList, address: string, by?: ListRemoval): Promise<boolean> {
    const key = requireAddressKey(address, 'list address');
    checkList(list);
    const source = checkSource(by?.source ?? 'operator');
    const atMs = by ? toMs(by.at, 'removal time') : Date.now();
    const reason = by?.reason ?? `removed by ${source === 'operator' ? 'an operator' : source}`;
    await requireSpace(this.accounts, spaceId);
    return await this.backend.removeListEntry(spaceId, list, key, { source, reason, atMs });
  }

  async listEntries(spaceId: number, list: SuppressionList): Promise<ListEntry[]> {
    return unlessUnknownSpace(this.accounts, spaceId, await this.backend.listEntries(spaceId, list));
  }

  async lookupSuppression(spaceId: number, addresses: readonly string[]): Promise<Record<string, SuppressionAnswer>> {
    if (addresses.length > MAX_RECIPIENTS) throw new UsageError(`at most ${MAX_RECIPIENTS} addresses per suppression lookup`);
    await requireSpace(this.accounts, spaceId);
    const keys = addresses.map(addressKey);
    const wanted = [...new Set(keys.filter((k): k is string => k !== null))];
    const found = new Map<string, Hits>();
    if (wanted.length > 0) {
      for (const hit of await this.backend.findEntries(spaceId, wanted)) {
        const entry = found.get(hit.addressKey) ?? {};
        entry[hit.list] = { reason: hit.reason };
        found.set(hit.addressKey, entry);
      }
    }
    // Null prototype: an address such as "__proto__" must be an ordinary key.
    const result = Object.create(null) as Record<string, SuppressionAnswer>;
    addresses.forEach((address, i) => {
      const key = keys[i];
      const hit = key === null || key === undefined ? undefined : found.get(key);
      result[address] = hit ? { ...hit } : {};
    });
    return result;
  }
}
