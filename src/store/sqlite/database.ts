/**
 * The one SQLite connection the SQLite backend modules (accounts.ts, lists.ts, sends.ts,
 * outbox.ts) share: open, pragmas, migrations, the IMMEDIATE transaction helper, error
 * mapping and the statement cache. better-sqlite3, embedded, zero set-up.
 *
 * Connection settings, applied at open:
 *  - journal_mode=WAL: readers never block the writer and the writer never blocks readers, so
 *    reports can run while the milter records sends; several processes may share the file.
 *  - synchronous=NORMAL: in WAL mode this never corrupts the database, and a commit survives a
 *    crash or kill of the trxmail process (the common failure). Only an operating-system crash
 *    or power loss can lose the last transactions before the next WAL checkpoint. FULL would
 *    add an fsync per recorded send (milliseconds each on ordinary disks, directly on the SMTP
 *    reply path); the Postfix queue file, which holds the message itself, is fsynced by Postfix.
 *  - foreign_keys=ON.
 *  - Waiting for another connection's lock never blocks the event loop for long: better-sqlite3
 *    is synchronous and SQLite's busy handler sleeps in the calling thread, so busy_timeout is
 *    only SQLITE_BUSY_SLICE_MS; a call that still finds the database locked is retried by run()
 *    after an asynchronous pause (SQLITE_BUSY_BACKOFF_MS, growing), until SQLITE_BUSY_TIMEOUT_MS
 *    has passed, then fails with TransientError (the SMTP client gets a 4xx). A call is one
 *    statement or one transaction, so a call that failed busy changed nothing and may be
 *    repeated. While another process holds the write lock (an operator's `sqlite3` shell in a
 *    transaction, a backup), the milter, policy and HTTP services keep answering; reads go on
 *    in WAL mode. Opening (migrations) waits up to SQLITE_BUSY_TIMEOUT_MS in the thread: it
 *    happens once, before any listener is up.
 *
 * All SQL is parameterised; fixed statements are prepared once at open by each module, the
 * dynamic ones (send and delivery filters, reports) are cached here by their text (their
 * number is bounded by the filter combinations). better-sqlite3 is synchronous; run() turns
 * a call into a promise because the backend interface is shared with network databases.
 *
 * Throws: ConfigError from open() (cannot open or create the file, newer schema, foreign
 * database); from run(): TransientError (busy, I/O failure, closed), InvariantError for any
 * other SQLite error (sqlite-errors.ts).
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import Database from 'better-sqlite3';
import { ConfigError, TransientError } from '../../lib/errors.js';
import { migrate } from './migrations.js';
import { isBusy, mapSqliteError, sqliteCode } from './sqlite-errors.js';

/** How long a store call waits in all for another connection's write lock before failing (ms). */
export const SQLITE_BUSY_TIMEOUT_MS = 5000;
/** How long one attempt may wait for the lock inside SQLite, blocking the thread (busy_timeout, ms). */
export const SQLITE_BUSY_SLICE_MS = 10;
/** The asynchronous pauses between attempts (ms): the first, doubled each time up to the last. */
export const SQLITE_BUSY_BACKOFF_MS = { first: 5, max: 50 } as const;

/** What the store's health probe found (Store.health). */
export type SqliteHealth = { readonly ok: true } | { readonly ok: false; readonly reason: string };

export type SqlParam = string | number | null;

export class SqliteDatabase {
  /** Dynamic statements by SQL text. */
  private readonly cache = new Map<string, Database.Statement<SqlParam[], unknown>>();

  private constructor(
    readonly path: string,
    /** The connection, for the modules' fixed statements. */
    readonly db: Database.Database,
    /** The schema versions found and left by the migration at open. */
    readonly migrated: { readonly from: number; readonly to: number },
  ) {}

  /**
   * Opens (creating it and its parent directory if needed) and migrates the database at
   * `path`; `:memory:` gives a private in-memory database. Throws ConfigError when the file
   * cannot be opened or created, or its schema is newer than this code or not trxmail's.
   */
  static open(path: string): SqliteDatabase {
    const memory = path === ':memory:';
    let db: Database.Database;
    try {
      if (!memory) mkdirSync(dirname(path), { recursive: true });
      db = new Database(path);
    } catch (err: unknown) {
      const why = err instanceof Error ? err.message : String(err);
      throw new ConfigError(`cannot open database ${path}: ${why}`, { cause: err });
    }
    try {
      db.pragma(`busy_timeout = ${SQLITE_BUSY_TIMEOUT_MS}`);
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
      db.pragma('foreign_keys = ON');
      const migrated = migrate(db, path);
      db.pragma(`busy_timeout = ${SQLITE_BUSY_SLICE_MS}`);
      return new SqliteDatabase(path, db, migrated);
    } catch (err: unknown) {
      db.close();
      const code = sqliteCode(err);
      if (code === 'SQLITE_NOTADB' || code === 'SQLITE_CANTOPEN' || code === 'SQLITE_READONLY') {
        throw new ConfigError(`cannot use database ${path}: ${(err as Error).message}`, { cause: err });
      }
      throw mapSqliteError(err);
    }
  }

  /**
   * Runs `fn` (one statement or one transaction) and turns its result or error (mapped) into a
   * promise. When the database is locked by another connection, `fn` is tried again after an
   * asynchronous pause until SQLITE_BUSY_TIMEOUT_MS has passed (the file's comment).
   */
  async run<T>(fn: () => T): Promise<T> {
    const deadline = Date.now() + SQLITE_BUSY_TIMEOUT_MS;
    let pause: number = SQLITE_BUSY_BACKOFF_MS.first;
    for (;;) {
      try {
        if (!this.db.open) throw new TransientError('ESTORE_CLOSED', 'the store is closed');
        return fn();
      } catch (err: unknown) {
        if (!isBusy(err) || Date.now() + pause >= deadline) throw mapSqliteError(err);
      }
      await delay(pause);
      pause = Math.min(pause * 2, SQLITE_BUSY_BACKOFF_MS.max);
    }
  }

  /**
   * Whether the store can take a write now, without waiting: takes the write lock and lets it
   * go (BEGIN IMMEDIATE; ROLLBACK). Blocks at most SQLITE_BUSY_SLICE_MS. Never throws.
   */
  probe(): SqliteHealth {
    if (!this.db.open) return { ok: false, reason: 'the store is closed' };
    try {
      this.db.prepare('BEGIN IMMEDIATE').run();
      this.db.prepare('ROLLBACK').run();
      return { ok: true };
    } catch (err: unknown) {
      if (this.db.inTransaction) {
        try {
          this.db.prepare('ROLLBACK').run();
        } catch {
          // nothing to roll back
        }
      }
      return { ok: false, reason: isBusy(err) ? 'the database is locked by another process' : mapSqliteError(err).message };
    }
  }

  /** Runs `fn` in one IMMEDIATE transaction (the write lock taken at BEGIN): all or nothing. */
  immediate<T>(fn: () => T): T {
    return this.db.transaction(fn).immediate();
  }

  /** The prepared statement for a dynamic SQL text, prepared on first use. */
  cached<R>(text: string): Database.Statement<SqlParam[], R> {
    let stmt = this.cache.get(text);
    if (stmt === undefined) {
      stmt = this.db.prepare<SqlParam[], unknown>(text);
      this.cache.set(text, stmt);
    }
    return stmt as Database.Statement<SqlParam[], R>;
  }

  close(): Promise<void> {
    try {
      if (this.db.open) this.db.close();
      return Promise.resolve();
    } catch (err: unknown) {
      return Promise.reject(mapSqliteError(err));
    }
  }
}
