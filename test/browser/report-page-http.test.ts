/**
 * The report page over plain HTTP (no browser): where it is served, its content types and
 * headers (the strict CSP, the service's security headers), that it is only there with the
 * reports API, that the HTML has no inline script or style, and that the script served is the
 * browser source file as written and compiles.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Script } from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CredentialVerifier } from '../../src/auth/credentials.js';
import { REPORT_PAGE_CSP, REPORT_PAGE_SCRIPT_FILE } from '../../src/http/report-page.js';
import { INDEX_HTML } from '../../src/http/report-page/assets.js';
import { HttpService } from '../../src/http/server.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { get, KEYS, recordingLogger } from '../http/helpers.js';

interface Served {
  base: string;
  service: HttpService;
}

const dir = mkdtempSync(path.join(tmpdir(), 'trx-page-'));
let store: SqliteStore;
let withReports: Served;
let without: Served;

async function serve(reports: boolean): Promise<Served> {
  const service = new HttpService({
    store,
    keys: KEYS,
    logger: recordingLogger(),
    basePath: '/mail',
    ...(reports ? { reports: { store, credentials: new CredentialVerifier(store) } } : {}),
  });
  const { host, port } = await service.listen('127.0.0.1', 0);
  return { base: `http://${host}:${port}`, service };
}

beforeAll(async () => {
  store = SqliteStore.open(path.join(dir, 'trxmail.db'));
  withReports = await serve(true);
  without = await serve(false);
});
afterAll(async () => {
  await withReports.service.close();
  await without.service.close();
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

const FILES: [string, RegExp][] = [
  ['/report', /^text\/html; charset=utf-8$/],
  ['/report/app.js', /^text\/javascript; charset=utf-8$/],
  ['/report/style.css', /^text\/css; charset=utf-8$/],
];

describe('the report page is served', () => {
  it('at the root and under the base path, with its content type, the page CSP and the security headers', async () => {
    for (const prefix of ['', '/mail']) {
      for (const [file, type] of FILES) {
        const r = await get(`${withReports.base}${prefix}${file}?since=2026-03-01`);
        expect(r.status, file).toBe(200);
        expect(r.headers.get('content-type'), file).toMatch(type);
        expect(r.headers.get('content-security-policy')).toBe(REPORT_PAGE_CSP);
        expect(r.headers.get('x-content-type-options')).toBe('nosniff');
        expect(r.headers.get('referrer-policy')).toBe('no-referrer');
        expect(r.headers.get('x-robots-tag')).toBe('noindex, nofollow');
        expect(r.headers.get('cache-control')).toBe('no-store');
        expect(r.body.length).toBeGreaterThan(100);
      }
    }
  });

  it('the CSP allows only self scripts, styles and connections: no inline, no other origin, no frames', () => {
    const d = new Map(REPORT_PAGE_CSP.split(';').map((p) => p.trim().split(/\s+/)).map(([k, ...v]) => [k, v.join(' ')]));
    expect(d.get('default-src')).toBe("'none'");
    expect(d.get('script-src')).toBe("'self'");
    expect(d.get('style-src')).toBe("'self'");
    expect(d.get('connect-src')).toBe("'self'");
    expect(d.get('frame-ancestors')).toBe("'none'");
    expect(d.get('base-uri')).toBe("'none'");
    expect(REPORT_PAGE_CSP).not.toMatch(/unsafe|\*|https?:|data:/);
  });

  it('the HTML has no inline script, event handler or style, and loads its assets relative to /report', () => {
    for (const m of INDEX_HTML.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/g)) {
      expect(m[1]).toMatch(/\bsrc="report\/app\.js"/);
      expect(m[2]).toBe('');
    }
    expect(INDEX_HTML).not.toMatch(/\son[a-z]+=/i);
    expect(INDEX_HTML).not.toMatch(/\sstyle=|<style/i);
    expect(INDEX_HTML).toContain('href="report/style.css"');
    expect(INDEX_HTML).not.toMatch(/(src|href)="(\/|https?:)/);
  });

  it('the script served is the browser source file, byte for byte', async () => {
    const file = path.join(import.meta.dirname, '..', '..', 'src', 'http', 'report-page', 'browser', 'app.js');
    expect(REPORT_PAGE_SCRIPT_FILE).toBe(file);
    const source = readFileSync(file);
    for (const prefix of ['', '/mail']) expect((await get(`${withReports.base}${prefix}/report/app.js`)).body.equals(source)).toBe(true);
  });

  it('the script compiles, is type-checked, and never builds markup from strings', () => {
    const script = readFileSync(REPORT_PAGE_SCRIPT_FILE, 'utf8');
    expect(() => new Script(script)).not.toThrow();
    expect(script.startsWith('// @ts-check\n')).toBe(true);
    expect(script).not.toMatch(/innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\(|new Function/);
    expect(script).not.toMatch(/\.style\b|setAttribute\('style'/);
  });

  it('nothing else under /report, and no page without the reports API', async () => {
    for (const p of ['/report/', '/report/app.js/', '/report/other.js', '/report/../health/x', '/reports', '/mail/report/']) {
      expect((await get(`${withReports.base}${p}`)).status, p).toBe(404);
    }
    for (const p of ['/report', '/mail/report', '/report/app.js']) {
      const r = await get(`${without.base}${p}`);
      expect(r.status, p).toBe(404);
      expect(r.headers.get('content-security-policy')).toBe("default-src 'none'; frame-ancestors 'none'");
    }
  });
});
