/**
 * The suppression-lists aggregate above the backends (ListStore): addresses keyed
 * (address-key.ts), dates checked, unknown spaces refused, and the lookup answer assembled
 * for every address exactly as passed. The backend (backend.ts) only runs SQL.
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
import { MAX_RECIPIENTS } from '../../lib/limits.js';
import { addressKey } from '../address-key.js';
import type { AccountBackend, ListBackend } from '../backend.js';
import type { BounceStreakState, ListEntry, ListStore, NewListEntry } from '../list-store.js';
import { requireSpace, unlessUnknownSpace } from './accounts.js';
import { checkBounceReason, checkBounceRule, requireAddressKey, toMs } from './checks.js';

type Hits = { bounce?: { reason: string }; unsubscribe?: { reason: string } };

export class NeutralLists implements ListStore {
  constructor(
    private readonly backend: ListBackend,
    private readonly accounts: AccountBackend,
  ) {}

  async addListEntry(input: NewListEntry): Promise<void> {
    const address = input.address.trim();
    const addressKeyed = requireAddressKey(address, 'list address');
    const addedAtMs = toMs(input.addedAt, 'addedAt');
    const bounceReason = checkBounceReason(input.bounceReason, 'list entry bounce reason');
    const rule = checkBounceRule(input.rule);
    await requireSpace(this.accounts, input.spaceId);
    await this.backend.upsertListEntry({ spaceId: input.spaceId, list: input.list, addressKey: addressKeyed, address, reason: input.reason, bounceReason, rule, addedAtMs });
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

  async removeListEntry(spaceId: number, list: SuppressionList, address: string): Promise<boolean> {
    const key = requireAddressKey(address, 'list address');
    await requireSpace(this.accounts, spaceId);
    return await this.backend.removeListEntry(spaceId, list, key);
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
