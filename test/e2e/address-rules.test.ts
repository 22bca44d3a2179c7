/**
 * Address and header rules through a real Postfix (issue 11 item 7, issue 12 items 1 and 5):
 * a quoted local part gets one answer from the policy service (RCPT, Postfix's internal
 * address form) and the milter (MAIL, the form the client typed); a To whose local part
 * differs from its RCPT TO only in letter case is accepted and delivered with the header's
 * spelling; header fields that must not survive the relay are gone from the delivered copy
 * while trxmail's own DKIM-Signature stays.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addActiveDkimKeys } from '../helpers/dkim-keys.js';
import { pythonVerify } from '../helpers/dkim-python.js';
import { startStack, submit, TEST_KEYS, type Stack } from './stack.js';

const run = promisify(execFile);
const USER = 'app@shop.example';
const PASSWORD = 'correct horse battery staple';

let stack: Stack;

function fields(raw: Buffer, name: string): string[] {
  const s = raw.toString('utf8');
  const end = s.indexOf('\r\n\r\n');
  const unfolded = (end === -1 ? s : s.slice(0, end + 2)).replace(/\r\n[ \t]/g, ' ');
  return unfolded
    .split('\r\n')
    .filter((l) => l.toLowerCase().startsWith(name.toLowerCase() + ':'))
    .map((l) => l.slice(name.length + 1).trim());
}

/** swaks over STARTTLS on the submission port; resolves with its transcript, whatever the outcome. */
async function swaks(args: string[]): Promise<string> {
  const base = ['--server', `127.0.0.1:${stack.ports.submission}`, '--tls', '--auth', 'PLAIN', '--auth-user', USER, '--auth-password', PASSWORD];
  return run('swaks', [...base, ...args], { timeout: 60_000 }).then(
    (r) => r.stdout,
    (err: { stdout?: string }) => err.stdout ?? '',
  );
}

const records: Record<string, string> = {};

beforeAll(async () => {
  stack = await startStack();
  // Without domains first, so the DKIM keys (and their TXT records) are made here.
  const space = await stack.addSpace('shop', [], [{ email: USER, password: PASSWORD }]);
  await stack.store.addDomain(space.id, 'shop.example');
  Object.assign(records, await addActiveDkimKeys(stack.store, space.id, 'shop.example', TEST_KEYS));
}, 120_000);

afterAll(async () => {
  await stack?.stop();
});

describe('a quoted local part (RFC 5321 quoted-string)', () => {
  it('MAIL FROM:<"john smith"@shop.example> is accepted by the policy service and the milter alike', async () => {
    const out = await swaks(['--from', '"john smith"@shop.example', '--to', 'jane@example.org', '--header', 'To: jane@example.org', '--header', 'Subject: quoted']);
    const lines = out.split('\n');
    expect(lines.filter((l) => l.startsWith('<~*')), out).toEqual([]); // no refusal, at MAIL or RCPT
    const line = lines.find((l) => l.includes('queued as'));
    expect(line, out).toMatch(/<~ +250 2\.0\.0 Ok: queued as [0-9A-Za-z]+/);
    const id = /queued as ([0-9A-Za-z]+)/.exec(line ?? '')?.[1] ?? '';
    const send = await stack.store.getSend(id, null);
    expect(send?.mailFrom).toBe('"john smith"@shop.example');
    const msg = await stack.sink.waitFor((m) => m.raw.toString().includes('Subject: quoted'));
    expect(fields(msg.raw, 'From')).toEqual(['"john smith"@shop.example']);
    expect(msg.rcptTo).toEqual(['jane@example.org']);
  });
});

describe('the To local part compares case-insensitively', () => {
  it('To: CaSe@Example.NET with RCPT TO:<case@example.net> is accepted; the delivered To keeps the header spelling', async () => {
    const r = await submit(
      stack,
      { user: USER, pass: PASSWORD },
      { from: 'news@shop.example', to: ['case@example.net'] },
      'From: a@shop.example\nTo: CaSe@Example.NET\nSubject: letter case\n\nhi\n',
    );
    expect(r).toMatch(/^250 2\.0\.0 Ok: queued as /);
    const msg = await stack.sink.waitFor((m) => m.raw.toString().includes('Subject: letter case'));
    expect(msg.rcptTo).toEqual(['case@example.net']);
    expect(fields(msg.raw, 'To')).toEqual(['CaSe@Example.NET']);
  });
});

describe('header fields that do not survive the relay', () => {
  it('removes Resent-*, Errors-To, X-Original-From, a client DKIM-Signature and Authentication-Results; keeps Reply-To and our own signature', async () => {
    const raw = [
      'From: a@shop.example',
      'To: strip@example.org',
      'Reply-To: help@shop.example',
      'Resent-From: someone@elsewhere.example',
      'Resent-Sender: someone@elsewhere.example',
      'Errors-To: errors@elsewhere.example',
      'X-Original-From: boss@elsewhere.example',
      'DKIM-Signature: v=1; a=rsa-sha256; d=elsewhere.example; s=x; h=from; bh=AAAA; b=BBBB',
      'Authentication-Results: mx.elsewhere.example; dkim=pass header.d=elsewhere.example',
      'Sender: someone@elsewhere.example',
      'Subject: stripped',
      '',
      'hi',
      '',
    ].join('\n');
    const r = await submit(stack, { user: USER, pass: PASSWORD }, { from: 'news@shop.example', to: ['strip@example.org'] }, raw);
    expect(r).toMatch(/^250 2\.0\.0 Ok: queued as /);
    const msg = await stack.sink.waitFor((m) => m.raw.toString().includes('Subject: stripped'));
    for (const gone of ['Resent-From', 'Resent-Sender', 'Errors-To', 'X-Original-From', 'Authentication-Results', 'Sender']) {
      expect(fields(msg.raw, gone), gone).toEqual([]);
    }
    const sigs = fields(msg.raw, 'DKIM-Signature');
    expect(sigs.length).toBe(2); // ours: rsa-sha256 and ed25519-sha256
    for (const s of sigs) expect(s).toMatch(/\bd=shop\.example\b/);
    // ...and they verify over the header without the removed fields (independent verifier).
    expect(pythonVerify(msg.raw, records).map((v) => [v.domain, v.pass])).toEqual([
      ['shop.example', true],
      ['shop.example', true],
    ]);
    expect(fields(msg.raw, 'Reply-To')).toEqual(['help@shop.example']);
  });
});
