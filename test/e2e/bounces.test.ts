/**
 * Bounce management end to end through the real Postfix: the recipient's server refuses
 * with 550 5.1.1, Postfix writes a DSN to the bounce address, routes it (transport_maps) to
 * trxmail's LMTP intake, which records the hard bounce and lists the address; the next send
 * to it is accepted and suppressed, unless flag 8. Delivery status comes from Postfix's log.
 * Mail from other servers reaches the bounce domain's own MX listener in plain SMTP.
 *
 * No polling: the tests wait for the events that say the work is done — the runtime's maillog
 * follower's 'processed' event for a log line, the bounce intake's log line for a DSN.
 */
import { EventEmitter } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeBounceAddress } from '../../src/bounce/bounce-address.js';
import type { ProcessedLine } from '../../src/delivery/maillog-follower.js';
import { buildTimeline } from '../../src/reports/timeline.js';
import type { Store } from '../../src/store/store.js';
import { firstMatch } from '../helpers/events.js';
import { BOUNCE_DOMAIN, remoteSmtp, startStack, submit, TEST_KEYS, userUnknownDsn, type LogLine, type Stack } from './stack.js';

const USER = 'app@bounce.example';
const PASSWORD = 'bounce password 123';
const refuse = new Set(['nobody@example.org']);
/** A receiver that blocks the relay's IP (a sender-side cause: the address must not be listed). */
const BLOCKED_TEXT = '5.7.1 Service unavailable; Client host [127.0.0.1] blocked using zen.spamhaus.org';
const refuseWith = new Map([['blocked@example.org', { code: 554, text: BLOCKED_TEXT }]]);
let stack: Stack;
let spaceId = 0;

async function send(to: string, subject: string, flags?: number, messageId?: string): Promise<string> {
  const raw = [
    `From: news@bounce.example`,
    `To: ${to}`,
    `Subject: ${subject}`,
    ...(flags === undefined ? [] : [`X-Mxm-Flags: ${flags}`]),
    ...(messageId === undefined ? [] : [`Message-ID: <${messageId}>`]),
    '',
    'hello',
    '',
  ].join('\r\n');
  const response = await submit(stack, { user: USER, pass: PASSWORD }, { from: 'news@bounce.example', to: [to] }, raw);
  const id = /^250 2\.0\.0 Ok: queued as ([0-9A-Za-z]+)$/.exec(response)?.[1];
  if (!id) throw new Error(`not queued: ${response}`);
  return id;
}

/** Every line the runtime's maillog follower has processed, and the emitter it came from. */
const processed: ProcessedLine[] = [];
let follower: EventEmitter = new EventEmitter();

/** The follower has handled (and recorded) Postfix's delivery line for `queueId` with `status`. */
const deliveryLine = (queueId: string, status: 'sent' | 'bounced'): Promise<ProcessedLine> =>
  firstMatch(processed, follower, 'processed', (p) => p.record?.kind === 'delivery' && p.record.queueId === queueId && p.record.status === status);

/** The bounce intake has handled a DSN for send `sendId` (it logs once it has recorded or ignored it). */
const intakeDone = (sendId: string): Promise<LogLine> =>
  stack.logged((l) => l.msg.startsWith('bounce intake: ') && l.obj['sendId'] === sendId);

const recipientOf = async (store: Store, id: string, role: 'to' | 'bcc' = 'to') =>
  (await store.getSend(id, spaceId))?.recipients.find((r) => r.role === role);

/** Another mail server's delivery to the bounce domain's MX listener (see remoteSmtp). */
const remoteDelivery = (port: number, from: string, to: string, body: string[] | null): Promise<string> =>
  remoteSmtp(stack, port, ['--from', from, '--to', to], body);

beforeAll(async () => {
  stack = await startStack({ refuse, refuseWith });
  spaceId = (await stack.addSpace('bounce', ['bounce.example'], [{ email: USER, password: PASSWORD }])).id;
  const f = stack.runtime?.maillogFollower;
  if (!f) throw new Error('the stack runs no maillog follower');
  follower = f;
  follower.on('processed', (p: ProcessedLine) => processed.push(p));
}, 120_000);

afterAll(async () => {
  await stack?.stop();
});

