/**
 * The Store contract on PostgreSQL (a private database of this file, one schema per store),
 * and what is particular to the PostgreSQL backend: migrations under the advisory lock (two
 * stores opening a new database at once migrate it once), refusing a foreign or newer schema.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/lib/errors.js';
import { PgDatabase } from '../../src/store/postgres/database.js';
import { migratePg, PG_LATEST_VERSION, PG_MIGRATIONS } from '../../src/store/postgres/migrations.js';
import { PostgresStore } from '../../src/store/postgres/postgres-store.js';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.js';
import { storeContract } from './contract/index.js';

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase();
});

afterAll(async () => {
  await db.drop();
});

// One schema, emptied before each test (a migration per test would cost a second each).
let nextEmpty: (() => Promise<PostgresStore>) | null = null;
storeContract('postgres via openStore', () => (nextEmpty ??= db.emptyStores())());

describe('PostgreSQL store specifics', () => {
  it('migrates a new schema once when two stores open it at the same time, and both work', async () => {
    const url = await db.freshSchemaUrl();
    const schema = new URL(url).searchParams.get('search_path') ?? '';
    const [s1, s2] = await Promise.all([PostgresStore.open(db.config(url)), PostgresStore.open(db.config(url))]);
    try {
      // Exactly one of them found version 0 and migrated; the other found the latest version.
      expect([s1.migrated.from, s2.migrated.from].sort()).toEqual([0, PG_LATEST_VERSION]);
      const rows = await db.sql<{ version: number }[]>`SELECT version FROM ${db.sql(schema)}.trxmail_migrations ORDER BY version`;
      expect(rows.map((r) => r.version)).toEqual(Array.from({ length: PG_LATEST_VERSION }, (_, i) => i + 1));
      const space = await s1.createSpace({ name: 'shared' });
      expect(await s2.getSpaceByName('SHARED')).toEqual(space);
    } finally {
      await s1.close();
      await s2.close();
    }
  });

  it('lets two nodes claim webhook deliveries at once without ever taking the same one', async () => {
    const url = await db.freshSchemaUrl();
    const [n1, n2] = await Promise.all([PostgresStore.open(db.config(url)), PostgresStore.open(db.config(url))]);
    try {
      const space = await n1.createSpace({ name: 'hooks' });
      const user = await n1.createUser({ spaceId: space.id, email: 'u@hooks.example', passwordHash: 'h' });
      await n1.setWebhook({ spaceId: space.id, url: 'https://hooks.example/x', secret: 's' });
      await n1.recordSend({
        id: 'w1', spaceId: space.id, userId: user.id, mailFrom: 'a@hooks.example', envelopeSender: 'b@bounce.example',
        from: 'a@hooks.example', to: 'r@example.net', bcc: null, discarded: [], tags: [], flags: 3, flagsSource: 'default',
        receivedAt: new Date(0), recipients: [{ address: 'r@example.net', role: 'to', status: 'queued', suppressedBy: null, detail: null }],
      });
      for (let i = 0; i < 20; i++) await n2.addEvent({ sendId: 'w1', recipient: 'r@example.net', type: 'opened', at: new Date(i), detail: {} });
      const later = new Date(Date.now() + 60_000);
      const [c1, c2] = await Promise.all([n1.claimWebhookDeliveries(later, 15, 60_000), n2.claimWebhookDeliveries(later, 15, 60_000)]);
      const ids = [...c1, ...c2].map((d) => d.id);
      expect(new Set(ids).size).toBe(ids.length);
      expect(ids).toHaveLength(20);
    } finally {
      await n1.close();
      await n2.close();
    }
  });

  it('reopens a migrated schema without migrating again, data kept', async () => {
    const url = await db.freshSchemaUrl();
    const s1 = await PostgresStore.open(db.config(url));
    await s1.createSpace({ name: 'kept' });
    await s1.close();
    const s2 = await PostgresStore.open(db.config(url));
    try {
      expect(s2.migrated).toEqual({ from: PG_LATEST_VERSION, to: PG_LATEST_VERSION });
      expect((await s2.listSpaces()).map((s) => s.name)).toEqual(['kept']);
    } finally {
      await s2.close();
    }
  });

  it('migrates a version 1 schema with rows: old sends have no node, old rows no reasons, the old cursor is taken over by a node', async () => {
    const url = await db.freshSchemaUrl();
    const schema = new URL(url).searchParams.get('search_path') ?? '';
    const cfg = db.config(url);
    const v1 = PgDatabase.connect(cfg);
    try {
      await v1.run((sql) => migratePg(sql, PG_MIGRATIONS.slice(0, 1)));
    } finally {
      await v1.close();
    }
    const t = db.sql(schema);
    await db.sql`INSERT INTO ${t}.spaces (id, name, created_at) VALUES (1, 'old', 0)`;
    await db.sql`INSERT INTO ${t}.users (id, space_id, email, email_key, password_hash, created_at) VALUES (1, 1, 'u@old.example', 'u@old.example', 'h', 0)`;
    await db.sql`
      INSERT INTO ${t}.sends (id, space_id, user_id, mail_from, envelope_sender, from_addr, from_key, to_addr, discarded, tags, flags, flags_source, received_at, status)
      VALUES ('o1', 1, 1, 'a@old.example', 'b@old.example', 'a@old.example', 'a@old.example', 'r@example.net', '[]', '[]', 3, 'default', 1000, 'queued')`;
    await db.sql`
      INSERT INTO ${t}.send_recipients (send_id, position, address, address_key, role, status) VALUES ('o1', 0, 'r@example.net', 'r@example.net', 'to', 'queued')`;
    await db.sql`INSERT INTO ${t}.list_entries (space_id, address_key, list, address, reason, added_at) VALUES (1, 'x@example.net', 'bounce', 'x@example.net', 'r', 5)`;
    await db.sql`INSERT INTO ${t}.list_entries (space_id, address_key, list, address, reason, added_at) VALUES (1, 'c@example.net', 'bounce', 'c@example.net', 'complaint (abuse)', 5)`;
    await db.sql`INSERT INTO ${t}.list_entries (space_id, address_key, list, address, reason, added_at) VALUES (1, 'h@example.net', 'bounce', 'h@example.net', 'hard bounce 5.1.1', 5)`;
    await db.sql`INSERT INTO ${t}.events (send_id, recipient, recipient_key, type, at, detail) VALUES ('o1', 'r@example.net', 'r@example.net', 'opened', 1, '{}')`;
    await db.sql`INSERT INTO ${t}.from_defaults (space_id, address_key, address, flags) VALUES (1, 'news@old.example', 'News@old.example', 9)`;
    await db.sql`INSERT INTO ${t}.delivery_cursors (path, dev, ino, "offset", following_since, saved_at) VALUES ('/var/log/mail.log', '1', '2', 300, 0, 10)`;
    const store = await PostgresStore.open(cfg);
    try {
      expect(store.migrated).toEqual({ from: 1, to: PG_LATEST_VERSION });
      const send = await store.getSend('o1', null);
      expect(send).not.toHaveProperty('node');
      expect(send?.recipients[0]).not.toHaveProperty('reason');
      // Migration 3: existing entries classified by their reason; 'unsubscribed' events accepted.
      expect(await store.listEntries(1, 'bounce')).toMatchObject([
        { address: 'c@example.net', source: 'complaint' },
        { address: 'h@example.net', source: 'bounce' },
        { address: 'x@example.net', bounceReason: null, rule: null, source: 'operator' },
      ]);
      await store.addEvent({ sendId: 'o1', recipient: 'r@example.net', type: 'unsubscribed', at: new Date(2), detail: {} });
      expect((await store.listEvents('o1')).map((e) => e.type)).toEqual(['opened', 'unsubscribed']);
      expect(await store.getDeliveryCursor('n1', '/var/log/mail.log')).toMatchObject({ node: 'n1', offset: 300 });
      // Migration 7: From defaults kept, no unsubscribe default anywhere yet.
      expect(await store.getSpace(1)).toMatchObject({ unsubscribe: null });
      expect(await store.listFromFlags(1)).toEqual([{ spaceId: 1, address: 'News@old.example', flags: 9, unsubscribe: null }]);
      // A send without node is marked by whichever node looks.
      expect(await store.markNotQueued({ node: 'n2', receivedSince: new Date(0), receivedBefore: new Date(2000), at: new Date(3000), reason: 'r', limit: 10 })).toEqual(['o1']);
    } finally {
      await store.close();
    }
  });

  it("refuses a schema that holds tables but is not trxmail's, touching nothing", async () => {
    const url = await db.freshSchemaUrl();
    const schema = new URL(url).searchParams.get('search_path') ?? '';
    await db.sql`CREATE TABLE ${db.sql(schema)}.other_app (x integer)`;
    await expect(PostgresStore.open(db.config(url))).rejects.toThrow(ConfigError);
    const tables = await db.sql<{ tablename: string }[]>`SELECT tablename FROM pg_tables WHERE schemaname = ${schema}`;
    expect(tables.map((t) => t.tablename)).toEqual(['other_app']);
  });

  it('refuses a schema newer than this code', async () => {
    const url = await db.freshSchemaUrl();
    const schema = new URL(url).searchParams.get('search_path') ?? '';
    await (await PostgresStore.open(db.config(url))).close();
    await db.sql`INSERT INTO ${db.sql(schema)}.trxmail_migrations (version, name) VALUES (${PG_LATEST_VERSION + 1}, 'from the future')`;
    await expect(PostgresStore.open(db.config(url))).rejects.toThrow(/newer than this trxmail/);
  });
});
