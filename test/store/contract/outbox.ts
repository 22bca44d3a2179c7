/**
 * Store contract, outbox aggregate (OutboxStore): webhooks, the deliveries queued with events
 * and suppressed recipients (the fan-out), claiming with a lease, outcomes, expiry, backlog.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { UsageError } from '../../../src/lib/errors.js';
import { MAX_WEBHOOK_BATCH, MAX_WEBHOOK_ERROR_LENGTH } from '../../../src/lib/limits.js';
import type { EventType, Space, Store, User } from '../../../src/store/store.js';
import { T0, at, recipient, unknownSpace } from './fixture.js';
import type { CurrentFixture, Fixture } from './fixture.js';

export function outboxContract(fixture: CurrentFixture): void {
  let store: Store;
  let a: Space;
  let b: Space;
  let userB: User;
  let send: Fixture['send'];
  beforeEach(() => {
    ({ store, a, b, userB, send } = fixture());
  });

  describe('webhooks and their outbox', () => {
    const URL_A = 'https://hooks.alpha.example/trxmail';
    const ev = (sendId: string, type: EventType, offset = 0, detail: Record<string, unknown> = {}) =>
      store.addEvent({ sendId, recipient: 'rcpt@example.net', type, at: at(offset), detail });

    it('sets, replaces, reads, lists and removes a space webhook; the secret is kept as given', async () => {
      expect(await store.getWebhook(a.id)).toBeNull();
      const w = await store.setWebhook({ spaceId: a.id, url: URL_A, secret: 's3cret-a' });
      expect(w).toMatchObject({ spaceId: a.id, url: URL_A, secret: 's3cret-a' });
      expect(await store.getWebhook(a.id)).toEqual(w);
      const w2 = await store.setWebhook({ spaceId: a.id, url: 'http://127.0.0.1:9/x', secret: 'other' });
      expect((await store.getWebhook(a.id))?.url).toBe('http://127.0.0.1:9/x');
      await store.setWebhook({ spaceId: b.id, url: 'https://b.example/', secret: 'b' });
      expect((await store.listWebhooks()).map((x) => x.spaceId)).toEqual([a.id, b.id]);
      expect(w2.secret).toBe('other');
      expect(await store.removeWebhook(a.id)).toBe(true);
      expect(await store.removeWebhook(a.id)).toBe(false);
      expect(await store.getWebhook(a.id)).toBeNull();
    });

    it('refuses bad URLs, an empty secret and an unknown space', async () => {
      for (const url of ['http://hooks.example/x', 'ftp://hooks.example/', 'hooks.example', 'https://u:p@hooks.example/', 'https://h.example/#f', '']) {
        await expect(store.setWebhook({ spaceId: a.id, url, secret: 's' }), url).rejects.toThrow(UsageError);
      }
      await expect(store.setWebhook({ spaceId: a.id, url: URL_A, secret: '' })).rejects.toThrow(UsageError);
      await expect(store.setWebhook({ spaceId: unknownSpace, url: URL_A, secret: 's' })).rejects.toThrow(UsageError);
      await expect(store.removeWebhook(unknownSpace)).rejects.toThrow(UsageError);
    });

    it('queues every event type but accepted, only for spaces with a webhook, in the event transaction', async () => {
      await store.recordSend(send({ id: 'w-a' }));
      await store.recordSend(send({ id: 'w-b', spaceId: b.id, userId: userB.id }));
      await ev('w-a', 'opened'); // before the webhook: not queued
      await store.setWebhook({ spaceId: a.id, url: URL_A, secret: 's' });
      const types: EventType[] = ['accepted', 'delivered', 'deferred', 'bounced', 'opened', 'clicked', 'complained'];
      for (const [i, t] of types.entries()) await ev('w-a', t, i, { n: i });
      await ev('w-b', 'delivered');
      const queued = await store.listWebhookDeliveries({ spaceId: a.id });
      expect(queued.map((d) => d.type).reverse()).toEqual(['delivered', 'deferred', 'bounced', 'opened', 'clicked', 'complained']);
      expect(queued.every((d) => d.status === 'pending' && d.attempts === 0 && d.spaceName === 'alpha' && d.sendId === 'w-a')).toBe(true);
      expect(queued.at(-1)).toMatchObject({ recipient: 'rcpt@example.net', detail: { n: 1 } });
      expect(queued.at(-1)?.at.getTime()).toBe(T0 + 1);
      expect(await store.listWebhookDeliveries({ spaceId: b.id })).toEqual([]);
      // A refused event queues nothing.
      await expect(ev('unknown', 'opened')).rejects.toThrow(UsageError);
      expect(await store.listWebhookDeliveries({})).toHaveLength(6);
    });

    it('queues one suppressed delivery per suppressed recipient of a recorded send', async () => {
      await store.setWebhook({ spaceId: a.id, url: URL_A, secret: 's' });
      await store.recordSend(
        send({
          id: 'w-s',
          bcc: 'b@example.org',
          recipients: [
            recipient('rcpt@example.net', 'to', { status: 'suppressed', suppressedBy: 'bounce', detail: 'hard bounce' }),
            recipient('b@example.org', 'bcc', { status: 'suppressed', suppressedBy: 'unsubscribe', detail: 'opted out' }),
            recipient('d@example.org', 'discarded'),
          ],
        }),
      );
      const got = await store.listWebhookDeliveries({ spaceId: a.id });
      expect(got.map((d) => [d.type, d.recipient, d.detail]).reverse()).toEqual([
        ['suppressed', 'rcpt@example.net', { list: 'bounce', reason: 'hard bounce' }],
        ['suppressed', 'b@example.org', { list: 'unsubscribe', reason: 'opted out' }],
      ]);
      // A refused (duplicate) send queues nothing more.
      await expect(store.recordSend(send({ id: 'w-s' }))).rejects.toThrow(UsageError);
      expect(await store.listWebhookDeliveries({})).toHaveLength(2);
    });

    it('claims due deliveries with a lease, records outcomes, retries, expires, and counts the backlog', async () => {
      await store.setWebhook({ spaceId: a.id, url: URL_A, secret: 'sig' });
      await store.recordSend(send({ id: 'w-c' }));
      await ev('w-c', 'delivered');
      await ev('w-c', 'opened');
      await ev('w-c', 'clicked');
      const now = new Date(Date.now() + 1000);
      expect(await store.webhookBacklog()).toMatchObject({ pending: 3, expired: 0 });
      const claimed = await store.claimWebhookDeliveries(now, 2, 30_000);
      expect(claimed.map((d) => d.type)).toEqual(['delivered', 'opened']);
      expect(claimed[0]).toMatchObject({ url: URL_A, secret: 'sig', spaceName: 'alpha' });
      expect(claimed[0]?.nextAttemptAt.getTime()).toBe(now.getTime() + 30_000);
      // Leased: the next claim gets only the third.
      expect((await store.claimWebhookDeliveries(now, 10, 30_000)).map((d) => d.type)).toEqual(['clicked']);
      expect(await store.claimWebhookDeliveries(now, 10, 30_000)).toEqual([]);
      const [d1, d2] = claimed;
      expect(await store.completeWebhookDelivery(d1!.id, { delivered: true, at: now })).toBe(true);
      expect(await store.completeWebhookDelivery(d1!.id, { delivered: true, at: now })).toBe(false);
      const retryAt = new Date(now.getTime() + 10_000);
      expect(await store.completeWebhookDelivery(d2!.id, { delivered: false, at: now, error: 'HTTP 500', retryAt })).toBe(true);
      const retried = (await store.listWebhookDeliveries({ status: 'pending' })).find((d) => d.id === d2!.id);
      expect(retried).toMatchObject({ attempts: 1, lastError: 'HTTP 500' });
      expect(retried?.nextAttemptAt.getTime()).toBe(retryAt.getTime());
      expect((await store.claimWebhookDeliveries(retryAt, 10, 1000)).map((d) => d.id)).toEqual([d2!.id]);
      expect(await store.completeWebhookDelivery(d2!.id, { delivered: false, at: now, error: 'x'.repeat(5000), retryAt: null })).toBe(true);
      const expired = await store.listWebhookDeliveries({ status: 'expired' });
      expect(expired).toHaveLength(1);
      expect(expired[0]).toMatchObject({ id: d2!.id, attempts: 2 });
      expect(expired[0]?.lastError?.length).toBe(MAX_WEBHOOK_ERROR_LENGTH);
      expect((await store.listWebhookDeliveries({ status: 'delivered' }))[0]?.doneAt?.getTime()).toBe(now.getTime());
      const backlog = await store.webhookBacklog();
      expect(backlog).toMatchObject({ pending: 1, expired: 1 });
      expect(backlog.oldestPendingAt).toBeInstanceOf(Date);
      await expect(store.claimWebhookDeliveries(now, MAX_WEBHOOK_BATCH + 1, 1)).rejects.toThrow(UsageError);
    });

    it('expires the pending deliveries of a removed webhook', async () => {
      await store.setWebhook({ spaceId: a.id, url: URL_A, secret: 's' });
      await store.recordSend(send({ id: 'w-r' }));
      await ev('w-r', 'delivered');
      await store.removeWebhook(a.id);
      expect(await store.claimWebhookDeliveries(new Date(Date.now() + 1000), 10, 1000)).toEqual([]);
      expect(await store.listWebhookDeliveries({ spaceId: a.id })).toMatchObject([{ status: 'expired', lastError: 'webhook removed' }]);
      expect(await store.webhookBacklog()).toEqual({ pending: 0, expired: 1, oldestPendingAt: null });
    });

    it('keeps the URL in its normal form', async () => {
      const w = await store.setWebhook({ spaceId: a.id, url: 'https://Hooks.Alpha.Example/Path?x=1', secret: 's' });
      expect(w.url).toBe('https://hooks.alpha.example/Path?x=1');
      expect((await store.getWebhook(a.id))?.url).toBe(w.url);
    });

    it('queues nothing for a space without a webhook, nor after it is removed', async () => {
      await store.recordSend(
        send({ id: 'w-n', recipients: [recipient('rcpt@example.net', 'to', { status: 'suppressed', suppressedBy: 'bounce', detail: 'x' })] }),
      );
      await store.setWebhook({ spaceId: a.id, url: URL_A, secret: 's' });
      expect(await store.removeWebhook(a.id)).toBe(true);
      await ev('w-n', 'delivered');
      expect(await store.listWebhookDeliveries({})).toEqual([]);
      expect(await store.webhookBacklog()).toEqual({ pending: 0, expired: 0, oldestPendingAt: null });
    });

    it('refuses invalid claims, outcomes and listing limits, changing nothing', async () => {
      await store.setWebhook({ spaceId: a.id, url: URL_A, secret: 's' });
      await store.recordSend(send({ id: 'w-v' }));
      await ev('w-v', 'delivered');
      await ev('w-v', 'opened');
      const now = new Date(Date.now() + 1000);
      expect(await store.claimWebhookDeliveries(now, 0, 1000)).toEqual([]);
      for (const [limit, lease] of [[-1, 1000], [1.5, 1000], [1, -1], [1, Number.NaN]] as const) {
        await expect(store.claimWebhookDeliveries(now, limit, lease)).rejects.toThrow(UsageError);
      }
      await expect(store.claimWebhookDeliveries(new Date(Number.NaN), 1, 1000)).rejects.toThrow(UsageError);
      const [d] = await store.claimWebhookDeliveries(now, 1, 1000);
      expect(d?.type).toBe('delivered');
      await expect(store.completeWebhookDelivery(d!.id, { delivered: true, at: new Date(Number.NaN) })).rejects.toThrow(UsageError);
      await expect(
        store.completeWebhookDelivery(d!.id, { delivered: false, at: now, error: 'e', retryAt: new Date(Number.NaN) }),
      ).rejects.toThrow(UsageError);
      expect((await store.listWebhookDeliveries({ status: 'pending' })).find((x) => x.id === d!.id)).toMatchObject({ attempts: 0, lastError: null });
      expect((await store.listWebhookDeliveries({ limit: 1 })).map((x) => x.type)).toEqual(['opened']);
      for (const limit of [-1, 2.5, Number.NaN]) await expect(store.listWebhookDeliveries({ limit })).rejects.toThrow(UsageError);
      expect(await store.webhookBacklog()).toMatchObject({ pending: 2, expired: 0 });
    });
  });
}
