/**
 * The accounts aggregate above the backends (AccountStore): validates and normalises operator
 * input (space names, flags, domains, e-mail addresses), refuses unknown spaces, and turns
 * the backend's findings ('duplicate') into messages. The backend (backend.ts) only runs SQL.
 *
 * Limits: space names MAX_SPACE_NAME_LENGTH, addresses MAX_ADDRESS_LENGTH.
 *
 * Throws: UsageError (unknown space, duplicate name or e-mail, invalid name, flags, domain,
 * address or empty password hash), TransientError and InvariantError from the backend.
 */
import { UsageError } from '../../lib/errors.js';
import { isUnsubscribeDefault, type UnsubscribeDefault } from '../../core/unsubscribe.js';
import type { AccountStore, FromDefault, Space, SpaceSettings, User, UserAccount } from '../account-store.js';
import { addressKey } from '../address-key.js';
import type { AccountBackend } from '../backend.js';
import { checkFlags, checkSpaceName, quote, requireAddressKey, requireDomain, requireText } from './checks.js';

/** Most space ids remembered as existing per backend (requireSpace); past it, each check asks the backend. */
export const MAX_KNOWN_SPACES = 100_000;

/** Space ids each backend has shown to exist: spaces are never deleted, so one answer holds for good. */
const knownSpaces = new WeakMap<AccountBackend, Set<number>>();

/**
 * UsageError unless the space exists. Spaces are never deleted, so this check may run in a
 * backend call of its own, before the call it guards, and a space once found is not asked
 * for again (every message's path guards several calls with it; a future "delete space" must
 * move the check into the guarded call's transaction and drop this memory).
 */
export async function requireSpace(accounts: AccountBackend, spaceId: number): Promise<void> {
  let known = knownSpaces.get(accounts);
  if (known?.has(spaceId)) return;
  if (!(await accounts.spaceExists(spaceId))) throw new UsageError(`unknown space id ${String(spaceId)}`);
  if (!known) {
    known = new Set();
    knownSpaces.set(accounts, known);
  }
  if (known.size < MAX_KNOWN_SPACES) known.add(spaceId);
}

/** `rows`, or UsageError when they are empty because the space does not exist (one call when there are rows). */
export async function unlessUnknownSpace<T>(accounts: AccountBackend, spaceId: number, rows: T[]): Promise<T[]> {
  if (rows.length === 0) await requireSpace(accounts, spaceId);
  return rows;
}

/** A one-click unsubscribe default ('one-click', 'none') or null, else UsageError. */
function checkUnsubscribe(value: UnsubscribeDefault | null, what: string): UnsubscribeDefault | null {
  if (value !== null && !isUnsubscribeDefault(value)) throw new UsageError(`${what} must be "one-click" or "none", got ${quote(String(value))}`);
  return value;
}

export class NeutralAccounts implements AccountStore {
  constructor(private readonly backend: AccountBackend) {}

  async createSpace(input: { name: string } & SpaceSettings): Promise<Space> {
    const name = checkSpaceName(input.name);
    const defaultFlags = input.defaultFlags ?? null;
    if (defaultFlags !== null) checkFlags(defaultFlags, 'default flags');
    const unsubscribe = checkUnsubscribe(input.unsubscribe ?? null, 'space unsubscribe default');
    const space = await this.backend.insertSpace({
      name,
      defaultFlags,
      allowSubdomains: input.allowSubdomains === true,
      allowUnsigned: input.allowUnsigned === true,
      unsubscribe,
      createdAtMs: Date.now(),
    });
    if (space === 'duplicate') throw new UsageError(`a space named ${quote(name)} exists already`);
    return space;
  }

  getSpace(id: number): Promise<Space | null> {
    return this.backend.getSpace(id);
  }

  getSpaceByName(name: string): Promise<Space | null> {
    return this.backend.getSpaceByName(name);
  }

  listSpaces(): Promise<Space[]> {
    return this.backend.listSpaces();
  }

