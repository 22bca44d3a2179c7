import { appendFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BounceIntake } from '../../../src/bounce/intake.js';
import { DeliveryRecorder } from '../../../src/delivery/recorder.js';
import { MaillogFollower, NOT_QUEUED_AFTER_MS, type ProcessedLine, type SavedPosition } from '../../../src/delivery/maillog-follower.js';
import { TransientError } from '../../../src/lib/errors.js';
import { MAX_MAILLOG_LINE_BYTES, MAX_MAILLOG_QUEUE_IDS } from '../../../src/lib/limits.js';
import { silentLogger } from '../../../src/lib/logger.js';
import type { Store } from '../../../src/store/store.js';
import {
  AT,
  BOUNCE_DOMAIN,
  KEYS,
  OTHER_KEYS,
  bounceAddress,
  clock,
  failingStore,
  postfixDsn,
  recordingLogger,
  seedStore,
  type LogEntry,
  type Seeded,
} from '../bounce/intake.helpers.js';

// Postfix 3.7.11 line shapes (see maillog.test.ts), with our own queue ids and addresses.
const qmgrFrom = (qid: string, sender: string): string => `Nov 23 00:56:20 relay postfix/qmgr[28427]: ${qid}: from=<${sender}>, size=456, nrcpt=1 (queue active)\n`;
const delivery = (qid: string, to: string, dsn: string, status: string, text: string): string =>
  `Nov 23 00:56:21 relay postfix/smtp[28467]: ${qid}: to=<${to}>, relay=mx.example.org[192.0.2.1]:25, delay=0.34, delays=0.01/0.01/0.31/0.01, dsn=${dsn}, status=${status} (${text})\n`;
const expired = (qid: string, sender: string): string => `Nov 23 00:56:26 relay postfix/qmgr[28586]: ${qid}: from=<${sender}>, status=expired, returned to sender\n`;
const removed = (qid: string): string => `Nov 23 00:56:27 relay postfix/qmgr[28427]: ${qid}: removed\n`;

let db: Seeded;
let file: string;
let follower: MaillogFollower | null;

beforeEach(async () => {
  db = await seedStore();
  file = path.join(db.dir, 'maillog');
  writeFileSync(file, 'Nov 23 00:00:00 relay postfix/master[1]: daemon started -- version 3.7.11\n');
  follower = null;
});
afterEach(async () => {
  await follower?.stop();
  await db.cleanup();
});

function start(opts: { store?: Store; fromStart?: boolean; maxQueueIds?: number; recorder?: DeliveryRecorder; path?: string } = {}): Promise<MaillogFollower> {
  const f = new MaillogFollower({
    node: 'n1',
    path: opts.path ?? file,
    store: opts.store ?? db.store,
    keys: KEYS,
    bounceDomain: BOUNCE_DOMAIN,
    logger: silentLogger,
    clock,
    pollMs: 5,
    ...(opts.fromStart !== undefined ? { fromStart: opts.fromStart } : {}),
    ...(opts.maxQueueIds !== undefined ? { maxQueueIds: opts.maxQueueIds } : {}),
    ...(opts.recorder !== undefined ? { recorder: opts.recorder } : {}),
  });
  follower = f;
  return f.start().then(() => f);
}

/** Resolves with the first processed line that satisfies `pred` (listen before appending). */
function processed(f: MaillogFollower, pred: (p: ProcessedLine) => boolean): Promise<ProcessedLine> {
  return new Promise((resolve) => {
    const on = (p: ProcessedLine): void => {
      if (pred(p)) {
        f.off('processed', on);
        resolve(p);
      }
    };
    f.on('processed', on);
  });
}
const lineWith = (f: MaillogFollower, text: string): Promise<ProcessedLine> => processed(f, (p) => p.line.includes(text));

