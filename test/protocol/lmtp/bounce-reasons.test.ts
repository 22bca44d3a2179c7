/**
 * Issue 13: only address-level permanent causes list an address — end to end through the real
 * LMTP listener (LmtpServer over TCP, the real BounceIntake and analysis, a SQLite file store).
 * Each bounce is a Postfix-shaped DSN delivered to the send's HMAC-signed bounce address, as
 * Postfix's lmtp client delivers it.
 *
 * Per sender-side cause (blocklisted IP, SPF, DKIM, DMARC, spam/content, policy, rate limit):
 * the send's recipient is 'bounced' with that reason (the event too), the report counts it as
 * blocked, and the address is NOT on the Bounce list — not even after several such bounces over
 * weeks. User unknown IS listed (with its reason and rule). Mailbox full is listed only once it
 * persists: 3 bounces over 7 days by default; a delivery in between starts the count again.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BounceIntake } from '../../../src/bounce/intake.js';
import { LmtpServer } from '../../../src/bounce/lmtp.js';
import type { BounceReason } from '../../../src/core/bounce-reason.js';
import type { MailboxFullThreshold } from '../../../src/core/bounce-listing.js';
import type { Endpoint } from '../../../src/lib/endpoint.js';
import { silentLogger } from '../../../src/lib/logger.js';
import { AT, BOUNCE_DOMAIN, KEYS, bounceAddress, postfixDsn, seedStore, type DsnRecipient, type Seeded } from '../../unit/bounce/intake.helpers.js';
import { RawLmtpClient, transaction } from './helpers.js';

const DAY = 24 * 60 * 60 * 1000;
let db: Seeded;
let server: LmtpServer | null;
let port = 0;
/** The intake's clock: each test moves it. */
let now = AT;

async function serve(threshold?: MailboxFullThreshold): Promise<void> {
  const intake = new BounceIntake({
    store: db.store,
    keys: KEYS,
    bounceDomain: BOUNCE_DOMAIN,
    logger: silentLogger,
    clock: () => now,
    ...(threshold ? { recorderOptions: { mailboxFullListAfter: threshold } } : {}),
  });
  server = new LmtpServer({ intake, bounceDomain: BOUNCE_DOMAIN, logger: silentLogger, hostname: 'trxmail.test', closeGraceMs: 200 });
  const ep: Endpoint = await server.listen({ kind: 'tcp', host: '127.0.0.1', port: 0 });
  port = ep.kind === 'tcp' ? ep.port : 0;
}

/** Delivers a Postfix DSN about `rcpt` of send `sendId` over LMTP; the per-recipient reply text. */
async function bounce(sendId: string, rcpt: Omit<DsnRecipient, 'address'> & { address: string }): Promise<string> {
  const to = bounceAddress(db.space.id, sendId);
  const c = await RawLmtpClient.connect({ port });
  try {
    const r = await transaction(c, { mailFrom: '', rcptTo: [to], message: postfixDsn({ to, queueId: '4jXnZD2n0dzJMtJ', recipients: [rcpt] }) });
    expect(r.data.map((x) => x.code)).toEqual([250]);
    return r.data[0]?.text ?? '';
  } finally {
    c.destroy();
  }
}

const listed = async (): Promise<string[]> => (await db.store.listEntries(db.space.id, 'bounce')).map((e) => e.address);
const toOf = async (sendId: string) => (await db.store.getSend(sendId, db.space.id))?.recipients.find((r) => r.role === 'to');

beforeEach(async () => {
  db = await seedStore();
  server = null;
  now = AT;
});
afterEach(async () => {
  await server?.close();
  await db.cleanup();
});

