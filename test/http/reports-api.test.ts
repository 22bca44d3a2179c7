/**
 * The reports API over real HTTP (HttpService on 127.0.0.1:0, fetch): Basic authentication
 * with the SMTP AUTH credential verifier, one space per login whatever the parameters say,
 * paging with the cursor, and every malformed parameter a 400 naming it — never a 500.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CredentialVerifier } from '../../src/auth/credentials.js';
import { createKeyPair } from '../../src/dkim/domain-keys.js';
import { HttpService } from '../../src/http/server.js';
import { clientAddress, isLoopback, parseBasicAuth, transportRefusal } from '../../src/http/reports-api.js';
import {
  AUTH_FAILURE_WINDOW_MS,
  MAX_API_PAGE_SIZE,
  MAX_AUTH_FAILURES_PER_ADDRESS,
  MAX_AUTH_FAILURES_PER_LOGIN_ADDRESS as MAX_FAILURES_PER_LOGIN,
  MAX_TAG_LENGTH,
  MAX_TAGS,
} from '../../src/lib/limits.js';
import { encodeCursor } from '../../src/reports/api-query.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { PASSWORD_A, PASSWORD_B, seedReports, type Seeded } from '../reports/seed.js';
import { KEYS, recordingLogger } from './helpers.js';

interface Server {
  base: string;
  close(): Promise<void>;
}

const dir = mkdtempSync(path.join(tmpdir(), 'trx-api-'));
let store: SqliteStore;
let seed: Seeded;
let main: Server;
const logger = recordingLogger();

async function serve(opts: { trustTlsProxy?: boolean; credentials?: CredentialVerifier } = {}): Promise<Server> {
  const { credentials = new CredentialVerifier(store), ...rest } = opts;
  const service = new HttpService({
    store,
    keys: KEYS,
    logger,
    reports: { store, credentials, ...rest },
  });
  const { host, port } = await service.listen('127.0.0.1', 0);
  return { base: `http://${host}:${port}`, close: () => service.close() };
}

const basic = (login: string, password: string): string => `Basic ${Buffer.from(`${login}:${password}`, 'utf8').toString('base64')}`;
const ALPHA = basic('user@alpha.example', PASSWORD_A);
const BETA = basic('USER@beta.example', PASSWORD_B);

async function api(server: Server, pathAndQuery: string, auth: string | null = ALPHA, headers: Record<string, string> = {}) {
  const res = await fetch(`${server.base}${pathAndQuery}`, { headers: { ...(auth === null ? {} : { authorization: auth }), ...headers } });
  const text = await res.text();
  let body: unknown = null;
  try {
    body = JSON.parse(text);
  } catch {
    body = text;
  }
  return { status: res.status, headers: res.headers, body: body as Record<string, unknown> };
}

beforeAll(async () => {
  store = SqliteStore.open(path.join(dir, 'trxmail.db'));
  seed = await seedReports(store);
  main = await serve();
});
afterAll(async () => {
  await main.close();
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('authentication', () => {
  it('the right password: 200 with the aggregate report of the user\'s space (JSON, ISO dates)', async () => {
    const r = await api(main, '/api/v1/report?since=2026-03-01&until=2026-03-03&by=day');
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toMatch(/^application\/json/);
    // until=2026-03-03 is a plain date: the whole day 3 is in. Hand counts: report.test.ts.
    expect(r.body['filter']).toEqual({ since: '2026-03-01T00:00:00.000Z', until: '2026-03-04T00:00:00.000Z', from: null, tags: [], by: 'day' });
    const rows = r.body['rows'] as Record<string, unknown>[];
    expect(rows.map((x) => [x['group'], x['key'], x['sends']])).toEqual([
      ['day', '2026-03-01', 3],
      ['day', '2026-03-02', 3],
      ['day', '2026-03-03', 3],
      ['total', null, 9],
    ]);
    expect(rows[3]).toEqual({
      group: 'total', key: null, sends: 9, delivered: 3, deferred: 1, bouncedHard: 1, bouncedSoft: 3, blocked: 0, suppressedBounce: 1,
      suppressedUnsubscribe: 2, openedUnique: 4, openedTotal: 6, openedMachine: 5, clickedUnique: 2, clickedTotal: 4,
      clickedMachine: 9, complained: 2,
    });
  });

  it('401 with WWW-Authenticate for no, malformed or wrong credentials', async () => {
    const cases: (string | null)[] = [
      null,
      'Bearer abc',
      'Basic',
      'Basic !!!',
      `Basic ${Buffer.from('no-colon').toString('base64')}`,
      basic('user@alpha.example', 'wrong password'),
      basic('nobody@alpha.example', PASSWORD_A),
      basic('user@alpha.example', PASSWORD_B),
    ];
    for (const auth of cases) {
      const r = await api(main, '/api/v1/report', auth);
      expect(r.status, String(auth)).toBe(401);
      expect(r.headers.get('www-authenticate')).toBe('Basic realm="trxmail", charset="UTF-8"');
      expect(typeof r.body['error']).toBe('string');
      expect(JSON.stringify(r.body)).not.toContain('sends');
    }
  });

  it(`throttles like SMTP AUTH: after ${MAX_FAILURES_PER_LOGIN} failures of a login from an address, that address gets 429 even with the right password`, async () => {
    const own = await serve();
    try {
      for (let i = 0; i < MAX_FAILURES_PER_LOGIN; i++) {
        expect((await api(own, '/api/v1/report', basic('user@beta.example', `guess ${i}`))).status).toBe(401);
      }
      const r = await api(own, '/api/v1/report', BETA);
      expect(r.status).toBe(429);
      expect(r.headers.get('retry-after')).toBe(String(AUTH_FAILURE_WINDOW_MS / 1000));
      expect(r.headers.get('www-authenticate')).toBeNull();
      // another login from the same address is not locked by this one's failures
      expect((await api(own, '/api/v1/report', ALPHA)).status).toBe(200);
    } finally {
      await own.close();
    }
  });
});

describe('throttle: keyed on the real client address', () => {
  /** A verifier whose throttled holds are recorded instead of waited for. */
  function holdingVerifier(): { credentials: CredentialVerifier; held: number[] } {
    const held: number[] = [];
    const credentials = new CredentialVerifier(store, {
      sleep: (ms) => {
        held.push(ms);
        return Promise.resolve();
      },
    });
    return { credentials, held };
  }
  const from = (ip: string): Record<string, string> => ({ 'x-forwarded-for': ip, 'x-forwarded-proto': 'https' });
  const ATTACKER = '203.0.113.66';

  it('behind a TLS proxy: an attacker at any rate gets 429 (held like a check), the right password from another address is never refused', async () => {
    const { credentials, held } = holdingVerifier();
    const own = await serve({ trustTlsProxy: true, credentials });
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 3 * MAX_FAILURES_PER_LOGIN; i++) {
        statuses.push((await api(own, '/api/v1/report', basic('user@beta.example', `guess ${i}`), from(ATTACKER))).status);
      }
      expect(statuses).toEqual([...Array<number>(MAX_FAILURES_PER_LOGIN).fill(401), ...Array<number>(2 * MAX_FAILURES_PER_LOGIN).fill(429)]);
      // Each 429 was held for the measured cost of a check (the 401s ran real scrypt).
      expect(held).toHaveLength(2 * MAX_FAILURES_PER_LOGIN);
      expect(credentials.checkCostMs).not.toBeNull();
      for (const ms of held) expect(ms).toBe(Math.round(credentials.checkCostMs!));

      const attackerRight = await api(own, '/api/v1/report', BETA, from(ATTACKER));
      expect(attackerRight.status).toBe(429);
      expect(attackerRight.headers.get('retry-after')).toBe(String(AUTH_FAILURE_WINDOW_MS / 1000));
      // The real user, at another address behind the same proxy, and again in between.
      expect((await api(own, '/api/v1/report', BETA, from('198.51.100.7'))).status).toBe(200);
      expect((await api(own, '/api/v1/report', basic('user@beta.example', 'more'), from(ATTACKER))).status).toBe(429);
      expect((await api(own, '/api/v1/report', BETA, from('2001:db8:7::1'))).status).toBe(200);
      // A client cannot pick its address: only the entry the proxy appended counts.
      expect((await api(own, '/api/v1/report', BETA, from(`198.51.100.7, ${ATTACKER}`))).status).toBe(429);
    } finally {
      await own.close();
    }
  });

  it(`behind a TLS proxy: ${MAX_AUTH_FAILURES_PER_ADDRESS} failures across many logins throttle that address, not the proxy's other clients`, async () => {
    const { credentials } = holdingVerifier();
    const own = await serve({ trustTlsProxy: true, credentials });
    try {
      for (let i = 0; i < MAX_AUTH_FAILURES_PER_ADDRESS; i++) {
        expect((await api(own, '/api/v1/report', basic(`nobody${i}@alpha.example`, 'x'), from(ATTACKER))).status).toBe(401);
      }
      expect((await api(own, '/api/v1/report', ALPHA, from(ATTACKER))).status).toBe(429);
      expect((await api(own, '/api/v1/report', ALPHA, from('198.51.100.8'))).status).toBe(200);
      expect((await api(own, '/api/v1/report', BETA, from('198.51.100.9'))).status).toBe(200);
      // The proxy's own address (no X-Forwarded-For; the proxy still says https) is not the attacker's.
      expect((await api(own, '/api/v1/report', ALPHA, { 'x-forwarded-proto': 'https' })).status).toBe(200);
    } finally {
      await own.close();
    }
  });

  it('without trustTlsProxy, X-Forwarded-For is ignored: rotating it does not escape the throttle', async () => {
    const { credentials } = holdingVerifier();
    const own = await serve({ credentials });
    try {
      for (let i = 0; i < MAX_FAILURES_PER_LOGIN; i++) {
        expect((await api(own, '/api/v1/report', basic('user@beta.example', `g${i}`), { 'x-forwarded-for': `192.0.2.${i}` })).status).toBe(401);
      }
      expect((await api(own, '/api/v1/report', basic('user@beta.example', 'g'), { 'x-forwarded-for': '192.0.2.99' })).status).toBe(429);
    } finally {
      await own.close();
    }
  });

  it('clientAddress: the last X-Forwarded-For entry behind a trusted proxy, else the socket peer', () => {
    const cases: [string | undefined, string | string[] | undefined, boolean, string][] = [
      ['127.0.0.1', '203.0.113.5', true, '203.0.113.5'],
      ['127.0.0.1', '198.51.100.1, 203.0.113.5', true, '203.0.113.5'],
      ['127.0.0.1', ['198.51.100.1', '203.0.113.5'], true, '203.0.113.5'],
      ['127.0.0.1', '198.51.100.1,2001:db8::5 ', true, '2001:db8::5'],
      ['127.0.0.1', '203.0.113.5', false, '127.0.0.1'],
      ['127.0.0.1', undefined, true, '127.0.0.1'],
      ['127.0.0.1', '', true, '127.0.0.1'],
      ['127.0.0.1', '203.0.113.5, unknown', true, '127.0.0.1'],
      ['127.0.0.1', '203.0.113.5:4711', true, '127.0.0.1'],
      [undefined, undefined, false, ''],
    ];
    for (const [remoteAddress, forwardedFor, trustTlsProxy, want] of cases) {
      expect(clientAddress({ remoteAddress, forwardedFor, trustTlsProxy }), JSON.stringify([forwardedFor, trustTlsProxy])).toBe(want);
    }
  });
});

