/**
 * PostgreSQL backend of the suppression-lists aggregate (ListBackend in ../backend.ts): the
 * list_entries, list_changes and bounce_streaks tables (search: strpos on the address key, no
 * LIKE, so the client's text needs no escaping). Only SQL: addresses arrive keyed and dates as milliseconds from the
 * neutral layer (../neutral/lists.ts). findEntries passes its keys as one JSON array
 * parameter (json_array_elements_text), so a lookup of up to MAX_RECIPIENTS addresses is one
 * statement with one parameter, as in the SQLite backend.
 *
 * Throws: what PgDatabase.run maps (TransientError, InvariantError).
 */
import type { BounceReason } from '../../core/bounce-reason.js';
import type { SuppressionList } from '../../core/types.js';
import { InvariantError } from '../../lib/errors.js';
import type { ListBackend, ListChangeRecord, ListEntryRecord, ListHit } from '../backend.js';
import type { ListChange, ListEntry, ListSource } from '../list-store.js';
import type { PgDatabase } from './database.js';

interface ListEntryRow {
  space_id: number;
  list: SuppressionList;
  address: string;
  reason: string;
  bounce_reason: BounceReason | null;
  rule: string | null;
  source: ListSource;
  added_at: number;
}

interface ChangeRow {
  id: number;
  space_id: number;
  list: SuppressionList;
  address: string;
  action: 'added' | 'removed';
  source: ListSource;
  reason: string;
  at: number;
}

function entryFrom(r: ListEntryRow): ListEntry {
  return { spaceId: r.space_id, list: r.list, address: r.address, reason: r.reason, bounceReason: r.bounce_reason, rule: r.rule, source: r.source, addedAt: new Date(r.added_at) };
}

export class PgLists implements ListBackend {
  constructor(private readonly db: PgDatabase) {}

  upsertListEntry(e: ListEntryRecord, ifAbsent: boolean): Promise<boolean> {
    // ON CONFLICT: two nodes adding one address at once never fail; xmax = 0 tells an insert
    // from an update. Only the insert writes the 'added' change, in the same transaction.
    return this.db.transaction(async (tx) => {
      const rows = ifAbsent
        ? await tx<{ inserted: boolean }[]>`
            INSERT INTO list_entries (space_id, address_key, list, address, reason, bounce_reason, rule, source, added_at)
            VALUES (${e.spaceId}, ${e.addressKey}, ${e.list}, ${e.address}, ${e.reason}, ${e.bounceReason}, ${e.rule}, ${e.source}, ${e.addedAtMs})
            ON CONFLICT (space_id, address_key, list) DO NOTHING RETURNING true AS inserted`
        : await tx<{ inserted: boolean }[]>`
            INSERT INTO list_entries (space_id, address_key, list, address, reason, bounce_reason, rule, source, added_at)
            VALUES (${e.spaceId}, ${e.addressKey}, ${e.list}, ${e.address}, ${e.reason}, ${e.bounceReason}, ${e.rule}, ${e.source}, ${e.addedAtMs})
            ON CONFLICT (space_id, address_key, list) DO UPDATE SET reason = excluded.reason, bounce_reason = excluded.bounce_reason,
              rule = excluded.rule, source = excluded.source, added_at = excluded.added_at
            RETURNING (xmax = 0) AS inserted`;
      const inserted = rows[0]?.inserted === true;
      if (inserted) {
        await tx`
          INSERT INTO list_changes (space_id, list, address, action, source, reason, at)
          VALUES (${e.spaceId}, ${e.list}, ${e.address}, 'added', ${e.source}, ${e.reason}, ${e.addedAtMs})`;
      }
      return inserted;
    });
  }

