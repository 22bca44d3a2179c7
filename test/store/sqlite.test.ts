import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, InvariantError, TransientError, UsageError } from '../../src/lib/errors.js';
import { openStore } from '../../src/store/open-store.js';
import { LATEST_VERSION, MIGRATIONS, TRXMAIL_APPLICATION_ID, migrate } from '../../src/store/sqlite/migrations.js';
import type { Migration } from '../../src/store/sqlite/migrations.js';
import { mapSqliteError } from '../../src/store/sqlite/sqlite-errors.js';
import { SQLITE_BUSY_BACKOFF_MS, SQLITE_BUSY_SLICE_MS, SQLITE_BUSY_TIMEOUT_MS } from '../../src/store/sqlite/database.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import type { NewSend } from '../../src/store/store.js';
import { storeContract } from './contract/index.js';

const root = mkdtempSync(join(tmpdir(), 'trxmail-store-'));
let counter = 0;
const tempPath = (): string => join(root, `db-${++counter}`, 'trxmail.db');

afterAll(() => {
  rmSync(root, { recursive: true, force: true });
});

storeContract('sqlite file', () => Promise.resolve(SqliteStore.open(tempPath())));
storeContract('sqlite :memory: via openStore', () => openStore({ driver: 'sqlite', path: ':memory:' }));

function raw(path: string): Database.Database {
  return new Database(path);
}

function minimalSend(id: string, spaceId: number, userId: number, extra: Partial<NewSend> = {}): NewSend {
  return {
    id,
    spaceId,
    userId,
    mailFrom: 'a@shop.example',
    envelopeSender: 'trx@bounce.example',
    from: 'a@shop.example',
    to: 'r@example.net',
    bcc: null,
    discarded: [],
    tags: [],
    flags: 3,
    flagsSource: 'default',
    receivedAt: new Date(1_700_000_000_000),
    recipients: [{ address: 'r@example.net', role: 'to', status: 'queued', suppressedBy: null, detail: null }],
    ...extra,
  };
}

