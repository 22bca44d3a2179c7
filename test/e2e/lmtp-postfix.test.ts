/**
 * The shipped Postfix pieces for the bounce intake, checked against the real Postfix (a
 * private instance, Debian's binaries, as root): the bounce-MX listener takes plain SMTP for
 * the bounce domain only and hands it to the LMTP listener; the main port 25 still requires
 * STARTTLS; the pipe(8) variant runs the command with the shipped argv and a 75 exit defers.
 * Waits on Postfix's own log lines (MaillogFollower), never on timers.
 *
 * Postfix must be installed and the tests must run as root: a missing Postfix FAILS with the
 * install command (as in test/e2e), it is never skipped.
 */
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import nodemailer from 'nodemailer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { IntakeEnvelope, IntakeResult } from '../../src/bounce/intake.js';
import { LmtpServer } from '../../src/bounce/lmtp.js';
import { MaillogFollower, type ProcessedLine } from '../../src/delivery/maillog-follower.js';
import { silentLogger } from '../../src/lib/logger.js';
import { POSTFIX_INSTALL_HINT, PrivatePostfix, postfixInstalled } from '../../src/postfix/instance.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { freePorts } from '../helpers/net.js';
import { KEYS, autoReply } from '../unit/bounce/intake.helpers.js';
import { RawLmtpClient } from '../protocol/lmtp/helpers.js';

const BOUNCE_DOMAIN = 'bounces.trxmail.test';
const ignored: IntakeResult = { outcome: 'ignored', kind: 'other', format: null, sendId: null, spaceId: null, bccCopy: false, via: null, actions: [], unmatched: [], reason: 'not-a-bounce', notes: [] };

function requirePostfix(): void {
  if (!postfixInstalled()) throw new Error(POSTFIX_INSTALL_HINT);
  if (process.getuid?.() !== 0) throw new Error('these tests start a private Postfix and must run as root');
}

/** A private Postfix with a follower on its log. */
async function startPostfix(dir: string, opts: { bounceTransport: string; bounceCommand?: { user: string; command: string } }) {
  const [smtp, submission, smtps, reinject, bounceMx] = (await freePorts(5)) as [number, number, number, number, number];
  const pf = new PrivatePostfix({
    dir: path.join(dir, 'postfix'),
    hostname: 'relay.trxmail.test',
    ports: { smtp, submission, smtps, reinject, bounceMx },
    endpoints: { milter: 'inet:127.0.0.1:9', policy: 'inet:127.0.0.1:9', auth: 'inet:127.0.0.1:9' },
    bounceDomain: BOUNCE_DOMAIN,
    bounceTransport: opts.bounceTransport,
    relayhost: '[127.0.0.1]:9',
    ...(opts.bounceCommand ? { bounceCommand: opts.bounceCommand } : {}),
  });
  await pf.configure();
  await pf.start();
  // Only the lines matter here; the store is never reached (no trxmail sends in this log).
  const log = new MaillogFollower({ node: 'n1', path: pf.logFile, store: SqliteStore.open(':memory:'), keys: KEYS, bounceDomain: BOUNCE_DOMAIN, logger: silentLogger, pollMs: 20, fromStart: true });
  await log.start();
  return { pf, log, ports: { smtp, bounceMx } };
}

function logLine(log: MaillogFollower, pred: (line: string) => boolean): Promise<string> {
  return new Promise((resolve) => {
    const on = (p: ProcessedLine): void => {
      if (pred(p.line)) {
        log.off('processed', on);
        resolve(p.line);
      }
    };
    log.on('processed', on);
  });
}

const plainSmtp = (port: number) => nodemailer.createTransport({ host: '127.0.0.1', port, ignoreTLS: true, name: 'mx.remote.example' });

