/**
 * The suppression API over real HTTP with the reports API's authentication, on a real SQLite
 * store: list with search and paging, add (new / already there), remove (recorded as a list
 * change), the changes history, every entry's reason and source, spaces kept apart, and
 * malformed input a 400 naming the parameter.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CredentialVerifier } from '../../src/auth/credentials.js';
import { HttpService } from '../../src/http/server.js';
import { MAX_LIST_PAGE_SIZE, MAX_LIST_REASON_LENGTH, MAX_LIST_SEARCH_LENGTH } from '../../src/lib/limits.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { PASSWORD_A, PASSWORD_B, seedReports, type Seeded } from '../reports/seed.js';
import { KEYS, recordingLogger } from './helpers.js';

const dir = mkdtempSync(path.join(tmpdir(), 'trx-lists-api-'));
let store: SqliteStore;
let seed: Seeded;
let service: HttpService;
let base = '';
const basic = (login: string, password: string): string => `Basic ${Buffer.from(`${login}:${password}`, 'utf8').toString('base64')}`;
const ALPHA = basic('user@alpha.example', PASSWORD_A);
const BETA = basic('USER@beta.example', PASSWORD_B);

async function api(method: string, pathAndQuery: string, body?: unknown, auth: string | null = ALPHA) {
  const res = await fetch(`${base}${pathAndQuery}`, {
    method,
    headers: { ...(auth === null ? {} : { authorization: auth }), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, body: (text === '' ? null : JSON.parse(text)) as Record<string, unknown> };
}

beforeAll(async () => {
  store = SqliteStore.open(path.join(dir, 'trxmail.db'));
  seed = await seedReports(store);
  service = new HttpService({ store, keys: KEYS, logger: recordingLogger(), reports: { store, credentials: new CredentialVerifier(store) } });
  const { host, port } = await service.listen('127.0.0.1', 0);
  base = `http://${host}:${port}`;
  await store.addListEntry({ spaceId: seed.alpha.id, list: 'bounce', address: 'gone@example.net', reason: 'hard bounce 5.1.1', bounceReason: 'user-unknown', rule: 'status:5.1.1', source: 'bounce', addedAt: new Date('2026-03-01T00:00:00Z') });
  await store.addListEntry({ spaceId: seed.beta.id, list: 'unsubscribe', address: 'beta-only@example.net', reason: 'theirs', addedAt: new Date('2026-03-01T00:00:00Z') });
});

afterAll(async () => {
  await service.close();
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('suppression API', () => {
  it('needs the same authentication as the rest of the API', async () => {
    expect((await api('GET', '/api/v1/lists/bounce', undefined, null)).status).toBe(401);
    expect((await api('POST', '/api/v1/lists/bounce', { address: 'x@example.net' }, basic('user@alpha.example', 'wrong'))).status).toBe(401);
    expect((await api('DELETE', '/api/v1/lists/bounce/gone@example.net', undefined, null)).status).toBe(401);
    expect(await store.listEntries(seed.alpha.id, 'bounce')).toHaveLength(1);
  });

  it('lists entries with reason and source (bounce reason and rule for the intake\'s)', async () => {
    const r = await api('GET', '/api/v1/lists/bounce');
    expect(r.status).toBe(200);
    expect(r.body).toEqual({
      entries: [{ address: 'gone@example.net', list: 'bounce', reason: 'hard bounce 5.1.1', source: 'bounce', bounceReason: 'user-unknown', rule: 'status:5.1.1', addedAt: '2026-03-01T00:00:00.000Z' }],
      nextCursor: null,
    });
  });

  it('adds (201 new, 200 already there), searches and pages without gaps; another space sees none of it', async () => {
    for (const a of ['one@example.org', 'two@example.org', 'three@other.example']) {
      const r = await api('POST', '/api/v1/lists/unsubscribe', { address: a, reason: 'asked by mail' });
      expect(r.status, a).toBe(201);
      expect(r.body).toMatchObject({ added: true, entry: { address: a, source: 'api', reason: 'asked by mail' } });
    }
    expect(await api('POST', '/api/v1/lists/unsubscribe', { address: 'ONE@example.org' })).toMatchObject({ status: 200, body: { added: false, entry: { reason: 'added via the API' } } });
    const p1 = await api('GET', '/api/v1/lists/unsubscribe?limit=2');
    expect((p1.body['entries'] as Array<{ address: string }>).map((e) => e.address)).toEqual(['one@example.org', 'three@other.example']);
    const p2 = await api('GET', `/api/v1/lists/unsubscribe?limit=2&cursor=${String(p1.body['nextCursor'])}`);
    expect(p2.body).toMatchObject({ entries: [{ address: 'two@example.org' }], nextCursor: null });
    const search = await api('GET', '/api/v1/lists/unsubscribe?q=EXAMPLE.ORG');
    expect((search.body['entries'] as Array<{ address: string }>).map((e) => e.address)).toEqual(['one@example.org', 'two@example.org']);
    const beta = await api('GET', '/api/v1/lists/unsubscribe', undefined, BETA);
    expect((beta.body['entries'] as Array<{ address: string }>).map((e) => e.address)).toEqual(['beta-only@example.net']);
  });

  it('removes (recorded as a list change with source api and the reason); 404 when not on the list or in another space', async () => {
    await api('POST', '/api/v1/lists/unsubscribe', { address: 'leaving@example.org' });
    expect((await api('DELETE', '/api/v1/lists/unsubscribe/leaving@example.org', undefined, BETA)).status).toBe(404);
    expect((await api('DELETE', '/api/v1/lists/unsubscribe/beta-only@example.net')).status).toBe(404);
    const r = await api('DELETE', '/api/v1/lists/unsubscribe/Leaving@Example.org?reason=asked%20to%20resubscribe');
    expect(r).toEqual({ status: 200, body: { removed: true } });
    expect((await api('DELETE', '/api/v1/lists/unsubscribe/leaving@example.org')).status).toBe(404);
    const changes = await api('GET', '/api/v1/lists/unsubscribe/changes?limit=2');
    expect(changes.body['changes']).toMatchObject([
      { address: 'leaving@example.org', action: 'removed', source: 'api', reason: 'asked to resubscribe' },
      { address: 'leaving@example.org', action: 'added', source: 'api' },
    ]);
    const older = await api('GET', `/api/v1/lists/unsubscribe/changes?limit=${MAX_LIST_PAGE_SIZE}&cursor=${String(changes.body['nextCursor'])}`);
    expect((older.body['changes'] as unknown[]).length).toBe(3);
    expect((await api('GET', '/api/v1/lists/unsubscribe/changes', undefined, BETA)).body['changes']).toMatchObject([{ address: 'beta-only@example.net', action: 'added', source: 'operator' }]);
    expect(await store.listEntries(seed.beta.id, 'unsubscribe')).toHaveLength(1);
  });

  it('every malformed parameter or body is a 400 naming it', async () => {
    const cases: Array<[string, string, unknown, string | null]> = [
      ['GET', '/api/v1/lists/nolist', undefined, 'list'],
      ['GET', '/api/v1/lists/bounce?limit=0', undefined, 'limit'],
      ['GET', `/api/v1/lists/bounce?limit=${MAX_LIST_PAGE_SIZE + 1}`, undefined, 'limit'],
      ['GET', '/api/v1/lists/bounce?cursor=***', undefined, 'cursor'],
      ['GET', '/api/v1/lists/bounce?q=', undefined, 'q'],
      ['GET', `/api/v1/lists/bounce?q=${'x'.repeat(MAX_LIST_SEARCH_LENGTH + 1)}`, undefined, 'q'],
      ['GET', '/api/v1/lists/bounce?space=2', undefined, 'space'],
      ['GET', '/api/v1/lists/bounce?q=a&q=b', undefined, 'q'],
      ['GET', '/api/v1/lists/bounce/changes?cursor=YWJj', undefined, 'cursor'],
      ['POST', '/api/v1/lists/bounce', { reason: 'r' }, 'address'],
      ['POST', '/api/v1/lists/bounce', { address: 'x@example.net', spaceId: 2 }, 'spaceId'],
      ['POST', '/api/v1/lists/bounce', { address: 'x@example.net', reason: 'x'.repeat(MAX_LIST_REASON_LENGTH + 1) }, 'reason'],
      ['POST', '/api/v1/lists/bounce', { address: 'x@example.net', reason: 'a\nb' }, 'reason'],
      ['POST', '/api/v1/lists/bounce', ['x@example.net'], null],
      ['DELETE', '/api/v1/lists/bounce/x@example.net?reason=', undefined, 'reason'],
    ];
    for (const [method, p, body, parameter] of cases) {
      const r = await api(method, p, body);
      expect(r.status, `${method} ${p}`).toBe(400);
      expect(r.body['parameter'], `${method} ${p}`).toBe(parameter);
    }
    // Not an address: the store's UsageError, a 400 too.
    expect((await api('POST', '/api/v1/lists/bounce', { address: 'not an address' })).status).toBe(400);
    expect((await api('DELETE', '/api/v1/lists/bounce/nobody')).status).toBe(400);
    // A reason at the limit is fine.
    expect((await api('POST', '/api/v1/lists/bounce', { address: 'limit@example.net', reason: 'x'.repeat(MAX_LIST_REASON_LENGTH) })).status).toBe(201);
  });
});
