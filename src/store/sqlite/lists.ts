/**
 * SQLite backend of the suppression-lists aggregate (ListBackend in ../backend.ts): the
 * list_entries, list_changes and bounce_streaks tables. Search is instr() on the address key
 * (no LIKE: the client's text needs no escaping). Only SQL: addresses arrive keyed and dates as milliseconds from the
 * neutral layer (../neutral/lists.ts). findEntries passes its keys as one JSON array
 * parameter (json_each), so a lookup of up to MAX_RECIPIENTS addresses is one statement.
 *
 * Throws: what SqliteDatabase.run maps (TransientError, InvariantError).
 */
import type Database from 'better-sqlite3';
import type { BounceReason } from '../../core/bounce-reason.js';
import type { SuppressionList } from '../../core/types.js';
import { InvariantError } from '../../lib/errors.js';
import type { ListBackend, ListChangeRecord, ListEntryRecord, ListHit } from '../backend.js';
import type { ListChange, ListEntry, ListSource } from '../list-store.js';
import type { SqliteDatabase } from './database.js';

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
  return { spaceId: r.space_id, list: r.list, address: r.address, reason: r.reason, bounceReason: r.bounce_reason, rule: r.rule, source: r.source, addedAt: new Date(r.added_at) };
}

function changeFrom(r: ChangeRow): ListChange {
  return { id: r.id, spaceId: r.space_id, list: r.list, address: r.address, action: r.action, source: r.source, reason: r.reason, at: new Date(r.at) };
}

const ENTRY_COLUMNS = 'space_id, list, address, reason, bounce_reason, rule, source, added_at';

function prepare(db: Database.Database) {
  return {
    exists: db.prepare<[number, string, SuppressionList], { one: number }>('SELECT 1 AS one FROM list_entries WHERE space_id = ? AND address_key = ? AND list = ?'),
    upsert: db.prepare<[number, string, SuppressionList, string, string, string | null, string | null, ListSource, number]>(
      'INSERT INTO list_entries (space_id, address_key, list, address, reason, bounce_reason, rule, source, added_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ' +
        'ON CONFLICT (space_id, address_key, list) DO UPDATE SET reason = excluded.reason, bounce_reason = excluded.bounce_reason, ' +
        'rule = excluded.rule, source = excluded.source, added_at = excluded.added_at',
    ),
    insertChange: db.prepare<[number, SuppressionList, string, 'added' | 'removed', ListSource, string, number]>(
      'INSERT INTO list_changes (space_id, list, address, action, source, reason, at) VALUES (?, ?, ?, ?, ?, ?, ?)',
    ),
    search: db.prepare<[number, SuppressionList, string | null, string | null, string | null, string | null, number], ListEntryRow>(
      `SELECT ${ENTRY_COLUMNS} FROM list_entries WHERE space_id = ? AND list = ? ` +
        'AND (? IS NULL OR instr(address_key, ?) > 0) AND (? IS NULL OR address_key > ?) ORDER BY address_key LIMIT ?',
    ),
    changes: db.prepare<[number, SuppressionList, number | null, number | null, number], ChangeRow>(
      'SELECT id, space_id, list, address, action, source, reason, at FROM list_changes WHERE space_id = ? AND list = ? ' +
        'AND (? IS NULL OR id < ?) ORDER BY id DESC LIMIT ?',
    ),
    bumpStreak: db.prepare<[number, string, string, number, number], StreakRow>(
      'INSERT INTO bounce_streaks (space_id, address_key, reason, count, first_at, last_at) VALUES (?, ?, ?, 1, ?, ?) ' +
        'ON CONFLICT (space_id, address_key, reason) DO UPDATE SET count = count + 1, last_at = excluded.last_at ' +
        'RETURNING count, first_at, last_at',
    ),
    deleteStreaks: db.prepare<[number, string]>('DELETE FROM bounce_streaks WHERE space_id = ? AND address_key = ?'),
    remove: db.prepare<[number, SuppressionList, string], { address: string }>(
      'DELETE FROM list_entries WHERE space_id = ? AND list = ? AND address_key = ? RETURNING address',
    ),
    list: db.prepare<[number, SuppressionList], ListEntryRow>(`SELECT ${ENTRY_COLUMNS} FROM list_entries WHERE space_id = ? AND list = ? ORDER BY address_key`),
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

  upsertListEntry(e: ListEntryRecord, ifAbsent: boolean): Promise<boolean> {
    return this.db.run(() =>
      this.db.immediate(() => {
        const existed = this.sql.exists.get(e.spaceId, e.addressKey, e.list) !== undefined;
        if (existed && ifAbsent) return false;
        this.sql.upsert.run(e.spaceId, e.addressKey, e.list, e.address, e.reason, e.bounceReason, e.rule, e.source, e.addedAtMs);
        if (!existed) this.sql.insertChange.run(e.spaceId, e.list, e.address, 'added', e.source, e.reason, e.addedAtMs);
        return !existed;
      }),
    );
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

  removeListEntry(spaceId: number, list: SuppressionList, addressKey: string, change: ListChangeRecord): Promise<boolean> {
    return this.db.run(() =>
      this.db.immediate(() => {
        const gone = this.sql.remove.get(spaceId, list, addressKey);
        if (gone === undefined) return false;
        this.sql.insertChange.run(spaceId, list, gone.address, 'removed', change.source, change.reason, change.atMs);
        return true;
      }),
    );
  }

  searchListEntries(q: { spaceId: number; list: SuppressionList; contains: string | null; afterKey: string | null; limit: number }): Promise<ListEntry[]> {
    return this.db.run(() => this.sql.search.all(q.spaceId, q.list, q.contains, q.contains, q.afterKey, q.afterKey, q.limit).map(entryFrom));
  }

  listChanges(spaceId: number, list: SuppressionList, beforeId: number | null, limit: number): Promise<ListChange[]> {
    return this.db.run(() => this.sql.changes.all(spaceId, list, beforeId, beforeId, limit).map(changeFrom));
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
