/**
 * src/reports/timeline.ts: one send's timeline from its record and events — the entries of
 * the record (accepted, BCC copy, discarded, suppressed of older sends, not queued), every
 * event with the remote reply, reason, list or person/machine, in time order.
 */
import { describe, expect, it } from 'vitest';
import { buildTimeline, timelineEntryJson, timelineLine } from '../../src/reports/timeline.js';
import type { EventType, Send, SendEvent } from '../../src/store/store.js';

const T = Date.UTC(2026, 10, 20, 9, 0, 0);
const at = (s: number): Date => new Date(T + s * 1000);

const SEND: Send = {
  id: '4XyzQ1',
  spaceId: 1,
  userId: 1,
  mailFrom: 'news@shop.example',
  envelopeSender: 'trx-1-4XyzQ1-abc@bounces.example',
  from: 'news@shop.example',
  to: 'ann@example.net',
  bcc: 'archive@shop.example',
  discarded: ['other@example.org'],
  tags: ['welcome'],
  flags: 3,
  flagsSource: 'default',
  receivedAt: at(0),
  status: 'delivered',
  messageId: 'm1@shop.example',
  recipients: [
    { address: 'ann@example.net', role: 'to', status: 'delivered', suppressedBy: null, detail: '250 2.0.0 Ok' },
    { address: 'archive@shop.example', role: 'bcc', status: 'queued', suppressedBy: null, detail: 'separate untracked copy, queued as 4BccQ2' },
    { address: 'other@example.org', role: 'discarded', status: 'discarded', suppressedBy: null, detail: null },
  ],
};

let nextId = 1;
function ev(type: EventType, s: number, detail: Record<string, unknown>, recipient = 'Ann@Example.NET'): SendEvent {
  return { id: nextId++, sendId: SEND.id, recipient, type, at: at(s), detail };
}

