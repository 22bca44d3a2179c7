/**
 * The mailto: form of List-Unsubscribe over LMTP: a mail to a send's signed unsubscribe address
 * puts the send's To recipient on the Unsubscribe list and records one `unsubscribed` event;
 * it is never analysed as a bounce; a forged one is answered like any unknown local part.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BounceIntake } from '../../../src/bounce/intake.js';
import { LmtpServer } from '../../../src/bounce/lmtp.js';
import { encodeUnsubscribeAddress } from '../../../src/bounce/unsubscribe-address.js';
import { silentLogger } from '../../../src/lib/logger.js';
import { TransientError } from '../../../src/lib/errors.js';
import { BOUNCE_DOMAIN, KEYS, OTHER_KEYS, clock, failingStore, postfixDsn, seedStore, type Seeded } from '../../unit/bounce/intake.helpers.js';
import { RawLmtpClient, transaction, type Reply } from './helpers.js';

const SEND = '4jXQZB3dVKzJ9Ft';
const TO = 'reader@example.org';

let db: Seeded;
let server: LmtpServer;
let port: number;
/** Store methods that fail with TransientError (the store went away), for the fault tests. */
let failing: Set<string>;

beforeEach(async () => {
  db = await seedStore();
  failing = new Set();
  const store = failingStore(db.store, failing, (m) => new TransientError('ESTORE', `${m} failed`));
  server = new LmtpServer({
    intake: new BounceIntake({ store, keys: KEYS, bounceDomain: BOUNCE_DOMAIN, logger: silentLogger, clock }),
    bounceDomain: BOUNCE_DOMAIN,
    logger: silentLogger,
    hostname: 'trxmail.test',
    closeGraceMs: 200,
  });
  const ep = await server.listen({ kind: 'tcp', host: '127.0.0.1', port: 0 });
  port = ep.kind === 'tcp' ? ep.port : 0;
});
afterEach(async () => {
  await server.close();
  await db.cleanup();
});

function unsubAddress(keys: readonly { id: string; secret: string }[] = KEYS, sendId = SEND): string {
  const a = encodeUnsubscribeAddress({ spaceId: db.space.id, sendId }, keys, BOUNCE_DOMAIN);
  if (a === null) throw new Error('not encoded');
  return a;
}

function request(to: string): Buffer {
  return Buffer.from(['From: Reader <reader@example.org>', `To: ${to}`, 'Subject: unsubscribe', 'Message-ID: <u1@example.org>', '', 'unsubscribe', ''].join('\r\n'));
}

async function deliver(rcptTo: string[], message: (to: string) => Buffer = request, mailFrom = 'reader@example.org'): Promise<Reply[]> {
  const c = await RawLmtpClient.connect({ port });
  try {
    const r = await transaction(c, { mailFrom, rcptTo, message: message(rcptTo[0] ?? '') });
    expect(r.rcpt.map((x) => x.code)).toEqual(rcptTo.map(() => 250));
    return r.data;
  } finally {
    c.destroy();
  }
}

const unsubscribeEntries = async (): Promise<Array<{ address: string; source: string; reason: string }>> =>
  (await db.store.listEntries(db.space.id, 'unsubscribe')).map((e) => ({ address: e.address, source: e.source, reason: e.reason }));
const unsubscribedEvents = async (): Promise<Array<{ recipient: string; detail: unknown }>> =>
  (await db.store.listEvents(SEND)).filter((e) => e.type === 'unsubscribed').map((e) => ({ recipient: e.recipient, detail: e.detail }));

