/**
 * The text-bounce families of issue 13 (src/bounce/analysis/text-templates.ts), one case per
 * layout edge the issue names: Exim `addr:` entries (no colon in the address) and details
 * after a blank line, wrapped Postfix text, qmail look-alikes, Yahoo's "550: : User unknown",
 * Exchange 2003's `<host #5.1.1>`, Lotus Notes, Zoho's ERROR_CODE lines, IMail, Sendmail v5,
 * Gmail's new wording; the sender's own address never taken; and through analyseMessage: a
 * DSN pasted into text, broken MIME, a status part without recipients, auto-replies with a
 * null sender, legacy Hotmail complaints.
 */
import { describe, expect, it } from 'vitest';
import { analyseMessage } from '../../../src/bounce/analysis/analyse.js';
import { statusFromText } from '../../../src/bounce/analysis/dsn.js';
import { parseTextBounce } from '../../../src/bounce/analysis/heuristics.js';
import { BOUNCE_DOMAIN, FIXTURE_KEYS, bounceAddressFor } from './fixture-helpers.js';

const ours = (a: string): boolean => a.toLowerCase().endsWith(`@${BOUNCE_DOMAIN}`) || a.toLowerCase() === 'orders@shop.example';
const read = (text: string) => parseTextBounce(text, { markers: true, exclude: ours });
const brief = (text: string) => read(text)?.recipients.map((r) => [r.recipient, r.status, r.kind, r.reason]) ?? null;

