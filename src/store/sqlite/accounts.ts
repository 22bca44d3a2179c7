/**
 * SQLite backend of the accounts aggregate (AccountBackend in ../backend.ts): spaces, sender
 * domains, users and from-address defaults. Only SQL: the values arrive validated and keyed
 * from the neutral layer (../neutral/accounts.ts). Space names are unique case-insensitively
 * through the schema (COLLATE NOCASE, migrations.ts).
 *
 * Throws: what SqliteDatabase.run maps (TransientError, InvariantError); a taken name or
 * e-mail is the result 'duplicate', not an error.
 */
import type Database from 'better-sqlite3';
import { InvariantError } from '../../lib/errors.js';
import type { UnsubscribeDefault } from '../../core/unsubscribe.js';
import type { FromDefault, Space, User, UserAccount } from '../account-store.js';
import type { AccountBackend, NewSpaceRecord, NewUserRecord, SpacePatch } from '../backend.js';
import type { SqliteDatabase } from './database.js';
import { isUniqueViolation } from './sqlite-errors.js';
import { merged } from '../../lib/merged.js';

interface SpaceRow {
  id: number;
  name: string;
  default_flags: number | null;
  allow_subdomains: number;
  allow_unsigned: number;
  unsubscribe: UnsubscribeDefault | null;
  created_at: number;
}
interface UserRow {
  id: number;
  space_id: number;
  email: string;
  password_hash: string;
  created_at: number;
}
interface FromDefaultRow {
  space_id: number;
  address: string;
  flags: number | null;
  unsubscribe: UnsubscribeDefault | null;
}

const SPACE_COLS = 'id, name, default_flags, allow_subdomains, allow_unsigned, unsubscribe, created_at';
const FROM_COLS = 'space_id, address, flags, unsubscribe';
const USER_COLS = 'id, space_id, email, password_hash, created_at';

function spaceFrom(r: SpaceRow): Space {
  return {
    id: r.id,
    name: r.name,
    defaultFlags: r.default_flags,
    allowSubdomains: r.allow_subdomains === 1,
    allowUnsigned: r.allow_unsigned === 1,
    unsubscribe: r.unsubscribe,
    createdAt: new Date(r.created_at),
  };
}

function userFrom(r: UserRow): User {
  return { id: r.id, spaceId: r.space_id, email: r.email, passwordHash: r.password_hash, createdAt: new Date(r.created_at) };
}

function fromDefaultFrom(r: FromDefaultRow): FromDefault {
  return { spaceId: r.space_id, address: r.address, flags: r.flags, unsubscribe: r.unsubscribe };
}

/** A row the statement before has just written; InvariantError when it cannot be read back. */
function inserted<T>(row: T | undefined, what: string): T {
  if (row === undefined) throw new InvariantError(`${what} vanished after insert`);
  return row;
}

