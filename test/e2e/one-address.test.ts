/**
 * One public address, the shipped configuration as `trxmail postfix-config` prints it by
 * default (no separate bounce MX): port 25 serves applications (STARTTLS and AUTH required)
 * and other mail servers (plain-text bounces and complaints for the bounce domains), through
 * the real Postfix, trxmail's runtime and swaks.
 *
 * Fails on the old configuration (port 25 with smtpd_tls_security_level=encrypt): the
 * plain-text DSN got "530 5.7.0 Must issue a STARTTLS command first" at MAIL.
 *
 * No polling: waits for the bounce intake's log line.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeBounceAddress } from '../../src/bounce/bounce-address.js';
import { BOUNCE_DOMAIN, remoteSmtp, startStack, submit, TEST_KEYS, userUnknownDsn, type Stack } from './stack.js';

const run = promisify(execFile);
const USER = 'app@one.example';
const PASSWORD = 'one address password';
let stack: Stack;
let spaceId = 0;

/** Another server on the port-25 listener (see remoteSmtp). */
const swaks = (args: string[], body: string[] | null): Promise<string> => remoteSmtp(stack, stack.ports.smtp, args, body);
const dsn = userUnknownDsn;

beforeAll(async () => {
  stack = await startStack({ noBounceMx: true });
  spaceId = (await stack.addSpace('one', ['one.example'], [{ email: USER, password: PASSWORD }])).id;
}, 120_000);

afterAll(async () => {
  await stack?.stop();
});

describe('port 25 on one address (default postfix-config, no bounce MX)', () => {
  it('has no separate bounce-MX service', () => {
    expect(stack.postfix.render().masterCf).not.toMatch(/^\S+\s+inet\b.*\n(\s+-o .*\n)*\s+-o syslog_name=postfix\/bounce-mx/m);
    expect(stack.postfix.render().masterCf).not.toContain('postfix/bounce-mx');
  });

  it('takes a plain-text DSN from another server for the bounce domain and hands it to the LMTP intake', async () => {
    const raw = ['From: news@one.example', 'To: gone@example.org', 'Subject: to bounce', '', 'hello', ''].join('\r\n');
    const response = await submit(stack, { user: USER, pass: PASSWORD }, { from: 'news@one.example', to: ['gone@example.org'] }, raw);
    const id = /queued as ([0-9A-Za-z]+)$/.exec(response)?.[1];
    expect(id).toBeDefined();
    await stack.sink.waitFor((m) => m.rcptTo.includes('gone@example.org'));
    const address = encodeBounceAddress({ spaceId, sendId: id! }, TEST_KEYS, BOUNCE_DOMAIN);
    const recorded = stack.logged((l) => l.msg.startsWith('bounce intake: ') && l.obj['sendId'] === id);
    const transcript = await swaks(['--from', '<>', '--to', address], dsn(address, 'gone@example.org'));
    // plain text: STARTTLS offered but not used; AUTH not offered without TLS
    expect(transcript).toMatch(/250-STARTTLS/);
    expect(transcript).not.toMatch(/ -> STARTTLS|250[- ]AUTH/);
    expect(transcript).toMatch(/<- {2}250 2\.0\.0 Ok: queued as /);
    expect((await recorded).msg).toBe('bounce intake: recorded');
    expect((await stack.store.listEntries(spaceId, 'bounce')).some((e) => e.address.toLowerCase() === 'gone@example.org')).toBe(true);
  });

  it("takes plain-text mail for a customer's return-path host too (from trxmail's socketmap, a subdomain of it not)", async () => {
    await stack.store.setReturnPath(spaceId, 'one.example', 'rp.one.example');
    // serve reads the return-path hosts at start (then every 30 s): restart rather than wait.
    await stack.restartTrxmail({});
    const rcpt = 'trx-1-aaaaaaaaaaaa-aaaaaaaaaaaaa@rp.one.example';
    const ignored = stack.logged((l) => l.msg === 'bounce intake: ignored' && l.obj['rcptTo'] === rcpt);
    const transcript = await swaks(['--from', '<>', '--to', rcpt], dsn(rcpt, 'who@example.org'));
    expect(transcript).toMatch(/<- {2}250 2\.0\.0 Ok: queued as /);
    expect((await ignored).obj['reason']).toMatch(/^bounce-address-/); // forged: reached the intake, changed nothing
    const sub = await swaks(['--from', '<>', '--to', 'x@sub.rp.one.example'], null);
    expect(sub).toMatch(/<\*\* 530 5\.7\.0 <x@sub\.rp\.one\.example>: Recipient address rejected: Must issue a STARTTLS command first/);
  });

  it('refuses plain-text mail for any other domain: 530 5.7.0 Must issue a STARTTLS command first', async () => {
    const transcript = await swaks(['--from', 'news@one.example', '--to', 'someone@example.org'], null);
    expect(transcript).toMatch(/<\*\* 530 5\.7\.0 <[^>]+>: Recipient address rejected: Must issue a STARTTLS command first\r?$/m);
  });

  it('refuses plain-text mail to a subdomain of the bounce domain (not an open relay)', async () => {
    const transcript = await swaks(['--from', '<>', '--to', `x@sub.${BOUNCE_DOMAIN}`], null);
    expect(transcript).toMatch(/<\*\* 530 5\.7\.0 <[^>]+>: Recipient address rejected: Must issue a STARTTLS command first\r?$/m);
  });

  it('after STARTTLS without AUTH: 530 5.7.0 Authentication required', async () => {
    const transcript = await swaks(['--tls', '--from', 'news@one.example', '--to', 'someone@example.org'], null);
    expect(transcript).toMatch(/ -> STARTTLS/);
    expect(transcript).not.toMatch(/ ~> AUTH/);
    expect(transcript).toMatch(/<~\* 530 5\.7\.0 <someone@example\.org>: Recipient address rejected: Authentication required\r?$/m);
  });

  it('after STARTTLS with AUTH: accepted (250 with the send id)', async () => {
    const transcript = await swaks(
      ['--tls', '--auth', 'PLAIN', '--auth-user', USER, '--auth-password', PASSWORD, '--from', 'news@one.example', '--to', 'someone@example.org'],
      ['From: news@one.example', 'To: someone@example.org', 'Subject: via 25', '', 'hi'],
    );
    expect(transcript).toMatch(/<~ {2}250 2\.0\.0 Ok: queued as [0-9A-Za-z]+/);
    const id = /queued as ([0-9A-Za-z]+)/.exec(transcript)![1]!;
    expect((await stack.store.getSend(id, spaceId))?.mailFrom).toBe('news@one.example');
  });

  it('submission (587) still refuses a client without AUTH with 530 5.7.0 Authentication required, also for the bounce domain', async () => {
    const out = await run('swaks', ['--server', `127.0.0.1:${stack.ports.submission}`, '--tls', '--from', '<>', '--to', `trx-1-a-b@${BOUNCE_DOMAIN}`, '--quit-after', 'RCPT'], { timeout: 60_000 }).then(
      (r) => r.stdout,
      (e: { stdout?: string }) => e.stdout ?? '',
    );
    // refused at MAIL by the milter, as before (no recipient asked)
    expect(out).toMatch(/ ~> MAIL FROM:<>\r?\n<~\* 530 5\.7\.0 Authentication required\r?$/m);
  });
});
