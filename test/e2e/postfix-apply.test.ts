/**
 * `trxmail postfix-config --apply DIR` on a real private Postfix's configuration directory
 * (Debian's postconf and postfix; root): the instance's own base main.cf/master.cf without
 * trxmail's pieces, then the command (in process, as a user runs it), then Postfix itself:
 * postconf prints no warning (no "unused parameter"), postfix-check finds nothing, the
 * instance starts and port 25 answers as configured (STARTTLS offered, AUTH only after it,
 * SIZE = the message size limit). A second run changes nothing and makes no backup.
 *
 * Fails on old main: there was no --apply (and the printed pieces had a loopback bounce MX).
 */
import { execFile } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_MESSAGE_SIZE_LIMIT } from '../../src/lib/limits.js';
import { runPostfixCheck } from '../../src/postfix/check.js';
import { BASE_MASTER_CF, POSTFIX_INSTALL_HINT, PrivatePostfix, postfixInstalled } from '../../src/postfix/instance.js';
import { cli } from '../cli/helpers.js';
import { freePorts } from '../helpers/net.js';
import { RawLmtpClient } from '../protocol/lmtp/helpers.js';
import { TARGET } from '../helpers/postfix-check-target.js';

const run = promisify(execFile);

describe('postfix-config --apply DIR (real Postfix)', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'trx-apply-'));
  chmodSync(dir, 0o755);
  let pf: PrivatePostfix;
  let ports: { smtp: number; submission: number; smtps: number; reinject: number };
  let args: string[];
  let baseMain = '';

  beforeAll(async () => {
    if (!postfixInstalled()) throw new Error(POSTFIX_INSTALL_HINT);
    if (process.getuid?.() !== 0) throw new Error('this test starts a private Postfix and must run as root');
    const [smtp, submission, smtps, reinject] = (await freePorts(4)) as [number, number, number, number];
    ports = { smtp, submission, smtps, reinject };
    pf = new PrivatePostfix({
      dir: path.join(dir, 'postfix'),
      hostname: 'relay.apply.test',
      ports,
      endpoints: { milter: TARGET.milter, policy: TARGET.policy, auth: TARGET.auth },
      bounceDomain: TARGET.bounceDomain,
      bounceTransport: 'lmtp:inet:127.0.0.1:8894',
      relayhost: '[127.0.0.1]:9',
    });
    await pf.configure();
    // An existing Postfix without trxmail: the instance's base only.
    baseMain = `${pf.baseMainCf()}\n`;
    writeFileSync(path.join(pf.confDir, 'main.cf'), baseMain);
    writeFileSync(path.join(pf.confDir, 'master.cf'), BASE_MASTER_CF);
    // TCP listeners, as the check target has them (the shipped default is unix sockets in Postfix's private/).
    writeFileSync(
      path.join(dir, 'trxmail.yaml'),
      `bounceDomain: ${TARGET.bounceDomain}\nlisten:\n  milter: ${TARGET.milter}\n  policy: ${TARGET.policy}\n  auth: ${TARGET.auth}\n` +
        '  lmtp: inet:127.0.0.1:8894\n  socketmap: inet:127.0.0.1:8895\n',
    );
    args = [
      'postfix-config', '--apply', pf.confDir, '--tls-cert', pf.certFile, '--tls-key', pf.keyFile,
      '--smtp-listen', `127.0.0.1:${smtp}`, '--submission-listen', `127.0.0.1:${submission}`,
      '--smtps-listen', `127.0.0.1:${smtps}`, '--reinject', `127.0.0.1:${reinject}`,
    ];
  }, 60_000);

  afterAll(async () => {
    await pf?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('applies main.cf settings and master.cf services with postconf, after a backup, and says what changed', async () => {
    const r = await cli(dir, args);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('main.cf: smtpd_milters = inet:127.0.0.1:8891 (was not set)\n');
    expect(r.stdout).toContain(`main.cf: message_size_limit = ${DEFAULT_MESSAGE_SIZE_LIMIT} (was not set)\n`);
    expect(r.stdout).toContain(`master.cf: 127.0.0.1:${ports.smtp}/inet added\n`);
    expect(r.stdout).toContain(`master.cf: 127.0.0.1:${ports.reinject}/inet added\n`);
    expect(r.stdout).not.toContain('bounce-mx');
    const backups = readdirSync(pf.confDir).filter((f) => f.includes('.trxmail-backup-'));
    expect(backups.sort()).toEqual([expect.stringMatching(/^main\.cf\.trxmail-backup-\d{8}T\d{6}Z$/), expect.stringMatching(/^master\.cf\.trxmail-backup-\d{8}T\d{6}Z$/)]);
    expect(readFileSync(path.join(pf.confDir, backups.find((b) => b.startsWith('main.cf'))!), 'utf8')).toBe(baseMain);
    // The operator's own settings stay.
    expect(readFileSync(path.join(pf.confDir, 'main.cf'), 'utf8')).toContain(`queue_directory = ${pf.queueDir}`);
  });

  it('leaves a configuration Postfix has no warning about, and postfix-check finds nothing', async () => {
    const { stderr } = await run('postconf', ['-c', pf.confDir, '-n']);
    expect(stderr).toBe('');
    const master = await run('postconf', ['-c', pf.confDir, '-M']);
    expect(master.stderr).toBe('');
    expect(await runPostfixCheck({ ...TARGET, reinject: `127.0.0.1:${ports.reinject}` }, { configDir: pf.confDir })).toEqual([]);
  });

  it('a second run changes nothing (no backup either)', async () => {
    const before = readdirSync(pf.confDir).sort();
    const main = readFileSync(path.join(pf.confDir, 'main.cf'), 'utf8');
    const r = await cli(dir, args);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`nothing to change: ${pf.confDir} already has trxmail's settings\n`);
    expect(readdirSync(pf.confDir).sort()).toEqual(before);
    expect(readFileSync(path.join(pf.confDir, 'main.cf'), 'utf8')).toBe(main);
  });

  it('the applied Postfix starts; port 25 offers STARTTLS and SIZE (the message size limit), no AUTH before TLS', async () => {
    await pf.start();
    const c = await RawLmtpClient.connect({ port: ports.smtp });
    expect((await c.reply()).code).toBe(220);
    const ehlo = (await c.command('EHLO mx.remote.example')).lines.join('\n');
    expect(ehlo).toContain('STARTTLS');
    expect(ehlo).toContain(`SIZE ${DEFAULT_MESSAGE_SIZE_LIMIT}`);
    expect(ehlo).not.toContain('AUTH');
    c.destroy();
  });

  it('a changed option is applied as a replacement', async () => {
    await pf.stop();
    const r = await cli(dir, [...args.filter((a) => a !== `127.0.0.1:${ports.reinject}` && a !== '--reinject'), '--reinject', `127.0.0.1:${ports.reinject}`, '--tls-key', '/etc/ssl/other.key']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`main.cf: smtpd_tls_key_file = /etc/ssl/other.key (was: ${pf.keyFile})\n`);
    expect(r.stdout).toMatch(/^1 change\(s\); /m);
  });
});
