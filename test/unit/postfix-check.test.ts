/**
 * postfix-check: the shipped main.cf/master.cf rendered through templates.ts have no
 * findings; each broken variant gives exactly its one finding. The run against a real private
 * Postfix's configuration (postconf) is in test/e2e/postfix-check.test.ts.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/config.js';
import { badPolicyServiceOptions, checkPostfix, checkTargetFromConfig, formatFindings, parseMaster, parsePostconf, postfixWarnings, runPostfixCheck } from '../../src/postfix/check.js';
import { postfixEndpoint, postfixSaslPath, reinjectService } from '../../src/postfix/endpoints.js';
import { postfixTemplateDir, renderTemplate } from '../../src/postfix/templates.js';
import { TARGET } from '../helpers/postfix-check-target.js';


// Every placeholder the shipped files may use (extra values are harmless).
const VALUES: Record<string, string> = {
  tls_cert_file: '/etc/ssl/trxmail.pem',
  tls_key_file: '/etc/ssl/trxmail.key',
  auth_endpoint: TARGET.auth,
  policy_endpoint: TARGET.policy,
  milter_endpoint: TARGET.milter,
  socketmap_endpoint: 'inet:127.0.0.1:8895',
  bounce_domain: TARGET.bounceDomain,
  bounce_transport: 'lmtp:inet:127.0.0.1:8894',
  smtp_listen: 'smtp',
  submission_listen: 'submission',
  smtps_listen: 'smtps',
  reinject_service: `${TARGET.reinject} inet  n`,
  bounce_mx_listen: '192.0.2.25:smtp',
  message_size_limit: '26214400',
  trxmail_command: '/usr/bin/trxmail',
  pipe_user: 'trxmail',
};

function shipped(): { main: Record<string, string>; master: string } {
  const dir = postfixTemplateDir();
  const main = renderTemplate(readFileSync(path.join(dir, 'main.cf'), 'utf8'), VALUES, 'main.cf');
  const master = renderTemplate(readFileSync(path.join(dir, 'master.cf'), 'utf8'), VALUES, 'master.cf');
  return { main: parsePostconf(main), master };
}

describe('checkPostfix on the shipped configuration', () => {
  it('finds nothing wrong', () => {
    const { main, master } = shipped();
    expect(checkPostfix(main, master, TARGET)).toEqual([]);
    expect(formatFindings([])).toBe('Postfix configuration OK for trxmail\n');
  });

  it('finds nothing wrong with the default socket listeners, rendered as postfix-config does', () => {
    const config = parseConfig({}, { file: null, env: {}, baseDir: '/tmp' });
    const q = config.postfix.queueDirectory;
    const values = {
      ...VALUES,
      auth_endpoint: postfixSaslPath(config.listen.auth, q),
      policy_endpoint: postfixEndpoint(config.listen.policy, q),
      milter_endpoint: postfixEndpoint(config.listen.milter, q),
      socketmap_endpoint: postfixEndpoint(config.listen.socketmap, q),
      bounce_domain: config.bounceDomain,
      bounce_transport: `lmtp:${postfixEndpoint(config.listen.lmtp, q)}`,
      reinject_service: reinjectService(config.reinject, q),
    };
    const dir = postfixTemplateDir();
    const main = parsePostconf(renderTemplate(readFileSync(path.join(dir, 'main.cf'), 'utf8'), values, 'main.cf'));
    const master = renderTemplate(readFileSync(path.join(dir, 'master.cf'), 'utf8'), values, 'master.cf');
    const target = checkTargetFromConfig(config);
    expect(target).toMatchObject({ milter: 'unix:private/trxmail-milter', auth: 'private/trxmail-auth', reinject: 'trxmail-reinject', reinjectType: 'unix' });
    expect(checkPostfix(main, master, target)).toEqual([]);
    // The TCP listener of old no longer counts as the re-injection listener.
    const findings = checkPostfix(main, master.replace(/^trxmail-reinject unix +-/m, '127.0.0.1:10026 inet  n'), target);
    expect(findings.map((f) => f.where)).toEqual(['master.cf trxmail-reinject']);
  });

  it('reads master.cf services with -o overrides, including { name = value } forms', () => {
    const s = parseMaster('# c\nx inet n - n - - smtpd\n  -o a=1\n  -o { b = c d }\n  -o e=\n');
    expect(s).toEqual([{ name: 'x', type: 'inet', command: 'smtpd', options: { a: '1', b: 'c d', e: '' } }]);
  });
});

type Variant = [name: string, where: string, main: Record<string, string | null>, master?: (m: string) => string];

const variants: Variant[] = [
  ['short queue ids', 'main.cf enable_long_queue_ids', { enable_long_queue_ids: 'no' }],
  ['long queue ids unset (default no)', 'main.cf enable_long_queue_ids', { enable_long_queue_ids: null }],
  ['no milter', 'main.cf smtpd_milters', { smtpd_milters: '' }],
  ['another milter only', 'main.cf smtpd_milters', { smtpd_milters: 'inet:127.0.0.1:9999' }],
  ['our milter on non_smtpd_milters', 'main.cf non_smtpd_milters', { non_smtpd_milters: TARGET.milter }],
  ['milter failure accepts', 'main.cf milter_default_action', { milter_default_action: 'accept' }],
  ['old milter protocol', 'main.cf milter_protocol', { milter_protocol: '2' }],
  ['no login macro at MAIL', 'main.cf milter_mail_macros', { milter_mail_macros: 'i {mail_addr}' }],
  ['no queue id at end of data', 'main.cf milter_end_of_data_macros', { milter_end_of_data_macros: '{auth_authen}' }],
  ['SASL off', 'main.cf smtpd_sasl_auth_enable', { smtpd_sasl_auth_enable: null }],
  ['cyrus SASL', 'main.cf smtpd_sasl_type', { smtpd_sasl_type: 'cyrus' }],
  ['SASL path elsewhere', 'main.cf smtpd_sasl_path', { smtpd_sasl_path: 'private/auth' }],
  ['AUTH without TLS', 'main.cf smtpd_tls_auth_only', { smtpd_tls_auth_only: 'no' }],
  ['TLS optional', 'main.cf smtpd_tls_security_level', { smtpd_tls_security_level: 'may' }],
  ['no certificate', 'main.cf smtpd_tls_cert_file', { smtpd_tls_cert_file: '' }],
  ['no key', 'main.cf smtpd_tls_key_file', { smtpd_tls_key_file: null }],
  ['open relay for mynetworks', 'main.cf smtpd_relay_restrictions', { smtpd_relay_restrictions: 'permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination' }],
  ['relay restrictions default', 'main.cf smtpd_relay_restrictions', { smtpd_relay_restrictions: null }],
  ['no policy service', 'main.cf smtpd_recipient_restrictions', { smtpd_recipient_restrictions: 'reject_non_fqdn_recipient' }],
  ['policy service elsewhere', 'main.cf smtpd_recipient_restrictions', { smtpd_recipient_restrictions: 'check_policy_service inet:127.0.0.1:88920' }],
  [
    // Postfix 3.7 smtpd: unknown smtpd restriction: "{451 4.3.5 …}" (the template before the fix).
    'policy default_action in braces after =',
    'main.cf smtpd_recipient_restrictions',
    {
      smtpd_recipient_restrictions: `reject_non_fqdn_recipient, check_policy_service { ${TARGET.policy}, timeout=10s, default_action={451 4.3.5 trxmail policy service unavailable - try again later} }`,
    },
  ],
  [
    // Postfix 3.7 smtpd: fatal: malformed option: missing '=' after attribute name.
    'policy default_action with spaces, no braces',
    'main.cf smtpd_recipient_restrictions',
    { smtpd_recipient_restrictions: `reject_non_fqdn_recipient, check_policy_service { ${TARGET.policy}, timeout=10s, default_action = 451 4.3.5 try later }` },
  ],
  ['bounce domain not relayed', 'main.cf relay_domains', { relay_domains: 'other.example' }],
  ['bounce domain not routed', 'main.cf transport_maps', { transport_maps: 'inline:{ other.example=lmtp:inet:127.0.0.1:8894 }' }],
  ['no transport maps', 'main.cf transport_maps', { transport_maps: '' }],
  ['unverifiable transport map', 'main.cf transport_maps', { transport_maps: 'hash:/etc/postfix/transport' }],
  ['no re-injection listener', `master.cf ${TARGET.reinject}`, {}, (m) => m.replace(`${TARGET.reinject} inet`, '127.0.0.1:10099 inet')],
  [
    're-injection listener with milters',
    `master.cf ${TARGET.reinject}`,
    {},
    (m) => m.replace(/\n  -o smtpd_milters=\n  -o receive_override_options=no_milters,/, '\n  -o receive_override_options='),
  ],
  ['re-injection listener open to all', `master.cf ${TARGET.reinject}`, {}, (m) => m.replace('-o smtpd_relay_restrictions=permit_mynetworks,reject', '-o smtpd_relay_restrictions=permit')],
];

describe('checkPostfix on broken variants', () => {
  for (const [name, where, patch, masterPatch] of variants) {
    it(`${name} → one finding on ${where}`, () => {
      const { main, master } = shipped();
      for (const [k, v] of Object.entries(patch)) {
        if (v === null) delete main[k];
        else main[k] = v;
      }
      const m = masterPatch ? masterPatch(master) : master;
      if (masterPatch) expect(m).not.toBe(master);
      const findings = checkPostfix(main, m, TARGET);
      expect(findings.map((f) => f.where)).toEqual([where]);
      expect(formatFindings(findings)).toContain(where);
    });
  }
});

describe('check_policy_service options as smtpd reads them', () => {
  it('accepts name=value and { name = value with spaces }', () => {
    expect(badPolicyServiceOptions('check_policy_service { inet:127.0.0.1:1, timeout=10s, { default_action = 451 4.3.5 try later } }, permit')).toEqual([]);
    expect(badPolicyServiceOptions('check_policy_service inet:127.0.0.1:1, reject')).toEqual([]);
  });

  it('names each option smtpd cannot read', () => {
    expect(badPolicyServiceOptions('check_policy_service { inet:127.0.0.1:1, default_action={451 4.3.5 x} }')).toEqual(['default_action={451 4.3.5 x}']);
    expect(badPolicyServiceOptions('check_policy_service { inet:127.0.0.1:1, default_action=451 4.3.5 }')).toEqual(['4.3.5']);
    expect(badPolicyServiceOptions('check_policy_service { inet:127.0.0.1:1, timeout = 10s }')).toEqual(['timeout', '=', '10s']);
  });
});

describe('Postfix tool warnings', () => {
  it('takes each warning line once, program prefix removed', () => {
    const stderr =
      '/usr/sbin/postconf: warning: /etc/postfix/main.cf: unused parameter: x_limit=1\n' +
      'postconf: warning: /etc/postfix/main.cf: unused parameter: x_limit=1\n' +
      'postfix/postfix-script: warning: group or other writable: /etc/postfix/./main.cf\nnot a warning\n';
    expect(postfixWarnings(stderr)).toEqual(['/etc/postfix/main.cf: unused parameter: x_limit=1', 'group or other writable: /etc/postfix/./main.cf']);
  });
});

describe('postfix-check without postconf', () => {
  it('says clearly when postconf cannot run', async () => {
    await expect(runPostfixCheck(TARGET, { postconf: '/nonexistent/postconf' })).rejects.toThrow(/postconf.*failed/);
  });
});