  async updateSpace(id: number, patch: SpaceSettings): Promise<Space> {
    const checked: SpaceSettings = {};
    if (patch.unsubscribe !== undefined) checked.unsubscribe = checkUnsubscribe(patch.unsubscribe, 'space unsubscribe default');
    if (patch.allowUnsigned !== undefined) checked.allowUnsigned = Boolean(patch.allowUnsigned);
    if (patch.defaultFlags !== undefined) {
      checked.defaultFlags = patch.defaultFlags === null ? null : checkFlags(patch.defaultFlags, 'default flags');
    }
    if (patch.allowSubdomains !== undefined) checked.allowSubdomains = Boolean(patch.allowSubdomains);
    const space = await this.backend.updateSpace(id, checked);
    if (space === null) throw new UsageError(`unknown space id ${String(id)}`);
    return space;
  }

  async addDomain(spaceId: number, domain: string): Promise<void> {
    const d = requireDomain(domain);
    await requireSpace(this.backend, spaceId);
    await this.backend.addDomain(spaceId, d);
  }

  async removeDomain(spaceId: number, domain: string): Promise<boolean> {
    const d = requireDomain(domain);
    await requireSpace(this.backend, spaceId);
    return await this.backend.removeDomain(spaceId, d);
  }

  async listDomains(spaceId: number): Promise<string[]> {
    return unlessUnknownSpace(this.backend, spaceId, await this.backend.listDomains(spaceId));
  }

  async createUser(input: { spaceId: number; email: string; passwordHash: string }): Promise<User> {
    const email = input.email.trim();
    const emailKey = requireAddressKey(email, 'user e-mail');
    const passwordHash = requireText(input.passwordHash, 'password hash');
    await requireSpace(this.backend, input.spaceId);
    const user = await this.backend.insertUser({ spaceId: input.spaceId, email, emailKey, passwordHash, createdAtMs: Date.now() });
    if (user === 'duplicate') throw new UsageError(`a user with e-mail ${quote(email)} exists already`);
    return user;
  }

  async getUserByEmail(email: string): Promise<User | null> {
    const key = addressKey(email);
    return key === null ? null : await this.backend.getUserByKey(key);
  }

  async getAccount(email: string): Promise<UserAccount | null> {
    const key = addressKey(email);
    return key === null ? null : await this.backend.getAccountByKey(key);
  }

  async setPasswordHash(email: string, passwordHash: string): Promise<boolean> {
    requireText(passwordHash, 'password hash');
    const key = addressKey(email);
    return key === null ? false : await this.backend.setPasswordHash(key, passwordHash);
  }

  async removeUser(email: string): Promise<boolean> {
    const key = addressKey(email);
    return key === null ? false : await this.backend.removeUser(key);
  }

  async listUsers(spaceId?: number): Promise<User[]> {
    if (spaceId === undefined) return await this.backend.listUsers(null);
    return unlessUnknownSpace(this.backend, spaceId, await this.backend.listUsers(spaceId));
  }

  async setFromFlags(spaceId: number, address: string, flags: number | null): Promise<void> {
    const trimmed = address.trim();
    const key = requireAddressKey(trimmed, 'from address');
    if (flags !== null) checkFlags(flags, 'flags');
    await requireSpace(this.backend, spaceId);
    await this.backend.setFromFlags(spaceId, key, trimmed, flags);
  }

  async setFromUnsubscribe(spaceId: number, address: string, unsubscribe: UnsubscribeDefault | null): Promise<void> {
    const trimmed = address.trim();
    const key = requireAddressKey(trimmed, 'from address');
    checkUnsubscribe(unsubscribe, 'unsubscribe default');
    await requireSpace(this.backend, spaceId);
    await this.backend.setFromUnsubscribe(spaceId, key, trimmed, unsubscribe);
  }

  async getFromFlags(spaceId: number, address: string): Promise<number | null> {
    return (await this.getFromDefault(spaceId, address))?.flags ?? null;
  }

  async getFromDefault(spaceId: number, address: string): Promise<FromDefault | null> {
    const key = addressKey(address);
    const found = key === null ? null : await this.backend.getFromDefault(spaceId, key);
    if (found === null) await requireSpace(this.backend, spaceId);
    return found;
  }

  async listFromFlags(spaceId: number): Promise<FromDefault[]> {
    return unlessUnknownSpace(this.backend, spaceId, await this.backend.listFromFlags(spaceId));
  }
}
