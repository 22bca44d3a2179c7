/**
 * SQLite backend of the login-failure aggregate (AuthFailureBackend in ../backend.ts): the
 * auth_failures table. Only SQL: keys and times arrive checked from the neutral layer
 * (../neutral/auth-failures.ts).
 *
 * Throws: what SqliteDatabase.run maps (TransientError, InvariantError).
 */
import type Database from 'better-sqlite3';
import type { AuthFailureBackend } from '../backend.js';
import type { SqliteDatabase } from './database.js';

function prepare(db: Database.Database) {
  return {
    count: db.prepare<[string, number], { key: string; n: number }>(
      'SELECT key, count(*) AS n FROM auth_failures WHERE key IN (SELECT value FROM json_each(?)) AND at >= ? GROUP BY key',
    ),
    insert: db.prepare<[string, number]>('INSERT INTO auth_failures (key, at) VALUES (?, ?)'),
    expire: db.prepare<[number]>('DELETE FROM auth_failures WHERE at < ?'),
    clear: db.prepare<[string]>('DELETE FROM auth_failures WHERE key = ?'),
  };
}

export class SqliteAuthFailures implements AuthFailureBackend {
  private readonly sql: ReturnType<typeof prepare>;

  constructor(private readonly db: SqliteDatabase) {
    this.sql = prepare(db.db);
  }

  countFailures(keys: readonly string[], sinceMs: number): Promise<Record<string, number>> {
    return this.db.run(() => {
      const counts: Record<string, number> = {};
      for (const r of this.sql.count.all(JSON.stringify(keys), sinceMs)) counts[r.key] = r.n;
      return counts;
    });
  }

  recordFailure(keys: readonly string[], atMs: number, expireBeforeMs: number): Promise<void> {
    return this.db.run(() =>
      this.db.immediate(() => {
        this.sql.expire.run(expireBeforeMs);
        for (const key of keys) this.sql.insert.run(key, atMs);
      }),
    );
  }

  clearFailures(key: string): Promise<void> {
    return this.db.run(() => {
      this.sql.clear.run(key);
    });
  }
}
