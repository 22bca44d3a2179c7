/**
 * PostgreSQL backend of the delivery-cursor aggregate (CursorBackend in ../backend.ts): the
 * delivery_cursors table, one row per node and log path (node '' for the rows saved before
 * nodes were named). Only SQL: values arrive checked from the neutral layer
 * (../neutral/delivery-cursors.ts), which also falls back to node ''.
 *
 * Throws: what PgDatabase.run maps (TransientError, InvariantError).
 */
import type { CursorBackend, CursorRecord } from '../backend.js';
import type { DeliveryCursor } from '../delivery-cursor-store.js';
import type { PgDatabase } from './database.js';

interface CursorRow {
  node: string;
  path: string;
  dev: string;
  ino: string;
  offset: number;
  following_since: number;
  saved_at: number;
}

export class PgDeliveryCursors implements CursorBackend {
  constructor(private readonly db: PgDatabase) {}

  getCursor(node: string, path: string): Promise<DeliveryCursor | null> {
    return this.db.run(async (sql) => {
      const [r] = await sql<CursorRow[]>`
        SELECT node, path, dev, ino, "offset", following_since, saved_at FROM delivery_cursors WHERE node = ${node} AND path = ${path}`;
      return r === undefined
        ? null
        : {
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
    return this.db.run(async (sql) => {
      await sql`
        INSERT INTO delivery_cursors (node, path, dev, ino, "offset", following_since, saved_at)
        VALUES (${c.node}, ${c.path}, ${c.dev}, ${c.ino}, ${c.offset}, ${c.followingSinceMs}, ${c.savedAtMs})
        ON CONFLICT (node, path) DO UPDATE SET dev = excluded.dev, ino = excluded.ino, "offset" = excluded."offset",
          following_since = excluded.following_since, saved_at = excluded.saved_at`;
    });
  }
}
