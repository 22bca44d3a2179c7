/**
 * A private PostgreSQL database per test file, so test files and engineers sharing one server
 * never see each other's tables: `CREATE DATABASE trx_<random>` through the admin URL, dropped
 * (WITH (FORCE)) at the end. Inside it, `freshSchemaUrl()` gives a URL whose search_path is a
 * new empty schema: one per store the contract suite opens, cheaper than a database each.
 *
 * The server: $TRXMAIL_TEST_PG_URL, default postgres://postgres@127.0.0.1:5432/postgres (trust
 * auth; .ci/run starts PostgreSQL when nothing answers there). Throws when it cannot be reached.
 */
import { randomBytes } from 'node:crypto';
import postgres from 'postgres';
import { openStore, type PostgresStoreConfig } from '../../src/store/open-store.js';
import type { PostgresStore } from '../../src/store/postgres/postgres-store.js';

export const ADMIN_URL = process.env['TRXMAIL_TEST_PG_URL'] ?? 'postgres://postgres@127.0.0.1:5432/postgres';

/** The admin URL with another database (and query). */
export function urlFor(database: string, query = ''): string {
  const u = new URL(ADMIN_URL);
  u.pathname = `/${database}`;
  u.search = query;
  return u.toString();
}

export interface TestDatabase {
  readonly name: string;
  /** The database's URL (public schema). */
  readonly url: string;
  /** A URL on a new, empty schema of the database. */
  freshSchemaUrl(): Promise<string>;
  /**
   * A factory of empty stores on one schema of the database: the first call migrates it, each
   * later one empties every table (TRUNCATE ... RESTART IDENTITY) first — the contract suite's
   * fresh store without a migration per test.
   */
  emptyStores(): () => Promise<PostgresStore>;
  /** A store configuration on `url` with short timeouts. */
  config(url: string, over?: Partial<PostgresStoreConfig>): PostgresStoreConfig;
  /** Runs SQL on the database as the admin user (public schema). */
  readonly sql: postgres.Sql;
  drop(): Promise<void>;
}

export async function createTestDatabase(): Promise<TestDatabase> {
  const name = `trx_${randomBytes(6).toString('hex')}`;
  const admin = postgres(ADMIN_URL, { max: 1, onnotice: () => undefined, connect_timeout: 5 });
  try {
    await admin.unsafe(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = urlFor(name);
  const sql = postgres(url, { max: 2, onnotice: () => undefined, connect_timeout: 5 });
  let schemas = 0;
  const db: TestDatabase = {
    name,
    url,
    sql,
    async freshSchemaUrl() {
      const schema = `s${++schemas}`;
      await sql.unsafe(`CREATE SCHEMA ${schema}`);
      // synchronous_commit=off for this session only: the tests' commits need no fsync.
      return urlFor(name, `?search_path=${schema}&synchronous_commit=off`);
    },
    emptyStores() {
      let url: string | null = null;
      return async () => {
        if (url === null) {
          url = await db.freshSchemaUrl();
        } else {
          const schema = new URL(url).searchParams.get('search_path') ?? '';
          const tables = await sql<{ tablename: string }[]>`
            SELECT tablename FROM pg_tables WHERE schemaname = ${schema} AND tablename <> 'trxmail_migrations'`;
          if (tables.length > 0) await sql`TRUNCATE ${sql(tables.map((t) => `${schema}.${t.tablename}`))} RESTART IDENTITY CASCADE`;
        }
        return (await openStore(db.config(url))) as PostgresStore;
      };
    },
    config: (u, over = {}) => ({ driver: 'postgres', url: u, poolSize: 4, statementTimeoutMs: 10_000, connectTimeoutMs: 5000, ...over }),
    async drop() {
      await sql.end();
      const a = postgres(ADMIN_URL, { max: 1, onnotice: () => undefined, connect_timeout: 5 });
      try {
        await a.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await a.end();
      }
    },
  };
  return db;
}
