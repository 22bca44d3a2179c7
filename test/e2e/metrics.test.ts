/**
 * Metrics end to end: a real send through the real Postfix (e2e stack) while the metrics
 * listener serves the process-wide registry over HTTP; /metrics read before and after shows
 * the counters move (accepted +1, end-of-message latency count +1, one SASL success).
 * Also: the webhook backlog gauge comes from the store at scrape time.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/lib/logger.js';
import { metrics } from '../../src/metrics/metrics.js';
import { METRICS_CONTENT_TYPE, MetricsServer } from '../../src/metrics/server.js';
import { startStack, submit, type Stack } from './stack.js';

const USER = 'app@metrics.example';
const PASSWORD = 'metrics password 123';
let stack: Stack;
let server: MetricsServer;
let base = '';
let removeCollector: () => void = () => undefined;

beforeAll(async () => {
  stack = await startStack();
  await stack.addSpace('metrics', ['metrics.example'], [{ email: USER, password: PASSWORD }]);
  server = new MetricsServer(metrics.registry, silentLogger);
  const a = await server.listen('127.0.0.1', 0);
  base = `http://127.0.0.1:${a.port}`;
  const store = stack.store;
  removeCollector = metrics.registry.addCollector(async () => {
    const b = await store.webhookBacklog();
    metrics.webhookBacklog.set({ status: 'pending' }, b.pending);
    metrics.webhookBacklog.set({ status: 'expired' }, b.expired);
  });
}, 120_000);

afterAll(async () => {
  removeCollector();
  await server?.close();
  await stack?.stop();
});

async function scrape(): Promise<Map<string, number>> {
  const res = await fetch(`${base}/metrics`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toBe(METRICS_CONTENT_TYPE);
  const values = new Map<string, number>();
  for (const line of (await res.text()).split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const i = line.lastIndexOf(' ');
    values.set(line.slice(0, i), Number(line.slice(i + 1)));
  }
  return values;
}

const v = (m: Map<string, number>, key: string): number => m.get(key) ?? 0;

describe('metrics over HTTP during an end-to-end send', () => {
  it('accepted +1, latency histogram count +1, auth ok +1', async () => {
    const before = await scrape();
    const raw = ['From: news@metrics.example', 'To: rcpt@example.org', 'Subject: metrics', 'X-Mxm-Flags: 0', '', 'hello', ''].join('\r\n');
    const response = await submit(stack, { user: USER, pass: PASSWORD }, { from: 'news@metrics.example', to: ['rcpt@example.org'] }, raw);
    expect(response).toMatch(/^250 2\.0\.0 Ok: queued as /);
    const after = await scrape();
    expect(v(after, 'trxmail_milter_messages_accepted_total') - v(before, 'trxmail_milter_messages_accepted_total')).toBe(1);
    expect(v(after, 'trxmail_milter_eom_duration_seconds_count') - v(before, 'trxmail_milter_eom_duration_seconds_count')).toBe(1);
    expect(v(after, 'trxmail_milter_eom_duration_seconds_bucket{le="+Inf"}')).toBe(v(after, 'trxmail_milter_eom_duration_seconds_count'));
    expect(v(after, 'trxmail_auth_attempts_total{result="ok"}') - v(before, 'trxmail_auth_attempts_total{result="ok"}')).toBe(1);
    expect(v(after, 'trxmail_milter_messages_tempfailed_total')).toBe(v(before, 'trxmail_milter_messages_tempfailed_total'));
  }, 60_000);

  it('a refused sender counts as rejected with its reason', async () => {
    const before = await scrape();
    await expect(
      submit(stack, { user: USER, pass: PASSWORD }, { from: 'x@elsewhere.example', to: ['rcpt@example.org'] }, 'Subject: x\r\n\r\nx\r\n'),
    ).rejects.toThrow();
    const after = await scrape();
    const key = [...after.keys()].find((k) => k.startsWith('trxmail_milter_messages_rejected_total{') && v(after, k) > v(before, k));
    // The policy service may refuse first (at RCPT) — then the milter never sees it; either way no accept.
    expect(v(after, 'trxmail_milter_messages_accepted_total')).toBe(v(before, 'trxmail_milter_messages_accepted_total'));
    if (key !== undefined) expect(key).toMatch(/stage="mail",reason="[a-z-]+"/);
  }, 60_000);

  it('reports the webhook backlog from the store at scrape time, and 404 elsewhere', async () => {
    const space = await stack.store.getSpaceByName('metrics');
    await stack.store.setWebhook({ spaceId: space!.id, url: 'http://127.0.0.1:9/hook', secret: 's' });
    const [send] = await stack.store.listSends({ spaceId: space!.id, limit: 1 });
    await stack.store.addEvent({ sendId: send!.id, recipient: send!.to, type: 'opened', at: new Date(), detail: {} });
    expect(v(await scrape(), 'trxmail_webhook_backlog{status="pending"}')).toBe(1);
    expect((await fetch(`${base}/other`)).status).toBe(404);
    expect((await fetch(`${base}/metrics`, { method: 'POST' })).status).toBe(404);
  });
});