describe('buildTimeline', () => {
  it('puts the record\'s entries and every event in time order, each with its recipient\'s role', () => {
    const events = [
      ev('deferred', 60, { status: '4.2.0', diagnostic: '451 4.2.0 greylisted, try later', kind: 'soft', reason: 'policy', relay: 'mx.example.net[192.0.2.1]:25' }),
      ev('delivered', 600, { status: '2.0.0', diagnostic: '250 2.0.0 Ok: queued as 7QRS', kind: 'success', reason: null, relay: 'mx.example.net[192.0.2.1]:25' }),
      ev('delivered', 30, { status: '2.0.0', diagnostic: '250 ok', bccCopy: true }, 'archive@shop.example'),
      ev('opened', 700, { machine: true, machineReason: 'image-proxy:GoogleImageProxy', userAgent: 'GoogleImageProxy' }),
      ev('clicked', 800, { url: 'https://shop.example/a', userAgent: 'Mozilla/5.0' }),
      ev('complained', 900, { feedbackType: 'abuse' }),
      ev('unsubscribed', 950, { via: 'one-click' }),
    ];
    const t = buildTimeline(SEND, events);
    expect(t.map((e) => [e.type, e.recipient, e.role, e.at.getTime() - T])).toEqual([
      ['accepted', 'ann@example.net', 'to', 0],
      ['bcc-copy', 'archive@shop.example', 'bcc', 0],
      ['discarded', 'other@example.org', 'discarded', 0],
      ['delivered', 'archive@shop.example', 'bcc', 30_000],
      ['deferred', 'Ann@Example.NET', 'to', 60_000],
      ['delivered', 'Ann@Example.NET', 'to', 600_000],
      ['opened', 'Ann@Example.NET', 'to', 700_000],
      ['clicked', 'Ann@Example.NET', 'to', 800_000],
      ['complained', 'Ann@Example.NET', 'to', 900_000],
      ['unsubscribed', 'Ann@Example.NET', 'to', 950_000],
    ]);
    const [accepted, bcc, , , deferred, delivered, opened, clicked, complained, other] = t;
    expect(accepted?.summary).toBe('accepted as 4XyzQ1 from news@shop.example, Message-ID <m1@shop.example>');
    expect(bcc?.summary).toBe('BCC copy, untracked: separate untracked copy, queued as 4BccQ2');
    expect(deferred).toMatchObject({ reply: '451 4.2.0 greylisted, try later', reason: 'policy' });
    expect(deferred?.summary).toBe('deferred [policy] via mx.example.net[192.0.2.1]:25: 451 4.2.0 greylisted, try later');
    expect(delivered?.reply).toBe('250 2.0.0 Ok: queued as 7QRS');
    expect(delivered && 'reason' in delivered).toBe(false);
    expect(opened).toMatchObject({ by: 'machine', summary: 'opened by a machine (image-proxy:GoogleImageProxy)  ua "GoogleImageProxy"' });
    expect(clicked).toMatchObject({ by: 'person', summary: 'clicked by a person  https://shop.example/a  ua "Mozilla/5.0"' });
    expect(complained?.summary).toBe('complained (abuse): the address is on the Bounce list');
    expect(other?.summary).toBe('unsubscribed via one-click: the address is on the Unsubscribe list');
  });

  it('shows a bounce with its kind and reason, and suppression by event or, for older sends, by the record', () => {
    const suppressed: Send = {
      ...SEND,
      bcc: 'gone@example.org',
      discarded: [],
      recipients: [
        { address: 'ann@example.net', role: 'to', status: 'bounced', suppressedBy: null, detail: '550 5.1.1', reason: 'user-unknown' },
        { address: 'gone@example.org', role: 'bcc', status: 'suppressed', suppressedBy: 'bounce', detail: 'hard bounce 5.1.1' },
      ],
    };
    const bounce = ev('bounced', 5, { status: '5.1.1', diagnostic: '550 5.1.1 <ann@example.net>: user unknown', kind: 'hard', reason: 'user-unknown' });
    // No 'suppressed' event (recorded before suppression was one): the record says it.
    const old = buildTimeline(suppressed, [bounce]);
    expect(old.map((e) => e.type)).toEqual(['accepted', 'suppressed', 'bounced']);
    expect(old[1]).toMatchObject({ recipient: 'gone@example.org', role: 'bcc', list: 'bounce', summary: 'suppressed by the bounce list: hard bounce 5.1.1' });
    expect(old[2]).toMatchObject({ reason: 'user-unknown', reply: '550 5.1.1 <ann@example.net>: user unknown', summary: 'bounced (hard) [user-unknown]: 550 5.1.1 <ann@example.net>: user unknown' });
    // With the event, once.
    const now = buildTimeline(suppressed, [ev('suppressed', 0, { list: 'bounce', reason: 'hard bounce 5.1.1' }, 'gone@example.org'), bounce]);
    expect(now.map((e) => e.type)).toEqual(['accepted', 'suppressed', 'bounced']);
    expect(now[1]).toMatchObject({ list: 'bounce', role: 'bcc' });
  });

  it('ends with not-queued when Postfix never queued the message', () => {
    const t = buildTimeline({ ...SEND, bcc: null, discarded: [], recipients: [SEND.recipients[0]!], notQueued: { at: at(3600), reason: 'not in the log' } }, []);
    expect(t.map((e) => e.type)).toEqual(['accepted', 'not-queued']);
    expect(t[1]?.summary).toBe('never queued by Postfix: not in the log');
  });

  it('maps to JSON with ISO dates and only the fields an entry has; one terminal line per entry', () => {
    const [accepted, , , deferred] = buildTimeline(SEND, [ev('deferred', 60, { status: '4.2.0', diagnostic: '451 greylisted', reason: 'policy' })]);
    expect(Object.keys(timelineEntryJson(deferred!))).toEqual(['at', 'type', 'recipient', 'role', 'summary', 'reply', 'reason', 'detail']);
    expect(timelineEntryJson(accepted!)).toMatchObject({ at: '2026-11-20T09:00:00.000Z', type: 'accepted', role: 'to' });
    expect(timelineLine(deferred!)).toBe('  2026-11-20T09:01:00.000Z  deferred   Ann@Example.NET (to)  deferred [policy]: 451 greylisted');
  });
});
