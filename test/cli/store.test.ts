/**
 * `trxmail store migrate` on both drivers: migrates a new store and says from which version,
 * then has nothing to do; one line and a non-zero exit when the database cannot be used
 * (75 when unreachable, 1 for a schema that is not trxmail's).
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LATEST_VERSION } from '../../src/store/sqlite/migrations.js';
import { PG_LATEST_VERSION } from '../../src/store/postgres/migrations.js';
import { closedPort } from '../helpers/closed-port.js';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.js';
import { cli, tempWorkDir } from './helpers.js';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db.drop();
});

function postgresDir(url: string, extra = ''): string {
  const cwd = tempWorkDir();
  writeFileSync(path.join(cwd, 'trxmail.yaml'), `store:\n  driver: postgres\n  url: "${url}"\n${extra}`);
  return cwd;
}

describe('trxmail store migrate', () => {
  it('migrates a new SQLite store, then has nothing to do', async () => {
    const cwd = tempWorkDir();
    expect(await cli(cwd, ['store', 'migrate'])).toEqual({
      code: 0,
      stdout: `store (sqlite): schema migrated from version 0 to ${LATEST_VERSION}\n`,
      stderr: '',
    });
    expect((await cli(cwd, ['store', 'migrate'])).stdout).toBe(`store (sqlite): schema at version ${LATEST_VERSION}, nothing to do\n`);
  });

  it('migrates a new PostgreSQL schema, then has nothing to do; the other commands use it', async () => {
    const cwd = postgresDir(await db.freshSchemaUrl());
    expect(await cli(cwd, ['store', 'migrate'])).toEqual({
      code: 0,
      stdout: `store (postgres): schema migrated from version 0 to ${PG_LATEST_VERSION}\n`,
      stderr: '',
    });
    expect((await cli(cwd, ['store', 'migrate'])).stdout).toBe(`store (postgres): schema at version ${PG_LATEST_VERSION}, nothing to do\n`);
    expect((await cli(cwd, ['space', 'add', 'acme'])).code).toBe(0);
    expect(JSON.parse((await cli(cwd, ['space', 'list', '--json'])).stdout)).toMatchObject([{ name: 'acme' }]);
  });

  it('exits 75 with one line when PostgreSQL cannot be reached', async () => {
    const port = await closedPort();
    const r = await cli(postgresDir(`postgres://postgres:hunter2@127.0.0.1:${port}/trx`), ['store', 'migrate']);
    expect(r.code).toBe(75);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^trxmail: database unavailable: .*ECONNREFUSED.*\n$/);
    expect(r.stderr).not.toContain('hunter2');
  });

  it("exits 1 with one line for a schema that is not trxmail's", async () => {
    const url = await db.freshSchemaUrl();
    const schema = new URL(url).searchParams.get('search_path') ?? '';
    await db.sql`CREATE TABLE ${db.sql(schema)}.other_app (x integer)`;
    const r = await cli(postgresDir(url), ['store', 'migrate']);
    expect(r).toEqual({ code: 1, stdout: '', stderr: expect.stringMatching(/^trxmail: .*not a trxmail schema.*\n$/) });
  });
});
