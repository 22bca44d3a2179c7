/**
 * The JSON of a send (src/reports/send-json.ts) in its two views, byte for byte: the CLI's
 * (`sends list|show --json`: space and envelope sender) and the reports API's (toState, no
 * space, no envelope sender). Key order is part of the output.
 */
import { describe, expect, it } from 'vitest';
import { NO_EVENT_COUNTS, recipientState, sendJson } from '../../src/reports/send-json.js';
import type { EventCounts, Send } from '../../src/store/store.js';

const send: Send = {
  id: '4aaaaaaaaaaaaA1',
  spaceId: 7,
  userId: 3,
  mailFrom: 'news@one.example',
  envelopeSender: 'trx-7-4aaaaaaaaaaaaa1-x@bounces.example',
  from: 'news@one.example',
  to: 'rcpt@example.org',
  bcc: 'copy@example.org',
  discarded: ['x@example.org'],
  tags: ['welcome', 'march'],
  flags: 3,
  flagsSource: 'default',
  receivedAt: new Date('2026-11-10T12:00:00Z'),
  status: 'suppressed',
  recipients: [
    { address: 'rcpt@example.org', role: 'to', status: 'suppressed', suppressedBy: 'unsubscribe', detail: null },
    { address: 'copy@example.org', role: 'bcc', status: 'bounced', suppressedBy: null, detail: '5.1.1' },
    { address: 'x@example.org', role: 'discarded', status: 'discarded', suppressedBy: null, detail: null },
  ],
};
const counts: EventCounts = { opened: 2, openedMachine: 1, clicked: 1, clickedMachine: 0, uniqueOpened: true, uniqueClicked: true };
const RECIPIENTS =
  '[{"address":"rcpt@example.org","role":"to","status":"suppressed","suppressedBy":"unsubscribe","detail":null},' +
  '{"address":"copy@example.org","role":"bcc","status":"bounced","suppressedBy":null,"detail":"5.1.1"},' +
  '{"address":"x@example.org","role":"discarded","status":"discarded","suppressedBy":null,"detail":null}]';
const COUNTS = '{"opened":2,"openedMachine":1,"clicked":1,"clickedMachine":0,"uniqueOpened":true,"uniqueClicked":true}';

describe('sendJson', () => {
  it('CLI view: space after the id, envelope sender after mailFrom, no toState', () => {
    expect(JSON.stringify(sendJson(send, { view: 'cli', space: 'one', counts }))).toBe(
      '{"id":"4aaaaaaaaaaaaA1","space":"one","receivedAt":"2026-11-10T12:00:00.000Z","status":"suppressed","mailFrom":"news@one.example",' +
        '"envelopeSender":"trx-7-4aaaaaaaaaaaaa1-x@bounces.example","from":"news@one.example","to":"rcpt@example.org","bcc":"copy@example.org",' +
        `"discarded":["x@example.org"],"tags":["welcome","march"],"flags":3,"flagsSource":"default","recipients":${RECIPIENTS},"counts":${COUNTS}}`,
    );
  });

  it('API view: toState after the status, no space, no envelope sender', () => {
    expect(JSON.stringify(sendJson(send, { view: 'api', counts: NO_EVENT_COUNTS }))).toBe(
      '{"id":"4aaaaaaaaaaaaA1","receivedAt":"2026-11-10T12:00:00.000Z","status":"suppressed","toState":"suppressed:unsubscribe",' +
        '"mailFrom":"news@one.example","from":"news@one.example","to":"rcpt@example.org","bcc":"copy@example.org",' +
        `"discarded":["x@example.org"],"tags":["welcome","march"],"flags":3,"flagsSource":"default","recipients":${RECIPIENTS},` +
        '"counts":{"opened":0,"openedMachine":0,"clicked":0,"clickedMachine":0,"uniqueOpened":false,"uniqueClicked":false}}',
    );
  });

  it('a send Postfix never queued carries notQueued { at, reason } right after the status, in both views', () => {
    const phantom: Send = { ...send, status: 'queued', notQueued: { at: new Date('2026-11-10T13:00:00Z'), reason: 'not queued by Postfix' } };
    const NQ = '"status":"queued","notQueued":{"at":"2026-11-10T13:00:00.000Z","reason":"not queued by Postfix"},';
    expect(JSON.stringify(sendJson(phantom, { view: 'cli', space: 'one', counts }))).toContain(NQ + '"mailFrom"');
    expect(JSON.stringify(sendJson(phantom, { view: 'api', counts }))).toContain(NQ + '"toState"');
    expect(sendJson(send, { view: 'api', counts })).not.toHaveProperty('notQueued');
  });

  it("toState is the send's status when there is no To recipient", () => {
    const noTo: Send = { ...send, status: 'queued', recipients: send.recipients.filter((r) => r.role !== 'to') };
    expect(sendJson(noTo, { view: 'api', counts })['toState']).toBe('queued');
  });
});

describe('recipientState', () => {
  it('status, suppressed:<list>, or null without such a recipient', () => {
    expect(recipientState(send, 'to')).toBe('suppressed:unsubscribe');
    expect(recipientState(send, 'bcc')).toBe('bounced');
    expect(recipientState({ ...send, recipients: send.recipients.slice(0, 1) }, 'bcc')).toBeNull();
  });
});
