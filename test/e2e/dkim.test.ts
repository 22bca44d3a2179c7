/**
 * DKIM and the aligned Return-Path end to end through the real Postfix: every delivered copy
 * (the To copy, edited in place by the milter, and the untracked BCC copy, re-injected; with
 * and without tracking; 7bit, quoted-printable, base64, 8bit and a 20 MB attachment) verifies
 * with an independent verifier (Debian's python3-dkim) against the keys `domain dns` would
 * publish, for rsa-sha256 and ed25519-sha256, with d= the From domain; a copy changed after
 * signing fails. With a return-path host, the delivered envelope sender is in that host, and
 * a DSN Postfix sends to it comes back through the socketmap and LMTP to the bounce intake.
 */
import libqp from 'libqp';
import { MAX_MESSAGE_SIZE_LIMIT } from '../../src/lib/limits.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CapturedMessage } from '../../src/postfix/capture-sink.js';
import { addActiveDkimKeys } from '../helpers/dkim-keys.js';
import { pythonVerifyMany, type PythonVerdict } from '../helpers/dkim-python.js';
import { startStack, submit, TEST_KEYS, type Stack } from './stack.js';

const DOMAIN = 'dkim.example';
const USER = 'app@dkim.example';
const PASSWORD = 'dkim password 123';
const refuse = new Set(['gone@example.org']);
let stack: Stack;
let spaceId = 0;
const records: Record<string, string> = {};

async function send(to: string[], raw: string): Promise<string> {
  const once = (): Promise<string> => submit(stack, { user: USER, pass: PASSWORD }, { from: `news@${DOMAIN}`, to }, raw);
  // After trxmail restarts, each smtpd process that still holds its old auth connection answers
  // its next AUTH with 454 4.7.0 and reconnects for the one after (docs/protocols.md §4): a
  // client retries; a bounded number of times, as there are a few smtpd processes.
  let response = '';
  for (let attempt = 1; ; attempt++) {
    try {
      response = await once();
      break;
    } catch (err: unknown) {
      if (attempt >= 10 || !/454 4\.7\.0 .*Connection lost to authentication server/.test(String(err))) throw err;
    }
  }
  const id = /^250 2\.0\.0 Ok: queued as ([0-9A-Za-z]+)$/.exec(response)?.[1];
  if (!id) throw new Error(`not queued: ${response}`);
  return id;
}

/** The delivered copies of one send: to the To recipient and to the BCC recipient. */
async function copies(subject: string, to: string, bcc: string): Promise<[CapturedMessage, CapturedMessage]> {
  const has = (m: CapturedMessage, rcpt: string): boolean => m.rcptTo.includes(rcpt) && m.raw.includes(`Subject: ${subject}`);
  return Promise.all([stack.sink.waitFor((m) => has(m, to), 120_000), stack.sink.waitFor((m) => has(m, bcc), 120_000)]);
}

/** The body of a single-part quoted-printable message, decoded. */
const decodedBody = (raw: Buffer): string => libqp.decode(raw.toString('latin1').slice(raw.toString('latin1').indexOf('\r\n\r\n') + 4)).toString('utf8');

const summary = (v: readonly PythonVerdict[] | undefined): unknown[] => (v ?? []).map((x) => [x.algorithm, x.domain, x.pass]);
const BOTH_PASS = [
  ['rsa-sha256', DOMAIN, true],
  ['ed25519-sha256', DOMAIN, true],
];

function message(subject: string, flags: number, contentType: string, body: string[], extra: string[] = []): string {
  return [
    `From: "News Desk" <someone@elsewhere.example>`,
    'To: Reader <reader@example.org>',
    'Cc: copy@example.org',
    `Subject: ${subject}`,
    'Date: Wed, 02 Dec 2026 10:00:00 +0000',
    `Message-ID: <${subject.replace(/\W/g, '')}@dkim.example>`,
    'MIME-Version: 1.0',
    `X-Mxm-Flags: ${flags}`,
    `Content-Type: ${contentType}`,
    ...extra,
    '',
    ...body,
    '',
  ].join('\r\n');
}

