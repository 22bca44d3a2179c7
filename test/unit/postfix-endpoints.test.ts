/**
 * trxmail's endpoints as Postfix is told them (src/postfix/endpoints.ts): sockets below the
 * queue directory relative to it (chroot-safe), others as they are; the re-injection smtpd's
 * master.cf columns.
 */
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/lib/errors.js';
import { postfixEndpoint, postfixSaslPath, reinjectService } from '../../src/postfix/endpoints.js';

const Q = '/var/spool/postfix';

describe('postfixEndpoint / postfixSaslPath', () => {
  it.each([
    ['unix:/var/spool/postfix/private/trxmail-milter', 'unix:private/trxmail-milter', 'private/trxmail-auth'],
    ['unix:/var/spool/postfix/trxmail/milter.sock', 'unix:trxmail/milter.sock', 'trxmail/milter.sock'],
    ['unix:/run/trxmail/milter.sock', 'unix:/run/trxmail/milter.sock', '/run/trxmail/milter.sock'],
    ['unix:/var/spool/postfix-other/private/x', 'unix:/var/spool/postfix-other/private/x', '/var/spool/postfix-other/private/x'],
    ['inet:127.0.0.1:8891', 'inet:127.0.0.1:8891', 'inet:127.0.0.1:8891'],
  ])('%s → %s', (spec, expected, sasl) => {
    expect(postfixEndpoint(spec, Q)).toBe(expected);
    expect(postfixEndpoint(spec, `${Q}/`)).toBe(expected);
    // smtpd_sasl_path (Dovecot type) takes a bare path; the auth example uses its own name.
    expect(postfixSaslPath(spec.replace('trxmail-milter', 'trxmail-auth'), Q)).toBe(sasl);
  });
});

describe('reinjectService', () => {
  it.each([
    ['unix:/var/spool/postfix/private/trxmail-reinject', 'trxmail-reinject unix  -'],
    ['unix:/var/spool/postfix/public/trxmail-reinject', 'trxmail-reinject unix  n'],
    ['127.0.0.1:10026', '127.0.0.1:10026 inet  n'],
    ['inet:[::1]:10026', '[::1]:10026 inet  n'],
  ])('%s → %s', (spec, columns) => {
    expect(reinjectService(spec, Q)).toBe(columns);
  });

  it.each(['unix:/run/trxmail/reinject', 'unix:/var/spool/postfix/trxmail/reinject', 'unix:/var/spool/postfix/private/a/b', 'unix:/var/spool/postfix/private/.x', '10026'])(
    'refuses %s, naming the key',
    (spec) => {
      expect(() => reinjectService(spec, Q)).toThrow(ConfigError);
      expect(() => reinjectService(spec, Q)).toThrow(/^reinject: /);
    },
  );
});
