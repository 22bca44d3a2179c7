import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BounceIntake, resultOfReport, summariseIntake } from '../../../src/bounce/intake.js';
import { cutText } from '../../../src/delivery/recorder.js';
import { TransientError } from '../../../src/lib/errors.js';
import { MAX_OUTCOME_DETAIL_LENGTH } from '../../../src/lib/limits.js';
import { silentLogger } from '../../../src/lib/logger.js';
import { Spool } from '../../../src/lib/spool.js';
import type { Store } from '../../../src/store/store.js';
import {
  AT,
  BOUNCE_DOMAIN,
  KEYS,
  OTHER_KEYS,
  arfReport,
  autoReply,
  bounceAddress,
  clock,
  failingStore,
  localPart,
  postfixDsn,
  recordingLogger,
  seedStore,
  type LogEntry,
  type Seeded,
} from './intake.helpers.js';

const HARD = { action: 'failed', status: '5.1.1', diagnostic: '550 5.1.1 <gone@example.org>: Recipient address rejected: user unknown' } as const;

let db: Seeded;
let logs: LogEntry[];
const intakeOn = (store: Store = db.store): BounceIntake =>
  new BounceIntake({ store, keys: KEYS, bounceDomain: BOUNCE_DOMAIN, logger: recordingLogger(logs), clock });

beforeEach(async () => {
  db = await seedStore();
  logs = [];
});
afterEach(async () => {
  await db.cleanup();
});

async function stateOf(sendId: string) {
  const send = await db.store.getSend(sendId, db.space.id);
  return {
    send,
    rcpt: (a: string) => send?.recipients.find((r) => r.address === a),
    events: await db.store.listEvents(sendId),
    bounceList: await db.store.listEntries(db.space.id, 'bounce'),
  };
}

