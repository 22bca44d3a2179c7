/**
 * The PostgreSQL database of bench/postfix's setup b': `CREATE DATABASE trx_bench_<random>`
 * through an admin URL (--pg-url, else $TRXMAIL_TEST_PG_URL, else
 * postgres://postgres@127.0.0.1:5432/postgres with trust authentication), dropped (WITH
 * (FORCE)) at the end. Also names the server processes serving trxmail in it, so the bench
 * can count the database's CPU per message when the server runs on this machine.
 */
import { randomBytes } from 'node:crypto';
import postgres from 'postgres';

export const DEFAULT_PG_ADMIN_URL = 'postgres://postgres@127.0.0.1:5432/postgres';

export interface BenchDatabase {
  readonly name: string;
  /** The database's URL (the admin URL's server and user). */
  readonly url: string;
  /** The pids of the server processes connected to the database as trxmail (application_name). */
  backendPids(): Promise<number[]>;
  drop(): Promise<void>;
}

export async function createBenchDatabase(adminUrl: string): Promise<BenchDatabase> {
  const name = `trx_bench_${randomBytes(5).toString('hex')}`;
  const admin = postgres(adminUrl, { max: 1, onnotice: () => undefined, connect_timeout: 5 });
  try {
    await admin.unsafe(`CREATE DATABASE ${name}`);
  } catch (err: unknown) {
    await admin.end();
    throw new Error(`PostgreSQL at ${new URL(adminUrl).host}: cannot create the bench database: ${err instanceof Error ? err.message : String(err)}`);
  }
  const u = new URL(adminUrl);
  u.pathname = `/${name}`;
  return {
    name,
    url: u.toString(),
    async backendPids() {
      const rows = await admin<{ pid: number }[]>`SELECT pid FROM pg_stat_activity WHERE datname = ${name} AND application_name = 'trxmail'`;
      return rows.map((r) => Number(r.pid));
    },
    async drop() {
      try {
        await admin.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await admin.end();
      }
    },
  };
}
