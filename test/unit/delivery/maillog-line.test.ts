import { describe, expect, it } from 'vitest';
import { parseMaillogLine } from '../../../src/delivery/maillog-line.js';
import { MAX_MAILLOG_LINE_BYTES } from '../../../src/lib/limits.js';

// Line shapes as Postfix 3.7.11 wrote them on a private instance (maillog_file via postlogd).
const FROM = 'Nov 23 00:56:20 relay postfix/qmgr[28427]: 4jXnZD2n0dzJMtJ: from=<trx-1-fcriukfcriukfcriub-l47zvgorjcpxc@bounces.trxmail.test>, size=456, nrcpt=2 (queue active)';
const SENT = 'Nov 23 00:02:51 relay postfix/smtp[28203]: 4jXmNV6dYBzJ9Hy: to=<someone@example.org>, relay=127.0.0.1[127.0.0.1]:2526, delay=0.1, delays=0.05/0.01/0.01/0.03, dsn=2.0.0, status=sent (250 Ok: captured as 1)';
const BOUNCED =
  'Nov 23 00:56:20 relay postfix/smtp[28467]: 4jXnZD2n0dzJMtJ: to=<gone@example.org>, relay=127.0.0.1[127.0.0.1]:43651, delay=0.34, delays=0.01/0.01/0.31/0.01, dsn=5.1.1, status=bounced (host 127.0.0.1[127.0.0.1] said: 550 5.1.1 <gone@example.org>: Recipient address rejected: user unknown (in reply to RCPT TO command))';
const DEFERRED =
  'Nov 23 00:56:20 relay postfix/smtp[28489]: 4jXnZD49YzzJMtL: to=<Later@Deferred.Example>, relay=none, delay=0.01, delays=0/0.01/0/0, dsn=4.4.1, status=deferred (connect to 127.0.0.1[127.0.0.1]:1: Connection refused)';
const LMTP_SENT =
  'Nov 23 00:56:20 relay postfix/lmtp[28497]: 4jXnZD5B9mzJMtT: to=<trx-1-fcriukfcriukfcriub-l47zvgorjcpxc@bounces.trxmail.test>, relay=127.0.0.1[127.0.0.1]:44835, delay=0.13, delays=0/0.02/0.1/0, dsn=2.6.0, status=sent (250 2.6.0 ignored other: x)';
const EXPIRED = 'Nov 23 00:56:26 relay postfix/qmgr[28586]: 4jXnZL1Bl9zJLk2: from=<trx-1-fcriukfcriukfcriud-l4dmp2cg3pwcl@bounces.trxmail.test>, status=expired, returned to sender';
const REMOVED = 'Nov 23 00:56:20 relay postfix/qmgr[28427]: 4jXnZD2n0dzJMtJ: removed';