describe('BounceIntake: bounces', () => {
  it('hard bounce: recipient bounced, one bounced event, Bounce list entry with status and diagnostic', async () => {
    await db.send('4jXQZB3dVKzJ9Ft', 'gone@example.org');
    const to = bounceAddress(db.space.id, '4jXQZB3dVKzJ9Ft');
    const r = await intakeOn().process(postfixDsn({ to, queueId: '4jXnZD2n0dzJMtJ', recipients: [{ address: 'gone@example.org', ...HARD }] }), {
      mailFrom: '',
      rcptTo: to,
    });
    expect(r).toMatchObject({ outcome: 'recorded', kind: 'bounce', format: 'dsn', sendId: '4jXQZB3dVKzJ9Ft', spaceId: db.space.id, via: 'bounce-address', reason: null });
    expect(r.actions).toEqual([
      { address: 'gone@example.org', event: 'bounced', kind: 'hard', status: '5.1.1', recipientStatus: 'bounced', eventAdded: true, listed: true, reason: 'user-unknown', listing: 'address-level' },
    ]);
    const s = await stateOf('4jXQZB3dVKzJ9Ft');
    expect(s.send?.status).toBe('bounced');
    expect(s.rcpt('gone@example.org')?.detail).toBe('5.1.1 550 5.1.1 <gone@example.org>: Recipient address rejected: user unknown');
    expect(s.events).toHaveLength(1);
    expect(s.events[0]).toMatchObject({ type: 'bounced', recipient: 'gone@example.org', at: AT });
    expect(s.events[0]?.detail).toMatchObject({ status: '5.1.1', kind: 'hard', source: 'dsn', action: 'failed', remoteMta: 'mx.example.org' });
    expect(s.bounceList).toEqual([
      {
        spaceId: db.space.id,
        list: 'bounce',
        address: 'gone@example.org',
        reason: 'hard bounce 5.1.1: 550 5.1.1 <gone@example.org>: Recipient address rejected: user unknown',
        bounceReason: 'user-unknown',
        rule: 'text:user-unknown',
        source: 'bounce',
        addedAt: AT,
      },
    ]);
    expect(summariseIntake(r)).toBe('recorded bounce for send 4jXQZB3dVKzJ9Ft: gone@example.org bounced 5.1.1 user-unknown listed');
  });

  it('soft bounce (Action delayed, 4.x.x): deferred, deferred event, no list entry', async () => {
    await db.send('SoftA1', 'slow@example.org');
    const to = bounceAddress(db.space.id, 'SoftA1');
    const r = await intakeOn().process(
      postfixDsn({ to, queueId: 'Q1', recipients: [{ address: 'slow@example.org', action: 'delayed', status: '4.2.2', diagnostic: '452 4.2.2 Mailbox full' }] }),
      { mailFrom: '', rcptTo: to },
    );
    expect(r.actions.map((a) => [a.event, a.kind, a.listed])).toEqual([['deferred', 'soft', false]]);
    const s = await stateOf('SoftA1');
    expect(s.send?.status).toBe('deferred');
    expect(s.events.map((e) => e.type)).toEqual(['deferred']);
    expect(s.bounceList).toEqual([]);
  });

  it('failed with a 4.x.x status (Postfix gave up at the queue lifetime): bounced, kind soft, no list entry', async () => {
    await db.send('Expired1', 'later@deferred.example');
    const to = bounceAddress(db.space.id, 'Expired1');
    const r = await intakeOn().process(
      postfixDsn({ to, queueId: 'Q2', recipients: [{ address: 'Later@Deferred.Example', action: 'failed', status: '4.4.1', diagnostic: 'connect to 127.0.0.1[127.0.0.1]:1: Connection refused' }] }),
      { mailFrom: '', rcptTo: to },
    );
    expect(r.actions.map((a) => [a.address, a.event, a.kind, a.listed])).toEqual([['later@deferred.example', 'bounced', 'soft', false]]);
    expect((await stateOf('Expired1')).bounceList).toEqual([]);
    expect((await stateOf('Expired1')).send?.status).toBe('bounced');
  });

  it('success DSN (Action delivered): delivered', async () => {
    await db.send('Ok1', 'fine@example.org');
    const to = bounceAddress(db.space.id, 'Ok1');
    await intakeOn().process(postfixDsn({ to, queueId: 'Q3', recipients: [{ address: 'fine@example.org', action: 'delivered', status: '2.0.0', diagnostic: '250 2.0.0 Ok' }] }), {
      mailFrom: '',
      rcptTo: to,
    });
    const s = await stateOf('Ok1');
    expect(s.send?.status).toBe('delivered');
    expect(s.events.map((e) => [e.type, e.detail['kind']])).toEqual([['delivered', 'success']]);
  });

  it('a success DSN after the delivered log line (or twice) adds no second delivered event', async () => {
    await db.send('Ok2', 'fine@example.org');
    const to = bounceAddress(db.space.id, 'Ok2');
    const msg = postfixDsn({ to, queueId: 'Q3', recipients: [{ address: 'fine@example.org', action: 'delivered', status: '2.0.0', diagnostic: '250 2.0.0 Ok' }] });
    await intakeOn().process(msg, { mailFrom: '', rcptTo: to });
    const again = await intakeOn().process(msg, { mailFrom: '', rcptTo: to });
    expect(again.actions.map((a) => [a.event, a.eventAdded])).toEqual([['delivered', false]]);
    expect((await stateOf('Ok2')).events.map((e) => e.type)).toEqual(['delivered']);
  });

  it('matches the recipient case-insensitively and records the send\'s spelling', async () => {
    await db.send('Case1', 'Gone@Example.org');
    const to = bounceAddress(db.space.id, 'Case1');
    const r = await intakeOn().process(postfixDsn({ to, queueId: 'Q4', recipients: [{ address: 'GONE@EXAMPLE.ORG', ...HARD }] }), { mailFrom: '', rcptTo: to });
    expect(r.actions.map((a) => a.address)).toEqual(['Gone@Example.org']);
    expect((await stateOf('Case1')).bounceList.map((e) => e.address)).toEqual(['Gone@Example.org']);
  });

  it('one DSN for To (hard) and BCC (soft) of the main message updates each', async () => {
    await db.send('Two1', 'gone@example.org', 'copy@example.net');
    const to = bounceAddress(db.space.id, 'Two1');
    const r = await intakeOn().process(
      postfixDsn({
        to,
        queueId: 'Q5',
        recipients: [
          { address: 'gone@example.org', ...HARD },
          { address: 'copy@example.net', action: 'delayed', status: '4.4.1', diagnostic: '421 4.4.1 try later' },
        ],
      }),
      { mailFrom: '', rcptTo: to },
    );
    expect(r.actions.map((a) => [a.address, a.event])).toEqual([
      ['gone@example.org', 'bounced'],
      ['copy@example.net', 'deferred'],
    ]);
    const s = await stateOf('Two1');
    expect(s.rcpt('copy@example.net')?.status).toBe('deferred');
    expect(s.bounceList.map((e) => e.address)).toEqual(['gone@example.org']);
  });

  it('a bounce of the BCC copy (send id <id>_b) is the send\'s BCC recipient, whatever address the report names', async () => {
    await db.send('Bcc1', 'fine@example.org', 'archive@example.net');
    const to = bounceAddress(db.space.id, 'Bcc1', { bccCopy: true });
    const r = await intakeOn().process(postfixDsn({ to, queueId: 'Q6', recipients: [{ address: 'archive-forwarded@elsewhere.example', ...HARD }] }), {
      mailFrom: '',
      rcptTo: to,
    });
    expect(r).toMatchObject({ outcome: 'recorded', sendId: 'Bcc1', bccCopy: true });
    const s = await stateOf('Bcc1');
    expect(s.rcpt('archive@example.net')?.status).toBe('bounced');
    expect(s.rcpt('fine@example.org')?.status).toBe('queued');
    expect(s.send?.status).toBe('queued');
    expect(s.events[0]).toMatchObject({ recipient: 'archive@example.net', type: 'bounced' });
    expect(s.events[0]?.detail['bccCopy']).toBe(true);
    expect(s.bounceList.map((e) => e.address)).toEqual(['archive@example.net']);
    expect(summariseIntake(r)).toContain('(BCC copy)');
  });

  it('the same bounce twice is one event (status and list entry stay)', async () => {
    await db.send('Twice1', 'gone@example.org');
    const to = bounceAddress(db.space.id, 'Twice1');
    const msg = postfixDsn({ to, queueId: 'Q7', recipients: [{ address: 'gone@example.org', ...HARD }] });
    await intakeOn().process(msg, { mailFrom: '', rcptTo: to });
    const second = await intakeOn().process(msg, { mailFrom: '', rcptTo: to });
    expect(second.actions.map((a) => [a.eventAdded, a.listed, a.recipientStatus])).toEqual([[false, true, 'bounced']]);
    const s = await stateOf('Twice1');
    expect(s.events).toHaveLength(1);
    expect(s.bounceList).toHaveLength(1);
  });

  it("'bounced' is final: a later success or delay adds its event but keeps the status", async () => {
    await db.send('Final1', 'gone@example.org');
    const to = bounceAddress(db.space.id, 'Final1');
    await intakeOn().process(postfixDsn({ to, queueId: 'Q8', recipients: [{ address: 'gone@example.org', ...HARD }] }), { mailFrom: '', rcptTo: to });
    const r = await intakeOn().process(
      postfixDsn({ to, queueId: 'Q9', recipients: [{ address: 'gone@example.org', action: 'delivered', status: '2.0.0', diagnostic: '250 ok' }] }),
      { mailFrom: '', rcptTo: to },
    );
    expect(r.actions[0]?.recipientStatus).toBe('bounced');
    const s = await stateOf('Final1');
    expect(s.send?.status).toBe('bounced');
    expect(s.events.map((e) => e.type)).toEqual(['bounced', 'delivered']);
  });

  it('takes the X-Trxmail-Ref of the returned original when the envelope recipient is not a bounce address', async () => {
    await db.send('Ref1', 'gone@example.org');
    const ref = localPart(bounceAddress(db.space.id, 'Ref1'));
    const r = await intakeOn().process(
      postfixDsn({ to: `postmaster@${BOUNCE_DOMAIN}`, queueId: 'Q10', recipients: [{ address: 'gone@example.org', ...HARD }], ref }),
      { mailFrom: '', rcptTo: `postmaster@${BOUNCE_DOMAIN}` },
    );
    expect(r).toMatchObject({ outcome: 'recorded', via: 'ref', sendId: 'Ref1' });
    expect((await stateOf('Ref1')).send?.status).toBe('bounced');
  });

  it('reads the message from a Spool as well as from a Buffer', async () => {
    await db.send('Spool1', 'gone@example.org');
    const to = bounceAddress(db.space.id, 'Spool1');
    const spool = new Spool(db.dir, 64);
    const msg = postfixDsn({ to, queueId: 'Q11', recipients: [{ address: 'gone@example.org', ...HARD }] });
    for (let i = 0; i < msg.length; i += 100) await spool.write(msg.subarray(i, i + 100));
    await spool.end();
    const r = await intakeOn().process(spool, { mailFrom: '', rcptTo: to });
    await spool.dispose();
    expect(r.outcome).toBe('recorded');
    expect((await stateOf('Spool1')).send?.status).toBe('bounced');
  });
});