describe('LMTP: mail to an unsubscribe address', () => {
  it('puts the To recipient on the Unsubscribe list with one unsubscribed event; a second mail (other case) changes nothing', async () => {
    await db.send(SEND, TO, 'archive@example.net');
    const to = unsubAddress();
    const first = await deliver([to]);
    expect(first.map((x) => [x.code, x.text])).toEqual([[250, `2.6.0 recorded unsubscribe for send ${SEND}: unsubscribed the To recipient`]]);
    const entries = [{ address: TO, source: 'unsubscribe-link', reason: `one-click unsubscribe (send ${SEND})` }];
    expect(await unsubscribeEntries()).toEqual(entries);
    expect(await unsubscribedEvents()).toEqual([{ recipient: TO, detail: { via: 'mailto' } }]);

    const again = await deliver([to.toUpperCase()]);
    expect(again.map((x) => [x.code, x.text])).toEqual([[250, `2.6.0 recorded unsubscribe for send ${SEND}: the To recipient was unsubscribed already`]]);
    expect(await unsubscribeEntries()).toEqual(entries);
    expect(await unsubscribedEvents()).toHaveLength(1);
  });

  it('is never analysed as a bounce: a DSN sent to the unsubscribe address lists nobody on the Bounce list', async () => {
    await db.send(SEND, TO);
    const to = unsubAddress();
    const dsn = (rcpt: string): Buffer => postfixDsn({ to: rcpt, queueId: '4jXnZD2n0dzJMtJ', recipients: [{ address: TO, action: 'failed', status: '5.1.1', diagnostic: '550 5.1.1 user unknown' }] });
    const r = await deliver([to], dsn, '');
    expect(r.map((x) => x.code)).toEqual([250]);
    expect(r[0]?.text).toContain('recorded unsubscribe');
    expect(await db.store.listEntries(db.space.id, 'bounce')).toEqual([]);
    expect((await db.store.getSend(SEND, db.space.id))?.status).not.toBe('bounced');
    expect((await db.store.listEvents(SEND)).map((e) => e.type)).toEqual(['unsubscribed']);
  });

  it('a forged or edited unsubscribe address gets what an unknown local part gets, and changes nothing', async () => {
    await db.send(SEND, TO);
    const forged = unsubAddress(OTHER_KEYS);
    const edited = unsubAddress().replace(/^unsub-\d+-/, `unsub-${db.space.id + 1}-`);
    const replies = await deliver([forged, edited, `nobody@${BOUNCE_DOMAIN}`]);
    expect(replies.map((x) => [x.code, x.text])).toEqual([
      [250, '2.6.0 ignored other: not-a-bounce'],
      [250, '2.6.0 ignored other: not-a-bounce'],
      [250, '2.6.0 ignored other: not-a-bounce'],
    ]);
    expect(await unsubscribeEntries()).toEqual([]);
    expect(await db.store.listEvents(SEND)).toEqual([]);
  });

  it('a signed address of a send that is gone changes nothing (250, ignored)', async () => {
    const replies = await deliver([unsubAddress(KEYS, 'Gone1')]);
    expect(replies.map((x) => [x.code, x.text])).toEqual([[250, `2.6.0 ignored unsubscribe: unknown-send (send Gone1, space ${db.space.id})`]]);
    expect(await unsubscribeEntries()).toEqual([]);
  });

  it('the store unavailable: 451, nothing stored, and the retry unsubscribes', async () => {
    await db.send(SEND, TO);
    const to = unsubAddress();
    failing.add('addListEntry');
    const r = await deliver([to]);
    expect(r.map((x) => x.code)).toEqual([451]);
    expect(await unsubscribeEntries()).toEqual([]);
    failing.clear();
    expect((await deliver([to])).map((x) => x.text)).toEqual([`2.6.0 recorded unsubscribe for send ${SEND}: unsubscribed the To recipient`]);
    expect(await unsubscribedEvents()).toHaveLength(1);
  });

  it('the event failing after the entry was added: the unsubscribe holds, 250 (a retry would not add the event either)', async () => {
    await db.send(SEND, TO);
    failing.add('addEvent');
    const r = await deliver([unsubAddress()]);
    expect(r.map((x) => [x.code, x.text])).toEqual([[250, `2.6.0 recorded unsubscribe for send ${SEND}: unsubscribed the To recipient`]]);
    expect((await unsubscribeEntries()).map((e) => e.address)).toEqual([TO]);
    expect(await unsubscribedEvents()).toEqual([]);
  });
});