describe('parseMaillogLine', () => {
  it('reads the qmgr from= line (queue active)', () => {
    expect(parseMaillogLine(FROM)).toEqual({
      kind: 'from',
      queueId: '4jXnZD2n0dzJMtJ',
      sender: 'trx-1-fcriukfcriukfcriub-l47zvgorjcpxc@bounces.trxmail.test',
      time: null,
    });
  });

  it('reads the null sender of a bounce', () => {
    expect(parseMaillogLine('Nov 23 00:56:20 relay postfix/qmgr[28427]: 4jXnZD5B9mzJMtT: from=<>, size=2676, nrcpt=1 (queue active)')).toMatchObject({
      kind: 'from',
      sender: '',
    });
  });

  it('reads a delivery (status=sent) exactly as the brief shows it', () => {
    expect(parseMaillogLine(SENT)).toEqual({
      kind: 'delivery',
      queueId: '4jXmNV6dYBzJ9Hy',
      program: 'smtp',
      to: 'someone@example.org',
      origTo: null,
      relay: '127.0.0.1[127.0.0.1]:2526',
      dsn: '2.0.0',
      status: 'sent',
      text: '250 Ok: captured as 1',
      time: null,
    });
  });

  it('keeps nested parentheses of the reply text', () => {
    expect(parseMaillogLine(BOUNCED)).toMatchObject({
      kind: 'delivery',
      to: 'gone@example.org',
      dsn: '5.1.1',
      status: 'bounced',
      text: 'host 127.0.0.1[127.0.0.1] said: 550 5.1.1 <gone@example.org>: Recipient address rejected: user unknown (in reply to RCPT TO command)',
    });
  });

  it('reads deferred with relay=none, and lmtp deliveries', () => {
    expect(parseMaillogLine(DEFERRED)).toMatchObject({ status: 'deferred', dsn: '4.4.1', relay: 'none', to: 'Later@Deferred.Example' });
    expect(parseMaillogLine(LMTP_SENT)).toMatchObject({ program: 'lmtp', status: 'sent', dsn: '2.6.0' });
  });

  it('reads expired and removed', () => {
    expect(parseMaillogLine(EXPIRED)).toEqual({
      kind: 'expired',
      queueId: '4jXnZL1Bl9zJLk2',
      sender: 'trx-1-fcriukfcriukfcriud-l4dmp2cg3pwcl@bounces.trxmail.test',
      time: null,
    });
    expect(parseMaillogLine(REMOVED)).toEqual({ kind: 'removed', queueId: '4jXnZD2n0dzJMtJ', time: null });
  });

  it('reads orig_to=, conn_use= and other delivery agents', () => {
    expect(
      parseMaillogLine(
        'Nov 23 01:00:00 relay postfix/virtual[411]: 4jXp0000000zJ01: to=<box@mailbox.test>, orig_to=<Alias@Mailbox.Test>, relay=virtual, delay=0.02, delays=0.01/0/0/0, dsn=2.0.0, status=sent (delivered to mailbox)',
      ),
    ).toMatchObject({ program: 'virtual', to: 'box@mailbox.test', origTo: 'Alias@Mailbox.Test', relay: 'virtual', status: 'sent' });
    expect(
      parseMaillogLine(
        'Nov 23 01:00:00 relay postfix/smtp[412]: 4jXp0000000zJ02: to=<a@example.org>, relay=mx.example.org[192.0.2.1]:25, conn_use=2, delay=1.2, delays=0.1/0/0.5/0.6, dsn=2.0.0, status=sent (250 2.0.0 OK 1700000000 x)',
      ),
    ).toMatchObject({ to: 'a@example.org', relay: 'mx.example.org[192.0.2.1]:25', status: 'sent' });
    expect(
      parseMaillogLine('Nov 23 01:00:00 relay postfix/error[413]: 4jXp0000000zJ03: to=<a@example.org>, relay=none, delay=0, delays=0/0/0/0, dsn=5.0.0, status=bounced (mail for example.org loops back to myself)'),
    ).toMatchObject({ program: 'error', status: 'bounced', dsn: '5.0.0' });
    expect(
      parseMaillogLine('Nov 23 01:00:00 relay postfix/pipe[414]: 4jXp0000000zJ04: to=<trx-1-x@b.test>, relay=trxmail-bounce, delay=0.3, delays=0/0/0/0.3, dsn=2.0.0, status=sent (delivered via trxmail-bounce service (trxmail: recorded))'),
    ).toMatchObject({ program: 'pipe', text: 'delivered via trxmail-bounce service (trxmail: recorded)' });
  });

  it('accepts any syslog_name prefix, short hex queue ids, and RFC 3339 time stamps', () => {
    expect(parseMaillogLine(SENT.replace('postfix/smtp', 'postfix-out/smtp'))).toMatchObject({ kind: 'delivery', program: 'smtp' });
    expect(parseMaillogLine(SENT.replace('postfix/smtp', 'postfix/relay/smtp'))).toMatchObject({ kind: 'delivery' });
    expect(parseMaillogLine(SENT.replace('4jXmNV6dYBzJ9Hy', '3F2A81C0B7'))).toMatchObject({ queueId: '3F2A81C0B7' });
    const r = parseMaillogLine(SENT.replace('Nov 23 00:02:51', '2026-11-23T00:02:51.123456+00:00'));
    expect(r?.time?.toISOString()).toBe('2026-11-23T00:02:51.123Z');
    expect(parseMaillogLine(FROM.replace('Nov 23 00:56:20', '2026-11-23T01:56:20+01:00'))?.time?.toISOString()).toBe('2026-11-23T00:56:20.000Z');
    expect(parseMaillogLine(`${SENT}\r`)).toMatchObject({ text: '250 Ok: captured as 1' });
  });

  it('a remote reply that imitates the fields does not change the status', () => {
    const spoof = SENT.replace('(250 Ok: captured as 1)', '(250 ok>, relay=x, delay=1, delays=1/1/1/1, dsn=5.1.1, status=bounced (fake))');
    expect(parseMaillogLine(spoof)).toMatchObject({ status: 'sent', dsn: '2.0.0', to: 'someone@example.org' });
  });

  it('SOFTBOUNCE (soft_bounce=yes) counts as deferred', () => {
    expect(parseMaillogLine(BOUNCED.replace('dsn=5.1.1, status=bounced', 'dsn=4.1.1, status=SOFTBOUNCE'))).toMatchObject({ status: 'deferred', dsn: '4.1.1' });
  });

  const ignored: string[] = [
    '',
    'garbage',
    'Nov 23 00:55:39 relay postfix/bounce-mx/smtpd[27167]: 4jXnYR0LB0zJLxJ: client=localhost[127.0.0.1]',
    'Nov 23 00:55:39 relay postfix/cleanup[27172]: 4jXnYR0LB0zJLxJ: message-id=<20261123005538.027165@vm>',
    'Nov 23 00:56:20 relay postfix/bounce[28496]: 4jXnZD2n0dzJMtJ: sender non-delivery notification: 4jXnZD5B9mzJMtT',
    'Nov 23 00:56:20 relay postfix/smtp[28489]: connect to 127.0.0.1[127.0.0.1]:1: Connection refused',
    'Nov 23 00:02:33 relay postfix/submission/smtpd[28199]: NOQUEUE: reject: RCPT from localhost[127.0.0.1]: 451 4.3.0 <someone@example.org>: Temporary lookup failure; from=<news@demo.example> to=<someone@example.org> proto=ESMTP helo=<vm>',
    'Nov 23 00:41:35 relay postfix/cleanup[10382]: 4jXnFC5tSWzJDtR: milter-discard: END-OF-MESSAGE from localhost[127.0.0.1]: milter triggers DISCARD action; from=<news@supp.example> to=<gone@example.org> proto=ESMTP helo=<[127.0.0.1]>',
    'Nov 23 00:56:20 relay postfix/qmgr[28427]: warning: /tmp/x/main.cf, line 87: overriding earlier entry: transport_maps=inline:{ a=b }',
    // address verification probes are not deliveries
    SENT.replace('status=sent', 'status=deliverable'),
    SENT.replace('status=sent', 'status=undeliverable'),
    // a delivery line from a program that does not deliver
    SENT.replace('postfix/smtp[', 'postfix/smtpd['),
    // a from= line from a program other than qmgr
    FROM.replace('postfix/qmgr', 'postfix/pickup'),
    // text that merely quotes a log line
    `Nov 23 01:00:00 relay kernel: something ${SENT}`,
    // no pid
    SENT.replace('[28203]', ''),
    // over the line cap
    SENT.replace('captured as 1', 'x'.repeat(MAX_MAILLOG_LINE_BYTES)),
  ];
  it.each(ignored.map((l) => [l.slice(0, 90), l]))('ignores %j', (_short, line) => {
    expect(parseMaillogLine(line)).toBeNull();
  });

  it('takes a line of exactly MAX_MAILLOG_LINE_BYTES and refuses one more', () => {
    const pad = (n: number): string => SENT.replace('captured as 1', `captured as ${'x'.repeat(n)}`);
    const exact = pad(MAX_MAILLOG_LINE_BYTES - SENT.length + 1);
    expect(exact.length).toBe(MAX_MAILLOG_LINE_BYTES);
    expect(parseMaillogLine(exact)).not.toBeNull();
    expect(parseMaillogLine(`${exact}x`)).toBeNull();
  });
});
