/**
 * The webhook dispatcher against a real HTTP receiver (node:http on 127.0.0.1) and a real
 * SQLite store. The receiver checks every signature itself with node:crypto (not with
 * src/webhooks/signature.ts). The clock is injected: retries are driven by moving it, never
 * by sleeping.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/lib/logger.js';
import { createMetrics } from '../../src/metrics/metrics.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import type { EventType, NewSend, Space, User } from '../../src/store/store.js';
import { WEBHOOK_EXPIRY_MS, WEBHOOK_FIRST_RETRY_MS, WEBHOOK_MAX_RETRY_MS } from '../../src/webhooks/backoff.js';
import { WebhookDispatcher } from '../../src/webhooks/dispatcher.js';

const SECRET = 'whsec-test-0123456789';

interface Received {
  headers: http.IncomingHttpHeaders;
  body: string;
  json: Record<string, unknown>;
  signatureOk: boolean;
}

/** Independent check: hex HMAC-SHA256(secret, timestamp + "." + body), "v1=" prefix. */
function signatureValid(secret: string, headers: http.IncomingHttpHeaders, body: string): boolean {
  const ts = headers['x-trxmail-timestamp'];
  const sig = headers['x-trxmail-signature'];
  if (typeof ts !== 'string' || typeof sig !== 'string' || !sig.startsWith('v1=')) return false;
  const want = createHmac('sha256', secret).update(`${ts}.${body}`).digest();
  const got = Buffer.from(sig.slice(3), 'hex');
  return got.length === want.length && timingSafeEqual(got, want);
}

class Receiver {
  readonly received: Received[] = [];
  status = 200;
  hang = false;
  private server: http.Server | null = null;
  port = 0;
  private waiters: Array<{ n: number; resolve: () => void }> = [];

  async start(port = 0): Promise<void> {
    const server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        if (this.hang) return;
        const body = Buffer.concat(chunks).toString('utf8');
        if (this.status >= 200 && this.status < 300) {
          this.received.push({ headers: req.headers, body, json: JSON.parse(body) as Record<string, unknown>, signatureOk: signatureValid(SECRET, req.headers, body) });
          this.waiters = this.waiters.filter((w) => (this.received.length >= w.n ? (w.resolve(), false) : true));
        }
        res.writeHead(this.status).end('ok');
      });
    });
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    this.server = server;
    this.port = (server.address() as AddressInfo).port;
  }

  waitFor(n: number): Promise<void> {
    if (this.received.length >= n) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ n, resolve }));
  }

  async stop(): Promise<void> {
    const s = this.server;
    this.server = null;
    if (!s) return;
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
}

let store: SqliteStore;
let space: Space;
let other: Space;
let user: User;
let otherUser: User;
let receiver: Receiver;
let now: number;
const clock = (): Date => new Date(now);

function newSend(id: string, over: Partial<NewSend> = {}): NewSend {
  return {
    id,
    spaceId: space.id,
    userId: user.id,
    mailFrom: 'news@shop.example',
    envelopeSender: `trx-${id}@bounces.example`,
    from: 'news@shop.example',
    to: 'rcpt@example.net',
    bcc: null,
    discarded: [],
    tags: [],
    flags: 3,
    flagsSource: 'default',
    receivedAt: clock(),
    recipients: [{ address: 'rcpt@example.net', role: 'to', status: 'queued', suppressedBy: null, detail: null }],
    ...over,
  };
}

const event = (sendId: string, type: EventType, detail: Record<string, unknown> = {}) =>
  store.addEvent({ sendId, recipient: 'rcpt@example.net', type, at: clock(), detail });

function dispatcher(over: Partial<ConstructorParameters<typeof WebhookDispatcher>[0]> = {}): WebhookDispatcher {
  return new WebhookDispatcher({ store, logger: silentLogger, clock, random: () => 0.5, metrics: createMetrics(), concurrency: 20, ...over });
}

beforeEach(async () => {
  // A minute ahead of the wall clock, which stamps outbox rows (due when queued).
  now = Date.now() + 60_000;
  store = SqliteStore.open(':memory:');
  space = await store.createSpace({ name: 'shop' });
  other = await store.createSpace({ name: 'other' });
  user = await store.createUser({ spaceId: space.id, email: 'app@shop.example', passwordHash: 'x' });
  otherUser = await store.createUser({ spaceId: other.id, email: 'app@other.example', passwordHash: 'x' });
  receiver = new Receiver();
  await receiver.start();
  await store.setWebhook({ spaceId: space.id, url: `http://127.0.0.1:${receiver.port}/hook`, secret: SECRET });
});

afterEach(async () => {
  await receiver.stop();
  await store.close();
});

