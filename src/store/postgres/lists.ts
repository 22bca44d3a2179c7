/**
 * PostgreSQL backend of the suppression-lists aggregate (ListBackend in ../backend.ts): the
 * list_entries table. Only SQL: addresses arrive keyed and dates as milliseconds from the
 * neutral layer (../neutral/lists.ts). findEntries passes its keys as one JSON array
 * parameter (json_array_elements_text), so a lookup of up to MAX_RECIPIENTS addresses is one
 * statement with one parameter, as in the SQLite backend.
 *
 * Throws: what PgDatabase.run maps (TransientError, InvariantError).
 */
import type { SuppressionList } from '../../core/types.js';
import type { ListBackend, ListEntryRecord, ListHit } from '../backend.js';
import type { ListEntry } from '../list-store.js';
import type { PgDatabase } from './database.js';

interface ListEntryRow {
  space_id: number;
  list: SuppressionList;
  address: string;
  reason: string;
  added_at: number;
}

export class PgLists implements ListBackend {
  constructor(private readonly db: PgDatabase) {}

  upsertListEntry(e: ListEntryRecord): Promise<void> {
    return this.db.run(async (sql) => {
      await sql`
        INSERT INTO list_entries (space_id, address_key, list, address, reason, added_at)
        VALUES (${e.spaceId}, ${e.addressKey}, ${e.list}, ${e.address}, ${e.reason}, ${e.addedAtMs})
        ON CONFLICT (space_id, address_key, list) DO UPDATE SET reason = excluded.reason, added_at = excluded.added_at`;
    });
  }

  removeListEntry(spaceId: number, list: SuppressionList, addressKey: string): Promise<boolean> {
    return this.db.run(
      async (sql) => (await sql`DELETE FROM list_entries WHERE space_id = ${spaceId} AND list = ${list} AND address_key = ${addressKey}`).count > 0,
    );
  }

  listEntries(spaceId: number, list: SuppressionList): Promise<ListEntry[]> {
    return this.db.run(async (sql) =>
      (
        await sql<ListEntryRow[]>`
          SELECT space_id, list, address, reason, added_at FROM list_entries
          WHERE space_id = ${spaceId} AND list = ${list} ORDER BY address_key COLLATE "C"`
      ).map((r) => ({ spaceId: r.space_id, list: r.list, address: r.address, reason: r.reason, addedAt: new Date(r.added_at) })),
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
