/**
 * The SQLite side of `trxmail store copy` (../store-copy.ts): a database file opened
 * read-only, its tables read in batches in id order (sends in rowid order, given as seq).
 * The file must be trxmail's and at the schema version of this code (`trxmail store migrate`
 * first), so its columns are the ones the copy lists.
 *
 * Throws: ConfigError (cannot open the file, not trxmail's, another schema version); SQLite
 * errors mapped (sqlite-errors.ts).
 */
import Database from 'better-sqlite3';
import { ConfigError } from '../../lib/errors.js';
import { COPY_BATCH_ROWS, type CopyRow, type CopySource, type CopyTable } from '../store-copy.js';
import { LATEST_VERSION, TRXMAIL_APPLICATION_ID } from './migrations.js';
import { mapSqliteError } from './sqlite-errors.js';

/** How a copy column is read where SQLite's name differs. */
const SOURCE_EXPRESSIONS: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  sends: { seq: 'rowid AS seq' },
};

/** Keys that give a table's rows a stable order. */
const ORDER: Readonly<Record<string, string>> = {
  sender_domains: 'space_id, domain',
  from_defaults: 'space_id, address_key',
  list_entries: 'space_id, address_key, list',
  bounce_streaks: 'space_id, address_key, reason',
  sends: 'rowid',
  send_tags: 'send_id, tag',
  send_recipients: 'send_id, position',
  webhooks: 'space_id',
  delivery_cursors: 'node, path',
  report_days: 'space_id, day, from_key, tags, reason, domain',
  space_sending: 'space_id',
  space_usage: 'space_id, minute',
};

export class SqliteCopySource implements CopySource {
  private constructor(private readonly db: Database.Database) {}

  static open(path: string): SqliteCopySource {
    let db: Database.Database;
    try {
      db = new Database(path, { readonly: true, fileMustExist: true });
    } catch (err: unknown) {
      throw new ConfigError(`cannot open ${path}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
    try {
      const appId: unknown = db.pragma('application_id', { simple: true });
      const version: unknown = db.pragma('user_version', { simple: true });
      if (appId !== TRXMAIL_APPLICATION_ID) throw new ConfigError(`${path} is not a trxmail database`);
      if (version !== LATEST_VERSION) {
        throw new ConfigError(`${path} has schema version ${String(version)}, this trxmail copies version ${LATEST_VERSION}: run trxmail store migrate on it first`);
      }
      return new SqliteCopySource(db);
    } catch (err: unknown) {
      db.close();
      throw mapSqliteError(err);
    }
  }

  count(table: CopyTable): Promise<number> {
    try {
      const row = this.db.prepare<[], { n: number }>(`SELECT count(*) AS n FROM ${table.name}`).get();
      return Promise.resolve(row?.n ?? 0);
    } catch (err: unknown) {
      return Promise.reject(mapSqliteError(err));
    }
  }

  *batches(table: CopyTable): Iterable<CopyRow[]> {
    const exprs = SOURCE_EXPRESSIONS[table.name] ?? {};
    const cols = table.columns.map((c) => exprs[c] ?? `"${c}"`).join(', ');
    const order = ORDER[table.name] ?? table.identity ?? 'rowid';
    let batch: CopyRow[] = [];
    try {
      for (const row of this.db.prepare<[], CopyRow>(`SELECT ${cols} FROM ${table.name} ORDER BY ${order}`).iterate()) {
        batch.push(row);
        if (batch.length === COPY_BATCH_ROWS) {
          yield batch;
          batch = [];
        }
      }
    } catch (err: unknown) {
      throw mapSqliteError(err);
    }
    if (batch.length > 0) yield batch;
  }

  close(): void {
    this.db.close();
  }
}