/** Sender-side causes as receivers word them: the address must never be listed for these. */
const SENDER_SIDE: readonly { name: string; status: string; diagnostic: string; reason: BounceReason }[] = [
  { name: 'blocked IP (Spamhaus)', status: '5.7.1', diagnostic: '554 5.7.1 Service unavailable; Client host [203.0.113.9] blocked using zen.spamhaus.org', reason: 'blocked' },
  { name: 'poor IP reputation', status: '5.7.1', diagnostic: '550 5.7.1 [203.0.113.9] Our system has detected that this message is likely suspicious due to the very low reputation of the sending IP address', reason: 'blocked' },
  { name: 'SPF failure', status: '5.7.23', diagnostic: '550 5.7.23 <reader@example.org>: Recipient address rejected: Message rejected due to: SPF fail - not authorized', reason: 'auth-failure' },
  { name: 'DKIM failure', status: '5.7.20', diagnostic: '550 5.7.20 Message rejected: no valid DKIM signature found', reason: 'auth-failure' },
  { name: 'DMARC policy', status: '5.7.1', diagnostic: "550 5.7.1 Unauthenticated email from shop.example is not accepted due to domain's DMARC policy", reason: 'auth-failure' },
  { name: 'spam content', status: '5.7.1', diagnostic: '550 5.7.1 Message rejected as spam by Content Filtering', reason: 'content-rejected' },
  { name: 'policy (TLS required)', status: '5.7.1', diagnostic: '530 5.7.1 Must issue a STARTTLS command first', reason: 'policy' },
  { name: 'rate limited', status: '5.7.1', diagnostic: '550 5.7.1 Too many messages from this sender: rate limit exceeded', reason: 'rate-limited' },
];

describe('sender-side causes: recorded on the send, never listed', () => {
  for (const c of SENDER_SIDE) {
    it(`${c.name}: recipient bounced with reason ${c.reason}, event with reason and rule, counted as blocked, address not listed`, async () => {
      await serve();
      await db.send('Blk1', 'reader@example.org');
      const reply = await bounce('Blk1', { address: 'reader@example.org', action: 'failed', status: c.status, diagnostic: c.diagnostic });
      expect(reply).toBe(`2.6.0 recorded bounce for send Blk1: reader@example.org bounced ${c.status} ${c.reason}`);
      expect(await toOf('Blk1')).toMatchObject({ status: 'bounced', reason: c.reason });
      expect((await db.store.getSend('Blk1', db.space.id))?.status).toBe('bounced');
      const events = (await db.store.listEvents('Blk1')).filter((e) => e.type === 'bounced');
      expect(events).toHaveLength(1);
      expect(events[0]?.detail).toMatchObject({ kind: 'hard', reason: c.reason, status: c.status });
      expect(events[0]?.detail['rule']).toMatch(/^(text|status):/);
      expect(await listed()).toEqual([]);
      const [total] = await db.store.report({ spaceId: db.space.id }, null);
      expect(total).toMatchObject({ sends: 1, bouncedHard: 1, blocked: 1 });
      // The next send to the address is not suppressed.
      expect(await db.store.lookupSuppression(db.space.id, ['reader@example.org'])).toEqual({ 'reader@example.org': {} });
    });
  }

  it('a blocklisted relay bounces the same address again and again over weeks: still never listed', async () => {
    await serve({ count: 2, days: 1 });
    for (let i = 0; i < 5; i++) {
      now = new Date(AT.getTime() + i * 7 * DAY);
      await db.send(`Rep${i}`, 'reader@example.org');
      await bounce(`Rep${i}`, { address: 'reader@example.org', action: 'failed', status: '5.7.1', diagnostic: '554 5.7.1 Client host [203.0.113.9] blocked using b.barracudacentral.org' });
      expect(await toOf(`Rep${i}`)).toMatchObject({ status: 'bounced', reason: 'blocked' });
    }
    expect(await listed()).toEqual([]);
    const byReason = await db.store.report({ spaceId: db.space.id }, 'reason');
    expect(byReason.map((r) => [r.key, r.sends, r.blocked])).toEqual([
      ['blocked', 5, 5],
      [null, 5, 5],
    ]);
  });
});

