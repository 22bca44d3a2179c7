/**
 * PostgreSQL backend of the delivery-cursor aggregate (CursorBackend in ../backend.ts): the
 * delivery_cursors table, one row per log path. Only SQL: values arrive checked from the
 * neutral layer (../neutral/delivery-cursors.ts).
 *
 * Throws: what PgDatabase.run maps (TransientError, InvariantError).
 */
import type { CursorBackend, CursorRecord } from '../backend.js';
import type { DeliveryCursor } from '../delivery-cursor-store.js';
import type { PgDatabase } from './database.js';

interface CursorRow {
  path: string;
  dev: string;
  ino: string;
  offset: number;
  following_since: number;
  saved_at: number;
}

export class PgDeliveryCursors implements CursorBackend {
  constructor(private readonly db: PgDatabase) {}

  getCursor(path: string): Promise<DeliveryCursor | null> {
    return this.db.run(async (sql) => {
      const [r] = await sql<CursorRow[]>`
        SELECT path, dev, ino, "offset", following_since, saved_at FROM delivery_cursors WHERE path = ${path}`;
      return r === undefined
        ? null
        : { path: r.path, dev: r.dev, ino: r.ino, offset: r.offset, followingSince: new Date(r.following_since), savedAt: new Date(r.saved_at) };
    });
  }

  upsertCursor(c: CursorRecord): Promise<void> {
    return this.db.run(async (sql) => {
      await sql`
        INSERT INTO delivery_cursors (path, dev, ino, "offset", following_since, saved_at)
        VALUES (${c.path}, ${c.dev}, ${c.ino}, ${c.offset}, ${c.followingSinceMs}, ${c.savedAtMs})
        ON CONFLICT (path) DO UPDATE SET dev = excluded.dev, ino = excluded.ino, "offset" = excluded."offset",
          following_since = excluded.following_since, saved_at = excluded.saved_at`;
    });
  }
}
