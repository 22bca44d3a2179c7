/**
 * The PostgreSQL store when the database fails: unreachable (closed port, a server that
 * accepts and never answers, one that stops answering mid-query), a statement stuck on a
 * lock, connections terminated by the server — each a TransientError (the SMTP client gets a
 * 4xx), never a hang — and the same store working again once the database is back, without
 * reopening it. No sleeps: every wait is for an event (a rejection, a query's answer).
 */
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TransientError } from '../../src/lib/errors.js';
import { PgDatabase } from '../../src/store/postgres/database.js';
import { PostgresStore } from '../../src/store/postgres/postgres-store.js';
import { closedPort } from '../helpers/closed-port.js';
import { ADMIN_URL, createTestDatabase, type TestDatabase } from '../helpers/postgres.js';
import { startTcpProxy } from '../helpers/tcp-proxy.js';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db.drop();
});

/** `url` with another host:port. */
function via(url: string, port: number): string {
  const u = new URL(url);
  u.host = `127.0.0.1:${port}`;
  return u.toString();
}

const quick = { statementTimeoutMs: 300, connectTimeoutMs: 300 };

describe('PostgreSQL store faults', () => {
  it('refuses to open on a closed port with a TransientError', async () => {
    const url = via(await db.freshSchemaUrl(), await closedPort());
    await expect(PostgresStore.open(db.config(url, quick))).rejects.toThrow(TransientError);
  });

  it('gives up connecting to a server that accepts and never answers (connect timeout)', async () => {
    const silent = net.createServer(() => undefined);
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const address = silent.address() as net.AddressInfo;
    try {
      const err = await PostgresStore.open(db.config(via(await db.freshSchemaUrl(), address.port), quick)).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(TransientError);
      expect((err as Error).message).toMatch(/CONNECT_TIMEOUT/);
    } finally {
      silent.close();
    }
  });

  it('cancels a statement stuck on a lock (statement timeout) and works once the lock is gone', async () => {
    const url = await db.freshSchemaUrl();
    const schema = new URL(url).searchParams.get('search_path') ?? '';
    const store = await PostgresStore.open(db.config(url, quick));
    const holder = await db.sql.reserve();
    try {
      const space = await store.createSpace({ name: 'locked' });
      await holder`BEGIN`;
      await holder`LOCK TABLE ${holder(schema)}.spaces IN ACCESS EXCLUSIVE MODE`;
      const err = await store.getSpace(space.id).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(TransientError);
      expect((err as Error).message).toMatch(/statement timeout|57014/);
      await holder`ROLLBACK`;
      expect(await store.getSpace(space.id)).toEqual(space);
    } finally {
      holder.release();
      await store.close();
    }
  });

  it('rejects a call to a server that stopped answering mid-use, and works again once it is back', async () => {
    const proxy = await startTcpProxy('127.0.0.1', Number(new URL(ADMIN_URL).port || 5432));
    const store = await PostgresStore.open(db.config(via(await db.freshSchemaUrl(), proxy.port), { ...quick, poolSize: 1 }));
    try {
      const space = await store.createSpace({ name: 'frozen' });
      proxy.freeze();
      const err = await store.getSpace(space.id).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(TransientError);
      expect((err as TransientError).code).toBe('ESTORE_TIMEOUT');
      await proxy.down();
      await expect(store.listSpaces()).rejects.toThrow(TransientError);
      await proxy.up();
      // The pool reconnects by itself: no restart, no new store.
      expect(await store.getSpace(space.id)).toEqual(space);
      expect((await store.createSpace({ name: 'after' })).name).toBe('after');
    } finally {
      await store.close();
      await proxy.down().catch(() => undefined);
    }
  });

  it('fails at once while the server is down, however often it was tried, and works at once when it is back (bounded reconnect backoff)', async () => {
    const proxy = await startTcpProxy('127.0.0.1', Number(new URL(ADMIN_URL).port || 5432));
    const store = await PostgresStore.open(db.config(via(await db.freshSchemaUrl(), proxy.port), { ...quick, poolSize: 3 }));
    try {
      const space = await store.createSpace({ name: 'bounced back' });
      await proxy.down();
      // Many failed connections, in parallel and one after the other: the client's own backoff
      // would have grown to 10-20 s by now.
      for (let round = 0; round < 4; round++) {
        const errors = await Promise.all(Array.from({ length: 6 }, () => store.getSpace(space.id).catch((e: unknown) => e)));
        for (const e of errors) expect(e).toBeInstanceOf(TransientError);
      }
      const started = Date.now();
      const refused = await store.getSpace(space.id).catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(TransientError);
      // Refused, not left waiting for the call deadline (300 + 300 + 2000 ms).
      expect((refused as TransientError).code).toBe('ESTORE_UNAVAILABLE');
      expect(Date.now() - started).toBeLessThan(1000);
      await proxy.up();
      const back = Date.now();
      expect(await store.getSpace(space.id)).toEqual(space);
      expect(Date.now() - back).toBeLessThan(1000);
    } finally {
      await store.close();
      await proxy.down().catch(() => undefined);
    }
  });

  it('answers health without ever rejecting: ok, then not ok within the timeouts while the server is frozen or gone, ok again once back', async () => {
    const proxy = await startTcpProxy('127.0.0.1', Number(new URL(ADMIN_URL).port || 5432));
    const store = await PostgresStore.open(db.config(via(await db.freshSchemaUrl(), proxy.port), { ...quick, poolSize: 1 }));
    try {
      expect(await store.health()).toEqual({ ok: true });
      proxy.freeze();
      const frozen = await store.health();
      expect(frozen.ok).toBe(false);
      expect(frozen.ok ? '' : frozen.reason).toMatch(/did not answer within 600 ms/);
      await proxy.down();
      expect((await store.health()).ok).toBe(false);
      await proxy.up();
      expect(await store.health()).toEqual({ ok: true });
    } finally {
      await store.close();
      await proxy.down().catch(() => undefined);
    }
    expect(await store.health()).toEqual({ ok: false, reason: 'the store is closed' });
  });

  it('answers the first call after a statement was cut by the server ending its session (the client keeps that error for its next statement)', async () => {
    const url = new URL(await db.freshSchemaUrl());
    url.searchParams.set('application_name', 'cut-statement');
    const database = PgDatabase.connect({ url: url.toString(), poolSize: 1, statementTimeoutMs: 10_000, connectTimeoutMs: 1000 });
    try {
      await database.run((sql) => sql`SELECT 1 AS one`);
      const sleeping = database.run((sql) => sql`SELECT pg_sleep(5) AS cut`).catch((e: unknown) => e);
      // The statement runs on the server (an event: its row in pg_stat_activity), then its session is ended.
      let killed: { ok: boolean }[] = [];
      for (let i = 0; i < 100 && killed.length === 0; i++) {
        killed = await db.sql<{ ok: boolean }[]>`
          SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity
          WHERE datname = ${db.name} AND state = 'active' AND query LIKE 'SELECT pg_sleep(5)%' AND pid <> pg_backend_pid()`;
        if (killed.length === 0) await new Promise((r) => setTimeout(r, 20));
      }
      expect(killed).toHaveLength(1);
      expect(await sleeping).toBeInstanceOf(TransientError);
      // The same (only) connection reconnects; its first statement must not get the old 57P01.
      const started = Date.now();
      expect(await database.run(async (sql) => (await sql<{ one: number }[]>`SELECT 1 AS one`)[0]?.one)).toBe(1);
      expect(Date.now() - started).toBeLessThan(2000);
    } finally {
      await database.close();
    }
  });

  it('survives the server terminating its connections (pg_terminate_backend)', async () => {
    const url = await db.freshSchemaUrl();
    const store = await PostgresStore.open(db.config(url, quick));
    try {
      const space = await store.createSpace({ name: 'terminated' });
      const killed = await db.sql<{ ok: boolean }[]>`
        SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity
        WHERE datname = ${db.name} AND application_name = 'trxmail' AND pid <> pg_backend_pid()`;
      expect(killed.length).toBeGreaterThan(0);
      // The first call may still meet a terminated connection (a TransientError: the client
      // retries); the next one has a fresh connection.
      const first = await store.getSpace(space.id).catch((e: unknown) => e);
      if (first instanceof Error) expect(first).toBeInstanceOf(TransientError);
      else expect(first).toEqual(space);
      expect(await store.getSpace(space.id)).toEqual(space);
    } finally {
      await store.close();
    }
  });
});