describe('one space per login', () => {
  it('beta sees only beta, whatever the parameters say', async () => {
    const rep = await api(main, '/api/v1/report?from=news%40shop.example&tag=promo&by=tag', BETA);
    expect(rep.status).toBe(200);
    expect((rep.body['rows'] as Record<string, unknown>[]).map((x) => [x['key'], x['sends']])).toEqual([
      ['promo', 2],
      [null, 2],
    ]);
    const list = await api(main, '/api/v1/sends?limit=500', BETA);
    expect((list.body['sends'] as { id: string }[]).map((s) => s.id)).toEqual(['b2', 'b1']);
    const spaceParam = await api(main, `/api/v1/sends?space=${seed.alpha.id}`, BETA);
    expect(spaceParam.status).toBe(400);
    expect(spaceParam.body).toMatchObject({ parameter: 'space' });
  });

  it('groups by reason and by receiving domain; every row has blocked', async () => {
    const byDomain = await api(main, '/api/v1/report?by=domain', BETA);
    expect(byDomain.status).toBe(200);
    const rows = byDomain.body['rows'] as Record<string, unknown>[];
    expect(rows.at(-1)).toMatchObject({ group: 'total', key: null, blocked: 0 });
    expect(rows.slice(0, -1).every((r) => r['group'] === 'domain' && typeof r['key'] === 'string' && !String(r['key']).includes('@'))).toBe(true);
    const byReason = await api(main, '/api/v1/report?by=reason', BETA);
    expect(byReason.status).toBe(200);
    expect((byReason.body['rows'] as Record<string, unknown>[]).every((r) => 'blocked' in r)).toBe(true);
  });

  it("another space's send id is a 404 exactly like an unknown id", async () => {
    const other = await api(main, '/api/v1/sends/a1', BETA);
    const unknown = await api(main, '/api/v1/sends/zz-unknown', BETA);
    expect(other.status).toBe(404);
    expect(unknown.status).toBe(404);
    expect(other.body).toEqual(unknown.body);
    // a cursor naming alpha's send does not bring alpha's sends into beta's list
    const cursor = encodeCursor({ receivedAt: new Date('2026-03-05T00:00:00Z'), id: 'a1' });
    const paged = await api(main, `/api/v1/sends?cursor=${cursor}`, BETA);
    expect((paged.body['sends'] as { id: string }[]).map((s) => s.id)).toEqual(['b2', 'b1']);
  });

  it('a send of the own space: the send (final To state) and its events as a timeline', async () => {
    const r = await api(main, '/api/v1/sends/a7');
    expect(r.status).toBe(200);
    const send = r.body['send'] as Record<string, unknown>;
    expect(send).toMatchObject({ id: 'a7', receivedAt: '2026-03-03T10:00:00.000Z', status: 'delivered', toState: 'delivered', tags: ['spring'] });
    expect(send['counts']).toMatchObject({ opened: 1, uniqueOpened: true });
    const events = r.body['events'] as { at: string; type: string; recipient: string }[];
    expect(events.map((e) => e.type)).toEqual(['bounced', 'complained', 'opened', 'delivered']);
    expect(events[0]?.at).toBe('2026-03-03T10:01:00.000Z');
    expect(events[1]?.recipient).toBe('bcc-a7@example.org');
    const suppressed = await api(main, '/api/v1/sends/a4');
    expect((suppressed.body['send'] as Record<string, unknown>)['toState']).toBe('suppressed:bounce');
  });
});