describe('address-level causes list the address', () => {
  it('user unknown (550 5.1.1): bounced, listed with reason user-unknown and the rule', async () => {
    await serve();
    await db.send('Usr1', 'gone@example.org');
    const reply = await bounce('Usr1', { address: 'gone@example.org', action: 'failed', status: '5.1.1', diagnostic: '550 5.1.1 <gone@example.org>: Recipient address rejected: User unknown in virtual mailbox table' });
    expect(reply).toBe('2.6.0 recorded bounce for send Usr1: gone@example.org bounced 5.1.1 user-unknown listed');
    expect(await toOf('Usr1')).toMatchObject({ status: 'bounced', reason: 'user-unknown' });
    const entries = await db.store.listEntries(db.space.id, 'bounce');
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({ address: 'gone@example.org', bounceReason: 'user-unknown', rule: 'text:user-unknown' });
    expect(entries[0]?.reason).toMatch(/^hard bounce 5\.1\.1: 550 5\.1\.1/);
    const [total] = await db.store.report({ spaceId: db.space.id }, null);
    expect(total).toMatchObject({ bouncedHard: 1, blocked: 0 });
  });

  it('a temporary failure of the same kind (4.1.1 delayed) is soft: deferred with its reason, not listed', async () => {
    await serve();
    await db.send('Usr2', 'maybe@example.org');
    await bounce('Usr2', { address: 'maybe@example.org', action: 'delayed', status: '4.1.1', diagnostic: '450 4.1.1 <maybe@example.org>: Recipient address rejected: User unknown (temporary)' });
    expect(await toOf('Usr2')).toMatchObject({ status: 'deferred', reason: 'user-unknown' });
    expect(await listed()).toEqual([]);
  });
});

describe('mailbox full: listed only when it persists', () => {
  const FULL = { action: 'failed', status: '5.2.2', diagnostic: '552 5.2.2 <full@example.org>: Mailbox full' } as const;
  const fullOn = async (id: string, day: number): Promise<string> => {
    now = new Date(AT.getTime() + day * DAY);
    await db.send(id, 'full@example.org');
    return bounce(id, { address: 'full@example.org', ...FULL });
  };

  it('default 3 bounces over 7 days: not listed at the 1st and 2nd, nor at a 3rd within the week; listed at the 4th on day 8', async () => {
    await serve();
    expect(await fullOn('Full1', 0)).toBe('2.6.0 recorded bounce for send Full1: full@example.org bounced 5.2.2 mailbox-full');
    expect(await toOf('Full1')).toMatchObject({ status: 'bounced', reason: 'mailbox-full' });
    await fullOn('Full2', 2);
    await fullOn('Full3', 5);
    expect(await listed()).toEqual([]);
    expect(await fullOn('Full4', 8)).toBe('2.6.0 recorded bounce for send Full4: full@example.org bounced 5.2.2 mailbox-full listed');
    const entries = await db.store.listEntries(db.space.id, 'bounce');
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({ address: 'full@example.org', bounceReason: 'mailbox-full' });
    expect(entries[0]?.reason).toMatch(/^mailbox full 4 times since 2026-11-23 5\.2\.2/);
  });

  it('the same bounce seen twice (two DSNs for one send) counts once', async () => {
    await serve({ count: 2, days: 0 });
    await fullOn('Dup1', 0);
    await bounce('Dup1', { address: 'full@example.org', ...FULL });
    expect(await listed()).toEqual([]);
    await fullOn('Dup2', 1);
    expect(await listed()).toEqual(['full@example.org']);
  });

  it('a delivery in between starts the count again', async () => {
    await serve({ count: 2, days: 1 });
    await fullOn('Gap1', 0);
    now = new Date(AT.getTime() + 1 * DAY);
    await db.send('Gap2', 'full@example.org');
    // A success DSN (NOTIFY=SUCCESS): the mailbox took a message.
    await bounce('Gap2', { address: 'full@example.org', action: 'delivered', status: '2.0.0', diagnostic: '250 2.0.0 Ok: queued as 12345' });
    expect(await toOf('Gap2')).toMatchObject({ status: 'delivered' });
    expect((await toOf('Gap2'))?.reason).toBeUndefined();
    await fullOn('Gap3', 3);
    expect(await listed()).toEqual([]);
    await fullOn('Gap4', 5);
    expect(await listed()).toEqual(['full@example.org']);
  });
});
