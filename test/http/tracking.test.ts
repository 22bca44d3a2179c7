import { createServer, request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { HEALTH_TIMEOUT_MS, NOT_FOUND_BODY, TRANSPARENT_GIF } from '../../src/http/server.js';
import { TransientError } from '../../src/lib/errors.js';
import type { HmacKey } from '../../src/lib/hmac-keys.js';
import { MAX_TRACKING_TOKEN_LENGTH, MAX_USER_AGENT_LENGTH } from '../../src/lib/limits.js';
import type { Store } from '../../src/store/store.js';
import { TrackingLinks } from '../../src/tracking/links.js';
import { signTrackingToken } from '../../src/tracking/token.js';
import { holdSqliteWriteLock } from '../helpers/sqlite-lock.js';
import { CHROME, KEYS, RCPT, SEND_ID, get, startHarness, type Harness } from './helpers.js';

/** Token part of a tracking URL. */
const tokenOf = (url: string): string => url.slice(url.lastIndexOf('/') + 1);

/** Reads the parts of a GIF a viewer needs, independently of the production constant. */
function gifFacts(b: Buffer) {
  const gct = b[10]! & 0x80 ? 3 * 2 ** ((b[10]! & 7) + 1) : 0;
  const ext = 13 + gct;
  return {
    signature: b.subarray(0, 6).toString('latin1'),
    width: b.readUInt16LE(6),
    height: b.readUInt16LE(8),
    gce: b[ext] === 0x21 && b[ext + 1] === 0xf9,
    transparent: (b[ext + 3]! & 1) === 1,
    transparentIndex: b[ext + 6],
    imageSeparator: b[ext + 8],
    trailer: b[b.length - 1],
  };
}

describe('HTTP tracking service', () => {
  let h: Harness;
  let links: TrackingLinks;

  beforeAll(async () => {
    h = await startHarness();
    links = new TrackingLinks(h.base, KEYS);
  });
  afterAll(async () => {
    await h.close();
  });

  const events = () => h.store.listEvents(SEND_ID);

  describe('open pixel', () => {
    it('serves the 43-byte transparent GIF with no-store caching and records an open with the user agent', async () => {
      const before = (await events()).length;
      const r = await get(links.pixelUrl(SEND_ID, RCPT), { headers: { 'user-agent': CHROME } });
      expect(r.status).toBe(200);
      expect(r.headers.get('content-type')).toBe('image/gif');
      expect(r.headers.get('cache-control')).toBe('no-store, max-age=0');
      expect(r.headers.get('x-content-type-options')).toBe('nosniff');
      expect(r.body.length).toBe(43);
      expect(r.body.equals(TRANSPARENT_GIF)).toBe(true);
      expect(gifFacts(r.body)).toEqual({
        signature: 'GIF89a',
        width: 1,
        height: 1,
        gce: true,
        transparent: true,
        transparentIndex: 0,
        imageSeparator: 0x2c,
        trailer: 0x3b,
      });
      const all = await events();
      expect(all).toHaveLength(before + 1);
      expect(all.at(-1)).toMatchObject({
        sendId: SEND_ID,
        recipient: RCPT,
        type: 'opened',
        detail: { userAgent: CHROME, machine: false, machineReason: null },
      });
      expect(Object.keys(all.at(-1)!.detail).sort()).toEqual(['machine', 'machineReason', 'userAgent']);
    });

    it('records each fetch (no caching) and never the client address', async () => {
      const before = (await events()).length;
      const url = links.pixelUrl(SEND_ID, RCPT);
      await get(url, { headers: { 'user-agent': CHROME } });
      await get(url, { headers: { 'user-agent': CHROME } });
      const all = await events();
      expect(all).toHaveLength(before + 2);
      expect(JSON.stringify(all)).not.toContain('127.0.0.1');
    });

    it('answers HEAD with the headers only and records it as machine traffic', async () => {
      const r = await get(links.pixelUrl(SEND_ID, RCPT), { method: 'HEAD', headers: { 'user-agent': CHROME } });
      expect(r.status).toBe(200);
      expect(r.headers.get('content-type')).toBe('image/gif');
      expect(r.body.length).toBe(0);
      expect((await events()).at(-1)).toMatchObject({ type: 'opened', detail: { machine: true, machineReason: 'method:HEAD' } });
    });

    it('marks an image proxy and a missing user agent as machine traffic', async () => {
      const proxy = 'Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)';
      await get(links.pixelUrl(SEND_ID, RCPT), { headers: { 'user-agent': proxy } });
      expect((await events()).at(-1)).toMatchObject({
        type: 'opened',
        detail: { userAgent: proxy, machine: true, machineReason: 'image-proxy:GoogleImageProxy' },
      });
      await get(links.pixelUrl(SEND_ID, RCPT), { headers: { 'user-agent': '' } });
      expect((await events()).at(-1)).toMatchObject({ detail: { userAgent: '', machine: true, machineReason: 'no-user-agent' } });
    });

    it(`keeps at most MAX_USER_AGENT_LENGTH (${MAX_USER_AGENT_LENGTH}) characters of the user agent`, async () => {
      const long = CHROME + ' ' + 'x'.repeat(MAX_USER_AGENT_LENGTH);
      await get(links.pixelUrl(SEND_ID, RCPT), { headers: { 'user-agent': long } });
      const ua = (await events()).at(-1)!.detail['userAgent'];
      expect(ua).toBe(long.slice(0, MAX_USER_AGENT_LENGTH));
    });
  });

  describe('click redirect', () => {
    const tricky: Array<[string, string, string]> = [
      ['plain', 'https://shop.example/product/42', 'https://shop.example/product/42'],
      ['percent-encoded slash', 'https://shop.example/a%2Fb/c%2f', 'https://shop.example/a%2Fb/c%2f'],
      ['query order and repeats', 'https://shop.example/?b=2&a=1&b=0&=x&&', 'https://shop.example/?b=2&a=1&b=0&=x&&'],
      ['fragment', 'https://shop.example/page?x=1#section-2', 'https://shop.example/page?x=1#section-2'],
      [
        'nested encoded URL',
        'https://r.example/go?u=https%3A%2F%2Fx.example%2Fa%3Fb%3D1%26c%3D2&sig=a%2Bb%3D',
        'https://r.example/go?u=https%3A%2F%2Fx.example%2Fa%3Fb%3D1%26c%3D2&sig=a%2Bb%3D',
      ],
      ['upper-case scheme, port, dot segments', 'HTTP://Shop.Example:8080/a/../b', 'HTTP://Shop.Example:8080/a/../b'],
      ['unicode IDN host and path', 'https://bücher.example/straße?q=ä#ü', 'https://xn--bcher-kva.example/stra%C3%9Fe?q=%C3%A4#%C3%BC'],
    ];

    it.each(tricky)('redirects with 302 to the exact original URL (%s) and records the click', async (_label, url, location) => {
      const before = (await events()).length;
      const r = await get(links.clickUrl(SEND_ID, RCPT, url)!, { headers: { 'user-agent': CHROME } });
      expect(r.status).toBe(302);
      expect(r.headers.get('location')).toBe(location);
      expect(new URL(r.headers.get('location')!).href).toBe(new URL(url).href);
      expect(r.headers.get('cache-control')).toBe('no-store');
      expect(r.headers.get('referrer-policy')).toBe('no-referrer');
      expect(r.headers.get('x-content-type-options')).toBe('nosniff');
      const all = await events();
      expect(all).toHaveLength(before + 1);
      expect(all.at(-1)).toMatchObject({
        sendId: SEND_ID,
        recipient: RCPT,
        type: 'clicked',
        detail: { url, userAgent: CHROME, machine: false, machineReason: null },
      });
    });

    it('lands on the exact original URL when the redirect is followed', async () => {
      const seen: string[] = [];
      const landingServer = createServer((req, res) => {
        seen.push(req.url ?? '');
        res.end('landed');
      });
      await new Promise<void>((resolve) => landingServer.listen(0, '127.0.0.1', resolve));
      try {
        const { port } = landingServer.address() as AddressInfo;
        const landing = `http://127.0.0.1:${port}/land/a%2Fb?b=2&a=1&u=https%3A%2F%2Fx.example%2F`;
        const res = await fetch(links.clickUrl(SEND_ID, RCPT, landing)!, { headers: { 'user-agent': CHROME } });
        expect(await res.text()).toBe('landed');
        expect(res.url).toBe(landing);
        expect(seen).toEqual(['/land/a%2Fb?b=2&a=1&u=https%3A%2F%2Fx.example%2F']);
      } finally {
        landingServer.close();
      }
    });

    it('marks link scanners, HEAD checks and command-line clients as machine clicks', async () => {
      const url = links.clickUrl(SEND_ID, RCPT, 'https://shop.example/scan')!;
      for (const [init, reason] of [
        [{ headers: { 'user-agent': 'Mozilla/5.0 (compatible; Mimecast URL Protect)' } }, 'link-scanner:Mimecast'],
        [{ headers: { 'user-agent': 'curl/8.5.0' } }, 'http-library:curl'],
        [{ method: 'HEAD', headers: { 'user-agent': CHROME } }, 'method:HEAD'],
        [{ headers: { 'user-agent': CHROME, 'sec-purpose': 'prefetch' } }, 'prefetch'],
      ] as Array<[RequestInit, string]>) {
        const r = await get(url, init);
        expect(r.status).toBe(302);
        expect(r.headers.get('location')).toBe('https://shop.example/scan');
        expect((await events()).at(-1)).toMatchObject({ type: 'clicked', detail: { url: 'https://shop.example/scan', machine: true, machineReason: reason } });
      }
    });
  });

  describe('refusals', () => {
    const other: HmacKey = { id: 'h2', secret: 'some other key, 16+ bytes' };

    function badUrls(): Array<[string, string]> {
      const pixel = links.pixelUrl(SEND_ID, RCPT);
      const click = links.clickUrl(SEND_ID, RCPT, 'https://shop.example/x')!;
      const ct = tokenOf(click);
      const flip = (t: string, i: number) => t.slice(0, i) + (t[i] === 'A' ? 'B' : 'A') + t.slice(i + 1);
      const forged = signTrackingToken({ kind: 'click', sendId: SEND_ID, recipient: RCPT, url: 'https://evil.example/' }, [
        { id: 'h1', secret: 'attacker guessed secret 1234' },
      ])!;
      return [
        ['edited first character', `${h.base}/c/${flip(ct, 0)}`],
        ['edited middle character', `${h.base}/c/${flip(ct, Math.floor(ct.length / 2))}`],
        ['edited last character', `${h.base}/c/${flip(ct, ct.length - 1)}`],
        ['truncated', `${h.base}/c/${ct.slice(0, -1)}`],
        ['extended', `${h.base}/c/${ct}A`],
        ['forged with a guessed key', `${h.base}/c/${forged}`],
        ['signed with a key not configured', new TrackingLinks(h.base, [other]).clickUrl(SEND_ID, RCPT, 'https://shop.example/x')!],
        ['open token on the click path', `${h.base}/c/${tokenOf(pixel)}`],
        ['click token on the open path', `${h.base}/o/${ct}`],
        ['garbage', `${h.base}/c/hello`],
        ['not base64url', `${h.base}/c/${ct.slice(0, 10)}.${ct.slice(11)}`],
        ['malformed percent-encoding', `${h.base}/c/%E0%A4%A`],
        ['percent-encoded slash', `${h.base}/c/${ct.slice(0, 5)}%2F${ct.slice(5)}`],
        ['too long', `${h.base}/c/${'A'.repeat(MAX_TRACKING_TOKEN_LENGTH + 1)}`],
        ['empty token', `${h.base}/c/`],
        ['unknown path', `${h.base}/x/${ct}`],
        ['root', `${h.base}/`],
        ['trailing slash', `${click}/`],
      ];
    }

    it('answers every bad, edited, forged, other-key or wrong-kind token with the same 404 and records nothing', async () => {
      const before = (await events()).length;
      const seen = new Set<string>();
      for (const [label, url] of badUrls()) {
        const r = await get(url, { headers: { 'user-agent': CHROME } });
        expect(r.status, label).toBe(404);
        expect(r.headers.get('location'), label).toBeNull();
        expect(r.body.toString(), label).toBe(NOT_FOUND_BODY);
        seen.add(`${r.headers.get('content-type')}|${r.headers.get('content-length')}|${r.headers.get('cache-control')}|${r.headers.get('x-content-type-options')}`);
      }
      expect([...seen]).toEqual([`text/plain; charset=utf-8|${NOT_FOUND_BODY.length}|no-store|nosniff`]);
      expect(await events()).toHaveLength(before);
    });

    it('answers other methods on a valid token with the same 404', async () => {
      const url = links.clickUrl(SEND_ID, RCPT, 'https://shop.example/x')!;
      for (const method of ['POST', 'PUT', 'DELETE', 'OPTIONS']) {
        const r = await get(url, { method, headers: { 'user-agent': CHROME } });
        expect(r.status, method).toBe(404);
        expect(r.body.toString()).toBe(NOT_FOUND_BODY);
      }
    });

    it('does not reveal anything in logs: no token, address or user agent', () => {
      const text = JSON.stringify(h.logger.lines);
      expect(text).not.toContain(RCPT);
      expect(text).not.toContain(tokenOf(links.pixelUrl(SEND_ID, RCPT)));
      expect(text).not.toContain('Chrome/126');
    });

    it('still redirects a valid token of a send the store does not know, and logs a warning', async () => {
      const url = links.clickUrl('gone123', RCPT, 'https://shop.example/old')!;
      const r = await get(url, { headers: { 'user-agent': CHROME } });
      expect(r.status).toBe(302);
      expect(r.headers.get('location')).toBe('https://shop.example/old');
      expect(h.logger.lines.some((l) => l.level === 'warn' && l.obj['sendId'] === 'gone123')).toBe(true);
      expect(await h.store.listEvents('gone123')).toEqual([]);
    });

    it('rejects a request line longer than Node allows without reaching the handler', async () => {
      const status = await new Promise<number>((resolve, reject) => {
        const u = new URL(h.base);
        const req = httpRequest({ host: u.hostname, port: u.port, path: '/c/' + 'A'.repeat(20_000), method: 'GET' }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.on('error', reject);
        req.end();
      });
      expect(status).toBe(431);
    });
  });

  describe('health', () => {
    it('waits less than a second for the store (HEALTH_TIMEOUT_MS)', () => {
      expect(HEALTH_TIMEOUT_MS).toBeLessThan(1000);
    });

    it('answers 200 {"status":"ok"}', async () => {
      const r = await get(`${h.base}/health`);
      expect(r.status).toBe(200);
      expect(r.headers.get('content-type')).toMatch(/^application\/json/);
      expect(JSON.parse(r.body.toString())).toEqual({ status: 'ok' });
    });
  });
});

describe('HTTP tracking service when the store fails', () => {
  let h: Harness | null = null;
  afterEach(async () => {
    await h?.service.close();
    h = null;
  });

  it('health says 503 while another process holds the SQLite write lock, answered before a waiting write settles; 200 once it lets go', async () => {
    h = await startHarness();
    // Another process (as an operator's sqlite3 shell in a transaction would) takes the write lock.
    const lock = await holdSqliteWriteLock(path.join(h.dir, 'trxmail.db'));
    const order: string[] = [];
    const write = h.store.createSpace({ name: 'while-locked' }).then(() => order.push('write done'));
    const health = await get(`${h.base}/health`);
    order.push('health answered');
    expect(health.status).toBe(503);
    expect(JSON.parse(health.body.toString())).toEqual({ status: 'unavailable' });
    expect(h.logger.lines.some((l) => l.level === 'warn' && /locked by another process/.test(String(l.obj['err'])))).toBe(true);
    await lock.release();
    await write;
    expect(order).toEqual(['health answered', 'write done']);
    expect((await get(`${h.base}/health`)).status).toBe(200);
    await h.store.close();
  });

  it('still serves the GIF and the redirect when recording fails, logs an error; health says 503', async () => {
    h = await startHarness();
    const links = new TrackingLinks(h.base, KEYS);
    await h.store.close(); // every store call now fails with TransientError
    const pixel = await get(links.pixelUrl(SEND_ID, RCPT), { headers: { 'user-agent': CHROME } });
    expect(pixel.status).toBe(200);
    expect(pixel.body.equals(TRANSPARENT_GIF)).toBe(true);
    const click = await get(links.clickUrl(SEND_ID, RCPT, 'https://shop.example/a?b=1')!, { headers: { 'user-agent': CHROME } });
    expect(click.status).toBe(302);
    expect(click.headers.get('location')).toBe('https://shop.example/a?b=1');
    const errors = h.logger.lines.filter((l) => l.level === 'error');
    expect(errors.map((l) => l.obj['type'])).toEqual(['opened', 'clicked']);
    expect(errors.every((l) => l.obj['sendId'] === SEND_ID)).toBe(true);
    const health = await get(`${h.base}/health`);
    expect(health.status).toBe(503);
    expect(JSON.parse(health.body.toString())).toEqual({ status: 'unavailable' });
    expect(health.body.toString()).not.toMatch(/closed|Error|at /);
  });

  it('does not keep the person waiting on a store that hangs', async () => {
    h = await startHarness();
    const real = h.store;
    const hanging = new Promise<never>(() => undefined);
    const stuck: Pick<Store, 'addEvent' | 'addListEntry' | 'health'> = { addEvent: () => hanging, addListEntry: () => hanging, health: () => hanging };
    await h.service.close();
    const { HttpService } = await import('../../src/http/server.js');
    const service = new HttpService({ store: stuck, keys: KEYS, logger: h.logger, storeTimeoutMs: 50 });
    const { port } = await service.listen('127.0.0.1', 0);
    try {
      const links = new TrackingLinks(`http://127.0.0.1:${port}`, KEYS);
      expect((await get(links.clickUrl(SEND_ID, RCPT, 'https://shop.example/')!)).status).toBe(302);
      expect((await get(links.pixelUrl(SEND_ID, RCPT))).status).toBe(200);
      expect((await get(`http://127.0.0.1:${port}/health`)).status).toBe(503);
      expect(h.logger.lines.filter((l) => l.level === 'error' && l.obj['timeoutMs'] === 50)).toHaveLength(2);
    } finally {
      await service.close();
      await real.close();
    }
  });

  it('a store that throws synchronously is a failure like any other', async () => {
    h = await startHarness();
    await h.service.close();
    const { HttpService } = await import('../../src/http/server.js');
    const throwing: Pick<Store, 'addEvent' | 'addListEntry' | 'health'> = {
      addEvent: () => {
        throw new TransientError('ESTORE_IO', 'disk gone');
      },
      addListEntry: () => {
        throw new TransientError('ESTORE_IO', 'disk gone');
      },
      health: () => {
        throw new TransientError('ESTORE_IO', 'disk gone');
      },
    };
    const service = new HttpService({ store: throwing, keys: KEYS, logger: h.logger });
    const { port } = await service.listen('127.0.0.1', 0);
    try {
      const links = new TrackingLinks(`http://127.0.0.1:${port}`, KEYS);
      expect((await get(links.pixelUrl(SEND_ID, RCPT))).status).toBe(200);
      expect((await get(`http://127.0.0.1:${port}/health`)).status).toBe(503);
    } finally {
      await service.close();
      await h.store.close();
    }
  });
});

describe('HTTP tracking service on an internal error', () => {
  it('answers 500 with a fixed body (no message, no stack) and logs the error', async () => {
    const h = await startHarness({
      clock: () => {
        throw new Error('boom: secret internals');
      },
    });
    try {
      const r = await get(new TrackingLinks(h.base, KEYS).pixelUrl(SEND_ID, RCPT));
      expect(r.status).toBe(500);
      expect(r.body.toString()).toBe('Internal Server Error\n');
      expect(r.headers.get('x-content-type-options')).toBe('nosniff');
      expect(h.logger.lines.some((l) => l.level === 'error' && String(l.obj['err']).includes('boom'))).toBe(true);
    } finally {
      await h.close();
    }
  });
});

describe('HTTP tracking service under a base path', () => {
  it('answers under the path of the base URL and at the root', async () => {
    const h = await startHarness({ basePath: '/mail/' });
    try {
      const prefixed = new TrackingLinks(`${h.base}/mail`, KEYS);
      const bare = new TrackingLinks(h.base, KEYS);
      expect((await get(prefixed.pixelUrl(SEND_ID, RCPT))).status).toBe(200);
      expect((await get(bare.pixelUrl(SEND_ID, RCPT))).status).toBe(200);
      const r = await get(prefixed.clickUrl(SEND_ID, RCPT, 'https://shop.example/p')!);
      expect(r.status).toBe(302);
      expect((await get(`${h.base}/mail/health`)).status).toBe(200);
      expect((await get(`${h.base}/other/o/${tokenOf(bare.pixelUrl(SEND_ID, RCPT))}`)).status).toBe(404);
      expect(await h.store.listEvents(SEND_ID)).toHaveLength(3);
    } finally {
      await h.close();
    }
  });

  it('refuses to listen on an address it cannot bind, with a ConfigError', async () => {
    const h = await startHarness();
    try {
      const { HttpService } = await import('../../src/http/server.js');
      const port = Number(new URL(h.base).port);
      const second = new HttpService({ store: h.store, keys: KEYS, logger: h.logger });
      await expect(second.listen('127.0.0.1', port)).rejects.toThrow(/http: cannot listen on 127\.0\.0\.1:\d+/);
      await second.close();
    } finally {
      await h.close();
    }
  });
});