describe('domains', () => {
  it("lists the caller's sender domains with return-path, check and keys — never another space's, never a private key", async () => {
    const at = new Date('2026-03-01T12:00:00Z');
    await store.addDomain(seed.alpha.id, 'shop.example');
    await store.addDomain(seed.alpha.id, 'bücher.example');
    await store.addDomain(seed.beta.id, 'beta-only.example');
    const alphaKeys = await createKeyPair(store, KEYS, { spaceId: seed.alpha.id, domain: 'shop.example', state: 'active', now: at });
    const betaKeys = await createKeyPair(store, KEYS, { spaceId: seed.beta.id, domain: 'beta-only.example', state: 'active', now: at });
    await store.setReturnPath(seed.alpha.id, 'shop.example', 'bounces.shop.example');
    await store.recordDomainCheck(seed.alpha.id, 'shop.example', { status: 'ok', at, detail: {} });

    const r = await api(main, '/api/v1/domains');
    expect(r.status).toBe(200);
    const domains = r.body['domains'] as Record<string, unknown>[];
    expect(domains.map((d) => d['domain'])).toEqual(['shop.example', 'xn--bcher-kva.example']);
    expect(domains[0]).toEqual({
      domain: 'shop.example',
      unicode: 'shop.example',
      returnPath: 'bounces.shop.example',
      checkStatus: 'ok',
      checkedAt: at.toISOString(),
      keys: alphaKeys.map((k) => ({
        selector: k.selector,
        algorithm: k.algorithm,
        state: 'active',
        createdAt: at.toISOString(),
        activatedAt: at.toISOString(),
        retireAfter: null,
      })),
    });
    expect(domains[1]).toMatchObject({ unicode: 'bücher.example', returnPath: null, checkStatus: 'unchecked', checkedAt: null, keys: [] });

    const text = JSON.stringify(r.body);
    for (const k of [...alphaKeys, ...betaKeys]) expect(text).not.toContain(k.wrappedPrivateKey);
    expect(text).not.toContain('beta-only.example');

    const beta = await api(main, '/api/v1/domains', BETA);
    expect((beta.body['domains'] as Record<string, unknown>[]).map((d) => d['domain'])).toEqual(['beta-only.example']);
    expect(JSON.stringify(beta.body)).not.toContain('shop.example');
    // No parameter names another space; an unknown one is a 400 like everywhere.
    const param = await api(main, `/api/v1/domains?space=${seed.alpha.id}`, BETA);
    expect(param).toMatchObject({ status: 400, body: { parameter: 'space' } });
    expect((await api(main, '/api/v1/domains', null)).status).toBe(401);
  });
});

