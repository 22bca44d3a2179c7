/**
 * The seam between the neutral layer and a backend (src/store/backend.ts), over a recording
 * fake backend: bad input is refused before any backend call; what the backend is given is
 * validated and keyed; the webhook fan-out is decided here; the backend's findings become
 * the right UsageError; the closed gate comes first. What a backend must do itself is the
 * contract suite's business (contract/).
 */
import { describe, expect, it } from 'vitest';
import { TransientError, UsageError } from '../../src/lib/errors.js';
import { USAGE_RETENTION_MS } from '../../src/core/sending-limits.js';
import {
  MAX_DOMAIN_CHECK_PROBLEMS,
  MAX_EVENT_COUNT_SENDS,
  MAX_GROUP_COMMIT_SENDS,
  MAX_RECIPIENTS,
  MAX_TAGS,
  MAX_WEBHOOK_BATCH,
  MAX_WEBHOOK_ERROR_LENGTH,
} from '../../src/lib/limits.js';
import type { RetentionBackend } from '../../src/store/retention-backend.js';
import type { AccountBackend,
  AuthFailureBackend, CursorBackend, DeliveryRecord, DomainAuthBackend, ListBackend, OutboxBackend, SendBackend, SendingBackend, SendInsert, StoreBackend } from '../../src/store/backend.js';
import { NeutralStore } from '../../src/store/neutral/neutral-store.js';
import type { NewSend, SendRecipient, Store } from '../../src/store/store.js';

interface Call {
  readonly method: string;
  readonly args: unknown[];
}

type Answers = Record<string, (...args: unknown[]) => unknown>;

/** A backend whose every method records its call and answers from `answers` (default: undefined; spaceExists: true). */
function fake(answers: Answers = {}): { store: Store; calls: Call[] } {
  const calls: Call[] = [];
  const all: Answers = { 'accounts.spaceExists': () => true, 'domainAuth.domainExists': () => true, ...answers };
  const part = <T extends object>(name: string): T =>
    new Proxy({} as T, {
      get: (_target, prop) =>
        typeof prop !== 'string'
          ? undefined
          : (...args: unknown[]): Promise<unknown> => {
              const method = `${name}.${prop}`;
              calls.push({ method, args });
              const answer = all[method];
              return Promise.resolve(answer === undefined ? undefined : answer(...args));
            },
    });
  const backend: StoreBackend = {
    accounts: part<AccountBackend>('accounts'),
    lists: part<ListBackend>('lists'),
    sends: part<SendBackend>('sends'),
    outbox: part<OutboxBackend>('outbox'),
    domainAuth: part<DomainAuthBackend>('domainAuth'),
    authFailures: part<AuthFailureBackend>('authFailures'),
    retention: part<RetentionBackend>('retention'),
    sending: part<SendingBackend>('sending'),
    probe: () => Promise.resolve({ ok: true }),
    cursors: part<CursorBackend>('cursors'),
    close: () => {
      calls.push({ method: 'close', args: [] });
      return Promise.resolve();
    },
  };
  return { store: new NeutralStore(backend), calls };
}

const T = new Date(Date.UTC(2025, 0, 15));
const BAD_DATE = new Date(Number.NaN);
const rcpt = (address: string, role: SendRecipient['role'], over: Partial<SendRecipient> = {}): SendRecipient => ({
  address,
  role,
  status: role === 'discarded' ? 'discarded' : 'queued',
  suppressedBy: null,
  detail: null,
  ...over,
});
const newSend = (over: Partial<NewSend> = {}): NewSend => ({
  id: 'q1',
  spaceId: 1,
  userId: 2,
  mailFrom: 'news@shop.example',
  envelopeSender: 'trx@bounce.example',
  from: 'News@Shop.Example',
  to: 'rcpt@example.net',
  bcc: null,
  discarded: [],
  tags: [],
  flags: 3,
  flagsSource: 'default',
  receivedAt: T,
  recipients: [rcpt('rcpt@example.net', 'to')],
  ...over,
});

