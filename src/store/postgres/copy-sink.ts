/**
 * The PostgreSQL side of `trxmail store copy` (../store-copy.ts): one transaction on a
 * migrated schema; each batch is ONE statement with ONE parameter — the rows as a JSON array
 * expanded by json_populate_recordset into the table's own row type, so every value keeps
 * its column's type and nothing is spliced into the SQL text (table and column names come
 * from the fixed list in store-copy.ts). Ids are written as copied; finish() moves each
 * identity sequence past the largest id.
 *
 * Throws: what PgDatabase maps (TransientError, InvariantError).
 */
import type { CopyRow, CopySink, CopySinkSession, CopyTable } from '../store-copy.js';
import type { PgDatabase, PgTx } from './database.js';

const ident = (name: string): string => `"${name.replace(/"/g, '""')}"`;

class Session implements CopySinkSession {
  constructor(private readonly tx: PgTx) {}

  async counts(tables: readonly CopyTable[]): Promise<Map<string, number>> {
    const counts = new Map<string, number>();
    for (const t of tables) {
      const [row] = await this.tx.unsafe<{ n: number }[]>(`SELECT count(*) AS n FROM ${ident(t.name)}`);
      counts.set(t.name, row?.n ?? 0);
    }
    return counts;
  }

  async clear(tables: readonly CopyTable[]): Promise<void> {
    await this.tx.unsafe(`TRUNCATE ${tables.map((t) => ident(t.name)).join(', ')} RESTART IDENTITY`);
  }

  async insert(table: CopyTable, rows: readonly CopyRow[]): Promise<void> {
    if (rows.length === 0) return;
    const columns = [...table.columns, ...(table.name === 'events' ? ['recipient_key'] : [])].map(ident).join(', ');
    await this.tx.unsafe(
      `INSERT INTO ${ident(table.name)} (${columns}) SELECT ${columns} FROM json_populate_recordset(NULL::${ident(table.name)}, $1::text::json)`,
      [JSON.stringify(rows)],
    );
  }

  async finish(tables: readonly CopyTable[]): Promise<void> {
    for (const t of tables) {
      if (t.identity === undefined) continue;
      const col = ident(t.identity);
      await this.tx.unsafe(
        `SELECT setval(pg_get_serial_sequence($1, $2), coalesce((SELECT max(${col}) FROM ${ident(t.name)}), 0) + 1, false)`,
        [t.name, t.identity],
      );
    }
  }
}

export class PgCopySink implements CopySink {
  constructor(private readonly db: PgDatabase) {}

  transaction<T>(fn: (session: CopySinkSession) => Promise<T>): Promise<T> {
    return this.db.transaction((tx) => fn(new Session(tx)), null);
  }
}