describe('a hard bounce, through Postfix and back', () => {
  let firstId = '';

  it('records the bounce from the DSN and puts the address on the Bounce list', async () => {
    firstId = await send('nobody@example.org', 'will bounce');
    // Both sources: Postfix's log line (status=bounced) and the DSN it then mails to the
    // bounce address; the first records the bounce, the other finds it recorded.
    const [line, dsn] = await Promise.all([deliveryLine(firstId, 'bounced'), intakeDone(firstId)]);
    expect(line.record).toMatchObject({ to: 'nobody@example.org', dsn: '5.1.1' });
    expect(dsn.msg).toBe('bounce intake: recorded');
    const entry = (await stack.store.listEntries(spaceId, 'bounce')).find((e) => e.address.toLowerCase() === 'nobody@example.org');
    expect(entry?.reason).toMatch(/5\.1\.1/);
    const r = await recipientOf(stack.store, firstId);
    expect(r?.status).toBe('bounced');
    const events = (await stack.store.listEvents(firstId)).filter((e) => e.type === 'bounced');
    expect(events).toHaveLength(1);
    expect(JSON.stringify(events[0]!.detail)).toMatch(/5\.1\.1/);
  });

  it('accepts the next send to it with an id, delivers nothing, and reports it suppressed', async () => {
    const id = await send('nobody@example.org', 'after the bounce');
    const r = await recipientOf(stack.store, id);
    expect(r).toMatchObject({ status: 'suppressed', suppressedBy: 'bounce' });
    // a later message arrived at the sink, so this one would have been tried by now
    await send('marker@example.org', 'marker after bounce', 0);
    await stack.sink.waitFor((m) => m.rcptTo.includes('marker@example.org'));
    expect(stack.sink.messages.some((m) => m.raw.includes('Subject: after the bounce'))).toBe(false);
  });

  it('delivers the same send with X-Mxm-Flags: 11', async () => {
    refuse.delete('nobody@example.org'); // the mailbox exists again
    await send('nobody@example.org', 'flag 11 ignores the bounce list', 11);
    const m = await stack.sink.waitFor((x) => x.raw.includes('Subject: flag 11 ignores the bounce list'));
    expect(m.rcptTo).toEqual(['nobody@example.org']);
  });
});

describe('a bounce caused by the sending side (blocked IP), through Postfix and back', () => {
  it('records the reason on the send from the log line and the DSN, counts it blocked, and does NOT list the address', async () => {
    const id = await send('blocked@example.org', 'blocked by a blocklist');
    const [line, dsn] = await Promise.all([deliveryLine(id, 'bounced'), intakeDone(id)]);
    expect(line.record).toMatchObject({ to: 'blocked@example.org', dsn: '5.7.1' });
    expect(line.actions.map((a) => [a.reason, a.listed])).toEqual([['blocked', false]]);
    expect(dsn.msg).toBe('bounce intake: recorded');
    expect(await recipientOf(stack.store, id)).toMatchObject({ status: 'bounced', reason: 'blocked' });
    const events = (await stack.store.listEvents(id)).filter((e) => e.type === 'bounced');
    expect(events).toHaveLength(1);
    expect(events[0]?.detail).toMatchObject({ reason: 'blocked', status: '5.7.1' });
    expect((await stack.store.listEntries(spaceId, 'bounce')).some((e) => e.address.toLowerCase() === 'blocked@example.org')).toBe(false);
    const [total] = await stack.store.report({ spaceId, since: new Date(Date.now() - 3_600_000) }, null);
    expect(total?.blocked).toBeGreaterThanOrEqual(1);
    // The next send to the address is not suppressed: it goes out (and is blocked again).
    const next = await send('blocked@example.org', 'blocked again');
    expect((await recipientOf(stack.store, next))?.status).not.toBe('suppressed');
    await deliveryLine(next, 'bounced');
  });
});