describe('neutral layer: bad input never reaches the backend', () => {
  const many = (n: number, f: (i: number) => string): string[] => Array.from({ length: n }, (_, i) => f(i));
  it.each<[string, (s: Store) => Promise<unknown>]>([
    ['space name empty', (s) => s.createSpace({ name: '' })],
    ['space default flags 16', (s) => s.createSpace({ name: 'x', defaultFlags: 16 })],
    ['update flags -1', (s) => s.updateSpace(1, { defaultFlags: -1 })],
    ['domain a..b', (s) => s.addDomain(1, 'a..b')],
    ['domain empty (remove)', (s) => s.removeDomain(1, '')],
    ['user e-mail not an address', (s) => s.createUser({ spaceId: 1, email: 'nobody', passwordHash: 'h' })],
    ['user password hash empty', (s) => s.createUser({ spaceId: 1, email: 'u@x.example', passwordHash: '' })],
    ['new password hash empty', (s) => s.setPasswordHash('u@x.example', '')],
    ['from address not an address', (s) => s.setFromFlags(1, 'nobody', 1)],
    ['from flags 2.5', (s) => s.setFromFlags(1, 'a@x.example', 2.5)],
    ['list address not an address', (s) => s.addListEntry({ spaceId: 1, list: 'bounce', address: 'x', reason: 'r', addedAt: T })],
    ['list date invalid', (s) => s.addListEntry({ spaceId: 1, list: 'bounce', address: 'a@x.example', reason: 'r', addedAt: BAD_DATE })],
    ['list remove not an address', (s) => s.removeListEntry(1, 'unsubscribe', 'x')],
    ['lookup over MAX_RECIPIENTS', (s) => s.lookupSuppression(1, many(MAX_RECIPIENTS + 1, (i) => `r${i}@x.example`))],
    ['send id empty', (s) => s.recordSend(newSend({ id: '' }))],
    ['send flags 16', (s) => s.recordSend(newSend({ flags: 16 }))],
    ['send date invalid', (s) => s.recordSend(newSend({ receivedAt: BAD_DATE }))],
    ['send without To', (s) => s.recordSend(newSend({ recipients: [rcpt('b@x.example', 'bcc')] }))],
    ['send with two To', (s) => s.recordSend(newSend({ recipients: [rcpt('a@x.example', 'to'), rcpt('b@x.example', 'to')] }))],
    ['discarded role, live status', (s) => s.recordSend(newSend({ recipients: [rcpt('a@x.example', 'to'), rcpt('d@x.example', 'discarded', { status: 'queued' })] }))],
    ['filter over MAX_TAGS tags', (s) => s.listSends({ tags: many(MAX_TAGS + 1, (i) => `t${i}`) })],
    ['filter since invalid', (s) => s.listSends({ since: BAD_DATE })],
    ['filter limit -1', (s) => s.listSends({ limit: -1 })],
    ['filter cursor date invalid', (s) => s.listSends({ before: { receivedAt: BAD_DATE, id: 'x' } })],
    ['event date invalid', (s) => s.addEvent({ sendId: 'q1', recipient: 'r', type: 'opened', at: BAD_DATE, detail: {} })],
    ['event detail an array', (s) => s.addEvent({ sendId: 'q1', recipient: 'r', type: 'opened', at: T, detail: [] as unknown as Record<string, unknown> })],
    ['event counts over the limit', (s) => s.eventCounts(many(MAX_EVENT_COUNT_SENDS + 1, String))],
    ['webhook URL http to a public host', (s) => s.setWebhook({ spaceId: 1, url: 'http://hooks.example/', secret: 's' })],
    ['webhook secret empty', (s) => s.setWebhook({ spaceId: 1, url: 'https://hooks.example/', secret: '' })],
    ['claim over MAX_WEBHOOK_BATCH', (s) => s.claimWebhookDeliveries(T, MAX_WEBHOOK_BATCH + 1, 1000)],
    ['claim date invalid', (s) => s.claimWebhookDeliveries(BAD_DATE, 1, 1000)],
    ['outcome date invalid', (s) => s.completeWebhookDelivery(1, { delivered: true, at: BAD_DATE })],
    ['deliveries limit -1', (s) => s.listWebhookDeliveries({ limit: -1 })],
  ])('%s', async (_label, call) => {
    const { store, calls } = fake();
    await expect(call(store)).rejects.toThrow(UsageError);
    expect(calls).toEqual([]);
  });
});

