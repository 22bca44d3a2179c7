/**
 * The accounts aggregate of the Store: customer spaces (tenants), their allowed sender
 * domains, their users (SMTP logins) and per-From-address defaults (flags, one-click unsubscribe).
 *
 * Conventions (the whole Store's are in store.ts):
 *  - Domains are stored normalised: lower-case A-label, no trailing dot (core/domain.ts).
 *  - User e-mails are unique across all spaces (they are SMTP logins), compared
 *    case-insensitively and IDN-aware; from-address defaults are keyed the same way.
 *  - Space names are unique case-insensitively; a name is 1..MAX_SPACE_NAME_LENGTH
 *    characters, without control characters or surrounding spaces.
 *
 * Throws: UsageError for operator mistakes (unknown space, duplicate name or e-mail, invalid
 * name, domain, address or flags), TransientError when the backend is unavailable.
 */
import type { UnsubscribeDefault } from '../core/unsubscribe.js';

export interface Space {
  readonly id: number;
  readonly name: string;
  /** Space default X-Mxm-Flags, or null (built-in default applies). */
  readonly defaultFlags: number | null;
  /** Allow subdomains of the allowed sender domains. */
  readonly allowSubdomains: boolean;
  /** Mail of a sender domain without an active DKIM key leaves unsigned (else: 451 until one is active). */
  readonly allowUnsigned: boolean;
  /** Space default one-click unsubscribe (X-Mxm-Unsubscribe), or null (none configured: off). */
  readonly unsubscribe: UnsubscribeDefault | null;
  readonly createdAt: Date;
}

export interface User {
  readonly id: number;
  readonly spaceId: number;
  readonly email: string;
  /** Encoded scrypt hash (src/lib/password.ts); never a plaintext password. */
  readonly passwordHash: string;
  readonly createdAt: Date;
}

export interface FromDefault {
  readonly spaceId: number;
  readonly address: string;
  /** Null: no default flags for the address (the row holds only an unsubscribe default). */
  readonly flags: number | null;
  /** Null: no one-click unsubscribe default for the address. */
  readonly unsubscribe: UnsubscribeDefault | null;
}

export interface SpaceSettings {
  defaultFlags?: number | null;
  allowSubdomains?: boolean;
  allowUnsigned?: boolean;
  unsubscribe?: UnsubscribeDefault | null;
}

/** A user with its space and the space's sender domains (AccountStore.getAccount). */
export interface UserAccount {
  readonly user: User;
  readonly space: Space;
  /** Sorted. */
  readonly domains: readonly string[];
}

export interface AccountStore {
  createSpace(input: { name: string } & SpaceSettings): Promise<Space>;
  getSpace(id: number): Promise<Space | null>;
  getSpaceByName(name: string): Promise<Space | null>;
  listSpaces(): Promise<Space[]>;
  updateSpace(id: number, patch: SpaceSettings): Promise<Space>;

  /** Adds a normalised domain; adding one that is there already is not an error. */
  addDomain(spaceId: number, domain: string): Promise<void>;
  /** Returns false when the domain was not there. */
  removeDomain(spaceId: number, domain: string): Promise<boolean>;
  /** Sorted. */
  listDomains(spaceId: number): Promise<string[]>;

  /** Throws UsageError when the e-mail is taken (in any space). */
  createUser(input: { spaceId: number; email: string; passwordHash: string }): Promise<User>;
  getUserByEmail(email: string): Promise<User | null>;
  /**
   * The user of this e-mail with its space and the space's sender domains (sorted), read
   * together (one statement on PostgreSQL): what a login check needs. Null: no such user.
   */
  getAccount(email: string): Promise<UserAccount | null>;
  /** Returns false when there is no such user. */
  setPasswordHash(email: string, passwordHash: string): Promise<boolean>;
  removeUser(email: string): Promise<boolean>;
  /** Ordered by e-mail (lower-cased). */
  listUsers(spaceId?: number): Promise<User[]>;

  /** flags null removes the default flags. UsageError when the address is not an address. */
  setFromFlags(spaceId: number, address: string, flags: number | null): Promise<void>;
  /** null removes the one-click unsubscribe default. UsageError when the address is not an address or the value not a default. */
  setFromUnsubscribe(spaceId: number, address: string, unsubscribe: UnsubscribeDefault | null): Promise<void>;
  /** Null when there is no default flags (or `address` is not an address). */
  getFromFlags(spaceId: number, address: string): Promise<number | null>;
  /** Both defaults of the address in one read; null when it has none (or is not an address). */
  getFromDefault(spaceId: number, address: string): Promise<FromDefault | null>;
  /** Every address with a default (flags, unsubscribe or both), by key. */
  listFromFlags(spaceId: number): Promise<FromDefault[]>;
}