describe('BounceIntake: complaints', () => {
  it('abuse report: Bounce list entry "complaint (abuse)" and a complained event for Original-Rcpt-To; status unchanged', async () => {
    await db.send('Arf1', 'reader@example.org', 'copy@example.net');
    const to = bounceAddress(db.space.id, 'Arf1');
    const r = await intakeOn().process(arfReport({ to, feedbackType: 'abuse', originalRcptTo: 'Reader@Example.org', originalTo: 'reader@example.org' }), {
      mailFrom: '',
      rcptTo: to,
    });
    expect(r).toMatchObject({ outcome: 'recorded', kind: 'complaint', format: 'arf' });
    expect(r.actions).toEqual([
      { address: 'reader@example.org', event: 'complained', kind: 'complaint', status: null, recipientStatus: null, eventAdded: true, listed: true, reason: null, listing: 'complaint' },
    ]);
    const s = await stateOf('Arf1');
    expect(s.send?.status).toBe('queued');
    expect(s.events.map((e) => [e.type, e.recipient, e.detail['feedbackType'], e.detail['userAgent']])).toEqual([
      ['complained', 'reader@example.org', 'abuse', 'MailboxFBL/1.0'],
    ]);
    expect(s.bounceList.map((e) => [e.address, e.reason, e.source])).toEqual([['reader@example.org', 'complaint (abuse)', 'complaint']]);
  });

  it('without Original-Rcpt-To: the To of the returned original, else the send\'s To', async () => {
    await db.send('Arf2', 'reader@example.org');
    const to = bounceAddress(db.space.id, 'Arf2');
    await intakeOn().process(arfReport({ to, feedbackType: 'abuse', originalTo: 'Redacted <xxxxxx@example.org>' }), { mailFrom: '', rcptTo: to });
    expect((await stateOf('Arf2')).bounceList.map((e) => e.address)).toEqual(['reader@example.org']);
  });

  it('a complaint about the BCC copy lists the BCC recipient', async () => {
    await db.send('Arf3', 'reader@example.org', 'copy@example.net');
    const to = bounceAddress(db.space.id, 'Arf3', { bccCopy: true });
    await intakeOn().process(arfReport({ to, feedbackType: 'abuse', originalTo: 'copy@example.net' }), { mailFrom: '', rcptTo: to });
    expect((await stateOf('Arf3')).bounceList.map((e) => e.address)).toEqual(['copy@example.net']);
  });

  it('not-spam feedback changes nothing', async () => {
    await db.send('Arf4', 'reader@example.org');
    const to = bounceAddress(db.space.id, 'Arf4');
    const r = await intakeOn().process(arfReport({ to, feedbackType: 'not-spam', originalRcptTo: 'reader@example.org', originalTo: 'reader@example.org' }), {
      mailFrom: '',
      rcptTo: to,
    });
    expect(r).toMatchObject({ outcome: 'ignored', reason: 'not-a-bounce' });
    expect((await stateOf('Arf4')).events).toEqual([]);
  });
});