describe('search and timeline', () => {
  const idsOf = (r: { body: Record<string, unknown> }): string[] => (r.body['sends'] as { id: string }[]).map((s) => s.id);

  it('finds sends by recipient (any role, any case), status, reason and the q box, in the login\'s space only', async () => {
    expect(idsOf(await api(main, '/api/v1/sends?recipient=R-A7%40Example.NET'))).toEqual(['a7']);
    expect(idsOf(await api(main, '/api/v1/sends?recipient=bcc-a6%40example.org'))).toEqual(['a6']);
    expect(idsOf(await api(main, '/api/v1/sends?status=bounced'))).toEqual(['a9', 'a2']);
    expect(idsOf(await api(main, '/api/v1/sends?status=suppressed&tag=promo'))).toEqual(['a5']);
    expect(idsOf(await api(main, '/api/v1/sends?q=a3'))).toEqual(['a3']);
    expect(idsOf(await api(main, '/api/v1/sends?q=r-a3%40example.net'))).toEqual(['a3']);
    // beta's sends are never found from alpha, by id or by address, and the other way round
    expect(idsOf(await api(main, '/api/v1/sends?q=b1'))).toEqual([]);
    expect(idsOf(await api(main, '/api/v1/sends?recipient=r-b1%40example.net'))).toEqual([]);
    expect(idsOf(await api(main, '/api/v1/sends?q=a3', BETA))).toEqual([]);
    expect(idsOf(await api(main, '/api/v1/sends?recipient=r-b1%40example.net', BETA))).toEqual(['b1']);
  });

  it('pages search results with the cursor', async () => {
    const first = await api(main, '/api/v1/sends?status=delivered&limit=2');
    expect(idsOf(first)).toEqual(['a7', 'a6']);
    const next = await api(main, `/api/v1/sends?status=delivered&limit=2&cursor=${String(first.body['nextCursor'])}`);
    expect(idsOf(next)).toEqual(['a1', 'a0']);
    expect(next.body['nextCursor']).toBeNull();
  });

  it('GET /sends/:id carries the timeline: the record\'s entries and the events, with reply, list and person or machine', async () => {
    const r = await api(main, '/api/v1/sends/a3');
    const timeline = r.body['timeline'] as { type: string; role: string | null; by?: string; reply?: string; summary: string }[];
    expect(timeline.map((e) => `${e.type}:${e.role ?? '-'}:${e.by ?? '-'}`)).toEqual(['accepted:to:-', 'deferred:to:-', 'opened:to:machine', 'opened:to:machine']);
    expect(timeline[1]).toMatchObject({ reply: '4.2.2', summary: 'deferred: 4.2.2' });
    const suppressed = await api(main, '/api/v1/sends/a4');
    expect((suppressed.body['timeline'] as { type: string; list?: string }[])[1]).toMatchObject({ type: 'suppressed', list: 'bounce' });
  });
});