describe('neutral layer: what the backend is given', () => {
  it('normalises domains and keys addresses (strict for accounts and lists, loose for sends)', async () => {
    const { store, calls } = fake({ 'accounts.listFromFlags': () => [], 'sends.listSends': () => [] });
    await store.addDomain(1, ' Bücher.Example. ');
    await store.setFromFlags(1, ' News@Bücher.Example ', 5);
    await store.addListEntry({ spaceId: 1, list: 'bounce', address: ' Gone@Example.NET ', reason: 'hard', addedAt: T });
    await store.listSends({ spaceId: 1, from: 'Not An Address', tags: ['b', 'a', 'b'], since: T });
    expect(calls.filter((c) => c.method !== 'accounts.spaceExists')).toEqual([
      { method: 'accounts.addDomain', args: [1, 'xn--bcher-kva.example'] },
      { method: 'accounts.setFromFlags', args: [1, 'news@xn--bcher-kva.example', 'News@Bücher.Example', 5] },
      {
        method: 'lists.upsertListEntry',
        args: [{ spaceId: 1, list: 'bounce', addressKey: 'gone@example.net', address: 'Gone@Example.NET', reason: 'hard', bounceReason: null, rule: null, source: 'operator', addedAtMs: T.getTime() }, false],
      },
      {
        method: 'sends.listSends',
        args: [
          {
            spaceId: 1, fromKey: 'not an address', sinceMs: T.getTime(), untilMs: null, tags: ['b', 'a'], before: null, limit: null, offset: 0,
            search: { recipientKey: null, messageId: null, status: null, reason: null, text: null },
          },
        ],
      },
    ]);
  });

  it('decides the fan-out of a send: one suppressed delivery per suppressed recipient', async () => {
    const { store, calls } = fake({ 'sends.insertSends': (sends) => (sends as unknown[]).map(() => 'recorded') });
    const send = newSend({
      to: 'To@Bücher.example',
      bcc: 'copy@example.org',
      recipients: [
        rcpt('To@Bücher.example', 'to', { status: 'suppressed', suppressedBy: 'bounce', detail: '550 5.1.1' }),
        rcpt('copy@example.org', 'bcc', { status: 'suppressed', suppressedBy: 'unsubscribe', detail: 'opted out' }),
        rcpt('d@example.org', 'discarded'),
      ],
    });
    await store.recordSend(send);
    const [call] = calls;
    expect(call?.method).toBe('sends.insertSends');
    const [[{ record, deliveries }]] = call!.args as [[SendInsert]];
    expect(record).toEqual({
      send,
      receivedAtMs: T.getTime(),
      fromKey: 'news@shop.example',
      recipientKeys: ['to@xn--bcher-kva.example', 'copy@example.org', 'd@example.org'],
      status: 'suppressed',
      // Each suppressed recipient is also an event of the send, written with it.
      events: [
        { sendId: 'q1', recipient: 'To@Bücher.example', recipientKey: 'to@xn--bcher-kva.example', type: 'suppressed', atMs: T.getTime(), detailJson: '{"list":"bounce","reason":"550 5.1.1"}' },
        { sendId: 'q1', recipient: 'copy@example.org', recipientKey: 'copy@example.org', type: 'suppressed', atMs: T.getTime(), detailJson: '{"list":"unsubscribe","reason":"opted out"}' },
      ],
    });
    expect(deliveries.map(({ queuedAtMs: _q, ...d }) => d)).toEqual([
      { type: 'suppressed', sendId: 'q1', recipient: 'To@Bücher.example', atMs: T.getTime(), detailJson: '{"list":"bounce","reason":"550 5.1.1"}' },
      { type: 'suppressed', sendId: 'q1', recipient: 'copy@example.org', atMs: T.getTime(), detailJson: '{"list":"unsubscribe","reason":"opted out"}' },
    ]);
  });

  it('decides the fan-out of an event: every type but accepted', async () => {
    const { store, calls } = fake({ 'sends.insertEvent': () => 7 });
    const accepted = await store.addEvent({ sendId: 'q1', recipient: 'r@x.example', type: 'accepted', at: T, detail: {} });
    await store.addEvent({ sendId: 'q1', recipient: 'r@x.example', type: 'opened', at: T, detail: { ua: 'x' } });
    expect(accepted).toEqual({ id: 7, sendId: 'q1', recipient: 'r@x.example', type: 'accepted', at: T, detail: {} });
    expect(calls[0]?.args[1]).toBeNull();
    expect(calls[1]?.args[1]).toMatchObject({ type: 'opened', sendId: 'q1', recipient: 'r@x.example', atMs: T.getTime(), detailJson: '{"ua":"x"}' });
  });

  it("decides the fan-out of a domain check: one 'domain' delivery when the status changes, none otherwise", async () => {
    const { store, calls } = fake({ 'domainAuth.recordDomainCheck': () => 'incomplete' });
    const missing = [{ type: 'CNAME', name: 'bounces.shop.example.', status: 'wrong' }];
    expect(await store.recordDomainCheck(1, 'Shop.Example', { status: 'ok', at: T, detail: { x: 1 }, missing })).toEqual({ changed: true, previous: 'incomplete' });
    const call = calls.find((c) => c.method === 'domainAuth.recordDomainCheck');
    expect(call?.args.slice(0, 5)).toEqual([1, 'shop.example', 'ok', T.getTime(), '{"x":1}']);
    const deliveryFor = call?.args[5] as (previous: string) => DeliveryRecord | null;
    expect(deliveryFor('ok')).toBeNull();
    const d = deliveryFor('incomplete');
    expect(d).toMatchObject({ type: 'domain', sendId: '', recipient: '', atMs: T.getTime() });
    expect(JSON.parse(d?.detailJson ?? '')).toEqual({ domain: 'shop.example', from: 'incomplete', to: 'ok', at: T.toISOString(), missing });
  });

  it('refuses more than MAX_DOMAIN_CHECK_PROBLEMS problems before any backend call', async () => {
    const { store, calls } = fake();
    const missing = Array.from({ length: MAX_DOMAIN_CHECK_PROBLEMS + 1 }, (_, i) => ({ type: 'TXT', name: `s${i}.example.`, status: 'missing' }));
    await expect(store.recordDomainCheck(1, 'shop.example', { status: 'incomplete', at: T, detail: {}, missing })).rejects.toThrow(UsageError);
    await store.recordDomainCheck(1, 'shop.example', { status: 'incomplete', at: T, detail: {}, missing: missing.slice(1) }).catch(() => undefined);
    expect(calls.filter((c) => c.method === 'domainAuth.recordDomainCheck')).toHaveLength(1);
  });

  it('turns an outcome into delivered, retry or expired, the error cut at MAX_WEBHOOK_ERROR_LENGTH', async () => {
    const { store, calls } = fake({ 'outbox.finishAttempt': () => true });
    const later = new Date(T.getTime() + 1000);
    await store.completeWebhookDelivery(1, { delivered: true, at: T });
    await store.completeWebhookDelivery(2, { delivered: false, at: T, error: 'e'.repeat(MAX_WEBHOOK_ERROR_LENGTH + 1), retryAt: later });
    await store.completeWebhookDelivery(3, { delivered: false, at: T, error: 'gone', retryAt: null });
    expect(calls.map((c) => c.args)).toEqual([
      [1, { kind: 'delivered', atMs: T.getTime() }],
      [2, { kind: 'retry', error: 'e'.repeat(MAX_WEBHOOK_ERROR_LENGTH), retryAtMs: later.getTime() }],
      [3, { kind: 'expired', error: 'gone', atMs: T.getTime() }],
    ]);
  });

  it('claims with the lease end computed, and not at all for limit 0', async () => {
    const { store, calls } = fake({ 'outbox.claimDeliveries': () => [] });
    expect(await store.claimWebhookDeliveries(T, 0, 5000)).toEqual([]);
    await store.claimWebhookDeliveries(T, 3, 5000);
    expect(calls).toEqual([{ method: 'outbox.claimDeliveries', args: [T.getTime(), 3, T.getTime() + 5000] }]);
  });
});