describe('BounceIntake: nothing changes', () => {
  const cases: Array<[string, (sp: number) => { msg: Buffer; rcptTo: string }, string]> = [
    [
      'a forged bounce address (signed with another key)',
      (sp) => {
        const to = bounceAddress(sp, 'Real1', { keys: OTHER_KEYS });
        return { msg: postfixDsn({ to, queueId: 'Q', recipients: [{ address: 'gone@example.org', ...HARD }] }), rcptTo: to };
      },
      'bounce-address-bad-check',
    ],
    [
      'an unknown send',
      (sp) => {
        const to = bounceAddress(sp, 'NoSuchSend');
        return { msg: postfixDsn({ to, queueId: 'Q', recipients: [{ address: 'gone@example.org', ...HARD }] }), rcptTo: to };
      },
      'unknown-send',
    ],
    [
      'a send of another space',
      (sp) => {
        const to = bounceAddress(sp - 1, 'Real1');
        return { msg: postfixDsn({ to, queueId: 'Q', recipients: [{ address: 'gone@example.org', ...HARD }] }), rcptTo: to };
      },
      'unknown-send',
    ],
    [
      'an out-of-office reply',
      (sp) => {
        const to = bounceAddress(sp, 'Real1');
        return { msg: autoReply(to), rcptTo: to };
      },
      'not-a-bounce',
    ],
    [
      'a message to a bounce-domain address that is not a bounce address, without a ref',
      () => ({ msg: postfixDsn({ to: `info@${BOUNCE_DOMAIN}`, queueId: 'Q', recipients: [{ address: 'gone@example.org', ...HARD }] }), rcptTo: `info@${BOUNCE_DOMAIN}` }),
      'bounce-address-not-ours',
    ],
    [
      'garbage',
      (sp) => ({ msg: Buffer.from('\x00\x01 not mail at all'), rcptTo: bounceAddress(sp, 'Real1') }),
      'not-a-bounce',
    ],
    [
      'a bounce for an address the send never had',
      (sp) => {
        const to = bounceAddress(sp, 'Real1');
        return { msg: postfixDsn({ to, queueId: 'Q', recipients: [{ address: 'stranger@example.org', ...HARD }] }), rcptTo: to };
      },
      'no-matching-recipient',
    ],
  ];
  it.each(cases)('%s', async (_name, build, reason) => {
    await db.send('Real1', 'gone@example.org');
    const { msg, rcptTo } = build(db.space.id);
    const r = await intakeOn().process(msg, { mailFrom: '', rcptTo });
    expect(r.outcome).toBe('ignored');
    expect(r.reason).toBe(reason);
    expect(r.actions).toEqual([]);
    const s = await stateOf('Real1');
    expect(s.send?.status).toBe('queued');
    expect(s.events).toEqual([]);
    expect(s.bounceList).toEqual([]);
    expect(logs.some((l) => l.level === 'info' && l.msg === 'bounce intake: ignored' && l.obj['reason'] === reason)).toBe(true);
    expect(summariseIntake(r)).toMatch(/^ignored /);
  });
});

