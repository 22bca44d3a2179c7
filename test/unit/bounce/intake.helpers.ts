/**
 * Shared by the intake, maillog and LMTP tests: a real SQLite store in a temporary file with
 * a space, a user and sends, and messages built the way real senders write them — Postfix
 * 3.7.11's own DSN (copied from a private instance's output: boundary, fields, folding), an
 * ARF report, an auto-reply. Built here, independently of the analysis code under test.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { copySendId, encodeBounceAddress } from '../../../src/bounce/bounce-address.js';
import type { Logger } from '../../../src/lib/logger.js';
import { SqliteStore } from '../../../src/store/sqlite/sqlite-store.js';
import type { NewSend, Send, Space, Store } from '../../../src/store/store.js';

export const KEYS = [{ id: 'k1', secret: 'intake-secret-0123456789' }] as const;
export const OTHER_KEYS = [{ id: 'k1', secret: 'some-other-secret-012345' }] as const;
export const BOUNCE_DOMAIN = 'bounces.example.com';
export const AT = new Date('2026-11-23T10:00:00.000Z');
export const clock = (): Date => AT;

export interface Seeded {
  readonly store: SqliteStore;
  readonly space: Space;
  readonly userId: number;
  readonly dir: string;
  send(id: string, to: string, bcc?: string | null, extra?: Partial<NewSend>): Promise<Send>;
  cleanup(): Promise<void>;
}

/** A temporary SQLite file with one space ("shop") and one user. */
export async function seedStore(): Promise<Seeded> {
  const dir = mkdtempSync(path.join(tmpdir(), 'trx-bounce-'));
  const store = SqliteStore.open(path.join(dir, 'trxmail.db'));
  await store.createSpace({ name: 'other' });
  const space = await store.createSpace({ name: 'shop' });
  const user = await store.createUser({ spaceId: space.id, email: 'app@shop.example', passwordHash: 'x' });
  return {
    store,
    space,
    userId: user.id,
    dir,
    async send(id, to, bcc = null, extra = {}) {
      await store.recordSend({
        id,
        spaceId: space.id,
        userId: user.id,
        mailFrom: 'news@shop.example',
        envelopeSender: encodeBounceAddress({ spaceId: space.id, sendId: id }, KEYS, BOUNCE_DOMAIN),
        from: 'news@shop.example',
        to,
        bcc,
        discarded: ['dropped@example.net'],
        tags: [],
        flags: 3,
        flagsSource: 'default',
        receivedAt: new Date(AT.getTime() - 60_000),
        recipients: [
          { address: to, role: 'to', status: 'queued', suppressedBy: null, detail: null },
          ...(bcc !== null ? [{ address: bcc, role: 'bcc' as const, status: 'queued' as const, suppressedBy: null, detail: null }] : []),
          { address: 'dropped@example.net', role: 'discarded', status: 'discarded', suppressedBy: null, detail: null },
        ],
        ...extra,
      });
      const s = await store.getSend(id, space.id);
      if (!s) throw new Error('seeded send not found');
      return s;
    },
    async cleanup() {
      await store.close().catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export function bounceAddress(spaceId: number, sendId: string, opts: { bccCopy?: boolean; keys?: readonly { id: string; secret: string }[] } = {}): string {
  return encodeBounceAddress({ spaceId, sendId: opts.bccCopy ? copySendId(sendId) : sendId }, opts.keys ?? KEYS, BOUNCE_DOMAIN);
}

export interface DsnRecipient {
  readonly address: string;
  readonly action: 'failed' | 'delayed' | 'delivered';
  readonly status: string;
  readonly diagnostic: string;
}

/**
 * A DSN as Postfix 3.7.11 writes it ("Undelivered Mail Returned to Sender"), to `to` (the
 * bounce address), returning the original with its X-Trxmail-Ref (`ref`, a local part) when given.
 */
export function postfixDsn(o: { to: string; queueId: string; recipients: readonly DsnRecipient[]; ref?: string; originalTo?: string }): Buffer {
  const boundary = `${o.queueId}.1795395380/relay.trxmail.test`;
  const blocks = o.recipients
    .map(
      (r) =>
        `Final-Recipient: rfc822; ${r.address}\nOriginal-Recipient: rfc822;${r.address}\nAction: ${r.action}\nStatus: ${r.status}\n` +
        `Remote-MTA: dns; mx.example.org\nDiagnostic-Code: smtp; ${r.diagnostic}\n`,
    )
    .join('\n');
  const text = [
    'Received: by relay.trxmail.test (Postfix)',
    '\tid 4jXnZD5B9mzJMtT; Mon, 23 Nov 2026 00:56:20 +0000 (UTC)',
    'Date: Mon, 23 Nov 2026 00:56:20 +0000 (UTC)',
    'From: Mail Delivery System <MAILER-DAEMON@relay.trxmail.test>',
    'Subject: Undelivered Mail Returned to Sender',
    `To: ${o.to}`,
    'Auto-Submitted: auto-replied',
    'MIME-Version: 1.0',
    'Content-Type: multipart/report; report-type=delivery-status;',
    `\tboundary="${boundary}"`,
    'Content-Transfer-Encoding: 8bit',
    'Message-Id: <4jXnZD5B9mzJMtT@relay.trxmail.test>',
    '',
    'This is a MIME-encapsulated message.',
    '',
    `--${boundary}`,
    'Content-Description: Notification',
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: 8bit',
    '',
    'This is the mail system at host relay.trxmail.test.',
    '',
    "I'm sorry to have to inform you that your message could not",
    'be delivered to one or more recipients. It\'s attached below.',
    '',
    ...o.recipients.map((r) => `<${r.address}>: host mx.example.org said: ${r.diagnostic}`),
    '',
    `--${boundary}`,
    'Content-Description: Delivery report',
    'Content-Type: message/delivery-status',
    '',
    'Reporting-MTA: dns; relay.trxmail.test',
    `X-Postfix-Queue-ID: ${o.queueId}`,
    `X-Postfix-Sender: rfc822; ${o.to}`,
    'Arrival-Date: Mon, 23 Nov 2026 00:56:20 +0000 (UTC)',
    '',
    blocks,
    `--${boundary}`,
    'Content-Description: Undelivered Message',
    'Content-Type: message/rfc822',
    'Content-Transfer-Encoding: 8bit',
    '',
    `Return-Path: <${o.to}>`,
    'Date: Mon, 23 Nov 2026 00:56:19 +0000',
    `To: ${o.originalTo ?? o.recipients[0]?.address ?? 'someone@example.org'}`,
    'From: news@shop.example',
    'Subject: Your order',
    ...(o.ref !== undefined ? [`X-Trxmail-Ref: ${o.ref}`] : []),
    '',
    'Hello.',
    '',
    `--${boundary}--`,
    '',
  ].join('\n');
  return Buffer.from(text.replace(/\n/g, '\r\n'));
}

/** An ARF (RFC 5965) abuse report, as mailbox providers send them, returning the original. */
export function arfReport(o: { to: string; feedbackType: string; originalRcptTo?: string; ref?: string; originalTo: string }): Buffer {
  const b = 'arf-boundary-1';
  const text = [
    'From: <feedback@fbl.mailbox.example>',
    `To: <${o.to}>`,
    'Subject: FW: Your order',
    'Date: Mon, 23 Nov 2026 09:00:00 +0000',
    'MIME-Version: 1.0',
    `Content-Type: multipart/report; report-type=feedback-report; boundary="${b}"`,
    '',
    `--${b}`,
    'Content-Type: text/plain; charset="US-ASCII"',
    '',
    'This is an email abuse report for an email message received from IP 192.0.2.1.',
    '',
    `--${b}`,
    'Content-Type: message/feedback-report',
    '',
    `Feedback-Type: ${o.feedbackType}`,
    'User-Agent: MailboxFBL/1.0',
    'Version: 1',
    `Original-Mail-From: <${o.to}>`,
    ...(o.originalRcptTo !== undefined ? [`Original-Rcpt-To: <${o.originalRcptTo}>`] : []),
    'Arrival-Date: Mon, 23 Nov 2026 08:00:00 +0000',
    'Source-IP: 192.0.2.1',
    '',
    `--${b}`,
    'Content-Type: message/rfc822',
    'Content-Disposition: inline',
    '',
    'From: news@shop.example',
    `To: ${o.originalTo}`,
    'Subject: Your order',
    ...(o.ref !== undefined ? [`X-Trxmail-Ref: ${o.ref}`] : []),
    '',
    'Hello.',
    '',
    `--${b}--`,
    '',
  ].join('\r\n');
  return Buffer.from(text);
}

/** An out-of-office reply sent to the bounce address (not a bounce). */
export function autoReply(to: string): Buffer {
  return Buffer.from(
    [
      'From: Someone <someone@example.org>',
      `To: ${to}`,
      'Subject: Out of office: Your order',
      'Auto-Submitted: auto-replied',
      'X-Autoreply: yes',
      '',
      'I am out of the office until Monday.',
      '',
    ].join('\r\n'),
  );
}

/** The local part of a bounce address (what X-Trxmail-Ref carries). */
export function localPart(address: string): string {
  return address.slice(0, address.lastIndexOf('@'));
}

export interface LogEntry {
  readonly level: string;
  readonly msg: string;
  readonly obj: Record<string, unknown>;
}

export function recordingLogger(lines: LogEntry[]): Logger {
  const rec = (level: string) => (obj: Record<string, unknown>, msg: string): void => {
    lines.push({ level, msg, obj });
  };
  return { debug: rec('debug'), info: rec('info'), warn: rec('warn'), error: rec('error') };
}

/** A store whose methods named in `failing` reject with the error `make()` returns (fault injection). */
export function failingStore(real: Store, failing: ReadonlySet<string>, make: (method: string) => Error): Store {
  return new Proxy(real, {
    get(target, prop, receiver) {
      const value: unknown = Reflect.get(target, prop, receiver);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]): unknown => {
        if (typeof prop === 'string' && failing.has(prop)) return Promise.reject(make(prop));
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
}