describe('sends list', () => {
  it('pages through every send with the cursor, newest first, none skipped or repeated', async () => {
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const r = await api(main, `/api/v1/sends?limit=3${cursor ? `&cursor=${cursor}` : ''}`);
      expect(r.status).toBe(200);
      const page = r.body['sends'] as { id: string }[];
      expect(page.length).toBeLessThanOrEqual(3);
      seen.push(...page.map((s) => s.id));
      cursor = r.body['nextCursor'] as string | null;
      pages++;
    } while (cursor !== null && pages < 10);
    expect(pages).toBe(4); // 11 sends: 3 + 3 + 3 + 2
    expect(seen).toEqual(seed.alphaIdsNewestFirst);
  });

  it('filters like the report: dates, from, two tags', async () => {
    const r = await api(main, '/api/v1/sends?since=2026-03-01&until=2026-03-03T23:00:00Z&from=NEWS%40shop.example&tag=promo&tag=spring');
    expect((r.body['sends'] as { id: string }[]).map((s) => s.id)).toEqual(['a6', 'a1']);
    expect(r.body['nextCursor']).toBeNull();
    const page = await api(main, '/api/v1/sends?tag=promo&limit=2');
    expect((page.body['sends'] as { id: string }[]).map((s) => s.id)).toEqual(['a9', 'a6']);
    const next = await api(main, `/api/v1/sends?tag=promo&limit=2&cursor=${String(page.body['nextCursor'])}`);
    expect((next.body['sends'] as { id: string }[]).map((s) => s.id)).toEqual(['a5', 'a2']);
  });

  it(`takes limit up to MAX_API_PAGE_SIZE (${MAX_API_PAGE_SIZE})`, async () => {
    expect((await api(main, `/api/v1/sends?limit=${MAX_API_PAGE_SIZE}`)).status).toBe(200);
    expect((await api(main, `/api/v1/sends?limit=${MAX_API_PAGE_SIZE + 1}`)).body).toMatchObject({ parameter: 'limit' });
  });
});

