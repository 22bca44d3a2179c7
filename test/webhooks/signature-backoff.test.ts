import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { UsageError } from '../../src/lib/errors.js';
import { MAX_WEBHOOK_URL_LENGTH } from '../../src/lib/limits.js';
import { DEFAULT_BACKOFF, WEBHOOK_EXPIRY_MS, WEBHOOK_FIRST_RETRY_MS, WEBHOOK_MAX_RETRY_MS, nextAttempt, retryDelayMs } from '../../src/webhooks/backoff.js';
import { signWebhook, verifyWebhookSignature, WEBHOOK_SIGNATURE_TOLERANCE_S } from '../../src/webhooks/signature.js';
import { checkWebhookUrl } from '../../src/lib/webhook-url.js';

describe('webhook signature', () => {
  const body = '{"id":1,"type":"opened"}';
  it('is v1= hex HMAC-SHA256 over timestamp "." body', () => {
    const want = createHmac('sha256', 'k').update(`1700000000.${body}`).digest('hex');
    expect(signWebhook('k', 1700000000, body)).toBe(`v1=${want}`);
  });
  it('verifies, and refuses stale, tampered, other-key and malformed requests', () => {
    const sig = signWebhook('k', 1000, body);
    expect(verifyWebhookSignature('k', '1000', sig, body, 1000)).toEqual({ ok: true });
    expect(verifyWebhookSignature('k', '1000', sig, body, 1000 + WEBHOOK_SIGNATURE_TOLERANCE_S)).toEqual({ ok: true });
    expect(verifyWebhookSignature('k', '1000', sig, body, 1001 + WEBHOOK_SIGNATURE_TOLERANCE_S)).toEqual({ ok: false, reason: 'stale' });
    expect(verifyWebhookSignature('k', '1000', sig, body + ' ', 1000)).toEqual({ ok: false, reason: 'mismatch' });
    expect(verifyWebhookSignature('other', '1000', sig, body, 1000)).toEqual({ ok: false, reason: 'mismatch' });
    expect(verifyWebhookSignature('k', '1001', sig, body, 1000)).toEqual({ ok: false, reason: 'mismatch' });
    for (const [ts, s] of [[undefined, sig], ['1000', undefined], ['-1', sig], ['1e3', sig], ['', sig]] as const) {
      expect(verifyWebhookSignature('k', ts, s, body, 1000)).toEqual({ ok: false, reason: 'malformed' });
    }
    expect(verifyWebhookSignature('k', '1000', sig.slice(0, -1), body, 1000)).toEqual({ ok: false, reason: 'mismatch' });
  });
});

describe('webhook backoff', () => {
  it('doubles from the first retry up to the cap, jittered within [1/2, 1] of the nominal delay', () => {
    expect(retryDelayMs(1, 0)).toBe(WEBHOOK_FIRST_RETRY_MS / 2);
    expect(retryDelayMs(1, 1)).toBe(WEBHOOK_FIRST_RETRY_MS);
    expect(retryDelayMs(2, 1)).toBe(2 * WEBHOOK_FIRST_RETRY_MS);
    expect(retryDelayMs(5, 1)).toBe(16 * WEBHOOK_FIRST_RETRY_MS);
    expect(retryDelayMs(30, 1)).toBe(WEBHOOK_MAX_RETRY_MS);
    expect(retryDelayMs(10_000, 0.999)).toBeLessThanOrEqual(WEBHOOK_MAX_RETRY_MS);
    expect(retryDelayMs(10_000, 0)).toBe(WEBHOOK_MAX_RETRY_MS / 2);
    expect(WEBHOOK_FIRST_RETRY_MS).toBe(10_000);
    expect(WEBHOOK_MAX_RETRY_MS).toBe(3_600_000);
    expect(WEBHOOK_EXPIRY_MS).toBe(3 * 24 * 3_600_000);
  });
  it('expires when the next attempt would be after the deadline', () => {
    const created = new Date(0);
    expect(nextAttempt(created, 1, new Date(1000), 0)?.getTime()).toBe(1000 + WEBHOOK_FIRST_RETRY_MS / 2);
    expect(nextAttempt(created, 40, new Date(WEBHOOK_EXPIRY_MS - WEBHOOK_MAX_RETRY_MS), 1)?.getTime()).toBe(WEBHOOK_EXPIRY_MS);
    expect(nextAttempt(created, 40, new Date(WEBHOOK_EXPIRY_MS - WEBHOOK_MAX_RETRY_MS + 1), 1)).toBeNull();
    expect(nextAttempt(created, 1, new Date(1000), 0, { ...DEFAULT_BACKOFF, expiryMs: 100 })).toBeNull();
  });
});

describe('webhook URL', () => {
  it('accepts https anywhere and http to loopback only', () => {
    expect(checkWebhookUrl('https://Hooks.Example/path?x=1')).toBe('https://hooks.example/path?x=1');
    for (const u of ['http://127.0.0.1:8080/h', 'http://localhost/h', 'http://[::1]:9/h', 'http://a.localhost/']) expect(() => checkWebhookUrl(u)).not.toThrow();
  });
  it('refuses each bad URL with a UsageError', () => {
    const bad = [
      'http://hooks.example/',
      'http://10.0.0.1/',
      'ftp://hooks.example/',
      'hooks.example/x',
      '',
      'https://user:pw@hooks.example/',
      'https://hooks.example/#frag',
      'https://hooks.example/ x',
      'https://hooks.example/' + 'a'.repeat(MAX_WEBHOOK_URL_LENGTH),
      'javascript:alert(1)',
    ];
    for (const u of bad) expect(() => checkWebhookUrl(u), u).toThrow(UsageError);
  });
});