describe('SQLite store specifics', () => {
  it('migrates an empty file to the latest version and marks it as trxmail\'s', async () => {
    const path = tempPath();
    const { mkdirSync } = await import('node:fs');
    mkdirSync(join(path, '..'), { recursive: true });
    writeFileSync(path, '');
    const store = SqliteStore.open(path);
    await store.close();
    const db = raw(path);
    expect(db.pragma('user_version', { simple: true })).toBe(LATEST_VERSION);
    expect(db.pragma('application_id', { simple: true })).toBe(TRXMAIL_APPLICATION_ID);
    const tables = db
      .prepare<[], { name: string }>("SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
      .all()
      .map((r) => r.name);
    expect(tables).toEqual(['auth_failures', 'bounce_streaks', 'delivery_cursors', 'dkim_keys', 'events', 'from_defaults', 'list_changes', 'list_entries', 'report_days', 'send_recipients', 'send_tags', 'sender_domains', 'sends', 'space_sending', 'space_usage', 'spaces', 'users', 'webhook_outbox', 'webhooks']);
    db.close();
  });

  it('migration 6 keeps a position saved before nodes were named; the first node to ask takes it over', async () => {
    const path = tempPath();
    mkdirSync(dirname(path), { recursive: true });
    const old = new Database(path);
    old.pragma('journal_mode = WAL');
    migrate(old, path, MIGRATIONS.slice(0, 5));
    old.prepare("INSERT INTO delivery_cursors (path, dev, ino, offset, following_since, saved_at) VALUES ('/var/log/mail.log', '1', '2', 42, 0, 0)").run();
    old.close();
    const store = SqliteStore.open(path);
    expect(await store.getDeliveryCursor('mx1', '/var/log/mail.log')).toMatchObject({ node: 'mx1', offset: 42 });
    await store.saveDeliveryCursor({ node: 'mx1', path: '/var/log/mail.log', dev: '1', ino: '2', offset: 50, followingSince: new Date(0), savedAt: new Date(1) });
    expect(await store.getDeliveryCursor('mx1', '/var/log/mail.log')).toMatchObject({ offset: 50 });
    await store.close();
  });

  it('migration 8 keeps events and outbox rows with their ids and sequences, and classifies existing list entries', async () => {
    const path = tempPath();
    mkdirSync(dirname(path), { recursive: true });
    const old = new Database(path);
    old.pragma('journal_mode = WAL');
    migrate(old, path, MIGRATIONS.slice(0, 7));
    old.exec(`
      INSERT INTO spaces (id, name, created_at) VALUES (1, 'old', 0);
      INSERT INTO sends (id, space_id, user_id, mail_from, envelope_sender, from_addr, from_key, to_addr, bcc, discarded, tags, flags, flags_source, received_at, status)
        VALUES ('s1', 1, 1, 'a@x.example', 'b@y.example', 'a@x.example', 'a@x.example', 'r@z.example', NULL, '[]', '[]', 3, 'default', 0, 'queued');
      INSERT INTO events (id, send_id, recipient, type, at, detail) VALUES (40, 's1', 'r@z.example', 'opened', 1, '{}');
      INSERT INTO webhook_outbox (id, space_id, type, send_id, recipient, at, detail, created_at, next_attempt_at) VALUES (70, 1, 'opened', 's1', 'r@z.example', 1, '{}', 1, 1);
      INSERT INTO list_entries (space_id, address_key, list, address, reason, added_at, bounce_reason) VALUES
        (1, 'c@z.example', 'bounce', 'c@z.example', 'complaint (abuse)', 0, NULL),
        (1, 'h@z.example', 'bounce', 'h@z.example', 'hard bounce 5.1.1: no such user', 0, NULL),
        (1, 'r@z.example', 'bounce', 'r@z.example', 'whatever', 0, 'user-unknown'),
        (1, 'o@z.example', 'bounce', 'o@z.example', 'added by operator', 0, NULL),
        (1, 'u@z.example', 'unsubscribe', 'u@z.example', 'asked', 0, NULL);
    `);
    old.close();
    const store = SqliteStore.open(path);
    const e = await store.addEvent({ sendId: 's1', recipient: 'r@z.example', type: 'unsubscribed', at: new Date(2), detail: {} });
    expect(e.id).toBe(41);
    expect((await store.listEvents('s1')).map((x) => [x.id, x.type])).toEqual([[40, 'opened'], [41, 'unsubscribed']]);
    const sources = Object.fromEntries([...(await store.listEntries(1, 'bounce')), ...(await store.listEntries(1, 'unsubscribe'))].map((x) => [x.address, x.source]));
    expect(sources).toEqual({ 'c@z.example': 'complaint', 'h@z.example': 'bounce', 'r@z.example': 'bounce', 'o@z.example': 'operator', 'u@z.example': 'operator' });
    await store.close();
    const db = raw(path);
    expect(db.prepare("SELECT seq FROM sqlite_sequence WHERE name = 'webhook_outbox'").get()).toEqual({ seq: 70 });
    db.close();
  });

  it('migration 12 keeps the From defaults and their flags; spaces and From addresses start without an unsubscribe default', async () => {
    const path = tempPath();
    mkdirSync(dirname(path), { recursive: true });
    const old = new Database(path);
    old.pragma('journal_mode = WAL');
    migrate(old, path, MIGRATIONS.slice(0, 11));
    old.exec(`
      INSERT INTO spaces (id, name, default_flags, created_at) VALUES (1, 'old', 5, 0);
      INSERT INTO from_defaults (space_id, address_key, address, flags) VALUES (1, 'news@x.example', 'News@x.example', 9);
    `);
    old.close();
    const store = SqliteStore.open(path);
    expect(await store.getSpace(1)).toMatchObject({ defaultFlags: 5, unsubscribe: null });
    expect(await store.listFromFlags(1)).toEqual([{ spaceId: 1, address: 'News@x.example', flags: 9, unsubscribe: null }]);
    await store.setFromUnsubscribe(1, 'news@x.example', 'one-click');
    await store.setFromFlags(1, 'news@x.example', null);
    expect(await store.getFromDefault(1, 'news@x.example')).toMatchObject({ flags: null, unsubscribe: 'one-click' });
    await store.close();
    const db = raw(path);
    // A row holds at least one default.
    expect(() => db.prepare("INSERT INTO from_defaults (space_id, address_key, address) VALUES (1, 'a@x.example', 'a@x.example')").run()).toThrow(/CHECK/);
    expect(() => db.prepare("UPDATE spaces SET unsubscribe = 'yes' WHERE id = 1").run()).toThrow(/CHECK/);
    db.close();
  });

  it('creates the parent directory and reopens with its data', async () => {
    const path = join(root, 'nested', 'deeper', 'again', 'x.db');
    const s1 = SqliteStore.open(path);
    const space = await s1.createSpace({ name: 'kept', defaultFlags: 9 });
    const user = await s1.createUser({ spaceId: space.id, email: 'u@kept.example', passwordHash: 'h' });
    await s1.addDomain(space.id, 'kept.example');
    await s1.recordSend(minimalSend('k1', space.id, user.id, { tags: ['t'] }));
    await s1.close();
    const s2 = SqliteStore.open(path);
    expect(await s2.getSpaceByName('kept')).toEqual(space);
    expect(await s2.listDomains(space.id)).toEqual(['kept.example']);
    expect((await s2.listSends({ tags: ['t'] })).map((s) => s.id)).toEqual(['k1']);
    await s2.close();
  });

  it('turns on WAL', async () => {
    const path = tempPath();
    const store = SqliteStore.open(path);
    const db = raw(path);
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    db.close();
    await store.close();
  });

  it('refuses a database newer than the code, clearly', async () => {
    const path = tempPath();
    await SqliteStore.open(path).close();
    const db = raw(path);
    db.pragma(`user_version = ${LATEST_VERSION + 1}`);
    db.close();
    expect(() => SqliteStore.open(path)).toThrow(ConfigError);
    expect(() => SqliteStore.open(path)).toThrow(
      new RegExp(`schema version ${LATEST_VERSION + 1}, newer than this trxmail understands \\(up to ${LATEST_VERSION}\\)`),
    );
    await expect(openStore({ driver: 'sqlite', path })).rejects.toThrow(ConfigError);
  });

  it.each<[string, (db: Database.Database) => void]>([
    ['another application id', (db) => db.pragma('application_id = 42')],
    ['tables but no trxmail version', (db) => db.exec('CREATE TABLE other_app (x INTEGER)')],
  ])('refuses a foreign database (%s) and leaves it untouched', (_label, prepare) => {
    const path = join(root, `foreign-${++counter}.db`);
    const db = raw(path);
    prepare(db);
    db.close();
    expect(() => SqliteStore.open(path)).toThrow(ConfigError);
    const check = raw(path);
    expect(check.pragma('user_version', { simple: true })).toBe(0);
    expect(check.prepare("SELECT count(*) AS n FROM sqlite_schema WHERE name = 'spaces'").get()).toEqual({ n: 0 });
    check.close();
  });

  it('refuses a file that is not a database, and a path it cannot create', () => {
    const junk = join(root, `junk-${++counter}.db`);
    writeFileSync(junk, 'this is not an SQLite database, just some text that is long enough'.repeat(20));
    expect(() => SqliteStore.open(junk)).toThrow(ConfigError);
    const blocker = join(root, `blocker-${++counter}`);
    writeFileSync(blocker, 'a file where a directory should be');
    expect(() => SqliteStore.open(join(blocker, 'sub', 'x.db'))).toThrow(/cannot open database/);
  });

  it('lets a second connection see committed data at once', async () => {
    const path = tempPath();
    const writer = SqliteStore.open(path);
    const reader = SqliteStore.open(path);
    const space = await writer.createSpace({ name: 'shared' });
    expect(await reader.getSpace(space.id)).toEqual(space);
    const user = await reader.createUser({ spaceId: space.id, email: 'u@shared.example', passwordHash: 'h' });
    await reader.recordSend(minimalSend('c1', space.id, user.id));
    expect((await writer.getSend('c1', space.id))?.to).toBe('r@example.net');
    await writer.close();
    await reader.close();
  });

  it('rolls back a send whose recipients fail mid-way (trigger-injected failure)', async () => {
    const path = tempPath();
    const store = SqliteStore.open(path);
    const space = await store.createSpace({ name: 'atomic' });
    const user = await store.createUser({ spaceId: space.id, email: 'u@atomic.example', passwordHash: 'h' });
    const db = raw(path);
    db.exec(`CREATE TRIGGER boom BEFORE INSERT ON send_recipients WHEN NEW.address = 'boom@example.net'
             BEGIN SELECT RAISE(ABORT, 'injected failure'); END`);
    const send = minimalSend('m1', space.id, user.id, {
      tags: ['x', 'y'],
      bcc: 'boom@example.net',
      recipients: [
        { address: 'r@example.net', role: 'to', status: 'queued', suppressedBy: null, detail: null },
        { address: 'boom@example.net', role: 'bcc', status: 'queued', suppressedBy: null, detail: null },
      ],
    });
    await expect(store.recordSend(send)).rejects.toThrow(InvariantError);
    for (const table of ['sends', 'send_tags', 'send_recipients']) {
      expect(db.prepare(`SELECT count(*) AS n FROM ${table}`).get()).toEqual({ n: 0 });
    }
    db.exec('DROP TRIGGER boom');
    db.close();
    await store.recordSend(send);
    expect((await store.getSend('m1', space.id))?.recipients).toHaveLength(2);
    await store.close();
  });

  it('fails every send of a group commit when one of them fails mid-way, and keeps none of them', async () => {
    const path = tempPath();
    const store = SqliteStore.open(path);
    const space = await store.createSpace({ name: 'group' });
    const user = await store.createUser({ spaceId: space.id, email: 'u@group.example', passwordHash: 'h' });
    const db = raw(path);
    db.exec(`CREATE TRIGGER boom BEFORE INSERT ON send_recipients WHEN NEW.address = 'boom@example.net'
             BEGIN SELECT RAISE(ABORT, 'injected failure'); END`);
    const boom = minimalSend('g2', space.id, user.id, {
      to: 'boom@example.net',
      recipients: [{ address: 'boom@example.net', role: 'to', status: 'queued', suppressedBy: null, detail: null }],
    });
    // Recorded in the same turn: one transaction; the second send's failure rolls back all three.
    const results = await Promise.allSettled([
      store.recordSend(minimalSend('g1', space.id, user.id)),
      store.recordSend(boom),
      store.recordSend(minimalSend('g3', space.id, user.id)),
    ]);
    expect(results.map((r) => (r.status === 'rejected' ? (r.reason as Error).name : r.status))).toEqual(['InvariantError', 'InvariantError', 'InvariantError']);
    for (const table of ['sends', 'send_tags', 'send_recipients']) {
      expect(db.prepare(`SELECT count(*) AS n FROM ${table}`).get()).toEqual({ n: 0 });
    }
    db.exec('DROP TRIGGER boom');
    db.close();
    await Promise.all([store.recordSend(minimalSend('g1', space.id, user.id)), store.recordSend(boom), store.recordSend(minimalSend('g3', space.id, user.id))]);
    expect((await store.listSends({ spaceId: space.id })).map((s) => s.id).sort()).toEqual(['g1', 'g2', 'g3']);
    await store.close();
  });

  it('gives a TransientError when another connection holds the write lock past busy_timeout', async () => {
    const path = tempPath();
    const store = SqliteStore.open(path);
    const db = raw(path);
    db.exec('BEGIN IMMEDIATE');
    try {
      const err: unknown = await store.createSpace({ name: 'locked' }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(TransientError);
      expect((err as TransientError).code).toBe('ESTORE_BUSY');
      expect((err as TransientError).cause).toBeInstanceOf(Database.SqliteError);
    } finally {
      db.exec('ROLLBACK');
      db.close();
    }
    // Reads are not blocked by a writer in WAL mode, and the lock is gone now.
    expect((await store.createSpace({ name: 'locked' })).name).toBe('locked');
    await store.close();
  });

  it('waits for a lock without blocking the event loop: health says locked meanwhile, the write lands once the lock goes', async () => {
    const path = tempPath();
    const store = SqliteStore.open(path);
    expect(await store.health()).toEqual({ ok: true });
    const db = raw(path);
    db.exec('BEGIN IMMEDIATE');
    const order: string[] = [];
    // The write starts while the lock is held; on a thread-blocking busy wait nothing below
    // could run until it had failed.
    const write = store.createSpace({ name: 'waited' }).then(
      (s) => {
        order.push('write done');
        return s;
      },
      (err: unknown) => {
        order.push('write failed');
        throw err;
      },
    );
    const during = await store.health();
    order.push('health answered');
    expect(during.ok).toBe(false);
    expect(during.ok ? '' : during.reason).toMatch(/locked by another process/);
    // A read goes on meanwhile (WAL).
    expect(await store.listSpaces()).toEqual([]);
    order.push('read answered');
    db.exec('ROLLBACK');
    order.push('lock released');
    expect((await write).name).toBe('waited');
    expect(order).toEqual(['health answered', 'read answered', 'lock released', 'write done']);
    expect(await store.health()).toEqual({ ok: true });
    db.close();
    await store.close();
    expect(await store.health()).toEqual({ ok: false, reason: 'the store is closed' });
  });

  it('blocks the thread for at most one short slice per attempt (busy_timeout), retrying asynchronously', () => {
    expect(SQLITE_BUSY_SLICE_MS).toBeLessThanOrEqual(50);
    expect(SQLITE_BUSY_BACKOFF_MS.max).toBeLessThanOrEqual(SQLITE_BUSY_TIMEOUT_MS);
    const store = SqliteStore.open(tempPath());
    expect((store as unknown as { database: { db: Database.Database } }).database.db.pragma('busy_timeout', { simple: true })).toBe(SQLITE_BUSY_SLICE_MS);
    void store.close();
  });
});

describe('SQLite migrations', () => {
  // The first shipped migration alone, so these tests do not change when migrations are added.
  const FIRST = MIGRATIONS.slice(0, 1);
  const v2: Migration = { version: 2, name: 'add notes', sql: 'CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL) STRICT;' };

  it('applies only the missing migrations, in order', () => {
    const db = new Database(':memory:');
    expect(migrate(db, ':memory:', FIRST)).toEqual({ from: 0, to: 1 });
    expect(migrate(db, ':memory:', [...FIRST, v2])).toEqual({ from: 1, to: 2 });
    expect(db.pragma('user_version', { simple: true })).toBe(2);
    expect(migrate(db, ':memory:', [...FIRST, v2])).toEqual({ from: 2, to: 2 });
    db.close();
  });

  it('runs each migration in its own transaction: a failing one leaves the earlier ones and no trace of itself', () => {
    const db = new Database(':memory:');
    const broken: Migration = { version: 2, name: 'broken', sql: 'CREATE TABLE half (x INTEGER); CREATE TABLE half (y INTEGER);' };
    expect(() => migrate(db, ':memory:', [...FIRST, broken])).toThrow();
    expect(db.pragma('user_version', { simple: true })).toBe(1);
    expect(db.prepare("SELECT count(*) AS n FROM sqlite_schema WHERE name = 'half'").get()).toEqual({ n: 0 });
    db.close();
  });

  it("migration 4 rebuilds webhook_outbox for 'domain' events: rows, indexes and the id sequence kept", async () => {
    const path = tempPath();
    mkdirSync(dirname(path), { recursive: true });
    const db = raw(path);
    expect(migrate(db, path, MIGRATIONS.slice(0, 3))).toEqual({ from: 0, to: 3 });
    db.prepare("INSERT INTO spaces (name, created_at) VALUES ('alpha', 1)").run();
    db.prepare("INSERT INTO webhooks (space_id, url, secret, created_at) VALUES (1, 'https://h.example/', 's', 1)").run();
    const insert = db.prepare(
      'INSERT INTO webhook_outbox (space_id, type, send_id, recipient, at, detail, status, attempts, created_at, next_attempt_at, last_error, done_at) ' +
        'VALUES (1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
    );
    insert.run('delivered', 'Q1', 'r@example.net', 10, '{"a":1}', 'pending', 0, 11, 12, null, null);
    insert.run('bounced', 'Q2', 'r@example.net', 20, '{}', 'delivered', 2, 21, 22, null, 23);
    insert.run('opened', 'Q3', 'x@example.net', 30, '{}', 'expired', 5, 31, 32, 'HTTP 500', 33);
    // The last row deleted: its id must not come back (receivers dedupe on it).
    db.prepare('DELETE FROM webhook_outbox WHERE id = 3').run();
    expect(() => insert.run('domain', '', '', 1, '{}', 'pending', 0, 1, 1, null, null)).toThrow(/CHECK/);
    const before = db.prepare('SELECT * FROM webhook_outbox ORDER BY id').all();
    db.close();

    const store = SqliteStore.open(path);
    await store.close();
    const after = raw(path);
    expect(after.pragma('user_version', { simple: true })).toBe(LATEST_VERSION);
    expect(after.prepare('SELECT * FROM webhook_outbox ORDER BY id').all()).toEqual(before);
    const indexes = after.prepare("SELECT name FROM sqlite_schema WHERE type = 'index' AND tbl_name = 'webhook_outbox' ORDER BY name").all();
    // webhook_outbox_done: migration 8 (retention), dropped and created again by the rebuild of migration 10.
    expect(indexes).toEqual([{ name: 'webhook_outbox_done' }, { name: 'webhook_outbox_due' }, { name: 'webhook_outbox_space' }]);
    expect(after.prepare("SELECT count(*) AS n FROM sqlite_schema WHERE name LIKE 'webhook_outbox_v%'").get()).toEqual({ n: 0 });
    const domain = after.prepare(
      "INSERT INTO webhook_outbox (space_id, type, send_id, recipient, at, detail, created_at, next_attempt_at) VALUES (1, 'domain', '', '', 1, '{}', 1, 1)",
    ).run();
    expect(Number(domain.lastInsertRowid)).toBe(4);
    expect(() =>
      after.prepare("INSERT INTO webhook_outbox (space_id, type, send_id, recipient, at, detail, created_at, next_attempt_at) VALUES (1, 'other', '', '', 1, '{}', 1, 1)").run(),
    ).toThrow(/CHECK/);
    expect(() =>
      after.prepare("INSERT INTO webhook_outbox (space_id, type, send_id, recipient, at, detail, created_at, next_attempt_at) VALUES (99, 'domain', '', '', 1, '{}', 1, 1)").run(),
    ).toThrow(/FOREIGN KEY/); // the reference to spaces is kept
    after.close();
  });

  it('refuses a migration list that is not numbered 1, 2, 3...', () => {
    const db = new Database(':memory:');
    expect(() => migrate(db, ':memory:', [{ ...v2, version: 3 }])).toThrow(InvariantError);
    db.close();
  });
});

describe('SQLite error mapping', () => {
  const sqliteError = (code: string): Error => new Database.SqliteError(`message for ${code}`, code);

  it.each(['SQLITE_BUSY', 'SQLITE_BUSY_SNAPSHOT', 'SQLITE_LOCKED', 'SQLITE_LOCKED_SHAREDCACHE'])('%s is transient (busy)', (code) => {
    const e = sqliteError(code);
    const mapped = mapSqliteError(e);
    expect(mapped).toBeInstanceOf(TransientError);
    expect((mapped as TransientError).code).toBe('ESTORE_BUSY');
    expect(mapped.cause).toBe(e);
  });

  it.each(['SQLITE_IOERR', 'SQLITE_IOERR_WRITE', 'SQLITE_FULL', 'SQLITE_CANTOPEN', 'SQLITE_READONLY_DBMOVED', 'SQLITE_CORRUPT'])(
    '%s is transient (I/O)',
    (code) => {
      const mapped = mapSqliteError(sqliteError(code));
      expect(mapped).toBeInstanceOf(TransientError);
      expect((mapped as TransientError).code).toBe('ESTORE_IO');
    },
  );

  it.each(['SQLITE_CONSTRAINT_CHECK', 'SQLITE_ERROR', 'SQLITE_MISMATCH', 'SQLITE_BUSYNESS'])('%s is a bug', (code) => {
    expect(mapSqliteError(sqliteError(code))).toBeInstanceOf(InvariantError);
  });

  it('passes trxmail errors and other errors through', () => {
    const u = new UsageError('x');
    const t = new TypeError('y');
    expect(mapSqliteError(u)).toBe(u);
    expect(mapSqliteError(t)).toBe(t);
    expect(mapSqliteError('a string')).toBeInstanceOf(InvariantError);
  });
});