beforeAll(async () => {
  // The 20 MB attachment is ~27 MB base64-encoded: over the default 25 MiB, so the largest limit allowed.
  stack = await startStack({ refuse, messageSizeLimit: MAX_MESSAGE_SIZE_LIMIT });
  // Space without domains first: the keys (and so their TXT records) are made here.
  spaceId = (await stack.addSpace('dkim', [], [{ email: USER, password: PASSWORD }])).id;
  await stack.store.addDomain(spaceId, DOMAIN);
  Object.assign(records, await addActiveDkimKeys(stack.store, spaceId, DOMAIN, TEST_KEYS));
}, 120_000);

afterAll(async () => {
  await stack?.stop();
});

describe('every delivered copy is DKIM-signed for the From domain', () => {
  it('tracked HTML in quoted-printable: the To copy (body replaced) and the untracked BCC copy both verify; a changed copy fails', async () => {
    const html = '<html><body><p>Hello=20reader, see <a href=3D"https://shop.example/item?id=3D7">the item</a>.</p></body></html>';
    await send(['reader@example.org', 'archive@example.org'], message('tracked qp', 3, 'text/html; charset=utf-8', [html], ['Content-Transfer-Encoding: quoted-printable']));
    const [to, bcc] = await copies('tracked qp', 'reader@example.org', 'archive@example.org');
    // The pixel URL (not just "/o/", which base64 in a DKIM b= value may hold by chance).
    const pixel = `${stack.config.http.baseUrl}/o/`;
    expect(decodedBody(to.raw)).toContain(pixel); // the To copy is tracked
    expect(decodedBody(bcc.raw)).not.toContain(pixel);
    const tampered = Buffer.from(to.raw.toString('latin1').replace('the item', 'the itex'), 'latin1');
    const addedFrom = Buffer.from(to.raw.toString('latin1').replace(/^Subject:/m, 'From: evil@attacker.example\r\nSubject:'), 'latin1');
    const [v1, v2, v3, v4] = pythonVerifyMany([to.raw, bcc.raw, tampered, addedFrom], records);
    expect(summary(v1)).toEqual(BOTH_PASS);
    expect(summary(v2)).toEqual(BOTH_PASS);
    expect(v3?.map((v) => v.pass)).toEqual([false, false]);
    expect(v4?.map((v) => v.pass)).toEqual([false, false]);
    // d= is the From domain, and the From the signature covers is the rewritten one.
    expect(to.raw.toString('latin1')).toMatch(/^From: "News Desk" <news@dkim\.example>\r$/m);
  });

  it('no tracking (X-Mxm-Flags: 0), 7bit text: one transaction for To and BCC, both copies verify', async () => {
    await send(['reader@example.org', 'archive@example.org'], message('plain 7bit', 0, 'text/plain; charset=us-ascii', ['Hello reader,', '', 'plain text body.   ', '', '']));
    const [to, bcc] = await copies('plain 7bit', 'reader@example.org', 'archive@example.org');
    const [v1, v2] = pythonVerifyMany([to.raw, bcc.raw], records);
    expect(summary(v1)).toEqual(BOTH_PASS);
    expect(summary(v2)).toEqual(BOTH_PASS);
  });

  it('8bit UTF-8 single part and a multipart with a base64 attachment (tracked HTML alternative)', async () => {
    await send(['reader@example.org', 'archive@example.org'], message('utf8 8bit', 3, 'text/plain; charset=utf-8', ['Grüße aus Köln — 8bit body'], ['Content-Transfer-Encoding: 8bit']));
    const attachment = Buffer.from('%PDF-1.4 pretend '.repeat(400)).toString('base64').replace(/.{76}/g, '$&\r\n');
    const multipart = [
      '--b1',
      'Content-Type: multipart/alternative; boundary=b2',
      '',
      '--b2',
      'Content-Type: text/plain; charset=utf-8',
      '',
      'See https://shop.example/',
      '--b2',
      'Content-Type: text/html; charset=utf-8',
      '',
      '<p>See <a href="https://shop.example/">the shop</a></p>',
      '--b2--',
      '--b1',
      'Content-Type: application/pdf; name=a.pdf',
      'Content-Transfer-Encoding: base64',
      'Content-Disposition: attachment; filename=a.pdf',
      '',
      attachment,
      '--b1--',
    ];
    await send(['reader@example.org', 'archive@example.org'], message('base64 attachment', 3, 'multipart/mixed; boundary=b1', multipart));
    const [u1, u2] = await copies('utf8 8bit', 'reader@example.org', 'archive@example.org');
    const [a1, a2] = await copies('base64 attachment', 'reader@example.org', 'archive@example.org');
    expect(a1.raw.toString('latin1').replace(/=\r\n/g, '')).toContain(`${stack.config.http.baseUrl}/c/`); // the link is tracked in the To copy
    const verdicts = pythonVerifyMany([u1.raw, u2.raw, a1.raw, a2.raw], records);
    for (const v of verdicts) expect(summary(v)).toEqual(BOTH_PASS);
  });

  it('a 20 MB attachment verifies (body hashed as it streams)', async () => {
    const big = Buffer.alloc(20 * 1024 * 1024, 'trxmail dkim ').toString('base64').replace(/.{76}/g, '$&\r\n');
    const body = ['--b1', 'Content-Type: text/plain', '', 'a big file', '--b1', 'Content-Type: application/octet-stream', 'Content-Transfer-Encoding: base64', '', big, '--b1--'];
    await send(['reader@example.org', 'archive@example.org'], message('twenty megabytes', 0, 'multipart/mixed; boundary=b1', body));
    const [to, bcc] = await copies('twenty megabytes', 'reader@example.org', 'archive@example.org');
    expect(to.raw.length).toBeGreaterThan(27_000_000);
    const [v1, v2] = pythonVerifyMany([to.raw, bcc.raw], records);
    expect(summary(v1)).toEqual(BOTH_PASS);
    expect(summary(v2)).toEqual(BOTH_PASS);
  }, 300_000);
});

