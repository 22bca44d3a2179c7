/**
 * The SQLite Store: the neutral layer (../neutral/neutral-store.ts: validation, invariants,
 * webhook fan-out) over the SQLite backend — one module per aggregate (accounts.ts, lists.ts,
 * sends.ts, outbox.ts, domain-auth.ts, delivery-cursors.ts) on one shared connection (database.ts). This file only assembles them;
 * it is the one SQLite file that knows the neutral layer.
 *
 * Limits: those of the Store (store.ts); SQLITE_BUSY_TIMEOUT_MS (database.ts).
 *
 * Throws: ConfigError from open() (cannot open or create the file, newer schema, foreign
 * database), TransientError when busy; the methods throw as the Store describes (UsageError,
 * TransientError, InvariantError).
 */
import type { ReportFilter, ReportGroupBy } from '../store.js';
import { NeutralStore } from '../neutral/neutral-store.js';
import { reportQuery } from '../neutral/sends.js';
import { SqliteAccounts } from './accounts.js';
import { SqliteAuthFailures } from './auth-failures.js';
import { SqliteDatabase } from './database.js';
import { SqliteDeliveryCursors } from './delivery-cursors.js';
import { SqliteDomainAuth } from './domain-auth.js';
import { SqliteLists } from './lists.js';
import { SqliteOutbox } from './outbox.js';
import { reportPlan } from './report-query.js';
import { SqliteRetention } from './retention.js';
import { SqliteSends } from './sends.js';
import { SqliteSending } from './sending.js';
import { mapSqliteError } from './sqlite-errors.js';

export { SQLITE_BUSY_TIMEOUT_MS } from './database.js';

export class SqliteStore extends NeutralStore {
  readonly path: string;
  /** The schema versions found and left by the migration at open. */
  readonly migrated: { readonly from: number; readonly to: number };
  private readonly database: SqliteDatabase;

  private constructor(database: SqliteDatabase) {
    const outbox = new SqliteOutbox(database);
    const sending = new SqliteSending(database, outbox);
    super({
      accounts: new SqliteAccounts(database),
      lists: new SqliteLists(database),
      sends: new SqliteSends(database, outbox, sending),
      outbox,
      domainAuth: new SqliteDomainAuth(database, outbox),
      cursors: new SqliteDeliveryCursors(database),
      authFailures: new SqliteAuthFailures(database),
      retention: new SqliteRetention(database),
      sending,
      probe: () => Promise.resolve(database.probe()),
      close: () => database.close(),
    });
    this.path = database.path;
    this.migrated = database.migrated;
    this.database = database;
  }

  /**
   * Opens (creating it and its parent directory if needed) and migrates the database at
   * `path`; `:memory:` gives a private in-memory database. Throws ConfigError when the file
   * cannot be opened or created, or its schema is newer than this code or not trxmail's.
   */
  static open(path: string): SqliteStore {
    const database = SqliteDatabase.open(path);
    try {
      return new SqliteStore(database);
    } catch (err: unknown) {
      database.db.close();
      throw mapSqliteError(err);
    }
  }

  /** EXPLAIN QUERY PLAN of a report (tests: the indexes are used). UsageError for an invalid filter. */
  reportPlan(filter: ReportFilter, groupBy: ReportGroupBy | null): string[] {
    return reportPlan(this.database, reportQuery(filter), groupBy);
  }
}
