/**
 * The SQLite backend's search queries use the search indexes (migration 8), not a scan of the
 * space's sends: the query plans of listSends' WHERE (send-filter.ts) over the real schema.
 * A rare recipient among millions of sends must be an index lookup.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import type { SendSearch } from '../../src/store/backend.js';
import { selectiveSearch, sendFilterWhere, sendSearchWhere } from '../../src/store/sqlite/send-filter.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';

const dir = mkdtempSync(path.join(tmpdir(), 'trx-plan-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const NONE: SendSearch = { recipientKey: null, messageId: null, status: null, reason: null, text: null };

async function plan(search: SendSearch): Promise<string> {
  const file = path.join(dir, `${Math.random().toString(36).slice(2)}.db`);
  await SqliteStore.open(file).close();
  const db = new Database(file, { readonly: true });
  try {
    const q = { spaceId: 1, fromKey: null, sinceMs: null, untilMs: null, tags: [] };
    const where = sendSearchWhere(sendFilterWhere(q, { spaceIndex: !selectiveSearch(search) }), search);
    const text = `EXPLAIN QUERY PLAN SELECT s.id FROM sends s${where.clause()} ORDER BY s.received_at DESC, s.rowid DESC LIMIT 10`;
    return (db.prepare(text).all(...where.params) as { detail: string }[]).map((r) => r.detail).join('\n');
  } finally {
    db.close();
  }
}

describe('search query plans (SQLite)', () => {
  it('a recipient: the recipients key index, then each send by its id', async () => {
    const p = await plan({ ...NONE, recipientKey: 'ann@example.net' });
    expect(p).toMatch(/send_recipients USING COVERING INDEX send_recipients_key/);
    expect(p).not.toMatch(/sends_space_time/);
  });

  it('a Message-ID: its index', async () => {
    const p = await plan({ ...NONE, messageId: 'm1@shop.example' });
    expect(p).toMatch(/USING INDEX sends_message_id/);
    expect(p).not.toMatch(/sends_space_time/);
  });

  it('the search box text: id, Message-ID and recipient lookups', async () => {
    const p = await plan({ ...NONE, text: { id: 'X1', messageId: 'X1', key: 'x1' } });
    expect(p).toMatch(/sends_message_id/);
    expect(p).toMatch(/send_recipients_key/);
    expect(p).not.toMatch(/sends_space_time/);
  });

  it('a status alone keeps the space\'s time index (it selects many sends, in order)', async () => {
    expect(await plan({ ...NONE, status: 'bounced' })).toMatch(/sends_space_time/);
  });
});