  bumpBounceStreak(spaceId: number, addressKey: string, reason: string, atMs: number): Promise<{ count: number; firstAtMs: number; lastAtMs: number }> {
    // One statement (INSERT … ON CONFLICT … RETURNING): atomic without a transaction of its own;
    // concurrent bumps of one row wait for each other on its lock, none is lost.
    return this.db.run(async (sql) => {
      const [row] = await sql<{ count: number; first_at: number; last_at: number }[]>`
        INSERT INTO bounce_streaks AS b (space_id, address_key, reason, count, first_at, last_at)
        VALUES (${spaceId}, ${addressKey}, ${reason}, 1, ${atMs}, ${atMs})
        ON CONFLICT (space_id, address_key, reason) DO UPDATE SET count = b.count + 1, last_at = excluded.last_at
        RETURNING count, first_at, last_at`;
      if (row === undefined) throw new InvariantError('bounce streak upsert returned no row');
      return { count: row.count, firstAtMs: row.first_at, lastAtMs: row.last_at };
    });
  }

  deleteBounceStreaks(spaceId: number, addressKey: string): Promise<void> {
    return this.db.run(async (sql) => {
      await sql`DELETE FROM bounce_streaks WHERE space_id = ${spaceId} AND address_key = ${addressKey}`;
    });
  }

  removeListEntry(spaceId: number, list: SuppressionList, addressKey: string, change: ListChangeRecord): Promise<boolean> {
    return this.db.transaction(async (tx) => {
      const [gone] = await tx<{ address: string }[]>`
        DELETE FROM list_entries WHERE space_id = ${spaceId} AND list = ${list} AND address_key = ${addressKey} RETURNING address`;
      if (gone === undefined) return false;
      await tx`
        INSERT INTO list_changes (space_id, list, address, action, source, reason, at)
        VALUES (${spaceId}, ${list}, ${gone.address}, 'removed', ${change.source}, ${change.reason}, ${change.atMs})`;
      return true;
    });
  }

  searchListEntries(q: { spaceId: number; list: SuppressionList; contains: string | null; afterKey: string | null; limit: number }): Promise<ListEntry[]> {
    return this.db.run(async (sql) =>
      (
        await sql<ListEntryRow[]>`
          SELECT space_id, list, address, reason, bounce_reason, rule, source, added_at FROM list_entries
          WHERE space_id = ${q.spaceId} AND list = ${q.list}
            AND (${q.contains}::text IS NULL OR strpos(address_key, ${q.contains}::text) > 0)
            AND (${q.afterKey}::text IS NULL OR address_key COLLATE "C" > ${q.afterKey}::text)
          ORDER BY address_key COLLATE "C" LIMIT ${q.limit}`
      ).map(entryFrom),
    );
  }

  listChanges(spaceId: number, list: SuppressionList, beforeId: number | null, limit: number): Promise<ListChange[]> {
    return this.db.run(async (sql) =>
      (
        await sql<ChangeRow[]>`
          SELECT id, space_id, list, address, action, source, reason, at FROM list_changes
          WHERE space_id = ${spaceId} AND list = ${list} AND (${beforeId}::bigint IS NULL OR id < ${beforeId}::bigint)
          ORDER BY id DESC LIMIT ${limit}`
      ).map((r) => ({ id: Number(r.id), spaceId: Number(r.space_id), list: r.list, address: r.address, action: r.action, source: r.source, reason: r.reason, at: new Date(Number(r.at)) })),
    );
  }

  listEntries(spaceId: number, list: SuppressionList): Promise<ListEntry[]> {
    return this.db.run(async (sql) =>
      (
        await sql<ListEntryRow[]>`
          SELECT space_id, list, address, reason, bounce_reason, rule, source, added_at FROM list_entries
          WHERE space_id = ${spaceId} AND list = ${list} ORDER BY address_key COLLATE "C"`
      ).map(entryFrom),
    );
  }

  findEntries(spaceId: number, addressKeys: readonly string[]): Promise<ListHit[]> {
    return this.db.run(async (sql) =>
      (
        await sql<{ address_key: string; list: SuppressionList; reason: string }[]>`
          SELECT address_key, list, reason FROM list_entries
          WHERE space_id = ${spaceId} AND address_key IN (SELECT json_array_elements_text(${JSON.stringify(addressKeys)}::text::json))`
      ).map((r) => ({ addressKey: r.address_key, list: r.list, reason: r.reason })),
    );
  }
}
