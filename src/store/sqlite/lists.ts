/**
 * SQLite backend of the suppression-lists aggregate (ListBackend in ../backend.ts): the
 * list_entries and bounce_streaks tables. Only SQL: addresses arrive keyed and dates as milliseconds from the
 * neutral layer (../neutral/lists.ts). findEntries passes its keys as one JSON array
 * parameter (json_each), so a lookup of up to MAX_RECIPIENTS addresses is one statement.
 *
 * Throws: what SqliteDatabase.run maps (TransientError, InvariantError).
 */
import type Database from 'better-sqlite3';
import type { BounceReason } from '../../core/bounce-reason.js';
import type { SuppressionList } from '../../core/types.js';
import { InvariantError } from '../../lib/errors.js';
import type { ListBackend, ListEntryRecord, ListHit } from '../backend.js';
import type { ListEntry } from '../list-store.js';
import type { SqliteDatabase } from './database.js';

interface ListEntryRow {
  space_id: number;
  list: SuppressionList;
  address: string;
  reason: string;
  bounce_reason: BounceReason | null;
  rule: string | null;
  added_at: number;
}
interface StreakRow {
  count: number;
  first_at: number;
  last_at: number;
}
interface HitRow {
  address_key: string;
  list: SuppressionList;
  reason: string;
}

function entryFrom(r: ListEntryRow): ListEntry {
  return { spaceId: r.space_id, list: r.list, address: r.address, reason: r.reason, bounceReason: r.bounce_reason, rule: r.rule, addedAt: new Date(r.added_at) };
}

function prepare(db: Database.Database) {
  return {
    upsert: db.prepare<[number, string, SuppressionList, string, string, string | null, string | null, number]>(
      'INSERT INTO list_entries (space_id, address_key, list, address, reason, bounce_reason, rule, added_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ' +
        'ON CONFLICT (space_id, address_key, list) DO UPDATE SET reason = excluded.reason, bounce_reason = excluded.bounce_reason, ' +
        'rule = excluded.rule, added_at = excluded.added_at',
    ),
    bumpStreak: db.prepare<[number, string, string, number, number], StreakRow>(
      'INSERT INTO bounce_streaks (space_id, address_key, reason, count, first_at, last_at) VALUES (?, ?, ?, 1, ?, ?) ' +
        'ON CONFLICT (space_id, address_key, reason) DO UPDATE SET count = count + 1, last_at = excluded.last_at ' +
        'RETURNING count, first_at, last_at',
    ),
    deleteStreaks: db.prepare<[number, string]>('DELETE FROM bounce_streaks WHERE space_id = ? AND address_key = ?'),
    remove: db.prepare<[number, SuppressionList, string]>('DELETE FROM list_entries WHERE space_id = ? AND list = ? AND address_key = ?'),
    list: db.prepare<[number, SuppressionList], ListEntryRow>(
      'SELECT space_id, list, address, reason, bounce_reason, rule, added_at FROM list_entries WHERE space_id = ? AND list = ? ORDER BY address_key',
    ),
    find: db.prepare<[number, string], HitRow>(
      'SELECT address_key, list, reason FROM list_entries WHERE space_id = ? AND address_key IN (SELECT value FROM json_each(?))',
    ),
  };
}

export class SqliteLists implements ListBackend {
  private readonly sql: ReturnType<typeof prepare>;

  constructor(private readonly db: SqliteDatabase) {
    this.sql = prepare(db.db);
  }

  upsertListEntry(e: ListEntryRecord): Promise<void> {
    return this.db.run(() => {
      this.sql.upsert.run(e.spaceId, e.addressKey, e.list, e.address, e.reason, e.bounceReason, e.rule, e.addedAtMs);
    });
  }

  bumpBounceStreak(spaceId: number, addressKey: string, reason: string, atMs: number): Promise<{ count: number; firstAtMs: number; lastAtMs: number }> {
    // One statement (INSERT … ON CONFLICT … RETURNING): atomic without a transaction of its own.
    return this.db.run(() => {
      const row = this.sql.bumpStreak.get(spaceId, addressKey, reason, atMs, atMs);
      if (row === undefined) throw new InvariantError('bounce streak upsert returned no row');
      return { count: row.count, firstAtMs: row.first_at, lastAtMs: row.last_at };
    });
  }

  deleteBounceStreaks(spaceId: number, addressKey: string): Promise<void> {
    return this.db.run(() => {
      this.sql.deleteStreaks.run(spaceId, addressKey);
    });
  }

  removeListEntry(spaceId: number, list: SuppressionList, addressKey: string): Promise<boolean> {
    return this.db.run(() => this.sql.remove.run(spaceId, list, addressKey).changes > 0);
  }

  listEntries(spaceId: number, list: SuppressionList): Promise<ListEntry[]> {
    return this.db.run(() => this.sql.list.all(spaceId, list).map(entryFrom));
  }

  findEntries(spaceId: number, addressKeys: readonly string[]): Promise<ListHit[]> {
    return this.db.run(() =>
      this.sql.find.all(spaceId, JSON.stringify(addressKeys)).map((r) => ({ addressKey: r.address_key, list: r.list, reason: r.reason })),
    );
  }
}