function prepare(db: Database.Database) {
  return {
    spaceExists: db.prepare<[number], { one: number }>('SELECT 1 AS one FROM spaces WHERE id = ?'),
    insertSpace: db.prepare<[string, number | null, number, number, UnsubscribeDefault | null, number]>(
      'INSERT INTO spaces (name, default_flags, allow_subdomains, allow_unsigned, unsubscribe, created_at) VALUES (?, ?, ?, ?, ?, ?)',
    ),
    getSpace: db.prepare<[number], SpaceRow>(`SELECT ${SPACE_COLS} FROM spaces WHERE id = ?`),
    getSpaceByName: db.prepare<[string], SpaceRow>(`SELECT ${SPACE_COLS} FROM spaces WHERE name = ?`),
    listSpaces: db.prepare<[], SpaceRow>(`SELECT ${SPACE_COLS} FROM spaces ORDER BY id`),
    updateSpace: db.prepare<[number | null, number, number, UnsubscribeDefault | null, number]>(
      'UPDATE spaces SET default_flags = ?, allow_subdomains = ?, allow_unsigned = ?, unsubscribe = ? WHERE id = ?',
    ),

    addDomain: db.prepare<[number, string]>('INSERT OR IGNORE INTO sender_domains (space_id, domain) VALUES (?, ?)'),
    removeDomain: db.prepare<[number, string]>('DELETE FROM sender_domains WHERE space_id = ? AND domain = ?'),
    // A removed domain's DKIM keys neither sign nor are published any more (kept for the record).
    retireDomainKeys: db.prepare<[number, string]>("UPDATE dkim_keys SET state = 'retired' WHERE space_id = ? AND domain = ? AND state <> 'retired'"),
    listDomains: db.prepare<[number], { domain: string }>('SELECT domain FROM sender_domains WHERE space_id = ? ORDER BY domain'),

    insertUser: db.prepare<[number, string, string, string, number]>(
      'INSERT INTO users (space_id, email, email_key, password_hash, created_at) VALUES (?, ?, ?, ?, ?)',
    ),
    getUserById: db.prepare<[number], UserRow>(`SELECT ${USER_COLS} FROM users WHERE id = ?`),
    getUserByKey: db.prepare<[string], UserRow>(`SELECT ${USER_COLS} FROM users WHERE email_key = ?`),
    setPasswordHash: db.prepare<[string, string]>('UPDATE users SET password_hash = ? WHERE email_key = ?'),
    removeUser: db.prepare<[string]>('DELETE FROM users WHERE email_key = ?'),
    listUsers: db.prepare<[], UserRow>(`SELECT ${USER_COLS} FROM users ORDER BY email_key`),
    listUsersInSpace: db.prepare<[number], UserRow>(`SELECT ${USER_COLS} FROM users WHERE space_id = ? ORDER BY email_key`),

    upsertFromFlags: db.prepare<[number, string, string, number]>(
      'INSERT INTO from_defaults (space_id, address_key, address, flags) VALUES (?, ?, ?, ?) ' +
        'ON CONFLICT (space_id, address_key) DO UPDATE SET address = excluded.address, flags = excluded.flags',
    ),
    clearFromFlags: db.prepare<[number, string]>('UPDATE from_defaults SET flags = NULL WHERE space_id = ? AND address_key = ?'),
    upsertFromUnsubscribe: db.prepare<[number, string, string, UnsubscribeDefault]>(
      'INSERT INTO from_defaults (space_id, address_key, address, unsubscribe) VALUES (?, ?, ?, ?) ' +
        'ON CONFLICT (space_id, address_key) DO UPDATE SET address = excluded.address, unsubscribe = excluded.unsubscribe',
    ),
    clearFromUnsubscribe: db.prepare<[number, string]>('UPDATE from_defaults SET unsubscribe = NULL WHERE space_id = ? AND address_key = ?'),
    // Clearing the one default a row holds deletes the row (a row holds at least one).
    deleteOnlyFlags: db.prepare<[number, string]>('DELETE FROM from_defaults WHERE space_id = ? AND address_key = ? AND unsubscribe IS NULL'),
    deleteOnlyUnsubscribe: db.prepare<[number, string]>('DELETE FROM from_defaults WHERE space_id = ? AND address_key = ? AND flags IS NULL'),
    getFromDefault: db.prepare<[number, string], FromDefaultRow>(`SELECT ${FROM_COLS} FROM from_defaults WHERE space_id = ? AND address_key = ?`),
    listFromFlags: db.prepare<[number], FromDefaultRow>(`SELECT ${FROM_COLS} FROM from_defaults WHERE space_id = ? ORDER BY address_key`),
  };
}

export class SqliteAccounts implements AccountBackend {
  private readonly sql: ReturnType<typeof prepare>;

  constructor(private readonly db: SqliteDatabase) {
    this.sql = prepare(db.db);
  }

  spaceExists(id: number): Promise<boolean> {
    return this.db.run(() => this.sql.spaceExists.get(id) !== undefined);
  }

  insertSpace(space: NewSpaceRecord): Promise<Space | 'duplicate'> {
    return this.db.run(() => {
      try {
        const info = this.sql.insertSpace.run(
          space.name,
          space.defaultFlags,
          space.allowSubdomains ? 1 : 0,
          space.allowUnsigned ? 1 : 0,
          space.unsubscribe,
          space.createdAtMs,
        );
        return spaceFrom(inserted(this.sql.getSpace.get(Number(info.lastInsertRowid)), 'space'));
      } catch (err: unknown) {
        if (isUniqueViolation(err)) return 'duplicate';
        throw err;
      }
    });
  }

  getSpace(id: number): Promise<Space | null> {
    return this.db.run(() => {
      const row = this.sql.getSpace.get(id);
      return row ? spaceFrom(row) : null;
    });
  }

  getSpaceByName(name: string): Promise<Space | null> {
    return this.db.run(() => {
      const row = this.sql.getSpaceByName.get(name);
      return row ? spaceFrom(row) : null;
    });
  }

  listSpaces(): Promise<Space[]> {
    return this.db.run(() => this.sql.listSpaces.all().map(spaceFrom));
  }