describe('MaillogFollower', () => {
  it('delivered: the qmgr from= line names the send, the smtp line records delivered with the queue id; removed forgets it', async () => {
    await db.send('4jXmNV6dYBzJ9Hy', 'someone@example.org');
    const f = await start();
    const done = lineWith(f, 'status=sent');
    appendFileSync(file, qmgrFrom('4jXmNV6dYBzJ9Hy', bounceAddress(db.space.id, '4jXmNV6dYBzJ9Hy')) + delivery('4jXmNV6dYBzJ9Hy', 'someone@example.org', '2.0.0', 'sent', '250 2.0.0 Ok: queued as ABC'));
    const p = await done;
    expect(p.actions.map((a) => [a.address, a.event, a.recipientStatus])).toEqual([['someone@example.org', 'delivered', 'delivered']]);
    const send = await db.store.getSend('4jXmNV6dYBzJ9Hy', db.space.id);
    expect(send?.status).toBe('delivered');
    expect(send?.recipients[0]?.detail).toBe('2.0.0 250 2.0.0 Ok: queued as ABC');
    const events = await db.store.listEvents('4jXmNV6dYBzJ9Hy');
    expect(events.map((e) => [e.type, e.detail['source'], e.detail['queueId'], e.detail['relay'], e.detail['kind']])).toEqual([
      ['delivered', 'maillog', '4jXmNV6dYBzJ9Hy', 'mx.example.org[192.0.2.1]:25', 'success'],
    ]);
    expect(f.rememberedQueueIds).toBe(1);
    const gone = lineWith(f, 'removed');
    appendFileSync(file, removed('4jXmNV6dYBzJ9Hy'));
    await gone;
    expect(f.rememberedQueueIds).toBe(0);
  });

  it('bounced (5.x.x): bounced, Bounce list entry, one event — and the DSN that follows adds no second event', async () => {
    await db.send('Bnc1QidX', 'gone@example.org');
    const recorder = new DeliveryRecorder(db.store);
    const f = await start({ recorder });
    const done = lineWith(f, 'status=bounced');
    const sender = bounceAddress(db.space.id, 'Bnc1QidX');
    appendFileSync(file, qmgrFrom('Bnc1QidX', sender) + delivery('Bnc1QidX', 'gone@example.org', '5.1.1', 'bounced', 'host mx said: 550 5.1.1 <gone@example.org>: user unknown (in reply to RCPT TO command)'));
    const p = await done;
    expect(p.actions.map((a) => [a.event, a.kind, a.listed, a.eventAdded])).toEqual([['bounced', 'hard', true, true]]);
    expect((await db.store.listEntries(db.space.id, 'bounce')).map((e) => [e.address, e.reason])).toEqual([
      ['gone@example.org', 'hard bounce 5.1.1: host mx said: 550 5.1.1 <gone@example.org>: user unknown (in reply to RCPT TO command)'],
    ]);
    const intake = new BounceIntake({ store: db.store, keys: KEYS, bounceDomain: BOUNCE_DOMAIN, logger: silentLogger, clock, recorder });
    const r = await intake.process(
      postfixDsn({ to: sender, queueId: 'Bnc1QidX', recipients: [{ address: 'gone@example.org', action: 'failed', status: '5.1.1', diagnostic: '550 5.1.1 user unknown' }] }),
      { mailFrom: '', rcptTo: sender },
    );
    expect(r.actions.map((a) => [a.eventAdded, a.listed])).toEqual([[false, true]]);
    expect((await db.store.listEvents('Bnc1QidX')).map((e) => [e.type, e.detail['source']])).toEqual([['bounced', 'maillog']]);
  });

  it('bounced (5.7.1) by a blocklist: bounced with reason blocked, NOT listed — neither by the log line nor by the DSN that follows', async () => {
    await db.send('Blk1QidX', 'reader@example.org');
    const recorder = new DeliveryRecorder(db.store);
    const f = await start({ recorder });
    const done = lineWith(f, 'status=bounced');
    const sender = bounceAddress(db.space.id, 'Blk1QidX');
    const text = 'host mx said: 554 5.7.1 Service unavailable; Client host [203.0.113.9] blocked using zen.spamhaus.org (in reply to RCPT TO command)';
    appendFileSync(file, qmgrFrom('Blk1QidX', sender) + delivery('Blk1QidX', 'reader@example.org', '5.7.1', 'bounced', text));
    const p = await done;
    expect(p.actions.map((a) => [a.event, a.kind, a.reason, a.listed, a.listing])).toEqual([['bounced', 'hard', 'blocked', false, 'sender-side']]);
    const intake = new BounceIntake({ store: db.store, keys: KEYS, bounceDomain: BOUNCE_DOMAIN, logger: silentLogger, clock, recorder });
    const r = await intake.process(
      postfixDsn({ to: sender, queueId: 'Blk1QidX', recipients: [{ address: 'reader@example.org', action: 'failed', status: '5.7.1', diagnostic: text.slice('host mx said: '.length) }] }),
      { mailFrom: '', rcptTo: sender },
    );
    expect(r.actions.map((a) => [a.eventAdded, a.reason, a.listed])).toEqual([[false, 'blocked', false]]);
    expect(await db.store.listEntries(db.space.id, 'bounce')).toEqual([]);
    const to = (await db.store.getSend('Blk1QidX', db.space.id))?.recipients.find((x) => x.role === 'to');
    expect(to).toMatchObject({ status: 'bounced', reason: 'blocked' });
    expect((await db.store.listEvents('Blk1QidX')).map((e) => [e.type, e.detail['reason'], e.detail['rule']])).toEqual([['bounced', 'blocked', 'maillog:text:blocklisted']]);
  });

  it('deferred, then expired: deferred, then bounced with kind soft and no list entry', async () => {
    await db.send('Exp1QidX', 'later@deferred.example');
    await db.store.setWebhook({ spaceId: db.space.id, url: 'https://hooks.example/x', secret: 'whsec_x' });
    const f = await start();
    const sender = bounceAddress(db.space.id, 'Exp1QidX');
    const first = lineWith(f, 'status=deferred');
    appendFileSync(file, qmgrFrom('Exp1QidX', sender) + delivery('Exp1QidX', 'Later@Deferred.Example', '4.4.1', 'deferred', 'connect to mx.example.org[192.0.2.1]:25: Connection refused'));
    expect((await first).actions.map((a) => [a.address, a.event])).toEqual([['later@deferred.example', 'deferred']]);
    expect((await db.store.getSend('Exp1QidX', db.space.id))?.status).toBe('deferred');
    // The deferral is an event with the remote reply, and a webhook like the others.
    const [deferredEvent] = await db.store.listEvents('Exp1QidX');
    expect(deferredEvent).toMatchObject({ type: 'deferred', detail: { status: '4.4.1', diagnostic: 'connect to mx.example.org[192.0.2.1]:25: Connection refused' } });
    expect((await db.store.listWebhookDeliveries({})).map((d) => [d.type, d.sendId, d.detail['diagnostic']])).toEqual([
      ['deferred', 'Exp1QidX', 'connect to mx.example.org[192.0.2.1]:25: Connection refused'],
    ]);
    const end = lineWith(f, 'status=expired');
    appendFileSync(file, expired('Exp1QidX', sender));
    expect((await end).actions.map((a) => [a.event, a.kind, a.listed])).toEqual([['bounced', 'soft', false]]);
    expect((await db.store.getSend('Exp1QidX', db.space.id))?.status).toBe('bounced');
    expect(await db.store.listEntries(db.space.id, 'bounce')).toEqual([]);
    expect((await db.store.listEvents('Exp1QidX')).map((e) => [e.type, e.detail['kind'], e.detail['expired'] ?? null])).toEqual([
      ['deferred', 'soft', null],
      ['bounced', 'soft', true],
    ]);
  });

  it('an expired message whose recipient was delivered changes nothing', async () => {
    await db.send('Exp2QidX', 'fine@example.org');
    const f = await start();
    const sender = bounceAddress(db.space.id, 'Exp2QidX');
    const end = lineWith(f, 'status=expired');
    appendFileSync(file, qmgrFrom('Exp2QidX', sender) + delivery('Exp2QidX', 'fine@example.org', '2.0.0', 'sent', '250 ok') + expired('Exp2QidX', sender));
    expect((await end).ignored).toBe('nothing-deferred');
    expect((await db.store.getSend('Exp2QidX', db.space.id))?.status).toBe('delivered');
  });

  it('the BCC copy (its own queue id, send id <id>_b) records the BCC recipient', async () => {
    await db.send('Main1', 'to@example.org', 'copy@example.net');
    const f = await start();
    const done = lineWith(f, 'status=sent');
    appendFileSync(file, qmgrFrom('CopyQid1', bounceAddress(db.space.id, 'Main1', { bccCopy: true })) + delivery('CopyQid1', 'copy@example.net', '2.0.0', 'sent', '250 ok'));
    const p = await done;
    expect(p.actions.map((a) => a.address)).toEqual(['copy@example.net']);
    const send = await db.store.getSend('Main1', db.space.id);
    expect(send?.recipients.map((r) => [r.address, r.status])).toEqual([
      ['to@example.org', 'queued'],
      ['copy@example.net', 'delivered'],
      ['dropped@example.net', 'discarded'],
    ]);
    expect((await db.store.listEvents('Main1'))[0]?.detail['bccCopy']).toBe(true);
  });

  const ignoredCases: Array<[string, (sp: number) => string, string, string]> = [
    ['a queue id never seen in a from= line', () => '', 'UnknownQ', 'unknown-queue-id'],
    ['the null sender (Postfix\'s own bounce)', () => qmgrFrom('NullQ', ''), 'NullQ', 'unknown-queue-id'],
    ['a sender that is not a bounce address', () => qmgrFrom('PlainQ', 'someone@shop.example'), 'PlainQ', 'unknown-queue-id'],
    ['a forged bounce address', (sp) => qmgrFrom('ForgedQ', bounceAddress(sp, 'Real1', { keys: OTHER_KEYS })), 'ForgedQ', 'unknown-queue-id'],
    ['a valid bounce address of an unknown send', (sp) => qmgrFrom('GhostQ', bounceAddress(sp, 'Ghost1')), 'GhostQ', 'unknown-send'],
    ['an address that is not the send\'s', (sp) => qmgrFrom('Real1', bounceAddress(sp, 'Real1')), 'Real1', 'unknown-recipient'],
  ];
  it.each(ignoredCases)('ignores %s', async (_name, before, qid, reason) => {
    await db.send('Real1', 'real@example.org');
    const f = await start();
    const to = reason === 'unknown-recipient' ? 'stranger@example.org' : 'real@example.org';
    const done = lineWith(f, `${qid}: to=`);
    appendFileSync(file, before(db.space.id) + delivery(qid, to, '5.1.1', 'bounced', '550 no'));
    const p = await done;
    expect(p.ignored).toBe(reason);
    expect(p.actions).toEqual([]);
    expect((await db.store.getSend('Real1', db.space.id))?.status).toBe('queued');
    expect(await db.store.listEntries(db.space.id, 'bounce')).toEqual([]);
  });

  it('starts at the end of the file; fromStart reads what is there', async () => {
    await db.send('Old1QidX', 'old@example.org');
    appendFileSync(file, qmgrFrom('Old1QidX', bounceAddress(db.space.id, 'Old1QidX')) + delivery('Old1QidX', 'old@example.org', '2.0.0', 'sent', 'old'));
    const f = await start();
    const marker = lineWith(f, 'marker');
    appendFileSync(file, 'Nov 23 01:00:00 relay postfix/qmgr[1]: marker\n');
    await marker;
    expect((await db.store.getSend('Old1QidX', db.space.id))?.status).toBe('queued');
    await f.stop();
    const g = await start({ fromStart: true });
    await lineWith(g, 'status=sent');
    expect((await db.store.getSend('Old1QidX', db.space.id))?.status).toBe('delivered');
  });

  it('waits for a file that does not exist yet and reads it from its start', async () => {
    await db.send('Late1', 'late@example.org');
    const later = path.join(db.dir, 'later.log');
    const f = await start({ path: later });
    const done = lineWith(f, 'status=sent');
    writeFileSync(later, qmgrFrom('Late1', bounceAddress(db.space.id, 'Late1')) + delivery('Late1', 'late@example.org', '2.0.0', 'sent', 'ok'));
    expect((await done).actions).toHaveLength(1);
  });

  it('a line written in pieces is handled once, when complete', async () => {
    await db.send('Part1', 'part@example.org');
    const f = await start();
    const seen: ProcessedLine[] = [];
    f.on('processed', (p: ProcessedLine) => seen.push(p));
    const from = lineWith(f, 'queue active');
    appendFileSync(file, qmgrFrom('Part1', bounceAddress(db.space.id, 'Part1')));
    await from;
    const line = delivery('Part1', 'part@example.org', '2.0.0', 'sent', 'ok');
    const done = lineWith(f, 'status=sent');
    appendFileSync(file, line.slice(0, 40));
    const marker = processed(f, () => true);
    // The partial line must not be handled; the next complete line shows the follower read on.
    appendFileSync(file, line.slice(40));
    await Promise.all([done, marker]);
    expect(seen.filter((p) => p.line.includes('Part1: to=')).map((p) => p.line)).toEqual([line.trimEnd()]);
  });

  it('a truncated file is read again from its start', async () => {
    await db.send('Trunc1', 'trunc@example.org');
    const f = await start();
    const filler = lineWith(f, 'filler');
    appendFileSync(file, `Nov 23 01:00:00 relay postfix/qmgr[1]: filler ${'x'.repeat(500)}\n`);
    await filler;
    const done = lineWith(f, 'status=sent');
    writeFileSync(file, qmgrFrom('Trunc1', bounceAddress(db.space.id, 'Trunc1')) + delivery('Trunc1', 'trunc@example.org', '2.0.0', 'sent', 'ok'));
    expect((await done).actions.map((a) => a.event)).toEqual(['delivered']);
  });

  it('after rotation, reads the rest of the old file, then the new one from its start', async () => {
    await db.send('Rot1QidX', 'rot@example.org');
    await db.send('Rot2QidX', 'rot2@example.org');
    const f = await start();
    const sender1 = bounceAddress(db.space.id, 'Rot1QidX');
    const first = lineWith(f, 'Rot1QidX: from=');
    appendFileSync(file, qmgrFrom('Rot1QidX', sender1));
    await first;
    // Postfix writes one more line to the old file, then the file is moved away and a new one begins.
    const oldTail = lineWith(f, 'Rot1QidX: to=');
    const newHead = lineWith(f, 'Rot2QidX: to=');
    appendFileSync(file, delivery('Rot1QidX', 'rot@example.org', '2.0.0', 'sent', 'ok'));
    renameSync(file, `${file}.1`);
    writeFileSync(file, qmgrFrom('Rot2QidX', bounceAddress(db.space.id, 'Rot2QidX')) + delivery('Rot2QidX', 'rot2@example.org', '2.0.0', 'sent', 'ok'));
    expect((await oldTail).actions).toHaveLength(1);
    expect((await newHead).actions).toHaveLength(1);
    expect((await db.store.getSend('Rot1QidX', db.space.id))?.status).toBe('delivered');
    expect((await db.store.getSend('Rot2QidX', db.space.id))?.status).toBe('delivered');
  });

  it(`skips a line over MAX_MAILLOG_LINE_BYTES (${MAX_MAILLOG_LINE_BYTES}) and reads on`, async () => {
    await db.send('Long1', 'long@example.org');
    const f = await start();
    const seen: string[] = [];
    f.on('processed', (p: ProcessedLine) => seen.push(p.line.slice(0, 20)));
    const done = lineWith(f, 'status=sent');
    appendFileSync(file, `${'y'.repeat(MAX_MAILLOG_LINE_BYTES + 1)}\n`);
    appendFileSync(file, qmgrFrom('Long1', bounceAddress(db.space.id, 'Long1')) + delivery('Long1', 'long@example.org', '2.0.0', 'sent', 'ok'));
    await done;
    expect(seen.some((l) => l.startsWith('yyy'))).toBe(false);
    expect(seen).toHaveLength(2);
  });

  it('remembers at most maxQueueIds queue ids, forgetting the oldest', async () => {
    for (const id of ['Cap1QidX', 'Cap2QidX', 'Cap3QidX', 'Cap4QidX']) await db.send(id, `${id.toLowerCase()}@example.org`);
    const f = await start({ maxQueueIds: 3 });
    const last = lineWith(f, 'Cap4QidX: from=');
    appendFileSync(file, ['Cap1QidX', 'Cap2QidX', 'Cap3QidX', 'Cap4QidX'].map((id) => qmgrFrom(id, bounceAddress(db.space.id, id))).join(''));
    await last;
    expect(f.rememberedQueueIds).toBe(3);
    const forgotten = lineWith(f, 'Cap1QidX: to=');
    const kept = lineWith(f, 'Cap2QidX: to=');
    appendFileSync(file, delivery('Cap1QidX', 'cap1qidx@example.org', '2.0.0', 'sent', 'ok') + delivery('Cap2QidX', 'cap2qidx@example.org', '2.0.0', 'sent', 'ok'));
    // Forgotten in memory, found again through the store: its from= line was noted (loggedAt).
    expect((await forgotten).actions).toHaveLength(1);
    expect((await kept).actions).toHaveLength(1);
    expect(f.rememberedQueueIds).toBe(3);
  });

  it('a queue id neither remembered nor noted in the store is unknown', async () => {
    await db.send('Never1QX', 'never@example.org');
    const f = await start();
    const line = lineWith(f, 'Never1QX: to=');
    appendFileSync(file, delivery('Never1QX', 'never@example.org', '2.0.0', 'sent', 'ok'));
    expect((await line).ignored).toBe('unknown-queue-id');
    expect((await db.store.getSend('Never1QX', db.space.id))?.status).toBe('queued');
  });

  it(`the default cap is MAX_MAILLOG_QUEUE_IDS (${MAX_MAILLOG_QUEUE_IDS})`, async () => {
    const f = new MaillogFollower({ node: 'n1', path: file, store: db.store, keys: KEYS, bounceDomain: BOUNCE_DOMAIN, logger: silentLogger });
    const sender = bounceAddress(db.space.id, 'Same1');
    for (let i = 0; i <= MAX_MAILLOG_QUEUE_IDS; i++) await f.handleLine(qmgrFrom(`Q${i.toString(36).padStart(5, '0')}`, sender).trimEnd());
    expect(f.rememberedQueueIds).toBe(MAX_MAILLOG_QUEUE_IDS);
    expect((await f.handleLine(delivery('Q00000', 'x@example.org', '2.0.0', 'sent', 'ok').trimEnd())).ignored).toBe('unknown-queue-id');
  }, 60_000);

  it('retries a line while the store is down, then records it once', async () => {
    await db.send('Down1', 'down@example.org');
    const failing = new Set(['getSend']);
    const store = failingStore(db.store, failing, () => new TransientError('ESTORE_IO', 'injected: store down'));
    const f = await start({ store });
    const retried = new Promise<void>((resolve) => f.once('retry', () => resolve()));
    const done = lineWith(f, 'status=sent');
    appendFileSync(file, qmgrFrom('Down1', bounceAddress(db.space.id, 'Down1')) + delivery('Down1', 'down@example.org', '2.0.0', 'sent', 'ok'));
    await retried;
    expect((await db.store.getSend('Down1', db.space.id))?.status).toBe('queued');
    failing.clear();
    expect((await done).actions).toHaveLength(1);
    expect(await db.store.listEvents('Down1')).toHaveLength(1);
  });

  it('stop() ends the loop while the store is down', async () => {
    await db.send('Down2', 'down@example.org');
    const store = failingStore(db.store, new Set(['getSend']), () => new TransientError('ESTORE_IO', 'down'));
    const f = await start({ store });
    const retried = new Promise<void>((resolve) => f.once('retry', () => resolve()));
    appendFileSync(file, qmgrFrom('Down2', bounceAddress(db.space.id, 'Down2')) + delivery('Down2', 'down@example.org', '2.0.0', 'sent', 'ok'));
    await retried;
    await f.stop();
    follower = null;
    expect((await db.store.getSend('Down2', db.space.id))?.status).toBe('queued');
  });
});