describe('bounce-MX listener and LMTP transport (real Postfix)', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'trx-lmtp-pf-'));
  chmodSync(dir, 0o755);
  const calls: IntakeEnvelope[] = [];
  const arrived: Array<(e: IntakeEnvelope) => void> = [];
  let lmtp: LmtpServer;
  let env: Awaited<ReturnType<typeof startPostfix>>;

  beforeAll(async () => {
    requirePostfix();
    lmtp = new LmtpServer({
      intake: {
        process: (_raw, e) => {
          calls.push(e);
          arrived.shift()?.(e);
          return Promise.resolve(ignored);
        },
      },
      bounceDomain: BOUNCE_DOMAIN,
      logger: silentLogger,
    });
    const ep = await lmtp.listen({ kind: 'tcp', host: '127.0.0.1', port: 0 });
    env = await startPostfix(dir, { bounceTransport: `lmtp:inet:127.0.0.1:${ep.kind === 'tcp' ? ep.port : 0}` });
  }, 60_000);
  afterAll(async () => {
    await env?.log.stop();
    await env?.pf.stop();
    await lmtp?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('takes a bounce in plain text (no STARTTLS, no AUTH, null sender) and Postfix delivers it to the LMTP listener', async () => {
    const to = `trx-1-abc-def@${BOUNCE_DOMAIN}`;
    const delivered = new Promise<IntakeEnvelope>((resolve) => arrived.push(resolve));
    const sentLine = logLine(env.log, (l) => l.includes('postfix/lmtp[') && l.includes(`to=<${to}>`));
    const info = await plainSmtp(env.ports.bounceMx).sendMail({ envelope: { from: '', to: [to] }, raw: autoReply(to) });
    expect(info.accepted).toEqual([to]);
    expect(await delivered).toEqual({ mailFrom: '', rcptTo: to });
    expect(await sentLine).toMatch(/dsn=2\.6\.0, status=sent \(250 2\.6\.0 ignored other: not-a-bounce\)$/);
  });

  it.each([['someone@example.org'], [`x@sub.${BOUNCE_DOMAIN}`]])('refuses %s (554 5.7.1): not an open relay', async (rcpt) => {
    await expect(plainSmtp(env.ports.bounceMx).sendMail({ envelope: { from: '', to: [rcpt] }, raw: autoReply(rcpt) })).rejects.toMatchObject({
      responseCode: 554,
    });
  });

  it('offers STARTTLS but no AUTH on the bounce MX; the main port 25 offers STARTTLS, and AUTH only after it', async () => {
    const c = await RawLmtpClient.connect({ port: env.ports.bounceMx });
    expect((await c.reply()).code).toBe(220);
    const ehlo = await c.command('EHLO mx.remote.example');
    expect(ehlo.lines.join('\n')).toContain('STARTTLS');
    expect(ehlo.lines.join('\n')).not.toContain('AUTH');
    c.destroy();
    const m = await RawLmtpClient.connect({ port: env.ports.smtp });
    expect((await m.reply()).code).toBe(220);
    const mainEhlo = (await m.command('EHLO mx.remote.example')).lines.join('\n');
    // Plain text is refused per recipient there (test/e2e/one-address.test.ts, with trxmail's policy service).
    expect(mainEhlo).toContain('STARTTLS');
    expect(mainEhlo).not.toContain('AUTH');
    m.destroy();
  });
});

describe('pipe(8) variant (real Postfix)', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'trx-pipe-pf-'));
  chmodSync(dir, 0o755);
  const out = path.join(dir, 'out');
  const script = path.join(dir, 'fake-trxmail');
  let env: Awaited<ReturnType<typeof startPostfix>>;

  beforeAll(async () => {
    requirePostfix();
    mkdirSync(out, { mode: 0o777 });
    chmodSync(out, 0o777);
    // Stands in for the trxmail binary: records its argv and stdin, exits as the recipient says.
    writeFileSync(
      script,
      `#!/bin/sh\nprintf '%s\\n' "$@" > ${out}/args.txt\ncat > ${out}/msg.eml\ncase "$*" in *tempfail*) echo "trxmail: try again later: ESTORE_IO: down"; exit 75;; esac\necho "trxmail: ignored other: not-a-bounce"\nexit 0\n`,
      { mode: 0o755 },
    );
    env = await startPostfix(dir, { bounceTransport: 'trxmail-bounce:', bounceCommand: { user: 'nobody', command: script } });
  }, 60_000);
  afterAll(async () => {
    await env?.log.stop();
    await env?.pf.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('runs `<command> bounce --sender <> --recipient <bounce address>` with the message on stdin; exit 0 = delivered', async () => {
    const to = `trx-1-abc-def@${BOUNCE_DOMAIN}`;
    const line = logLine(env.log, (l) => l.includes('relay=trxmail-bounce') && l.includes(`to=<${to}>`));
    await plainSmtp(env.ports.bounceMx).sendMail({ envelope: { from: '', to: [to] }, raw: autoReply(to) });
    expect(await line).toMatch(/dsn=2\.0\.0, status=sent \(delivered via trxmail-bounce service \(trxmail: ignored other: not-a-bounce\)\)$/);
    expect(readFileSync(path.join(out, 'args.txt'), 'utf8')).toBe(`bounce\n--sender\n\n--recipient\n${to}\n`);
    expect(readFileSync(path.join(out, 'msg.eml'), 'utf8')).toContain('Subject: Out of office: Your order');
  });

  it('exit 75 defers the message (4.3.0), it stays queued for a retry', async () => {
    const to = `tempfail@${BOUNCE_DOMAIN}`;
    const line = logLine(env.log, (l) => l.includes('relay=trxmail-bounce') && l.includes(`to=<${to}>`));
    await plainSmtp(env.ports.bounceMx).sendMail({ envelope: { from: '', to: [to] }, raw: autoReply(to) });
    expect(await line).toMatch(/dsn=4\.3\.0, status=deferred \(temporary failure\. Command output: trxmail: try again later: ESTORE_IO: down \)$/);
  });
});
