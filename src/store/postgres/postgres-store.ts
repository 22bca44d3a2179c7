/**
 * The PostgreSQL Store: the neutral layer (../neutral/neutral-store.ts: validation,
 * invariants, webhook fan-out) over the PostgreSQL backend — one module per aggregate
 * (accounts.ts, lists.ts, sends.ts, outbox.ts, domain-auth.ts, delivery-cursors.ts,
 * auth-failures.ts) on one
 * shared pool (database.ts). For several Postfix+trxmail nodes sharing one database. This file
 * only assembles them and migrates at open; it is the one PostgreSQL file that knows the
 * neutral layer.
 *
 * Limits: those of the Store (store.ts); the timeouts and pool size of PgOptions (database.ts).
 *
 * Throws: from open(): ConfigError (a schema newer than this code, or not trxmail's),
 * TransientError (the server cannot be reached or answers too slowly); the methods throw as
 * the Store describes (UsageError, TransientError, InvariantError).
 */
import { NeutralStore } from '../neutral/neutral-store.js';
import { PgAccounts } from './accounts.js';
import { PgAuthFailures } from './auth-failures.js';
import { PgDatabase, type PgOptions } from './database.js';
import { PgDeliveryCursors } from './delivery-cursors.js';
import { PgDomainAuth } from './domain-auth.js';
import { PgLists } from './lists.js';
import { MIGRATION_STATEMENT_TIMEOUT_MS, migratePg, type MigrateResult } from './migrations.js';
import { PgOutbox } from './outbox.js';
import { PgRetention } from './retention.js';
import { PgSending } from './sending.js';
import { PgSends } from './sends.js';

export type { PgOptions } from './database.js';

export class PostgresStore extends NeutralStore {
  private constructor(
    database: PgDatabase,
    /** The schema versions found and left by the migration at open. */
    readonly migrated: MigrateResult,
  ) {
    const outbox = new PgOutbox(database);
    super({
      accounts: new PgAccounts(database),
      lists: new PgLists(database),
      sends: new PgSends(database, outbox),
      outbox,
      domainAuth: new PgDomainAuth(database, outbox),
      cursors: new PgDeliveryCursors(database),
      authFailures: new PgAuthFailures(database),
      retention: new PgRetention(database),
      sending: new PgSending(database, outbox),
      probe: () => database.probe(),
      close: () => database.close(),
    });
  }

  /** Connects and migrates (under the migration lock, migrations.ts). */
  static async open(opts: PgOptions): Promise<PostgresStore> {
    const database = PgDatabase.connect(opts);
    try {
      const migrated = await database.run((sql) => migratePg(sql), opts.connectTimeoutMs + MIGRATION_STATEMENT_TIMEOUT_MS);
      return new PostgresStore(database, migrated);
    } catch (err: unknown) {
      // The error that matters is the one thrown; closing a pool that never worked may fail too.
      await database.close().catch(() => undefined);
      throw err;
    }
  }
}
