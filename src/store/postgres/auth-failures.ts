/**
 * PostgreSQL backend of the login-failure aggregate (AuthFailureBackend in ../backend.ts): the
 * auth_failures table, shared by every node. Only SQL: keys and times arrive checked from the
 * neutral layer (../neutral/auth-failures.ts). The keys of a call go as one JSON array
 * parameter (json_array_elements_text), so counting or recording is one statement.
 *
 * Throws: what PgDatabase maps (TransientError, InvariantError).
 */
import type { AuthFailureBackend } from '../backend.js';
import type { PgDatabase } from './database.js';

export class PgAuthFailures implements AuthFailureBackend {
  constructor(private readonly db: PgDatabase) {}

  countFailures(keys: readonly string[], sinceMs: number): Promise<Record<string, number>> {
    return this.db.run(async (sql) => {
      const rows = await sql<{ key: string; n: number }[]>`
        SELECT key, count(*) AS n FROM auth_failures
        WHERE key IN (SELECT json_array_elements_text(${JSON.stringify(keys)}::text::json)) AND at >= ${sinceMs}
        GROUP BY key`;
      // No prototype: a key such as '__proto__' is an ordinary key here.
      const counts = Object.create(null) as Record<string, number>;
      for (const r of rows) counts[r.key] = r.n;
      return counts;
    });
  }

  recordFailure(keys: readonly string[], atMs: number, expireBeforeMs: number): Promise<void> {
    return this.db.transaction(async (tx) => {
      await tx`DELETE FROM auth_failures WHERE at < ${expireBeforeMs}`;
      await tx`
        INSERT INTO auth_failures (key, at)
        SELECT k, ${atMs}::bigint FROM json_array_elements_text(${JSON.stringify(keys)}::text::json) AS k`;
    });
  }

  clearFailures(key: string): Promise<void> {
    return this.db.run(async (sql) => {
      await sql`DELETE FROM auth_failures WHERE key = ${key}`;
    });
  }
}