describe('BounceIntake: store trouble', () => {
  it('a closed store (down) throws TransientError', async () => {
    await db.send('Down1', 'gone@example.org');
    const to = bounceAddress(db.space.id, 'Down1');
    await db.store.close();
    await expect(
      intakeOn().process(postfixDsn({ to, queueId: 'Q', recipients: [{ address: 'gone@example.org', ...HARD }] }), { mailFrom: '', rcptTo: to }),
    ).rejects.toBeInstanceOf(TransientError);
  });

  it.each(['getSend', 'updateRecipientStatus', 'addEvent', 'addListEntry', 'listEvents'])('TransientError from %s propagates', async (method) => {
    await db.send('Down2', 'gone@example.org');
    const to = bounceAddress(db.space.id, 'Down2');
    const store = failingStore(db.store, new Set([method]), (m) => new TransientError('ESTORE_IO', `injected: ${m}`));
    await expect(
      intakeOn(store).process(postfixDsn({ to, queueId: 'Q', recipients: [{ address: 'gone@example.org', ...HARD }] }), { mailFrom: '', rcptTo: to }),
    ).rejects.toThrow(`injected: ${method}`);
  });

  it('an analysis that throws (a bug) accepts and ignores the message, logged as an error', async () => {
    const intake = new BounceIntake({
      store: db.store,
      keys: KEYS,
      bounceDomain: BOUNCE_DOMAIN,
      logger: recordingLogger(logs),
      analyse: () => {
        throw new Error('boom');
      },
    });
    const r = await intake.process(Buffer.from('x'), { mailFrom: null, rcptTo: null });
    expect(r).toMatchObject({ outcome: 'ignored', reason: 'analysis-failed' });
    expect(logs.some((l) => l.level === 'error')).toBe(true);
  });
});