describe('malformed parameters', () => {
  const b64 = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString('base64url');
  const longTag = 'x'.repeat(MAX_TAG_LENGTH + 1);
  const manyTags = Array.from({ length: MAX_TAGS + 1 }, (_, i) => `tag=t${i}`).join('&');
  const cases: [string, string | null][] = [
    ['/api/v1/report?since=2026-13-01', 'since'],
    ['/api/v1/report?since=yesterday', 'since'],
    ['/api/v1/report?since=2026-03-01T25:00:00Z', 'since'],
    ['/api/v1/report?since=2026-03-01T10:00:00', 'since'],
    ['/api/v1/report?until=2026-02-30', 'until'],
    ['/api/v1/report?since=%zz', 'since'],
    ['/api/v1/report?since=2026-03-02&until=2026-03-01', 'until'],
    ['/api/v1/report?since=2026-03-02T00:00:00Z&until=2026-03-02T00:00:00Z', 'until'],
    ['/api/v1/report?since=2026-03-01&since=2026-03-02', 'since'],
    ['/api/v1/report?since=', 'since'],
    ['/api/v1/report?by=week', 'by'],
    ['/api/v1/report?by=DAY', 'by'],
    ['/api/v1/report?by=day&by=tag', 'by'],
    ['/api/v1/report?limit=10', 'limit'],
    ['/api/v1/report?foo=1', 'foo'],
    ['/api/v1/report?%zz=1', '%zz'],
    [`/api/v1/report?tag=${longTag}`, 'tag'],
    [`/api/v1/report?${manyTags}`, 'tag'],
    ['/api/v1/report?tag=a%00b', 'tag'],
    [`/api/v1/report?from=${'a'.repeat(300)}%40shop.example`, 'from'],
    ['/api/v1/sends?limit=0', 'limit'],
    ['/api/v1/sends?limit=-1', 'limit'],
    ['/api/v1/sends?limit=abc', 'limit'],
    ['/api/v1/sends?limit=1.5', 'limit'],
    ['/api/v1/sends?limit=1e3', 'limit'],
    ['/api/v1/sends?limit=99999999999999999999', 'limit'],
    ['/api/v1/sends?by=day', 'by'],
    ['/api/v1/sends?cursor=garbage!', 'cursor'],
    ['/api/v1/sends?cursor=Z2FyYmFnZQ', 'cursor'],
    [`/api/v1/sends?cursor=${b64({ t: -1, id: 'a1' })}`, 'cursor'],
    [`/api/v1/sends?cursor=${b64({ t: 1, id: '' })}`, 'cursor'],
    [`/api/v1/sends?cursor=${b64({ t: 1, id: 'a1', extra: 1 })}`, 'cursor'],
    [`/api/v1/sends?cursor=${b64([1, 'a1'])}`, 'cursor'],
    [`/api/v1/sends?cursor=${'A'.repeat(600)}`, 'cursor'],
    ['/api/v1/sends/a1?verbose=1', 'verbose'],
    ['/api/v1/sends?status=lost', 'status'],
    ['/api/v1/sends?status=Delivered', 'status'],
    ['/api/v1/sends?reason=cosmic-rays', 'reason'],
    [`/api/v1/sends?recipient=${'a'.repeat(300)}%40example.net`, 'recipient'],
    ['/api/v1/sends?recipient=a%0Ab%40example.net', 'recipient'],
    ['/api/v1/sends?recipient=a%40x.example&recipient=b%40x.example', 'recipient'],
    ['/api/v1/sends?messageId=a%20b%40c', 'messageId'],
    [`/api/v1/sends?messageId=${'x'.repeat(600)}`, 'messageId'],
    ['/api/v1/sends?q=%20', 'q'],
    ['/api/v1/sends?q=a%00b', 'q'],
    [`/api/v1/report?since=2026-03-01&${'x'.repeat(9000)}=1`, null],
  ];

  it.each(cases)('%s → 400 naming %s', async (url, parameter) => {
    const r = await api(main, url);
    expect(r.status).toBe(400);
    expect(r.headers.get('content-type')).toMatch(/^application\/json/);
    expect(r.body['parameter']).toBe(parameter);
    expect(typeof r.body['error']).toBe('string');
    expect((r.body['error'] as string).length).toBeGreaterThan(0);
  });

  it('random query strings: 200 or 400, never a 500 (seeded)', async () => {
    let seedValue = 20260301;
    const rnd = (n: number): number => {
      seedValue = (seedValue * 1103515245 + 12345) % 2 ** 31;
      return seedValue % n;
    };
    const names = ['since', 'until', 'from', 'tag', 'by', 'limit', 'cursor', 'x', '', '%', '%zz', '[]'];
    const values = ['2026-03-01', '2026-03-01T00:00:00Z', 'day', '3', '0', '-', '%', '%%', '%e2%82', 'a@b', '\u00e9', ' ', '=', '&', '%00'];
    for (let i = 0; i < 150; i++) {
      const parts = Array.from({ length: rnd(4) }, () => `${names[rnd(names.length)]}=${values[rnd(values.length)]}`);
      const pathName = ['/api/v1/report', '/api/v1/sends', '/api/v1/sends/a1'][rnd(3)];
      const r = await api(main, `${pathName}?${parts.join('&')}`);
      expect([200, 400], `seed 20260301, case ${i}: ${pathName}?${parts.join('&')}`).toContain(r.status);
    }
  });
});

