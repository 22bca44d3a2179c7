import { describe, expect, it } from 'vitest';
import { PrivatePostfix, dropService, enablePipeService } from '../../../src/postfix/instance.js';
import { renderPostfixConfig, type PostfixTemplateValues } from '../../../src/postfix/templates.js';

const values: PostfixTemplateValues = {
  tls_cert_file: '/etc/ssl/cert.pem',
  tls_key_file: '/etc/ssl/key.pem',
  auth_endpoint: 'inet:127.0.0.1:8893',
  policy_endpoint: 'inet:127.0.0.1:8892',
  milter_endpoint: 'inet:127.0.0.1:8891',
  socketmap_endpoint: 'inet:127.0.0.1:8895',
  bounce_domain: 'bounces.example.com',
  bounce_transport: 'lmtp:inet:127.0.0.1:8894',
  smtp_listen: 'smtp',
  submission_listen: 'submission',
  smtps_listen: 'smtps',
  reinject_service: '127.0.0.1:10026 inet  n',
  bounce_mx_listen: '203.0.113.7:smtp',
  message_size_limit: '26214400',
  trxmail_command: '/usr/local/bin/trxmail --config /etc/trxmail/trxmail.yaml',
  pipe_user: 'trxmail',
};

/** The master.cf service starting with `name` and its -o lines. */
function service(masterCf: string, name: string): string[] {
  const lines = masterCf.split('\n');
  const start = lines.findIndex((l) => l.startsWith(`${name} `));
  if (start < 0) return [];
  const out = [lines[start] ?? ''];
  for (let i = start + 1; i < lines.length && /^\s+\S/.test(lines[i] ?? ''); i++) out.push((lines[i] ?? '').trim());
  return out;
}

describe('shipped Postfix configuration: bounce intake', () => {
  const { mainCf, masterCf } = renderPostfixConfig(values);

  it('routes the bounce domain to the bounce transport (LMTP by default)', () => {
    // The customers' return-path hosts come from trxmail's socketmap (no reload per customer).
    expect(mainCf).toContain('relay_domains = bounces.example.com, socketmap:inet:127.0.0.1:8895:relay\n');
    expect(mainCf).toContain('transport_maps = inline:{ bounces.example.com=lmtp:inet:127.0.0.1:8894 }, socketmap:inet:127.0.0.1:8895:transport\n');
    expect(mainCf).toContain('\n#trxmail-bounce_destination_recipient_limit = 1\n');
  });

  it('has a separate bounce-MX listener: STARTTLS optional, no SASL, no milter, bounce domain only', () => {
    const svc = service(masterCf, '203.0.113.7:smtp');
    expect(svc[0]).toMatch(/^203\.0\.113\.7:smtp +inet +n +- +n +- +- +smtpd$/);
    expect(svc).toEqual(
      expect.arrayContaining([
        '-o smtpd_tls_security_level=may',
        '-o smtpd_sasl_auth_enable=no',
        '-o smtpd_milters=',
        '-o receive_override_options=no_milters',
        '-o parent_domain_matches_subdomains=',
        '-o smtpd_relay_restrictions=',
        '-o { smtpd_recipient_restrictions = check_recipient_access inline:{ bounces.example.com=OK }, check_recipient_access socketmap:inet:127.0.0.1:8895:access, reject }',
      ]),
    );
    // Port 25 offers STARTTLS (bounces from other servers), its restrictions refuse the rest.
    expect(service(masterCf, 'smtp')).toEqual(
      expect.arrayContaining(['-o smtpd_tls_security_level=may', '-o smtpd_relay_restrictions=$trxmail_mx_relay_restrictions']),
    );
  });

  it('carries the pipe(8) variant, commented out, with user and argv filled in', () => {
    expect(masterCf).toContain('#trxmail-bounce unix  -       n       n       -       10      pipe\n');
    expect(masterCf).toContain('#  flags=Rq user=trxmail null_sender=\n');
    expect(masterCf).toContain('#  argv=/usr/local/bin/trxmail --config /etc/trxmail/trxmail.yaml bounce --sender ${sender} --recipient ${original_recipient}\n');
    expect(masterCf).not.toMatch(/^trxmail-bounce /m);
  });

  it('leaves no placeholder', () => {
    expect(mainCf + masterCf).not.toMatch(/\{\{\w+\}\}/);
  });

  it('enablePipeService uncomments exactly that service; dropService removes a service and its -o lines', () => {
    const on = enablePipeService(masterCf);
    expect(service(on, 'trxmail-bounce')).toEqual([
      'trxmail-bounce unix  -       n       n       -       10      pipe',
      'flags=Rq user=trxmail null_sender=',
      'argv=/usr/local/bin/trxmail --config /etc/trxmail/trxmail.yaml bounce --sender ${sender} --recipient ${original_recipient}',
    ]);
    expect(on.split('\n').length).toBe(masterCf.split('\n').length);
    const off = dropService(masterCf, '203.0.113.7:smtp');
    expect(service(off, '203.0.113.7:smtp')).toEqual([]);
    expect(off).not.toContain('postfix/bounce-mx');
    expect(service(off, '127.0.0.1:10026').length).toBeGreaterThan(5);
  });

  it('PrivatePostfix: the bounce-MX service on a loopback port when ports.bounceMx is given, none otherwise; bounceCommand enables the pipe', () => {
    const base = {
      dir: '/tmp/trx-pf-render',
      hostname: 'relay.trxmail.test',
      endpoints: { milter: 'inet:127.0.0.1:1', policy: 'inet:127.0.0.1:2', auth: 'inet:127.0.0.1:3' },
      bounceDomain: 'bounces.trxmail.test',
      bounceTransport: 'lmtp:inet:127.0.0.1:4',
      relayhost: '[127.0.0.1]:5',
    };
    const ports = { smtp: 2525, submission: 2587, smtps: 2465, reinject: 10026 };
    const without = new PrivatePostfix({ ...base, ports }).render().masterCf;
    expect(without).not.toContain('postfix/bounce-mx');
    expect(without).not.toMatch(/^trxmail-bounce /m);
    const withMx = new PrivatePostfix({ ...base, ports: { ...ports, bounceMx: 2526 }, bounceCommand: { user: 'nobody', command: '/opt/trxmail/bin/trxmail' } }).render().masterCf;
    expect(service(withMx, '127.0.0.1:2526')).toContain('-o smtpd_tls_security_level=may');
    expect(service(withMx, 'trxmail-bounce')[1]).toBe('flags=Rq user=nobody null_sender=');
  });
});
