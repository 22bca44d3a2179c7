/**
 * Test helpers for the HTTP service: a real SQLite store in a temporary file with one space,
 * user and send, the service listening on 127.0.0.1:0, a recording logger.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { HttpService, type HttpLogger, type HttpServiceOptions } from '../../src/http/server.js';
import type { HmacKey } from '../../src/lib/hmac-keys.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import type { NewSend, Store } from '../../src/store/store.js';

export const KEYS: readonly HmacKey[] = [{ id: 'h1', secret: 'http test secret, 16+ bytes' }];
export const SEND_ID = '4jXQZB3dVKzJ9Ft';
export const RCPT = 'alice@example.org';
export const CHROME = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36';

export interface LogLine {
  level: 'debug' | 'info' | 'warn' | 'error';
  obj: Record<string, unknown>;
  msg: string;
}

export function recordingLogger(): HttpLogger & { lines: LogLine[] } {
  const lines: LogLine[] = [];
  const at =
    (level: LogLine['level']) =>
    (obj: Record<string, unknown>, msg: string): void => {
      lines.push({ level, obj, msg });
    };
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

export function newSend(id: string, spaceId: number, userId: number, to = RCPT): NewSend {
  return {
    id,
    spaceId,
    userId,
    mailFrom: 'news@shop.example',
    envelopeSender: `trx-${spaceId}-x-y@bounces.example`,
    from: 'news@shop.example',
    to,
    bcc: 'copy@example.org',
    discarded: [],
    tags: ['t'],
    flags: 3,
    flagsSource: 'default',
    receivedAt: new Date(Date.UTC(2026, 10, 10, 12)),
    recipients: [
      { address: to, role: 'to', status: 'queued', suppressedBy: null, detail: null },
      { address: 'copy@example.org', role: 'bcc', status: 'queued', suppressedBy: null, detail: null },
    ],
  };
}

export interface Harness {
  store: Store;
  service: HttpService;
  base: string;
  logger: ReturnType<typeof recordingLogger>;
  dir: string;
  close(): Promise<void>;
}

/** A store with SEND_ID recorded, and the service on an ephemeral port. */
export async function startHarness(opts: Partial<HttpServiceOptions> & { sends?: string[] } = {}): Promise<Harness> {
  const dir = mkdtempSync(path.join(tmpdir(), 'trx-http-'));
  const store = SqliteStore.open(path.join(dir, 'trxmail.db'));
  const space = await store.createSpace({ name: 'shop' });
  const user = await store.createUser({ spaceId: space.id, email: 'app@shop.example', passwordHash: 'scrypt$x' });
  for (const id of opts.sends ?? [SEND_ID]) await store.recordSend(newSend(id, space.id, user.id));
  const logger = recordingLogger();
  const service = new HttpService({ store, keys: KEYS, logger, ...opts });
  const { host, port } = await service.listen('127.0.0.1', 0);
  return {
    store,
    service,
    base: `http://${host}:${port}`,
    logger,
    dir,
    async close() {
      await service.close();
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** fetch without following redirects; the body read as bytes. */
export async function get(url: string, init: RequestInit = {}): Promise<{ status: number; headers: Headers; body: Buffer }> {
  const res = await fetch(url, { redirect: 'manual', ...init });
  return { status: res.status, headers: res.headers, body: Buffer.from(await res.arrayBuffer()) };
}