describe('helpers', () => {
  it('resultOfReport: failed → bounced, delayed → deferred, delivered/relayed/expanded → delivered', () => {
    expect(resultOfReport({ action: 'failed', kind: 'hard' })).toBe('bounced');
    expect(resultOfReport({ action: 'failed', kind: 'soft' })).toBe('bounced');
    expect(resultOfReport({ action: 'delayed', kind: 'soft' })).toBe('deferred');
    expect(resultOfReport({ action: 'delivered', kind: 'success' })).toBe('delivered');
    expect(resultOfReport({ action: 'relayed', kind: 'success' })).toBe('delivered');
    expect(resultOfReport({ action: 'expanded', kind: 'success' })).toBe('delivered');
  });

  it(`cutText: one line, at most MAX_OUTCOME_DETAIL_LENGTH (${MAX_OUTCOME_DETAIL_LENGTH}) characters`, () => {
    expect(cutText('a\r\n\tb\x00c')).toBe('a b c');
    expect(cutText('x'.repeat(MAX_OUTCOME_DETAIL_LENGTH))).toHaveLength(MAX_OUTCOME_DETAIL_LENGTH);
    const cut = cutText('x'.repeat(MAX_OUTCOME_DETAIL_LENGTH + 1));
    expect(cut).toHaveLength(MAX_OUTCOME_DETAIL_LENGTH);
    expect(cut.endsWith('...')).toBe(true);
  });

  it('a long diagnostic is cut in the stored detail and list reason', async () => {
    await db.send('Long1', 'gone@example.org');
    const to = bounceAddress(db.space.id, 'Long1');
    await intakeOn().process(
      postfixDsn({ to, queueId: 'Q', recipients: [{ address: 'gone@example.org', action: 'failed', status: '5.1.1', diagnostic: `550 5.1.1 ${'no such user '.repeat(60)}` }] }),
      { mailFrom: '', rcptTo: to },
    );
    const s = await stateOf('Long1');
    expect(s.rcpt('gone@example.org')?.detail?.length).toBe(MAX_OUTCOME_DETAIL_LENGTH);
    expect(s.bounceList[0]?.reason.length).toBe(MAX_OUTCOME_DETAIL_LENGTH);
  });

  it('the silent logger is enough to run the intake', async () => {
    const intake = new BounceIntake({ store: db.store, keys: KEYS, bounceDomain: BOUNCE_DOMAIN, logger: silentLogger });
    expect((await intake.process(Buffer.from(''), { mailFrom: null, rcptTo: null })).outcome).toBe('ignored');
  });
});