describe('neutral layer: calls spared on the path of every message', () => {
  it('asks whether a space exists once: spaces are never deleted, so a found one is remembered (an unknown one is asked again)', async () => {
    const { store, calls } = fake({
      'accounts.spaceExists': (id) => id === 1,
      'accounts.getFromDefault': () => null,
      'lists.findEntries': () => [],
      'sending.getState': (id) => ({ spaceId: id, limits: { minute: null, hour: null, day: null }, pause: null, resumedAt: null }),
    });
    for (let i = 0; i < 3; i++) {
      await store.getFromDefault(1, 'news@shop.example');
      await store.lookupSuppression(1, ['rcpt@example.net']);
      await store.getSendingState(1);
    }
    expect(calls.filter((c) => c.method === 'accounts.spaceExists')).toEqual([{ method: 'accounts.spaceExists', args: [1] }]);
    await expect(store.getSendingState(2)).rejects.toThrow(/unknown space id 2/);
    await expect(store.getSendingState(2)).rejects.toThrow(/unknown space id 2/);
    expect(calls.filter((c) => c.method === 'accounts.spaceExists').length).toBe(3);
  });

  it('reserveSending with the state read at MAIL and countWithSend: no backend call for a space without limits or pause; the send carries the count', async () => {
    const unlimited = { spaceId: 1, limits: { minute: null, hour: null, day: null }, pause: null, resumedAt: null };
    const { store, calls } = fake({ 'sending.getState': () => unlimited, 'sends.insertSends': (sends) => (sends as unknown[]).map(() => 'recorded') });
    await store.getSendingState(1);
    calls.length = 0;
    expect(await store.reserveSending(1, 2, T, { knownState: unlimited, countWithSend: true })).toEqual({ admitted: true, usage: null, uncounted: 2 });
    expect(calls).toEqual([]);
    await store.recordSend({
      id: 'q1', spaceId: 1, userId: 1, mailFrom: 'a@shop.example', envelopeSender: 'b@bounce.example', from: 'a@shop.example', to: 'r@example.net', bcc: null,
      discarded: [], tags: [], flags: 0, flagsSource: 'default', receivedAt: T, recipients: [rcpt('r@example.net', 'to')], sentCount: 2,
    });
    const inserts = calls.filter((c) => c.method === 'sends.insertSends');
    expect((inserts[0]?.args[0] as Array<{ sentCount: unknown }>)[0]?.sentCount).toEqual({ count: 2, bucketMs: T.getTime(), expireBeforeMs: T.getTime() - USAGE_RETENTION_MS });
  });
});

