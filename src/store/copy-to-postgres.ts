/**
 * `trxmail store copy` in the store's terms: a SQLite file (read-only) into a PostgreSQL
 * database (migrated first, under the migration lock), every table in one transaction,
 * counts checked (store-copy.ts). The one place that holds both backends at once.
 *
 * Throws: ConfigError (source not a trxmail database at this version; a foreign target
 * schema), UsageError (target not empty without `replace`), TransientError (target
 * unreachable), InvariantError (counts differ: nothing committed).
 */
import { PgCopySink } from './postgres/copy-sink.js';
import { PgDatabase, type PgOptions } from './postgres/database.js';
import { MIGRATION_STATEMENT_TIMEOUT_MS, migratePg } from './postgres/migrations.js';
import { SqliteCopySource } from './sqlite/copy-source.js';
import { copyStore, type CopiedTable } from './store-copy.js';

export type { CopiedTable } from './store-copy.js';

export async function copySqliteToPostgres(from: string, to: PgOptions, opts: { replace: boolean }): Promise<CopiedTable[]> {
  const source = SqliteCopySource.open(from);
  const db = PgDatabase.connect(to);
  try {
    await db.run((sql) => migratePg(sql), to.connectTimeoutMs + MIGRATION_STATEMENT_TIMEOUT_MS);
    return await copyStore(source, new PgCopySink(db), opts);
  } finally {
    source.close();
    await db.close();
  }
}