describe('delivery status from the Postfix log', () => {
  it('moves a delivered send to delivered, with an event; found by its recipient and Message-ID, its timeline has the remote reply', async () => {
    const id = await send('fine@example.org', 'delivered status', undefined, 'delivered.status.1@bounce.example');
    const line = await deliveryLine(id, 'sent');
    expect(line.actions).toHaveLength(1);
    expect((await recipientOf(stack.store, id))?.status).toBe('delivered');
    const ev = (await stack.store.listEvents(id)).filter((e) => e.type === 'delivered');
    expect(ev).toHaveLength(1);
    // The milter kept the Message-ID; search finds the send by it and by its recipient.
    expect((await stack.store.getSend(id, spaceId))?.messageId).toBe('delivered.status.1@bounce.example');
    expect((await stack.store.listSends({ spaceId, messageId: '<delivered.status.1@bounce.example>' })).map((x) => x.id)).toEqual([id]);
    expect((await stack.store.listSends({ spaceId, recipient: 'FINE@example.org', limit: 50 })).map((x) => x.id)).toContain(id);
    expect(await stack.store.listSends({ spaceId: spaceId + 1000, text: id })).toEqual([]);
    const send0 = await stack.store.getSend(id, spaceId);
    const delivered = buildTimeline(send0!, await stack.store.listEvents(id)).find((e) => e.type === 'delivered');
    // The receiving server's own reply, as Postfix logged it.
    expect(delivered?.reply).toMatch(/^250 /);
    expect(delivered?.role).toBe('to');
    // A message without a Message-ID gets Postfix's own (<queue id>@myhostname) before the
    // milter sees the headers: that one is kept, so every send has one.
    const plain = await send('fine@example.org', 'no message id');
    await deliveryLine(plain, 'sent');
    expect((await stack.store.getSend(plain, spaceId))?.messageId).toMatch(new RegExp(`^${plain}@`));
  });
});

describe("the bounce domain's MX listener (mail from other servers)", () => {
  const dsn = userUnknownDsn;

  it('accepts plain unauthenticated mail for the bounce domain, but a forged bounce address changes nothing', async () => {
    const forged = `trx-${spaceId}-aaaaaaaaaaaa-aaaaaaaaaaaaa@${BOUNCE_DOMAIN}`;
    const before = (await stack.store.listEntries(spaceId, 'bounce')).length;
    const transcript = await remoteDelivery(stack.ports.bounceMx, '<>', forged, dsn(forged, 'victim@example.org'));
    // plain text (STARTTLS offered but not required, not used), no AUTH offered at all
    expect(transcript).toMatch(/250-STARTTLS/);
    expect(transcript).not.toMatch(/ -> STARTTLS|250[- ]AUTH/);
    expect(transcript).toMatch(/<- {2}250 2\.0\.0 Ok: queued as /);
    // the intake saw it (LMTP accepted it) and logged why it ignored it
    const ignored = await stack.logged((l) => l.msg === 'bounce intake: ignored' && l.obj['rcptTo'] === forged);
    expect(ignored.obj['reason']).toMatch(/^bounce-address-/);
    expect((await stack.store.listEntries(spaceId, 'bounce')).length).toBe(before);
    expect((await stack.store.listEntries(spaceId, 'bounce')).some((e) => e.address === 'victim@example.org')).toBe(false);
  });

  it('refuses mail for any other domain there (no open relay)', async () => {
    const transcript = await remoteDelivery(stack.ports.bounceMx, 'a@remote.example', 'someone@example.org', null);
    expect(transcript).toMatch(/<\*\* 554 5\.7\.1 /);
  });

  it('takes a genuine bounce from another server (signed address) and lists the recipient', async () => {
    const id = await send('later@example.org', 'remote bounce target');
    await stack.sink.waitFor((m) => m.rcptTo.includes('later@example.org'));
    // Delivered first (as the log says), then bounced by the remote server.
    await deliveryLine(id, 'sent');
    const address = encodeBounceAddress({ spaceId, sendId: id }, TEST_KEYS, BOUNCE_DOMAIN);
    const transcript = await remoteDelivery(stack.ports.bounceMx, '<>', address, dsn(address, 'later@example.org'));
    expect(transcript).toMatch(/<- {2}250 2\.0\.0 Ok: queued as /);
    expect((await intakeDone(id)).msg).toBe('bounce intake: recorded');
    expect((await stack.store.listEntries(spaceId, 'bounce')).some((e) => e.address.toLowerCase() === 'later@example.org')).toBe(true);
    expect((await recipientOf(stack.store, id))?.status).toBe('bounced');
  });
});