describe("neutral layer: the backend's findings become UsageErrors", () => {
  it.each<[string, Answers, (s: Store) => Promise<unknown>, RegExp]>([
    ['unknown space', { 'accounts.spaceExists': () => false }, (s) => s.addDomain(9, 'a.example'), /unknown space id 9/],
    ['unknown space (update)', { 'accounts.updateSpace': () => null }, (s) => s.updateSpace(9, {}), /unknown space id 9/],
    ['empty list of an unknown space', { 'accounts.spaceExists': () => false, 'accounts.listDomains': () => [] }, (s) => s.listDomains(9), /unknown space id 9/],
    ['duplicate space', { 'accounts.insertSpace': () => 'duplicate' }, (s) => s.createSpace({ name: 'Alpha' }), /a space named "Alpha" exists already/],
    ['duplicate user', { 'accounts.insertUser': () => 'duplicate' }, (s) => s.createUser({ spaceId: 1, email: 'u@x.example', passwordHash: 'h' }), /exists already/],
    ['send in an unknown space', { 'sends.insertSends': () => ['unknown-space'] }, (s) => s.recordSend(newSend()), /unknown space id 1/],
    ['send of a foreign user', { 'sends.insertSends': () => ['foreign-user'] }, (s) => s.recordSend(newSend()), /user id 2 is not a user of space 1/],
    ['duplicate send id', { 'sends.insertSends': () => ['duplicate-id'] }, (s) => s.recordSend(newSend()), /a send with id "q1" is recorded already/],
    ['event of an unknown send', { 'sends.insertEvent': () => 'unknown-send' }, (s) => s.addEvent({ sendId: 'zz', recipient: 'r', type: 'opened', at: T, detail: {} }), /unknown send id "zz"/],
  ])('%s', async (_label, answers, call, message) => {
    const { store } = fake(answers);
    const err: unknown = await call(store).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UsageError);
    expect((err as Error).message).toMatch(message);
  });
});