describe('webhook dispatcher', () => {
  it('delivers every event type, signed, with the documented body', async () => {
    await store.recordSend(
      newSend('Q1', {
        bcc: 'copy@example.org',
        recipients: [
          { address: 'rcpt@example.net', role: 'to', status: 'queued', suppressedBy: null, detail: null },
          { address: 'copy@example.org', role: 'bcc', status: 'suppressed', suppressedBy: 'unsubscribe', detail: 'opted out' },
        ],
      }),
    );
    await store.recordSend(newSend('O1', { spaceId: other.id, userId: otherUser.id }));
    await event('O1', 'delivered'); // space without a webhook: never sent
    await event('Q1', 'accepted'); // not a webhook event
    for (const t of ['delivered', 'deferred', 'bounced', 'opened', 'clicked', 'complained'] as const) await event('Q1', t, { t });
    const metrics = createMetrics();
    const result = await dispatcher({ metrics }).runOnce();
    expect(result).toEqual({ delivered: 7, failed: 0, expired: 0 });
    expect(metrics.webhookDeliveries.get({ result: 'delivered' })).toBe(7);
    const types = receiver.received.map((r) => r.json['type']).sort();
    expect(types).toEqual(['bounced', 'clicked', 'complained', 'deferred', 'delivered', 'opened', 'suppressed']);
    for (const r of receiver.received) {
      expect(r.signatureOk).toBe(true);
      expect(Math.abs(Number(r.headers['x-trxmail-timestamp']) - now / 1000)).toBeLessThanOrEqual(1);
      expect(r.headers['content-type']).toBe('application/json; charset=utf-8');
      expect(Object.keys(r.json).sort()).toEqual(['at', 'detail', 'id', 'recipient', 'sendId', 'space', 'type']);
      expect(r.json).toMatchObject({ sendId: 'Q1', space: 'shop', at: new Date(now).toISOString() });
    }
    const supp = receiver.received.find((r) => r.json['type'] === 'suppressed');
    expect(supp?.json).toMatchObject({ recipient: 'copy@example.org', detail: { list: 'unsubscribe', reason: 'opted out' } });
    expect(receiver.received.find((r) => r.json['type'] === 'clicked')?.json['detail']).toEqual({ t: 'clicked' });
    expect(new Set(receiver.received.map((r) => r.json['id'])).size).toBe(7);
    expect(await store.webhookBacklog()).toEqual({ pending: 0, expired: 0, oldestPendingAt: null });
    // Delivered once: nothing left to send.
    expect(await dispatcher().runOnce()).toEqual({ delivered: 0, failed: 0, expired: 0 });
  });

  it("delivers a 'domain' event (a domain's check status changed) without send and recipient", async () => {
    await store.addDomain(space.id, 'shop.example');
    const missing = [{ type: 'TXT', name: '_dmarc.shop.example.', status: 'missing' }];
    await store.recordDomainCheck(space.id, 'shop.example', { status: 'incomplete', at: clock(), detail: {}, missing });
    expect(await dispatcher().runOnce()).toEqual({ delivered: 1, failed: 0, expired: 0 });
    const [r] = receiver.received;
    expect(r?.signatureOk).toBe(true);
    expect(Object.keys(r?.json ?? {}).sort()).toEqual(['at', 'detail', 'id', 'space', 'type']);
    expect(r?.json).toMatchObject({
      type: 'domain',
      space: 'shop',
      at: new Date(now).toISOString(),
      detail: { domain: 'shop.example', from: 'unchecked', to: 'incomplete', at: new Date(now).toISOString(), missing },
    });
  });

  it("delivers a 'space' event (paused, resumed) without send and recipient", async () => {
    await store.pauseSpace(space.id, { reason: 'hard-bounce rate 12.0% over 24 h (limit 10%)', at: clock(), auto: true });
    await store.pauseSpace(other.id, { reason: 'not this space', at: clock(), auto: false });
    expect(await dispatcher().runOnce()).toEqual({ delivered: 1, failed: 0, expired: 0 });
    const [r] = receiver.received;
    expect(r?.signatureOk).toBe(true);
    expect(Object.keys(r?.json ?? {}).sort()).toEqual(['at', 'detail', 'id', 'space', 'type']);
    expect(r?.json).toMatchObject({
      type: 'space',
      space: 'shop',
      at: new Date(now).toISOString(),
      detail: { state: 'paused', reason: 'hard-bounce rate 12.0% over 24 h (limit 10%)', auto: true, at: new Date(now).toISOString() },
    });
  });

  it('retries with backoff while the receiver is down (closed port, then 500) and delivers after it comes back; recording never waits', async () => {
    const port = receiver.port;
    await receiver.stop(); // closed port: connection refused
    await store.recordSend(newSend('Q2'));
    await event('Q2', 'delivered');
    const d = dispatcher();

    expect(await d.runOnce()).toEqual({ delivered: 0, failed: 1, expired: 0 });
    let [row] = await store.listWebhookDeliveries({ status: 'pending' });
    expect(row).toMatchObject({ attempts: 1 });
    expect(row?.lastError).toMatch(/ECONNREFUSED|fetch failed/);
    // First retry after WEBHOOK_FIRST_RETRY_MS with jitter in [1/2, 1] of it (random 0.5 → 3/4).
    expect(row!.nextAttemptAt.getTime() - now).toBe(Math.round(WEBHOOK_FIRST_RETRY_MS * 0.75));

    // Mail flow goes on meanwhile: sends and events are recorded (and queued) at once.
    await store.recordSend(newSend('Q3'));
    await event('Q3', 'opened');
    await event('Q3', 'clicked');
    // Not due yet: nothing is tried, no storm.
    expect(await d.runOnce()).toEqual({ delivered: 0, failed: 2, expired: 0 }); // the two new ones (due at once)
    expect(await d.runOnce()).toEqual({ delivered: 0, failed: 0, expired: 0 });

    // Back, but answering 500: still failing, the delay grows.
    await receiver.start(port);
    receiver.status = 500;
    now += WEBHOOK_FIRST_RETRY_MS;
    expect(await d.runOnce()).toEqual({ delivered: 0, failed: 3, expired: 0 });
    [row] = (await store.listWebhookDeliveries({ status: 'pending' })).filter((r) => r.sendId === 'Q2');
    expect(row).toMatchObject({ attempts: 2, lastError: 'HTTP 500' });
    expect(row!.nextAttemptAt.getTime() - now).toBe(Math.round(2 * WEBHOOK_FIRST_RETRY_MS * 0.75));

    // Healthy again: everything arrives, in full, signed.
    receiver.status = 200;
    now += WEBHOOK_MAX_RETRY_MS;
    expect(await d.runOnce()).toEqual({ delivered: 3, failed: 0, expired: 0 });
    expect(receiver.received.map((r) => `${String(r.json['sendId'])}:${String(r.json['type'])}`).sort()).toEqual(['Q2:delivered', 'Q3:clicked', 'Q3:opened']);
    expect(receiver.received.every((r) => r.signatureOk)).toBe(true);
    expect((await store.listWebhookDeliveries({ status: 'delivered' })).map((r) => r.attempts).sort()).toEqual([3, 3, 3]);
  });

  it('gives up after WEBHOOK_EXPIRY_MS and says so', async () => {
    receiver.status = 503;
    await store.recordSend(newSend('Q4'));
    await event('Q4', 'bounced');
    const metrics = createMetrics();
    const d = dispatcher({ metrics });
    expect(await d.runOnce()).toMatchObject({ failed: 1 });
    now += WEBHOOK_EXPIRY_MS;
    expect(await d.runOnce()).toEqual({ delivered: 0, failed: 0, expired: 1 });
    expect(await store.listWebhookDeliveries({})).toMatchObject([{ status: 'expired', attempts: 2, lastError: 'HTTP 503' }]);
    expect(metrics.webhookDeliveries.get({ result: 'expired' })).toBe(1);
    expect(await store.webhookBacklog()).toMatchObject({ pending: 0, expired: 1 });
  });

  it('times out a receiver that never answers, and recording does not wait for it', async () => {
    receiver.hang = true;
    await store.recordSend(newSend('Q5'));
    await event('Q5', 'opened');
    const d = dispatcher({ requestTimeoutMs: 200 });
    const pass = d.runOnce();
    // While the POST hangs, events and sends are recorded and queued.
    await store.recordSend(newSend('Q6'));
    await event('Q6', 'delivered');
    expect((await store.webhookBacklog()).pending).toBe(2);
    expect(await pass).toEqual({ delivered: 0, failed: 1, expired: 0 });
    expect((await store.listWebhookDeliveries({})).find((r) => r.sendId === 'Q5')?.lastError).toBe('timeout');
  });

  it('runs on its own timer after start(), bounded per pass by the concurrency', async () => {
    await store.recordSend(newSend('Q7'));
    for (let i = 0; i < 5; i++) await event('Q7', 'opened', { i });
    let inFlight = 0;
    let most = 0;
    const d = dispatcher({
      concurrency: 2,
      pollIntervalMs: 5,
      post: async (url, headers, body, timeoutMs) => {
        inFlight++;
        most = Math.max(most, inFlight);
        try {
          const res = await fetch(url, { method: 'POST', headers, body, signal: AbortSignal.timeout(timeoutMs) });
          return res.status;
        } finally {
          inFlight--;
        }
      },
    });
    d.start();
    await receiver.waitFor(5);
    await d.close();
    expect(receiver.received).toHaveLength(5);
    expect(most).toBeLessThanOrEqual(2);
  });
});
