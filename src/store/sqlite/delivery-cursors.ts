/**
 * SQLite backend of the delivery-cursor aggregate (CursorBackend in ../backend.ts): the
 * delivery_cursors table, one row per log path. Only SQL: values arrive checked from the
 * neutral layer (../neutral/delivery-cursors.ts).
 *
 * Throws: what SqliteDatabase.run maps (TransientError, InvariantError).
 */
import type Database from 'better-sqlite3';
import type { CursorBackend, CursorRecord } from '../backend.js';
import type { DeliveryCursor } from '../delivery-cursor-store.js';
import type { SqliteDatabase } from './database.js';

interface CursorRow {
  node: string;
  path: string;
  dev: string;
  ino: string;
  offset: number;
  following_since: number;
  saved_at: number;
}

function prepare(db: Database.Database) {
  return {
    get: db.prepare<[string, string], CursorRow>(
      'SELECT node, path, dev, ino, offset, following_since, saved_at FROM delivery_cursors WHERE node = ? AND path = ?',
    ),
    upsert: db.prepare<[string, string, string, string, number, number, number]>(
      'INSERT INTO delivery_cursors (node, path, dev, ino, offset, following_since, saved_at) VALUES (?, ?, ?, ?, ?, ?, ?) ' +
        'ON CONFLICT (node, path) DO UPDATE SET dev = excluded.dev, ino = excluded.ino, offset = excluded.offset, ' +
        'following_since = excluded.following_since, saved_at = excluded.saved_at',
    ),
  };
}

export class SqliteDeliveryCursors implements CursorBackend {
  private readonly sql: ReturnType<typeof prepare>;

  constructor(private readonly db: SqliteDatabase) {
    this.sql = prepare(db.db);
  }

  getCursor(node: string, path: string): Promise<DeliveryCursor | null> {
    return this.db.run(() => {
      const r = this.sql.get.get(node, path);
      return r === undefined ? null : {
            node: r.node,
            path: r.path,
            dev: r.dev,
            ino: r.ino,
            offset: r.offset,
            followingSince: new Date(r.following_since),
            savedAt: new Date(r.saved_at),
          };
    });
  }

  upsertCursor(c: CursorRecord): Promise<void> {
    return this.db.run(() => {
      this.sql.upsert.run(c.node, c.path, c.dev, c.ino, c.offset, c.followingSinceMs, c.savedAtMs);
    });
  }
}
