/**
 * PostgreSQL backend of the accounts aggregate (AccountBackend in ../backend.ts): spaces,
 * sender domains, users and from-address defaults. Only SQL: the values arrive validated and
 * keyed from the neutral layer (../neutral/accounts.ts). Space names are unique compared
 * ASCII-case-insensitively, like SQLite's NOCASE (index on lower(name COLLATE "C"),
 * migrations.ts). A taken name, e-mail or key is found with ON CONFLICT DO NOTHING, so no
 * statement fails on it.
 *
 * Throws: what PgDatabase.run maps (TransientError, InvariantError); a taken name or e-mail
 * is the result 'duplicate', not an error.
 */
import type { UnsubscribeDefault } from '../../core/unsubscribe.js';
import type { FromDefault, Space, User, UserAccount } from '../account-store.js';
import type { AccountBackend, NewSpaceRecord, NewUserRecord, SpacePatch } from '../backend.js';
import type { PgDatabase } from './database.js';
import { parseStringArray } from '../json-columns.js';
import { merged } from '../../lib/merged.js';

interface SpaceRow {
  id: number;
  name: string;
  default_flags: number | null;
  allow_subdomains: boolean;
  allow_unsigned: boolean;
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

function spaceFrom(r: SpaceRow): Space {
  return {
    id: r.id,
    name: r.name,
    defaultFlags: r.default_flags,
    allowSubdomains: r.allow_subdomains,
    allowUnsigned: r.allow_unsigned,
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

export class PgAccounts implements AccountBackend {
  constructor(private readonly db: PgDatabase) {}

  spaceExists(id: number): Promise<boolean> {
    return this.db.run(async (sql) => (await sql`SELECT 1 AS one FROM spaces WHERE id = ${id}`).length > 0);
  }

  insertSpace(space: NewSpaceRecord): Promise<Space | 'duplicate'> {
    return this.db.run(async (sql) => {
      const rows = await sql<SpaceRow[]>`
        INSERT INTO spaces (name, default_flags, allow_subdomains, allow_unsigned, unsubscribe, created_at)
        VALUES (${space.name}, ${space.defaultFlags}, ${space.allowSubdomains}, ${space.allowUnsigned}, ${space.unsubscribe}, ${space.createdAtMs})
        ON CONFLICT DO NOTHING
        RETURNING id, name, default_flags, allow_subdomains, allow_unsigned, unsubscribe, created_at`;
      const row = rows[0];
      return row === undefined ? 'duplicate' : spaceFrom(row);
    });
  }

  getSpace(id: number): Promise<Space | null> {
    return this.db.run(async (sql) => {
      const [row] = await sql<SpaceRow[]>`
        SELECT id, name, default_flags, allow_subdomains, allow_unsigned, unsubscribe, created_at FROM spaces WHERE id = ${id}`;
      return row ? spaceFrom(row) : null;
    });
  }

  getSpaceByName(name: string): Promise<Space | null> {
    return this.db.run(async (sql) => {
      const [row] = await sql<SpaceRow[]>`
        SELECT id, name, default_flags, allow_subdomains, allow_unsigned, unsubscribe, created_at FROM spaces
        WHERE lower(name COLLATE "C") = lower(${name}::text COLLATE "C")`;
      return row ? spaceFrom(row) : null;
    });
  }

  listSpaces(): Promise<Space[]> {
    return this.db.run(async (sql) =>
      (await sql<SpaceRow[]>`SELECT id, name, default_flags, allow_subdomains, allow_unsigned, unsubscribe, created_at FROM spaces ORDER BY id`).map(spaceFrom),
    );
  }

  updateSpace(id: number, patch: SpacePatch): Promise<Space | null> {
    return this.db.transaction(async (tx) => {
      const [row] = await tx<SpaceRow[]>`
        SELECT id, name, default_flags, allow_subdomains, allow_unsigned, unsubscribe, created_at FROM spaces WHERE id = ${id} FOR UPDATE`;
      if (!row) return null;
      const next: SpaceRow = merged(row, {
        default_flags: patch.defaultFlags === undefined ? row.default_flags : patch.defaultFlags,
        allow_subdomains: patch.allowSubdomains ?? row.allow_subdomains,
        allow_unsigned: patch.allowUnsigned ?? row.allow_unsigned,
        unsubscribe: patch.unsubscribe === undefined ? row.unsubscribe : patch.unsubscribe,
      });
      await tx`
        UPDATE spaces SET default_flags = ${next.default_flags}, allow_subdomains = ${next.allow_subdomains},
          allow_unsigned = ${next.allow_unsigned}, unsubscribe = ${next.unsubscribe} WHERE id = ${id}`;
      return spaceFrom(next);
    });
  }

  addDomain(spaceId: number, domain: string): Promise<void> {
    return this.db.run(async (sql) => {
      await sql`INSERT INTO sender_domains (space_id, domain) VALUES (${spaceId}, ${domain}) ON CONFLICT DO NOTHING`;
    });
  }

  removeDomain(spaceId: number, domain: string): Promise<boolean> {
    return this.db.transaction(async (tx) => {
      const removed = (await tx`DELETE FROM sender_domains WHERE space_id = ${spaceId} AND domain = ${domain}`).count > 0;
      // A removed domain's DKIM keys neither sign nor are published any more (kept for the record).
      if (removed) await tx`UPDATE dkim_keys SET state = 'retired' WHERE space_id = ${spaceId} AND domain = ${domain} AND state <> 'retired'`;
      return removed;
    });
  }

  listDomains(spaceId: number): Promise<string[]> {
    return this.db.run(async (sql) =>
      (await sql<{ domain: string }[]>`SELECT domain FROM sender_domains WHERE space_id = ${spaceId} ORDER BY domain COLLATE "C"`).map((r) => r.domain),
    );
  }

  insertUser(user: NewUserRecord): Promise<User | 'duplicate'> {
    return this.db.run(async (sql) => {
      const [row] = await sql<UserRow[]>`
        INSERT INTO users (space_id, email, email_key, password_hash, created_at)
        VALUES (${user.spaceId}, ${user.email}, ${user.emailKey}, ${user.passwordHash}, ${user.createdAtMs})
        ON CONFLICT (email_key) DO NOTHING
        RETURNING id, space_id, email, password_hash, created_at`;
      return row === undefined ? 'duplicate' : userFrom(row);
    });
  }

  getUserByKey(emailKey: string): Promise<User | null> {
    return this.db.run(async (sql) => {
      const [row] = await sql<UserRow[]>`SELECT id, space_id, email, password_hash, created_at FROM users WHERE email_key = ${emailKey}`;
      return row ? userFrom(row) : null;
    });
  }

  getAccountByKey(emailKey: string): Promise<UserAccount | null> {
    return this.db.run(async (sql) => {
      // One statement, one snapshot: the user, its space and the space's domains as a JSON array.
      const [row] = await sql<(UserRow & { s_name: string; s_default_flags: number | null; s_allow_subdomains: boolean; s_allow_unsigned: boolean; s_unsubscribe: UnsubscribeDefault | null; s_created_at: number; domains: string })[]>`
        SELECT u.id, u.space_id, u.email, u.password_hash, u.created_at,
          s.name AS s_name, s.default_flags AS s_default_flags, s.allow_subdomains AS s_allow_subdomains,
          s.allow_unsigned AS s_allow_unsigned, s.unsubscribe AS s_unsubscribe, s.created_at AS s_created_at,
          COALESCE((SELECT json_agg(d.domain ORDER BY d.domain COLLATE "C") FROM sender_domains d WHERE d.space_id = u.space_id), '[]')::text AS domains
        FROM users u JOIN spaces s ON s.id = u.space_id
        WHERE u.email_key = ${emailKey}`;
      if (!row) return null;
      const space = spaceFrom({
        id: row.space_id,
        name: row.s_name,
        default_flags: row.s_default_flags,
        allow_subdomains: row.s_allow_subdomains,
        allow_unsigned: row.s_allow_unsigned,
        unsubscribe: row.s_unsubscribe,
        created_at: row.s_created_at,
      });
      return { user: userFrom(row), space, domains: parseStringArray(row.domains, 'sender domains') };
    });
  }

  setPasswordHash(emailKey: string, passwordHash: string): Promise<boolean> {
    return this.db.run(async (sql) => (await sql`UPDATE users SET password_hash = ${passwordHash} WHERE email_key = ${emailKey}`).count > 0);
  }

  removeUser(emailKey: string): Promise<boolean> {
    return this.db.run(async (sql) => (await sql`DELETE FROM users WHERE email_key = ${emailKey}`).count > 0);
  }

  listUsers(spaceId: number | null): Promise<User[]> {
    return this.db.run(async (sql) => {
      const rows =
        spaceId === null
          ? await sql<UserRow[]>`SELECT id, space_id, email, password_hash, created_at FROM users ORDER BY email_key COLLATE "C"`
          : await sql<UserRow[]>`
              SELECT id, space_id, email, password_hash, created_at FROM users WHERE space_id = ${spaceId} ORDER BY email_key COLLATE "C"`;
      return rows.map(userFrom);
    });
  }

  setFromFlags(spaceId: number, addressKey: string, address: string, flags: number | null): Promise<void> {
    return this.db.transaction(async (tx) => {
      if (flags !== null) {
        await tx`
          INSERT INTO from_defaults (space_id, address_key, address, flags) VALUES (${spaceId}, ${addressKey}, ${address}, ${flags})
          ON CONFLICT (space_id, address_key) DO UPDATE SET address = excluded.address, flags = excluded.flags`;
        return;
      }
      // Clearing the one default a row holds deletes the row (a row holds at least one).
      await tx`DELETE FROM from_defaults WHERE space_id = ${spaceId} AND address_key = ${addressKey} AND unsubscribe IS NULL`;
      await tx`UPDATE from_defaults SET flags = NULL WHERE space_id = ${spaceId} AND address_key = ${addressKey}`;
    });
  }

  setFromUnsubscribe(spaceId: number, addressKey: string, address: string, unsubscribe: UnsubscribeDefault | null): Promise<void> {
    return this.db.transaction(async (tx) => {
      if (unsubscribe !== null) {
        await tx`
          INSERT INTO from_defaults (space_id, address_key, address, unsubscribe) VALUES (${spaceId}, ${addressKey}, ${address}, ${unsubscribe})
          ON CONFLICT (space_id, address_key) DO UPDATE SET address = excluded.address, unsubscribe = excluded.unsubscribe`;
        return;
      }
      await tx`DELETE FROM from_defaults WHERE space_id = ${spaceId} AND address_key = ${addressKey} AND flags IS NULL`;
      await tx`UPDATE from_defaults SET unsubscribe = NULL WHERE space_id = ${spaceId} AND address_key = ${addressKey}`;
    });
  }

  getFromDefault(spaceId: number, addressKey: string): Promise<FromDefault | null> {
    return this.db.run(async (sql) => {
      const [row] = await sql<FromDefaultRow[]>`
        SELECT space_id, address, flags, unsubscribe FROM from_defaults WHERE space_id = ${spaceId} AND address_key = ${addressKey}`;
      return row ? fromDefaultFrom(row) : null;
    });
  }

  listFromFlags(spaceId: number): Promise<FromDefault[]> {
    return this.db.run(async (sql) =>
      (
        await sql<FromDefaultRow[]>`
          SELECT space_id, address, flags, unsubscribe FROM from_defaults WHERE space_id = ${spaceId} ORDER BY address_key COLLATE "C"`
      ).map(fromDefaultFrom),
    );
  }
}