describe('MaillogFollower: the read position in the store', () => {
  const note = (text: string): string => `Nov 23 01:00:00 relay postfix/qmgr[1]: ${text}\n`;
  const sent = (qid: string, to: string): string => qmgrFrom(qid, bounceAddress(db.space.id, qid)) + delivery(qid, to, '2.0.0', 'sent', 'ok');
  /** Appends a marker line and waits until the follower has handled it (so everything before it). */
  async function mark(f: MaillogFollower, text: string, to = file): Promise<void> {
    const seen = lineWith(f, text);
    appendFileSync(to, note(text));
    await seen;
  }
  const identity = (p: string): { dev: string; ino: string } => {
    const st = statSync(p, { bigint: true });
    return { dev: String(st.dev), ino: String(st.ino) };
  };
  const statusOf = async (id: string): Promise<string | undefined> => (await db.store.getSend(id, db.space.id))?.status;

  it('first start: saves the end of the file; each batch saves the offset past the last line', async () => {
    const f = await start();
    expect(await db.store.getDeliveryCursor('n1', file)).toMatchObject({ path: file, ...identity(file), offset: statSync(file).size });
    const saved = new Promise<SavedPosition>((resolve) => f.once('position', resolve));
    await mark(f, 'first-batch');
    expect(await saved).toEqual({ ...identity(file), offset: statSync(file).size });
    expect((await db.store.getDeliveryCursor('n1', file))?.offset).toBe(statSync(file).size);
  });

  it('resumes where it stopped: what Postfix logged while trxmail was down is recorded, nothing is read twice', async () => {
    await db.send('Up1QidXX', 'up@example.org');
    await db.send('Down1QidX', 'down@example.org');
    const f = await start();
    const up = lineWith(f, 'Up1QidXX: to=');
    appendFileSync(file, sent('Up1QidXX', 'up@example.org'));
    await up;
    await f.stop();
    appendFileSync(file, sent('Down1QidX', 'down@example.org'));
    const g = new MaillogFollower({ node: 'n1', path: file, store: db.store, keys: KEYS, bounceDomain: BOUNCE_DOMAIN, logger: silentLogger, clock, pollMs: 5 });
    follower = g;
    const seen: string[] = [];
    g.on('processed', (p: ProcessedLine) => seen.push(p.line));
    await g.start();
    await mark(g, 'after-restart');
    expect(await statusOf('Down1QidX')).toBe('delivered');
    expect(seen.filter((l) => l.includes('Up1QidXX'))).toEqual([]);
    expect(seen.filter((l) => l.includes('Down1QidX'))).toHaveLength(2);
    expect(await db.store.listEvents('Up1QidXX')).toHaveLength(1);
  });

  it('a restart between the from= line and the delivery line: the send is found through the store', async () => {
    await db.send('Split1QX', 'split@example.org');
    const f = await start();
    const from = lineWith(f, 'Split1QX: from=');
    appendFileSync(file, qmgrFrom('Split1QX', bounceAddress(db.space.id, 'Split1QX')));
    await from;
    await f.stop();
    appendFileSync(file, delivery('Split1QX', 'split@example.org', '2.0.0', 'sent', 'ok'));
    const g = await start();
    await mark(g, 'after-restart');
    expect(await statusOf('Split1QX')).toBe('delivered');
  });

  it('a line cut by the stop is read again whole at the next start', async () => {
    await db.send('Cut1QidX', 'cut@example.org');
    const f = await start();
    await mark(f, 'before-cut');
    const whole = sent('Cut1QidX', 'cut@example.org');
    const cutAt = whole.indexOf('status=');
    const sizeBefore = statSync(file).size;
    const fromSaved = new Promise<void>((resolve) => {
      const on = (p: SavedPosition): void => {
        if (p.offset > sizeBefore) {
          f.off('position', on);
          resolve();
        }
      };
      f.on('position', on);
    });
    appendFileSync(file, whole.slice(0, cutAt));
    await fromSaved;
    await f.stop();
    // The from= line was complete; the delivery line was not: the position is at its start.
    expect((await db.store.getDeliveryCursor('n1', file))?.offset).toBe(sizeBefore + whole.indexOf('\n') + 1);
    appendFileSync(file, whole.slice(cutAt));
    const g = await start();
    // The queue id is remembered in memory only: the restarted follower reads the from= line
    // again only if it was cut too, so this checks the delivery line is parsed whole.
    const line = await lineWith(g, 'Cut1QidX: to=');
    expect(line.record?.kind).toBe('delivery');
    expect(line.line).toBe(whole.slice(whole.indexOf('\n') + 1).trimEnd());
  });

  it.each(['.0', '.1'])('rotated (rename + create) while down to <path>%s: the rest of the old file, then the new one from 0', async (suffix) => {
    await db.send('Old9QidX', 'old@example.org');
    await db.send('New9QidX', 'new@example.org');
    const f = await start();
    await mark(f, 'before-stop');
    await f.stop();
    appendFileSync(file, sent('Old9QidX', 'old@example.org'));
    renameSync(file, file + suffix);
    writeFileSync(file, sent('New9QidX', 'new@example.org'));
    const g = await start();
    await mark(g, 'after-restart');
    expect(await statusOf('Old9QidX')).toBe('delivered');
    expect(await statusOf('New9QidX')).toBe('delivered');
    await g.stop();
    expect(await db.store.getDeliveryCursor('n1', file)).toMatchObject({ ...identity(file), offset: statSync(file).size });
  });

  it('rotated while running: the position follows the new file once the old one is finished', async () => {
    await db.send('RotAQidX', 'a@example.org');
    await db.send('RotBQidX', 'b@example.org');
    const f = await start();
    const oldTail = lineWith(f, 'RotAQidX: to=');
    const newHead = lineWith(f, 'RotBQidX: to=');
    appendFileSync(file, sent('RotAQidX', 'a@example.org'));
    renameSync(file, `${file}.0`);
    writeFileSync(file, sent('RotBQidX', 'b@example.org'));
    expect((await oldTail).actions).toHaveLength(1);
    expect((await newHead).actions).toHaveLength(1);
    await f.stop();
    expect(await db.store.getDeliveryCursor('n1', file)).toMatchObject({ ...identity(file), offset: statSync(file).size });
  });

  it('copytruncate while down (same file, now shorter): read from 0', async () => {
    await db.send('Ct1QidXX', 'ct@example.org');
    const f = await start();
    await mark(f, `filler ${'x'.repeat(2000)}`);
    await f.stop();
    const before = identity(file);
    writeFileSync(file, sent('Ct1QidXX', 'ct@example.org'));
    expect(identity(file)).toEqual(before);
    const g = await start();
    await mark(g, 'after-restart');
    expect(await statusOf('Ct1QidXX')).toBe('delivered');
  });

  it('the saved file is gone (rotated further than .1): the current file from 0, with a warning', async () => {
    await db.send('Gone1Qid', 'gone@example.org');
    const f = await start();
    await mark(f, 'before-stop');
    await f.stop();
    renameSync(file, `${file}.2`);
    writeFileSync(file, sent('Gone1Qid', 'gone@example.org'));
    const lines: LogEntry[] = [];
    const g = new MaillogFollower({ node: 'n1', path: file, store: db.store, keys: KEYS, bounceDomain: BOUNCE_DOMAIN, logger: recordingLogger(lines), clock, pollMs: 5 });
    follower = g;
    await g.start();
    await mark(g, 'after-restart');
    expect(await statusOf('Gone1Qid')).toBe('delivered');
    expect(lines.some((l) => l.level === 'warn' && l.msg.includes('no longer at the path'))).toBe(true);
  });

  it(`a line over MAX_MAILLOG_LINE_BYTES is skipped and counted as processed: the position moves past it`, async () => {
    const f = await start();
    await mark(f, 'before-long');
    appendFileSync(file, `${'y'.repeat(MAX_MAILLOG_LINE_BYTES + 1)}\n`);
    await mark(f, 'after-long');
    await f.stop();
    expect((await db.store.getDeliveryCursor('n1', file))?.offset).toBe(statSync(file).size);
  });

  it('a failed save is logged and does not stop the follower; the next batch saves', async () => {
    let failing = true;
    const store = new Proxy(db.store, {
      get(target, prop, receiver) {
        const value: unknown = Reflect.get(target, prop, receiver);
        if (prop === 'saveDeliveryCursor') {
          return (...args: Parameters<Store['saveDeliveryCursor']>) => (failing ? Promise.reject(new TransientError('ESTORE_BUSY', 'busy')) : target.saveDeliveryCursor(...args));
        }
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
    const f = await start({ store });
    await mark(f, 'while-failing');
    expect(await db.store.getDeliveryCursor('n1', file)).toBeNull();
    failing = false;
    const saved = new Promise<SavedPosition>((resolve) => f.once('position', resolve));
    await mark(f, 'after-recovery');
    expect((await saved).offset).toBe(statSync(file).size);
  });
});

describe('MaillogFollower: sends Postfix never queued (phantoms)', () => {
  const HOUR = 60 * 60_000;
  let now = AT.getTime();
  beforeEach(() => {
    now = AT.getTime();
  });
  const make = (logger = silentLogger): MaillogFollower => {
    const f = new MaillogFollower({ node: 'n1', path: file, store: db.store, keys: KEYS, bounceDomain: BOUNCE_DOMAIN, logger, clock: () => new Date(now), pollMs: 5, notQueuedCheckMs: 0 });
    follower = f;
    return f;
  };
  /**
   * The ids marked by the next two checks to end: the second certainly began after this call
   * (after the clock was moved); the first may have too.
   */
  const nextCheck = async (f: MaillogFollower): Promise<string[]> => {
    const one = (): Promise<string[]> => new Promise((resolve) => f.once('not-queued', resolve));
    return [...(await one()), ...(await one())];
  };
  const sendAt = (id: string, offsetMs: number): Promise<unknown> => db.send(id, `${id.toLowerCase()}@example.org`, null, { receivedAt: new Date(AT.getTime() + offsetMs) });

  it(`marks a send whose queue id never appeared in the log NOT_QUEUED_AFTER_MS (${NOT_QUEUED_AFTER_MS} ms) after it was received, only if received while following`, async () => {
    await sendAt('EarlyQidX', -1000);
    const f = make();
    await f.start();
    expect((await db.store.getDeliveryCursor('n1', file))?.followingSince).toEqual(AT);
    await sendAt('PhantomQX', 1000);
    await sendAt('QueuedQXX', 2000);
    const from = lineWith(f, 'QueuedQXX: from=');
    appendFileSync(file, qmgrFrom('QueuedQXX', bounceAddress(db.space.id, 'QueuedQXX')));
    await from;

    now = AT.getTime() + HOUR - 1;
    expect(await nextCheck(f)).toEqual([]);
    now = AT.getTime() + 2 * HOUR;
    expect(await nextCheck(f)).toEqual(['PhantomQX']);
    expect(await nextCheck(f)).toEqual([]);

    const phantom = await db.store.getSend('PhantomQX', db.space.id);
    expect(phantom?.notQueued?.at).toEqual(new Date(AT.getTime() + 2 * HOUR));
    expect(phantom?.notQueued?.reason).toMatch(/not queued by Postfix: its queue id did not appear in the log within 60 min/);
    expect((await db.store.getSend('QueuedQXX', db.space.id))?.notQueued).toBeUndefined();
    expect((await db.store.getSend('EarlyQidX', db.space.id))?.notQueued).toBeUndefined();
    const [total] = await db.store.report({ spaceId: db.space.id }, null);
    expect(total?.sends).toBe(2);
  });

  it('keeps "following since" across a restart that resumes, and starts it again after a gap', async () => {
    const f = make();
    await f.start();
    await f.stop();
    now = AT.getTime() + 10 * 60_000;
    const g = make();
    await g.start();
    expect((await db.store.getDeliveryCursor('n1', file))?.followingSince).toEqual(AT);
    await sendAt('WhileUpQX', 1000);
    now = AT.getTime() + 2 * HOUR;
    expect(await nextCheck(g)).toEqual(['WhileUpQX']);
    await g.stop();
    // Rotated twice while down: the lines in between are lost, so is the guarantee.
    renameSync(file, `${file}.2`);
    writeFileSync(file, '');
    now = AT.getTime() + 3 * HOUR;
    const h = make();
    await h.start();
    expect((await db.store.getDeliveryCursor('n1', file))?.followingSince).toEqual(new Date(AT.getTime() + 3 * HOUR));
  });

  it('the BCC copy (its own queue id) in the log does not count: the send\'s own message was never queued', async () => {
    await db.send('BccOnlyQX', 'to@example.org', 'bcc@example.org', { receivedAt: new Date(AT.getTime() + 1000) });
    const f = make();
    await f.start();
    const from = lineWith(f, 'BccCopyQX: from=');
    appendFileSync(file, qmgrFrom('BccCopyQX', bounceAddress(db.space.id, 'BccOnlyQX', { bccCopy: true })));
    await from;
    now = AT.getTime() + 2 * HOUR;
    expect(await nextCheck(f)).toEqual(['BccOnlyQX']);
  });
});
