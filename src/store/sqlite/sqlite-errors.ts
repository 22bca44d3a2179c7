/**
 * Maps errors from better-sqlite3 to trxmail's error classes (SqliteDatabase.run applies it to
 * every backend call; unique violations the backend expects are told apart first).
 *
 *  - SQLITE_BUSY / SQLITE_LOCKED (another writer held the lock past busy_timeout) and I/O-ish
 *    failures (IOERR, FULL, CANTOPEN, PROTOCOL, NOMEM, READONLY, CORRUPT, NOTADB) become
 *    TransientError: the SMTP client gets a 4xx and retries; nothing was decided.
 *  - Any other SQLite error (a constraint the store did not translate itself, a malformed
 *    statement) is a bug in trxmail: InvariantError.
 *  - Errors that are already TrxErrors, and other Errors, pass through unchanged (anything
 *    thrown that is not an Error becomes an InvariantError).
 * The SQLite error is always kept as `cause`.
 */
import Database from 'better-sqlite3';
import { InvariantError, TransientError, TrxError } from '../../lib/errors.js';

const BUSY_CODES = ['SQLITE_BUSY', 'SQLITE_LOCKED'];
const IO_CODES = [
  'SQLITE_IOERR',
  'SQLITE_FULL',
  'SQLITE_CANTOPEN',
  'SQLITE_PROTOCOL',
  'SQLITE_NOMEM',
  'SQLITE_READONLY',
  'SQLITE_CORRUPT',
  'SQLITE_NOTADB',
];

/** True when `code` is `primary` or one of its extended codes (`SQLITE_IOERR_WRITE`). */
function hasPrimary(code: string, primaries: readonly string[]): boolean {
  return primaries.some((p) => code === p || code.startsWith(p + '_'));
}

/** The SQLite result code of an error from better-sqlite3, or null for other errors. */
export function sqliteCode(err: unknown): string | null {
  return err instanceof Database.SqliteError && typeof err.code === 'string' ? err.code : null;
}

/** The database was locked by another connection (SQLITE_BUSY, SQLITE_LOCKED and their extended codes). */
export function isBusy(err: unknown): boolean {
  const code = sqliteCode(err);
  return code !== null && hasPrimary(code, BUSY_CODES);
}

/** A UNIQUE or PRIMARY KEY violation: the backends report it as 'duplicate'. */
export function isUniqueViolation(err: unknown): boolean {
  const code = sqliteCode(err);
  return code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}

export function mapSqliteError(err: unknown): Error {
  if (err instanceof TrxError) return err;
  const code = sqliteCode(err);
  if (code === null) return err instanceof Error ? err : new InvariantError(`non-Error thrown: ${String(err)}`);
  const message = err instanceof Error ? err.message : String(err);
  if (hasPrimary(code, BUSY_CODES)) {
    return new TransientError('ESTORE_BUSY', `database is busy, try again later (${code})`, { cause: err });
  }
  if (hasPrimary(code, IO_CODES)) {
    return new TransientError('ESTORE_IO', `database unavailable: ${message} (${code})`, { cause: err });
  }
  return new InvariantError(`database refused an operation: ${message} (${code})`, { cause: err });
}
