/**
 * postfix-check against a real private Postfix's configuration, read through postconf (needs
 * Postfix installed; the shipped-file checks without Postfix are in test/unit/postfix-check.test.ts).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runPostfixCheck } from '../../src/postfix/check.js';
import { PrivatePostfix } from '../../src/postfix/instance.js';
import { TARGET } from '../helpers/postfix-check-target.js';


describe('postfix-check against a real private Postfix (postconf)', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'trxmail-pfcheck-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('finds nothing in the configuration trxmail writes, and a finding after breaking it', async () => {
    const pf = new PrivatePostfix({
      dir,
      hostname: 'relay.check.test',
      ports: { smtp: 30025, submission: 30587, smtps: 30465, reinject: 30026 },
      endpoints: { milter: TARGET.milter, policy: TARGET.policy, auth: TARGET.auth },
      bounceDomain: TARGET.bounceDomain,
      bounceTransport: 'lmtp:inet:127.0.0.1:8894',
      relayhost: '[127.0.0.1]:30999',
    });
    await pf.configure();
    const target = { ...TARGET, reinject: '127.0.0.1:30026' };
    expect(await runPostfixCheck(target, { configDir: pf.confDir })).toEqual([]);
    const broken = await runPostfixCheck({ ...target, milter: 'inet:127.0.0.1:1' }, { configDir: pf.confDir });
    expect(broken.map((f) => f.where)).toEqual(['main.cf smtpd_milters']);
  }, 60_000);
});