  updateSpace(id: number, patch: SpacePatch): Promise<Space | null> {
    return this.db.run(() =>
      this.db.immediate(() => {
        const row = this.sql.getSpace.get(id);
        if (!row) return null;
        const flags = patch.defaultFlags === undefined ? row.default_flags : patch.defaultFlags;
        const sub = patch.allowSubdomains === undefined ? row.allow_subdomains : patch.allowSubdomains ? 1 : 0;
        const unsigned = patch.allowUnsigned === undefined ? row.allow_unsigned : patch.allowUnsigned ? 1 : 0;
        const unsubscribe = patch.unsubscribe === undefined ? row.unsubscribe : patch.unsubscribe;
        this.sql.updateSpace.run(flags, sub, unsigned, unsubscribe, id);
        return spaceFrom(merged(row, { default_flags: flags, allow_subdomains: sub, allow_unsigned: unsigned, unsubscribe }));
      }),
    );
  }

  addDomain(spaceId: number, domain: string): Promise<void> {
    return this.db.run(() => {
      this.sql.addDomain.run(spaceId, domain);
    });
  }

  removeDomain(spaceId: number, domain: string): Promise<boolean> {
    return this.db.run(() =>
      this.db.immediate(() => {
        const removed = this.sql.removeDomain.run(spaceId, domain).changes > 0;
        if (removed) this.sql.retireDomainKeys.run(spaceId, domain);
        return removed;
      }),
    );
  }

  listDomains(spaceId: number): Promise<string[]> {
    return this.db.run(() => this.sql.listDomains.all(spaceId).map((r) => r.domain));
  }

  insertUser(user: NewUserRecord): Promise<User | 'duplicate'> {
    return this.db.run(() => {
      try {
        const info = this.sql.insertUser.run(user.spaceId, user.email, user.emailKey, user.passwordHash, user.createdAtMs);
        return userFrom(inserted(this.sql.getUserById.get(Number(info.lastInsertRowid)), 'user'));
      } catch (err: unknown) {
        if (isUniqueViolation(err)) return 'duplicate';
        throw err;
      }
    });
  }

  getUserByKey(emailKey: string): Promise<User | null> {
    return this.db.run(() => {
      const row = this.sql.getUserByKey.get(emailKey);
      return row ? userFrom(row) : null;
    });
  }

  getAccountByKey(emailKey: string): Promise<UserAccount | null> {
    // Three reads in one synchronous call (spaces are never deleted, so the user's space is there).
    return this.db.run(() => {
      const userRow = this.sql.getUserByKey.get(emailKey);
      const spaceRow = userRow === undefined ? undefined : this.sql.getSpace.get(userRow.space_id);
      if (userRow === undefined || spaceRow === undefined) return null;
      return { user: userFrom(userRow), space: spaceFrom(spaceRow), domains: this.sql.listDomains.all(userRow.space_id).map((r) => r.domain) };
    });
  }

  setPasswordHash(emailKey: string, passwordHash: string): Promise<boolean> {
    return this.db.run(() => this.sql.setPasswordHash.run(passwordHash, emailKey).changes > 0);
  }

  removeUser(emailKey: string): Promise<boolean> {
    return this.db.run(() => this.sql.removeUser.run(emailKey).changes > 0);
  }

  listUsers(spaceId: number | null): Promise<User[]> {
    return this.db.run(() => (spaceId === null ? this.sql.listUsers.all() : this.sql.listUsersInSpace.all(spaceId)).map(userFrom));
  }

  setFromFlags(spaceId: number, addressKey: string, address: string, flags: number | null): Promise<void> {
    return this.db.run(() =>
      this.db.immediate(() => {
        if (flags !== null) this.sql.upsertFromFlags.run(spaceId, addressKey, address, flags);
        else {
          this.sql.deleteOnlyFlags.run(spaceId, addressKey);
          this.sql.clearFromFlags.run(spaceId, addressKey);
        }
      }),
    );
  }

  setFromUnsubscribe(spaceId: number, addressKey: string, address: string, unsubscribe: UnsubscribeDefault | null): Promise<void> {
    return this.db.run(() =>
      this.db.immediate(() => {
        if (unsubscribe !== null) this.sql.upsertFromUnsubscribe.run(spaceId, addressKey, address, unsubscribe);
        else {
          this.sql.deleteOnlyUnsubscribe.run(spaceId, addressKey);
          this.sql.clearFromUnsubscribe.run(spaceId, addressKey);
        }
      }),
    );
  }

  getFromDefault(spaceId: number, addressKey: string): Promise<FromDefault | null> {
    return this.db.run(() => {
      const row = this.sql.getFromDefault.get(spaceId, addressKey);
      return row ? fromDefaultFrom(row) : null;
    });
  }

  listFromFlags(spaceId: number): Promise<FromDefault[]> {
    return this.db.run(() => this.sql.listFromFlags.all(spaceId).map(fromDefaultFrom));
  }
}