describe('transport: Basic only over loopback or behind a TLS proxy', () => {
  it('a proxy saying it got the request over plain HTTP: 403 before any password check', async () => {
    const r = await api(main, '/api/v1/report', ALPHA, { 'x-forwarded-proto': 'http' });
    expect(r.status).toBe(403);
    expect(r.headers.get('www-authenticate')).toBeNull();
    expect((await api(main, '/api/v1/report', ALPHA, { 'x-forwarded-proto': 'https' })).status).toBe(200);
  });

  it('behind a trusted TLS proxy: 403 without X-Forwarded-Proto or when the last (proxy-appended) value is not https', async () => {
    const proxied = await serve({ trustTlsProxy: true });
    try {
      const missing = await api(proxied, '/api/v1/report', ALPHA);
      expect(missing.status).toBe(403);
      expect(missing.headers.get('www-authenticate')).toBeNull();
      // The client sent "https"; the proxy appended what it really got.
      expect((await api(proxied, '/api/v1/report', ALPHA, { 'x-forwarded-proto': 'https, http' })).status).toBe(403);
      expect((await api(proxied, '/api/v1/report', ALPHA, { 'x-forwarded-proto': 'http, https' })).status).toBe(200);
      expect((await api(proxied, '/api/v1/report', ALPHA, { 'x-forwarded-proto': 'https' })).status).toBe(200);
    } finally {
      await proxied.close();
    }
  });

  it('transportRefusal / isLoopback', () => {
    expect(transportRefusal({ localAddress: '127.0.0.1', forwardedProto: undefined, trustTlsProxy: false })).toBeNull();
    expect(transportRefusal({ localAddress: '::ffff:127.0.0.1', forwardedProto: undefined, trustTlsProxy: false })).toBeNull();
    expect(transportRefusal({ localAddress: '::1', forwardedProto: undefined, trustTlsProxy: false })).toBeNull();
    expect(transportRefusal({ localAddress: '192.0.2.10', forwardedProto: undefined, trustTlsProxy: false })).toMatch(/HTTPS/);
    expect(transportRefusal({ localAddress: '2001:db8::1', forwardedProto: undefined, trustTlsProxy: false })).toMatch(/HTTPS/);
    expect(transportRefusal({ localAddress: undefined, forwardedProto: undefined, trustTlsProxy: false })).toMatch(/HTTPS/);
    expect(transportRefusal({ localAddress: '192.0.2.10', forwardedProto: 'https', trustTlsProxy: true })).toBeNull();
    expect(transportRefusal({ localAddress: '192.0.2.10', forwardedProto: 'http', trustTlsProxy: true })).toMatch(/plain HTTP/);
    // Behind the proxy: its value is the last one; missing means the request bypassed it.
    expect(transportRefusal({ localAddress: '192.0.2.10', forwardedProto: undefined, trustTlsProxy: true })).toMatch(/did not come through/);
    expect(transportRefusal({ localAddress: '192.0.2.10', forwardedProto: '', trustTlsProxy: true })).toMatch(/did not come through/);
    expect(transportRefusal({ localAddress: '127.0.0.1', forwardedProto: undefined, trustTlsProxy: true })).toMatch(/did not come through/);
    expect(transportRefusal({ localAddress: '192.0.2.10', forwardedProto: 'https, http', trustTlsProxy: true })).toMatch(/plain HTTP/);
    expect(transportRefusal({ localAddress: '192.0.2.10', forwardedProto: 'http, https', trustTlsProxy: true })).toBeNull();
    expect(transportRefusal({ localAddress: '127.0.0.1', forwardedProto: 'https,http', trustTlsProxy: false })).toMatch(/plain HTTP/);
    expect(transportRefusal({ localAddress: '127.0.0.1', forwardedProto: 'http, https', trustTlsProxy: false })).toBeNull();
    expect(isLoopback('127.8.9.10')).toBe(true);
    expect(isLoopback('128.0.0.1')).toBe(false);
    expect(isLoopback('::2')).toBe(false);
  });

  it('parseBasicAuth: the password may hold colons and UTF-8', () => {
    expect(parseBasicAuth(basic('u@x.example', 'a:b:ç'))).toEqual({ login: 'u@x.example', password: 'a:b:ç' });
    expect(parseBasicAuth(`basic ${Buffer.from('u@x.example:').toString('base64')}`)).toEqual({ login: 'u@x.example', password: '' });
    expect(parseBasicAuth(`Basic ${Buffer.from(':pw').toString('base64')}`)).toBeNull();
    expect(parseBasicAuth(undefined)).toBeNull();
    expect(parseBasicAuth(`Basic ${'A'.repeat(5000)}`)).toBeNull();
  });
});

describe('logs', () => {
  it('never carry a password', () => {
    const text = JSON.stringify(logger.lines);
    expect(text).not.toContain(PASSWORD_A);
    expect(text).not.toContain(PASSWORD_B);
    expect(logger.lines.filter((l) => l.level === 'error')).toEqual([]);
  });
});
