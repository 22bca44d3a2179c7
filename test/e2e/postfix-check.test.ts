/**
 * postfix-check against a real private Postfix's configuration, read through postconf (needs
 * Postfix installed; the shipped-file checks without Postfix are in test/unit/postfix-check.test.ts).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runPostfixCheck } from '../../src/postfix/check.js';
import { PrivatePostfix } from '../../src/postfix/instance.js';
import { TARGET } from '../helpers/postfix-check-target.js';


describe('postfix-check against a real private Postfix (postconf)', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'trxmail-pfcheck-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const instance = (name: string, extraMain: Record<string, string> = {}): PrivatePostfix =>
    new PrivatePostfix({
      dir: path.join(dir, name),
      hostname: 'relay.check.test',
      ports: { smtp: 30025, submission: 30587, smtps: 30465, reinject: 30026 },
      endpoints: { milter: TARGET.milter, policy: TARGET.policy, auth: TARGET.auth },
      bounceDomain: TARGET.bounceDomain,
      bounceTransport: 'lmtp:inet:127.0.0.1:8894',
      relayhost: '[127.0.0.1]:30999',
      extraMain,
    });
  const target = { ...TARGET, reinject: '127.0.0.1:30026' };

  it('finds nothing in the configuration trxmail writes (no postconf or postfix check warning either), and a finding after breaking it', async () => {
    const pf = instance('shipped');
    await pf.configure();
    expect(await runPostfixCheck(target, { configDir: pf.confDir })).toEqual([]);
    const broken = await runPostfixCheck({ ...target, milter: 'inet:127.0.0.1:1' }, { configDir: pf.confDir });
    expect(broken.map((f) => f.where)).toEqual(['main.cf smtpd_milters']);
  }, 60_000);

  it('finds the policy default_action smtpd 3.7 rejects, as postconf reports the restriction list', async () => {
    // The line shipped before: smtpd logs 'unknown smtpd restriction: "{451 4.3.5 …}"' and
    // answers every RCPT with 451 4.3.5 Server configuration error; postconf says nothing.
    const pf = instance('old-policy');
    await pf.configure();
    const mainCf = path.join(pf.confDir, 'main.cf');
    const fixed = readFileSync(mainCf, 'utf8');
    const old = fixed.replaceAll(
      '{ default_action = 451 4.3.5 trxmail policy service unavailable - try again later } }',
      'default_action={451 4.3.5 trxmail policy service unavailable - try again later} }',
    );
    expect(old).not.toBe(fixed);
    writeFileSync(mainCf, old);
    const findings = await runPostfixCheck(target, { configDir: pf.confDir });
    // main.cf has it in both lists (the relay restrictions answer clients without a login).
    expect(findings.map((f) => `${f.where}: ${f.message}`)).toEqual([
      expect.stringMatching(/^main.cf smtpd_recipient_restrictions: /),
      expect.stringMatching(/^main.cf smtpd_relay_restrictions: /),
    ]);
    expect(findings[0]?.message).toContain('default_action={451 4.3.5');
  }, 60_000);

  it("turns postconf's warnings into findings: an error for a parameter Postfix does not use, a warning for one set twice", async () => {
    const pf = instance('unused', { 'trxmail-bounce_destination_recipient_limit': '1' });
    await pf.configure();
    const findings = await runPostfixCheck(target, { configDir: pf.confDir });
    expect(findings.map((f) => [f.where, f.severity])).toEqual([['postconf', 'error']]);
    expect(findings[0]?.message).toContain('unused parameter: trxmail-bounce_destination_recipient_limit=1');
    // Appending trxmail's settings to an existing main.cf (as the README says) overrides entries: worth a word, not a failure.
    const twice = instance('twice', { relay_domains: `${TARGET.bounceDomain}, other.example` });
    await twice.configure();
    const overridden = await runPostfixCheck(target, { configDir: twice.confDir });
    expect(overridden.length).toBeGreaterThan(0);
    for (const f of overridden) {
      expect([f.where, f.severity]).toEqual(['postconf', 'warning']);
      expect(f.message).toContain('overriding earlier entry: relay_domains=');
    }
  }, 60_000);
});
