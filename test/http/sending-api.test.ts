/**
 * GET /api/v1/sending over real HTTP: the caller's space's limits, usage in each rolling
 * window and pause — never another space's; a parameter is a 400.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CredentialVerifier } from '../../src/auth/credentials.js';
import { HttpService } from '../../src/http/server.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { PASSWORD_A, PASSWORD_B, seedReports, type Seeded } from '../reports/seed.js';
import { KEYS, recordingLogger } from './helpers.js';

const dir = mkdtempSync(path.join(tmpdir(), 'trx-sending-api-'));
let store: SqliteStore;
let seed: Seeded;
let service: HttpService;
let base = '';

const basic = (login: string, password: string): string => `Basic ${Buffer.from(`${login}:${password}`, 'utf8').toString('base64')}`;

async function get(pathAndQuery: string, auth: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${base}${pathAndQuery}`, { headers: { authorization: auth } });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

beforeAll(async () => {
  store = SqliteStore.open(path.join(dir, 'trxmail.db'));
  seed = await seedReports(store);
  service = new HttpService({ store, keys: KEYS, logger: recordingLogger(), reports: { store, credentials: new CredentialVerifier(store) } });
  const { host, port } = await service.listen('127.0.0.1', 0);
  base = `http://${host}:${port}`;
});
afterAll(async () => {
  await service.close();
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('GET /api/v1/sending', () => {
  it("shows the caller's limits, usage and pause, and only its own", async () => {
    await store.setSendingLimits(seed.alpha.id, { minute: 100, day: 5000 });
    await store.reserveSending(seed.alpha.id, 2, new Date());
    await store.pauseSpace(seed.alpha.id, { reason: 'invoice overdue', at: new Date('2026-03-05T10:00:00Z'), auto: false });
    const alpha = await get('/api/v1/sending', basic('user@alpha.example', PASSWORD_A));
    expect(alpha.status).toBe(200);
    expect(alpha.body).toMatchObject({
      limits: { minute: 100, hour: null, day: 5000 },
      usage: { hour: 2, day: 2 },
      paused: { reason: 'invoice overdue', since: '2026-03-05T10:00:00.000Z', auto: false },
    });
    const beta = await get('/api/v1/sending', basic('USER@beta.example', PASSWORD_B));
    expect(beta).toEqual({ status: 200, body: { limits: { minute: null, hour: null, day: null }, usage: { minute: 0, hour: 0, day: 0 }, paused: null } });
  });

  it('refuses a parameter with a 400', async () => {
    const r = await get(`/api/v1/sending?space=${seed.beta.id}`, basic('user@alpha.example', PASSWORD_A));
    expect(r.status).toBe(400);
  });
});