describe('neutral layer: group commit of recordSend', () => {
  it('writes the sends recorded in one event-loop turn in one backend call, each settling with its own result', async () => {
    const { store, calls } = fake({ 'sends.insertSends': (sends) => (sends as SendInsert[]).map((s) => (s.record.send.id === 'dup' ? 'duplicate-id' : 'recorded')) });
    const results = await Promise.allSettled([store.recordSend(newSend({ id: 'a' })), store.recordSend(newSend({ id: 'dup' })), store.recordSend(newSend({ id: 'c' }))]);
    expect(calls.map((c) => c.method)).toEqual(['sends.insertSends']);
    expect((calls[0]!.args[0] as SendInsert[]).map((s) => s.record.send.id)).toEqual(['a', 'dup', 'c']);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(String((results[1] as PromiseRejectedResult).reason)).toMatch(/a send with id "dup" is recorded already/);
  });

  it('fails every send of a batch whose transaction failed, with that error', async () => {
    const down = new TransientError('ESTORE_IO', 'disk I/O error');
    const { store } = fake({
      'sends.insertSends': () => {
        throw down;
      },
    });
    const results = await Promise.allSettled([store.recordSend(newSend({ id: 'a' })), store.recordSend(newSend({ id: 'b' }))]);
    expect(results).toEqual([
      { status: 'rejected', reason: down },
      { status: 'rejected', reason: down },
    ]);
  });

  it('fails every send of a batch when the backend answers for fewer sends than it was given', async () => {
    const { store } = fake({ 'sends.insertSends': () => ['recorded'] });
    const results = await Promise.allSettled([store.recordSend(newSend({ id: 'a' })), store.recordSend(newSend({ id: 'b' }))]);
    expect(results.map((r) => (r.status === 'rejected' ? (r.reason as Error).name : 'fulfilled'))).toEqual(['InvariantError', 'InvariantError']);
  });

  it('sends recorded while a batch is being written go in the next batch, after it', async () => {
    let release: () => void = () => undefined;
    const gate = new Promise<void>((r) => (release = r));
    const batches: string[][] = [];
    const { store } = fake({
      'sends.insertSends': async (sends) => {
        batches.push((sends as SendInsert[]).map((s) => s.record.send.id));
        if (batches.length === 1) await gate;
        return (sends as SendInsert[]).map(() => 'recorded');
      },
    });
    const first = store.recordSend(newSend({ id: 'a' }));
    await new Promise<void>((r) => setImmediate(r));
    expect(batches).toEqual([['a']]);
    const later = [store.recordSend(newSend({ id: 'b' })), store.recordSend(newSend({ id: 'c' }))];
    await new Promise<void>((r) => setImmediate(r));
    expect(batches).toEqual([['a']]);
    release();
    await Promise.all([first, ...later]);
    expect(batches).toEqual([['a'], ['b', 'c']]);
  });

  it('splits what arrives together into batches of at most MAX_GROUP_COMMIT_SENDS', async () => {
    const { store, calls } = fake({ 'sends.insertSends': (sends) => (sends as unknown[]).map(() => 'recorded') });
    await Promise.all(Array.from({ length: MAX_GROUP_COMMIT_SENDS + 1 }, (_, i) => store.recordSend(newSend({ id: `s${i}` }))));
    expect(calls.map((c) => (c.args[0] as unknown[]).length)).toEqual([MAX_GROUP_COMMIT_SENDS, 1]);
  });
});

describe('neutral layer: delivery cursors', () => {
  it('checks path, file identity, offset and date before the backend, and passes the time as milliseconds', async () => {
    const { store, calls } = fake();
    await expect(store.saveDeliveryCursor({ node: 'n1', path: '/l', dev: '1', ino: 'abc', offset: 0, followingSince: T, savedAt: T })).rejects.toThrow(UsageError);
    await expect(store.saveDeliveryCursor({ node: 'n1', path: '/l', dev: '1', ino: '2', offset: Number.MAX_SAFE_INTEGER + 1, followingSince: T, savedAt: T })).rejects.toThrow(UsageError);
    await expect(store.getDeliveryCursor('n1', '')).rejects.toThrow(UsageError);
    expect(calls).toEqual([]);
    await store.saveDeliveryCursor({ node: 'n1', path: '/l', dev: '2049', ino: '131', offset: 7, followingSince: new Date(5), savedAt: T });
    expect(calls).toEqual([{ method: 'cursors.upsertCursor', args: [{ node: 'n1', path: '/l', dev: '2049', ino: '131', offset: 7, followingSinceMs: 5, savedAtMs: T.getTime() }] }]);
  });
});

describe('neutral layer: lifecycle', () => {
  it('closes the backend once; afterwards refuses with TransientError before any backend call', async () => {
    const { store, calls } = fake();
    await store.close();
    await store.close();
    expect(calls).toEqual([{ method: 'close', args: [] }]);
    const err: unknown = await store.createSpace({ name: '' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TransientError);
    expect((err as TransientError).code).toBe('ESTORE_CLOSED');
    expect(calls).toHaveLength(1);
  });
});
