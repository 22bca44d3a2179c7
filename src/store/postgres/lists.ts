/**
 * PostgreSQL backend of the suppression-lists aggregate (ListBackend in ../backend.ts): the
 * list_entries and bounce_streaks tables. Only SQL: addresses arrive keyed and dates as milliseconds from the
 * neutral layer (../neutral/lists.ts). findEntries passes its keys as one JSON array
 * parameter (json_array_elements_text), so a lookup of up to MAX_RECIPIENTS addresses is one
 * statement with one parameter, as in the SQLite backend.
 *
 * Throws: what PgDatabase.run maps (TransientError, InvariantError).
 */
import type { BounceReason } from '../../core/bounce-reason.js';
import type { SuppressionList } from '../../core/types.js';
import { InvariantError } from '../../lib/errors.js';
import type { ListBackend, ListEntryRecord, ListHit } from '../backend.js';
import type { ListEntry } from '../list-store.js';
import type { PgDatabase } from './database.js';

interface ListEntryRow {
  space_id: number;
  list: SuppressionList;
  address: string;
  reason: string;
  bounce_reason: BounceReason | null;
  rule: string | null;
  added_at: number;
}

export class PgLists implements ListBackend {
  constructor(private readonly db: PgDatabase) {}

  upsertListEntry(e: ListEntryRecord): Promise<void> {
    return this.db.run(async (sql) => {
      await sql`
        INSERT INTO list_entries (space_id, address_key, list, address, reason, bounce_reason, rule, added_at)
        VALUES (${e.spaceId}, ${e.addressKey}, ${e.list}, ${e.address}, ${e.reason}, ${e.bounceReason}, ${e.rule}, ${e.addedAtMs})
        ON CONFLICT (space_id, address_key, list) DO UPDATE SET reason = excluded.reason, bounce_reason = excluded.bounce_reason,
          rule = excluded.rule, added_at = excluded.added_at`;
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

  removeListEntry(spaceId: number, list: SuppressionList, addressKey: string): Promise<boolean> {
    return this.db.run(
      async (sql) => (await sql`DELETE FROM list_entries WHERE space_id = ${spaceId} AND list = ${list} AND address_key = ${addressKey}`).count > 0,
    );
  }

  listEntries(spaceId: number, list: SuppressionList): Promise<ListEntry[]> {
    return this.db.run(async (sql) =>
      (
        await sql<ListEntryRow[]>`
          SELECT space_id, list, address, reason, bounce_reason, rule, added_at FROM list_entries
          WHERE space_id = ${spaceId} AND list = ${list} ORDER BY address_key COLLATE "C"`
      ).map((r) => ({
        spaceId: r.space_id,
        list: r.list,
        address: r.address,
        reason: r.reason,
        bounceReason: r.bounce_reason,
        rule: r.rule,
        addedAt: new Date(r.added_at),
      })),
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