describe('text templates', () => {
  it('Exim "addr:" entries: the colon is not part of the address, details may follow a blank line', () => {
    const text = `This message was created automatically by mail delivery software.\n\nA message that you sent could not be delivered to one or more of its\nrecipients. This is a permanent error. The following address(es) failed:\n\n  a@x.example:\n\n    SMTP error from remote mail server after RCPT TO:<a@x.example>:\n    550 5.1.1 No such user here\n\n  b@y.example:\n    retry timeout exceeded\n`;
    expect(brief(text)).toEqual([
      ['a@x.example', '5.1.1', 'hard', 'user-unknown'],
      ['b@y.example', '4.4.7', 'soft', 'expired'],
    ]);
    expect(read(text)?.template).toBe('exim');
  });

  it('GMX: unindented "addr:" and the reason on the next line', () => {
    const text = `This message was created automatically by mail delivery software.\n\nA message that you sent could not be delivered to one or more of\nits recipients. This is a permanent error. The following address(es)\nfailed:\n\nkim@web.example:\nSMTP error from remote server for RCPT TO command, host: mx.web.example (192.0.2.4) reason: 552 5.2.2 Mailbox full\n`;
    expect(brief(text)).toEqual([['kim@web.example', '5.2.2', 'hard', 'mailbox-full']]);
  });

  it('Postfix text without a status part: wrapped "<addr>: host … said:" paragraphs', () => {
    const text = `This is the mail system at host mail.isp.example.\n\n                   The mail system\n\n<a@x.example>: host mx.x.example[192.0.2.7] said: 554 5.7.1 Service\n    unavailable; Client host [192.0.2.25] blocked using zen.spamhaus.org (in\n    reply to RCPT TO command)\n\n<b@x.example> (expanded from <sales@x.example>): host mx.x.example[192.0.2.7]\n    said: 550 5.1.1 <b@x.example>: Recipient address rejected: User unknown\n`;
    expect(brief(text)).toEqual([
      ['a@x.example', '5.7.1', 'hard', 'blocked'],
      ['b@x.example', '5.1.1', 'hard', 'user-unknown'],
    ]);
    expect(read(text)?.template).toBe('postfix');
  });

  it('qmail look-alikes not worded "qmail-send program", and Yahoo\'s "550: : User unknown"', () => {
    expect(read(`Hi. This is the deliver program at mx.netzero.example.\nI'm afraid I wasn't able to deliver your message to the following addresses.\n\n<a@x.example>:\nSorry, no mailbox here by that name. (#5.1.1)\n`)?.template).toBe('qmail');
    expect(brief(`Sorry, we were unable to deliver your message to the following address.\n\n<a@yahoo.example>:\nRemote host said: 550: : User unknown [RCPT_TO]\n`)).toEqual([['a@yahoo.example', '5.0.0', 'hard', 'user-unknown']]);
  });

  it('Exchange 2003: "addr on <date>" and the <host #x.y.z> status', () => {
    const text = `Your message\n\n  Subject: Order\n\ndid not reach the following recipient(s):\n\nj.smith@corp.example on 11/30/2026 9:12 AM\n            The e-mail account does not exist at the organization this message was sent to.\n            <exch.corp.example #5.1.1>\n`;
    expect(brief(text)).toEqual([['j.smith@corp.example', '5.1.1', 'hard', 'user-unknown']]);
    expect(statusFromText('<exch.corp.example #5.2.2>')).toBe('5.2.2');
  });

  it('Lotus Notes: addresses under "was not delivered to:", the reason under "because:"', () => {
    const text = `Your message\n\n  Subject: Order\n\nwas not delivered to:\n\n  a@notes.example\n  b@notes.example\n\nbecause:\n\n  User a (a@notes.example) not listed in Domino Directory\n`;
    expect(brief(text)).toEqual([
      ['a@notes.example', '5.0.0', 'hard', 'user-unknown'],
      ['b@notes.example', '5.0.0', 'hard', 'user-unknown'],
    ]);
  });

  it('Zoho: ERROR_CODE lines, the address on the line or on the line above', () => {
    expect(brief(`This is a permanent error.\n\na@zoho.example, ERROR_CODE :550, ERROR_CODE :5.1.1 User does not exist\n`)).toEqual([['a@zoho.example', '5.1.1', 'hard', 'user-unknown']]);
    expect(brief(`This is a permanent error.\n\nb@zoho.example\nInvalid Address, ERROR_CODE :550, ERROR_CODE :Requested action not taken\n`)).toEqual([['b@zoho.example', '5.0.0', 'hard', 'user-unknown']]);
  });

  it('IMail and Sendmail v5', () => {
    expect(brief(`Unknown user: a@imail.example\n\nRCPT TO generated following response:\n550 5.1.1 User unknown\n\nOriginal message follows.\n`)).toEqual([['a@imail.example', '5.1.1', 'hard', 'user-unknown']]);
    expect(brief(`   ----- Transcript of session follows -----\n550 a@old.example... User unknown\n>>> RCPT To:<b@old.example>\n<<< 552 Mailbox full\n`)).toEqual([
      ['a@old.example', '5.0.0', 'hard', 'user-unknown'],
      ['b@old.example', '5.0.0', 'hard', 'mailbox-full'],
    ]);
  });

  it('Gmail: the address before a full stop, and "did not accept our requests to connect" is an expiry', () => {
    expect(brief(`There was a problem delivering your message to a@x.example. See the technical details below.\n\nThe response from the remote server was:\n550 5.1.1 no such user\n`)).toEqual([['a@x.example', '5.1.1', 'hard', 'user-unknown']]);
    expect(brief(`Delivery to the following recipient failed permanently:\n\n     b@dead.example\n\nTechnical details of permanent failure:\nThe recipient server did not accept our requests to connect. [mx.dead.example. 192.0.2.77: timed out]\n`)).toEqual([['b@dead.example', '4.4.7', 'soft', 'expired']]);
  });

  it('the sender\'s own address on a reply line is skipped for the recipient after it', () => {
    expect(brief(`Your message from orders@shop.example to c@x.example failed: 550 5.1.1 unknown\n`)).toEqual([['c@x.example', '5.1.1', 'hard', 'user-unknown']]);
  });
});