describe('an aligned Return-Path host', () => {
  beforeAll(async () => {
    await stack.store.setReturnPath(spaceId, DOMAIN, `bounces.${DOMAIN}`);
    // serve reads return-path hosts at start (and every 30 s): restart instead of waiting.
    await stack.restartTrxmail({});
  }, 120_000);

  it('is the delivered envelope sender domain of both copies', async () => {
    await send(['reader@example.org', 'archive@example.org'], message('return path', 3, 'text/html', ['<p><a href="https://shop.example/">x</a></p>']));
    const [to, bcc] = await copies('return path', 'reader@example.org', 'archive@example.org');
    expect(to.mailFrom).toMatch(/^trx-\d+-[^@]+@bounces\.dkim\.example$/);
    expect(bcc.mailFrom).toMatch(/^trx-\d+-[^@]+@bounces\.dkim\.example$/);
    expect(summary(pythonVerifyMany([to.raw], records)[0])).toEqual(BOTH_PASS);
  });

  it("takes the DSN Postfix sends to it: routed by the socketmap to the LMTP intake, the hard bounce is recorded", async () => {
    const raw = message('to a gone mailbox', 0, 'text/plain', ['hello']).replace('To: Reader <reader@example.org>', 'To: gone@example.org');
    const id = await send(['gone@example.org'], raw);
    const line = await stack.logged((l) => l.msg.startsWith('bounce intake: ') && l.obj['sendId'] === id);
    expect(line.msg).toBe('bounce intake: recorded');
    const entry = (await stack.store.listEntries(spaceId, 'bounce')).find((e) => e.address === 'gone@example.org');
    expect(entry?.reason).toMatch(/5\.1\.1/);
  });
});
