/**
 * The message size limit through the real Postfix and trxmail: one value (trxmail.yaml
 * messageSizeLimit, here the smallest allowed, MIN_MESSAGE_SIZE_LIMIT, to keep the run light)
 * in Postfix's message_size_limit (EHLO SIZE) and in trxmail's milter. Just under it a message
 * is queued and delivered; just over it the client gets 552 5.3.4 with the limit in the reply,
 * at the end of DATA, or at MAIL FROM when it declares SIZE=.
 *
 * Fails on old main: message_size_limit was Postfix's default (10240000) whatever trxmail's
 * own bound, and the 552 replies did not name the limit.
 */
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MIN_MESSAGE_SIZE_LIMIT } from '../../src/lib/limits.js';
import { RawLmtpClient } from '../protocol/lmtp/helpers.js';
import { startStack, type Stack } from './stack.js';

const run = promisify(execFile);
const LIMIT = MIN_MESSAGE_SIZE_LIMIT;
const USER = 'app@size.example';
const PASSWORD = 'size password 123';
let stack: Stack;

/** A plain-text message of exactly `bytes` bytes (CRLF lines, as sent in DATA before the final dot). */
function messageOf(bytes: number, subject: string): string {
  const head = ['From: news@size.example', 'To: big@example.org', `Subject: ${subject}`, 'X-Mxm-Flags: 0', '', ''].join('\r\n');
  let body = '';
  const line = `${'x'.repeat(76)}\r\n`;
  while (head.length + body.length + line.length <= bytes) body += line;
  body += 'y'.repeat(bytes - head.length - body.length);
  const text = head + body;
  if (Buffer.byteLength(text) !== bytes) throw new Error('messageOf: wrong size');
  return text;
}

/** swaks on 587 with STARTTLS and AUTH, the message from a file; resolves with the transcript. */
async function swaksSubmit(raw: string): Promise<string> {
  const file = path.join(stack.dir, `size-${Date.now()}-${Math.random().toString(36).slice(2)}.eml`);
  // swaks adds the final CRLF "." itself; the file ends with the last line's CRLF.
  writeFileSync(file, raw.endsWith('\r\n') ? raw : `${raw}\r\n`);
  const args = [
    '--server', `127.0.0.1:${stack.ports.submission}`, '--tls', '--auth', 'PLAIN', '--auth-user', USER, '--auth-password', PASSWORD,
    '--from', 'news@size.example', '--to', 'big@example.org', '--data', file, '--suppress-data',
  ];
  return run('swaks', args, { timeout: 120_000, maxBuffer: 16 * 1024 * 1024 }).then(
    (r) => r.stdout,
    (e: { stdout?: string }) => e.stdout ?? '',
  );
}

beforeAll(async () => {
  stack = await startStack({ noBounceMx: true, messageSizeLimit: LIMIT });
  await stack.addSpace('size', ['size.example'], [{ email: USER, password: PASSWORD }]);
}, 120_000);

afterAll(async () => {
  await stack?.stop();
});

describe('one message size limit, Postfix and trxmail', () => {
  it('Postfix advertises the limit (EHLO SIZE)', async () => {
    const c = await RawLmtpClient.connect({ port: stack.ports.smtp });
    await c.reply();
    expect((await c.command('EHLO client.example')).lines).toContain(`250-SIZE ${LIMIT}`);
    c.destroy();
  });

  // Postfix counts its queue file: the message plus envelope records and the header fields it
  // and trxmail add (Received, DKIM-Signature, X-Trxmail-Ref), some 2.5 KiB here.
  it('queues and delivers a message just under the limit (4 KiB below)', async () => {
    const transcript = await swaksSubmit(messageOf(LIMIT - 4096, 'just under'));
    expect(transcript).toMatch(/<~ {2}250 2\.0\.0 Ok: queued as [0-9A-Za-z]+/);
    const m = await stack.sink.waitFor((x) => x.raw.includes('Subject: just under'));
    expect(m.raw.length).toBeGreaterThan(LIMIT - 4096);
  });

  it('refuses a message one byte over the limit at the end of DATA: 552 5.3.4 naming the limit', async () => {
    const transcript = await swaksSubmit(messageOf(LIMIT + 1, 'just over'));
    expect(transcript).toMatch(new RegExp(`<~\\* 552 5\\.3\\.4 Error: message file too big \\(the limit is ${LIMIT} bytes\\)\\r?$`, 'm'));
    expect(transcript).not.toMatch(/queued as/);
  });

  it('refuses a declared SIZE= over the limit at MAIL FROM: 552 5.3.4 naming the limit', async () => {
    const c = await RawLmtpClient.connect({ port: stack.ports.smtp });
    await c.reply();
    await c.command('EHLO mx.remote.example');
    expect(await c.command(`MAIL FROM:<> SIZE=${LIMIT + 1}`)).toMatchObject({
      code: 552,
      text: `5.3.4 Message size exceeds fixed limit of ${LIMIT} bytes`,
    });
    expect(await c.command(`MAIL FROM:<> SIZE=${LIMIT}`)).toMatchObject({ code: 250 });
    c.destroy();
  });
});