describe('analyseMessage fallbacks', () => {
  const bounce = bounceAddressFor(1, '4jXQZB3dVKzJ9Ft');
  const run = (lines: readonly string[]) => analyseMessage(Buffer.from(lines.join('\r\n')), { keys: FIXTURE_KEYS, bounceDomain: BOUNCE_DOMAIN });
  const head = (subject: string, type = 'text/plain') => ['From: MAILER-DAEMON@mx.example', `To: ${bounce}`, `Subject: ${subject}`, 'MIME-Version: 1.0', `Content-Type: ${type}`, ''];

  it('a DSN pasted into text/plain is read as a DSN (note dsn-in-text)', () => {
    const a = run([...head('Delivery Status Notification (Failure)'), 'An error occurred:', '', 'Reporting-MTA: dns; a1.example', '', 'Final-Recipient: rfc822; w@x.example', 'Action: failed', 'Status: 5.2.1', 'Diagnostic-Code: smtp; 550 5.2.1 Mailbox disabled']);
    expect([a.format, a.notes.includes('dsn-in-text'), a.recipients.map((r) => [r.recipient, r.reason])]).toEqual(['dsn', true, [['w@x.example', 'mailbox-disabled']]]);
  });

  it('a multipart whose boundary matches no part is read as text', () => {
    const a = run([...head('Undelivered Mail Returned to Sender', 'multipart/report; report-type=delivery-status; boundary="AAA"'), '--BBB', 'Content-Type: text/plain', '', '<m@x.example>: host mx[192.0.2.1] said: 550 5.1.1 unknown user', '--BBB--']);
    expect(a.recipients.map((r) => [r.recipient, r.kind, r.reason])).toEqual([['m@x.example', 'hard', 'user-unknown']]);
  });

  it('an auto-reply with a null Return-Path is an auto-reply; a daemon bounce marked auto-replied is not', () => {
    const auto = run(['Return-Path: <>', 'From: kim@partner.example', `To: ${bounce}`, 'Subject: Re: your order', 'Auto-Submitted: auto-replied', '', 'I am away. <x@y.example>: 550 5.1.1 quoted']);
    expect([auto.kind, auto.notes, auto.recipients]).toEqual(['other', ['auto-reply'], []]);
    const exim = run(['Return-Path: <>', 'From: Mail Delivery System <Mailer-Daemon@mx.example>', `To: ${bounce}`, 'Subject: Mail delivery failed: returning message to sender', 'Auto-Submitted: auto-replied', '', 'This message was created automatically by mail delivery software.', '', '  x@y.example', '    550 5.1.1 unknown']);
    expect([exim.kind, exim.recipients.length]).toEqual(['bounce', 1]);
  });

  it('a legacy Hotmail complaint (not ARF) is a complaint about X-HmXmrOriginalRecipient', () => {
    const a = run(['From: staff@hotmail.com', `To: ${bounce}`, 'Subject: complaint about message from 192.0.2.25', 'MIME-Version: 1.0', 'Content-Type: multipart/mixed; boundary="b"', '', '--b', 'Content-Type: text/plain', '', 'This is an email abuse report.', '--b', 'Content-Type: message/rfc822', '', 'X-HmXmrOriginalRecipient: <reader@hotmail.example>', 'From: orders@shop.example', 'To: reader@hotmail.example', 'Subject: hi', '', 'body', '--b--']);
    expect([a.kind, a.complaint?.feedbackType, a.complaint?.originalRcptTo, a.notes.includes('complaint-not-arf')]).toEqual(['complaint', 'abuse', ['reader@hotmail.example'], true]);
  });
});

describe('the sender of an original quoted inline', () => {
  it('is never a failed recipient, even alone on an Exim entry line', () => {
    const bounce = bounceAddressFor(1, '4jXQZB3dVKzJ9Ft');
    const a = analyseMessage(
      Buffer.from(
        [
          'From: Mail Delivery System <Mailer-Daemon@mx.example>',
          `To: ${bounce}`,
          'Subject: Mail delivery failed: returning message to sender',
          '',
          'This message was created automatically by mail delivery software.',
          '',
          'A message that you sent could not be delivered to one or more of its',
          'recipients. This is a permanent error. The following address(es) failed:',
          '',
          '  shop-owner@customer.example',
          '    (ultimately generated from sales@customer.example)',
          '  gone@partner.example',
          '    550 5.1.1 unknown user',
          '',
          '------ This is a copy of the message, including all the headers. ------',
          '',
          'Return-path: <x@bounces.example.com>',
          'From: Shop <shop-owner@customer.example>',
          'To: gone@partner.example',
          '',
          'body',
        ].join('\n'),
      ),
      { keys: FIXTURE_KEYS, bounceDomain: BOUNCE_DOMAIN },
    );
    expect(a.recipients.map((r) => r.recipient)).toEqual(['gone@partner.example']);
  });
});
