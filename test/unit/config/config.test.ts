import { MAX_RETENTION_DAYS, MIN_RETENTION_DAYS } from '../../../src/core/retention.js';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { DEFAULT_HTTP_LISTEN, DEFAULT_LMTP_LISTEN, DEFAULT_REINJECT, loadConfig, normaliseBaseUrl, parseConfig, parseHostPort } from '../../../src/config/config.js';
import { isNodeName, nodeNameFromHost } from '../../../src/core/node-name.js';
import { ConfigError } from '../../../src/lib/errors.js';
import { DEFAULT_MESSAGE_SIZE_LIMIT, MAX_MESSAGE_SIZE_LIMIT, MIN_MESSAGE_SIZE_LIMIT } from '../../../src/lib/limits.js';

function dirWith(yaml: string | null): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'trx-cfg-'));
  if (yaml !== null) writeFileSync(path.join(dir, 'trxmail.yaml'), yaml);
  return dir;
}

describe('loadConfig', () => {
  it('starts with defaults when there is no file', () => {
    const cwd = dirWith(null);
    const c = loadConfig({ cwd, env: {} });
    expect(c.file).toBeNull();
    expect(c.dataDir).toBe(path.join(cwd, 'trxmail-data'));
    expect(c.store).toEqual({ driver: 'sqlite', path: path.join(cwd, 'trxmail-data', 'trxmail.db') });
    // Unix sockets in Postfix's private/, given to postfix:postfix (issue 11: no TCP listener by default).
    expect(c.listen).toEqual({
      milter: 'unix:/var/spool/postfix/private/trxmail-milter',
      policy: 'unix:/var/spool/postfix/private/trxmail-policy',
      auth: 'unix:/var/spool/postfix/private/trxmail-auth',
      lmtp: 'unix:/var/spool/postfix/private/trxmail-lmtp',
      socketmap: 'unix:/var/spool/postfix/private/trxmail-socketmap',
      socketUser: 'postfix',
      socketGroup: 'postfix',
    });
    expect(c.postfix).toEqual({ queueDirectory: '/var/spool/postfix' });
    expect(c.reinject).toBe('unix:/var/spool/postfix/private/trxmail-reinject');
    expect(c.hmacKeys).toEqual([]);
    expect(Object.isFrozen(c) && Object.isFrozen(c.listen)).toBe(true);
  });

  it('node.name: the host name (made valid) by default; a name outside the alphabet is refused naming the key', () => {
    const cwd = dirWith(null);
    expect(loadConfig({ cwd, env: {} }).node.name).toBe(nodeNameFromHost(hostname()));
    expect(isNodeName(loadConfig({ cwd, env: {} }).node.name)).toBe(true);
    expect(loadConfig({ cwd: dirWith('node:\n  name: mx1.example\n'), env: {} }).node.name).toBe('mx1.example');
    expect(() => loadConfig({ cwd: dirWith('node:\n  name: "mx 1"\n'), env: {} })).toThrow(/node\.name: expected 1\.\.63 characters/);
    expect(nodeNameFromHost('.weird host!')).toBe('weird-host-');
    expect(nodeNameFromHost('')).toBe('node');
  });

  it('reads ./trxmail.yaml, resolves paths against its directory, normalises the bounce domain', () => {
    const cwd = dirWith('dataDir: data\nbounceDomain: Bounces.Bücher.Example.\nlisten:\n  milter: unix:/run/trxmail/milter.sock\n');
    const c = loadConfig({ cwd, env: {} });
    expect(c.file).toBe(path.join(cwd, 'trxmail.yaml'));
    expect(c.dataDir).toBe(path.join(cwd, 'data'));
    expect(c.bounceDomain).toBe('bounces.xn--bcher-kva.example');
    expect(c.listen.milter).toBe('unix:/run/trxmail/milter.sock');
    expect(c.listen.policy).toBe('unix:/var/spool/postfix/private/trxmail-policy');
  });

  it('puts the default sockets and re-injection target into postfix.queueDirectory; TCP only when asked', () => {
    const cwd = dirWith('postfix:\n  queueDirectory: /srv/pf/queue/\nlisten:\n  auth: inet:127.0.0.1:8893\n  socketUser: "108"\n  socketGroup: mail\n');
    const c = loadConfig({ cwd, env: {} });
    expect(c.postfix.queueDirectory).toBe('/srv/pf/queue');
    expect(c.listen).toMatchObject({ milter: 'unix:/srv/pf/queue/private/trxmail-milter', auth: 'inet:127.0.0.1:8893', socketUser: '108', socketGroup: 'mail' });
    expect(c.reinject).toBe('unix:/srv/pf/queue/private/trxmail-reinject');
  });

  it('--config wins over TRXMAIL_CONFIG, which wins over ./trxmail.yaml', () => {
    const cwd = dirWith('dataDir: from-cwd\n');
    const other = dirWith('dataDir: from-env\n');
    const third = dirWith('dataDir: from-flag\n');
    expect(loadConfig({ cwd, env: { TRXMAIL_CONFIG: path.join(other, 'trxmail.yaml') } }).dataDir).toBe(path.join(other, 'from-env'));
    expect(
      loadConfig({ cwd, configPath: path.join(third, 'trxmail.yaml'), env: { TRXMAIL_CONFIG: path.join(other, 'trxmail.yaml') } }).dataDir,
    ).toBe(path.join(third, 'from-flag'));
  });

  it('takes HMAC keys from the environment before the file', () => {
    const cwd = dirWith('secrets:\n  keys:\n    - id: file1\n      secret: "0123456789abcdef-file"\n');
    expect(loadConfig({ cwd, env: {} }).hmacKeys.map((k) => k.id)).toEqual(['file1']);
    const env = { TRXMAIL_HMAC_KEYS: 'k2:0123456789abcdef-two,k1:0123456789abcdef-one' };
    expect(loadConfig({ cwd, env }).hmacKeys.map((k) => k.id)).toEqual(['k2', 'k1']);
  });

  it.each(['inet:127.0.0.1:8891', 'inet:localhost:25', 'inet:[::1]:8891', 'unix:/run/trxmail/auth.sock'])('takes listen.auth %j as it is', (spec) => {
    expect(loadConfig({ cwd: dirWith(`listen:\n  auth: "${spec}"\n`), env: {} }).listen.auth).toBe(spec);
  });

  // Postfix reads these values too (postfix-config): libmilter-only forms, port 0 and relative paths are refused.
  it.each(['inet:8891@127.0.0.1', 'local:/run/a.sock', '/run/a.sock', 'unix:a.sock', 'unix:/', 'inet:127.0.0.1:0', 'inet:::1:8891', 'inet6:[::1]:8891', 'INET:h:25', 'tcp:h:25'])(
    'refuses listen.auth %j',
    (spec) => {
      expect(() => loadConfig({ cwd: dirWith(`listen:\n  auth: "${spec}"\n`), env: {} })).toThrow(
        `listen.auth: expected inet:host:port or unix:/absolute/path, got ${JSON.stringify(spec)}`,
      );
    },
  );

  const bad: Array<[string, string | RegExp]> = [
    ['colour: blue\n', /trxmail\.yaml: colour: unknown key$/],
    ['listen:\n  milter: 8891\n', /listen\.milter: expected string, got 8891$/],
    ['listen:\n  milter: inet:127.0.0.1:70000\n', /listen\.milter: .*got "inet:127\.0\.0\.1:70000"$/],
    ['listen:\n  smtp: inet:127.0.0.1:25\n', /listen\.smtp: unknown key$/],
    ['store:\n  driver: mysql\n', /store\.driver: /],
    ['bounceDomain: "not a domain"\n', /bounceDomain: expected a domain name, got "not a domain"$/],
    ['log:\n  level: loud\n', /log\.level: /],
    ['secrets:\n  keys:\n    - id: k1\n      secret: short\n', /secrets\.keys\.0\.secret: must be at least 16 bytes$/],
    ['secrets:\n  keys:\n    - id: k1\n      secret: "0123456789abcdef"\n    - id: k1\n      secret: "0123456789abcdeg"\n', /key id "k1" appears twice/],
    ['- just\n- a list\n', /expected a mapping of keys at the top level/],
    ['dataDir: [\n', /invalid YAML/],
    ['dataDir: a\ndataDir: b\n', /invalid YAML/],
    ['store:\n  driver: postgres\n', /store\.url: required with store\.driver postgres/],
    ['store:\n  driver: postgres\n  url: "mysql://h/db"\n', /store\.url: expected postgres:\/\//],
    ['store:\n  driver: postgres\n  url: "postgres://h"\n', /store\.url: expected postgres:\/\//],
    ['store:\n  driver: postgres\n  url: "postgres://h/db"\n  path: x.db\n', /store\.path: only for store\.driver sqlite/],
    ['store:\n  url: "postgres://h/db"\n', /store\.url: only for store\.driver postgres$/],
    ['store:\n  poolSize: 4\n', /store\.poolSize: only for store\.driver postgres$/],
    ['store:\n  driver: postgres\n  url: "postgres://h/db"\n  poolSize: 0\n', /store\.poolSize: /],
    ['store:\n  driver: postgres\n  url: "postgres://h/db"\n  statementTimeoutMs: 10\n', /store\.statementTimeoutMs: /],
    ['store:\n  driver: postgres\n  url: "postgres://h/db"\n  connectTimeoutMs: "5s"\n', /store\.connectTimeoutMs: expected number/],
  ];
  it.each(bad)('refuses %j with one line naming the key and the file', (yaml, re) => {
    const cwd = dirWith(yaml);
    let err: unknown;
    try {
      loadConfig({ cwd, env: {} });
    } catch (e: unknown) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const msg = (err as Error).message;
    expect(msg).toMatch(re);
    expect(msg.startsWith(path.join(cwd, 'trxmail.yaml') + ':')).toBe(true);
    expect(msg).not.toContain('\n');
  });

  it('reads a postgres store: URL (multi-host), pool size and timeouts with defaults; the environment URL wins', () => {
    const url = 'postgres://trx:pw@db1:5432,db2:5433/trxmail?target_session_attrs=read-write';
    const c = loadConfig({ cwd: dirWith(`store:\n  driver: postgres\n  url: "${url}"\n  poolSize: 4\n`), env: {} });
    expect(c.store).toEqual({ driver: 'postgres', url, poolSize: 4, statementTimeoutMs: 5000, connectTimeoutMs: 5000 });
    const env = { TRXMAIL_STORE_URL: 'postgresql://other/db' };
    const e = loadConfig({ cwd: dirWith(`store:\n  driver: postgres\n  url: "${url}"\n  statementTimeoutMs: 200\n  connectTimeoutMs: 300\n`), env });
    expect(e.store).toEqual({ driver: 'postgres', url: 'postgresql://other/db', poolSize: 10, statementTimeoutMs: 200, connectTimeoutMs: 300 });
    expect(loadConfig({ cwd: dirWith('store:\n  driver: postgres\n'), env }).store).toMatchObject({ url: 'postgresql://other/db' });
    expect(() => loadConfig({ cwd: dirWith(null), env })).toThrow(/TRXMAIL_STORE_URL is set but store\.driver is sqlite/);
  });

  it('never echoes a store URL (it may hold a password) in an error', () => {
    for (const [yaml, env] of [
      ['store:\n  driver: postgres\n  url: "mysql://u:hunter2@h/db"\n', {}],
      ['store:\n  driver: postgres\n', { TRXMAIL_STORE_URL: 'pg://u:hunter2@h/db' }],
    ] as const) {
      let msg = '';
      try {
        loadConfig({ cwd: dirWith(yaml), env });
      } catch (e: unknown) {
        msg = (e as Error).message;
      }
      expect(msg).toMatch(/(store\.url|TRXMAIL_STORE_URL): expected postgres:/);
      expect(msg).not.toContain('hunter2');
    }
  });

  it('never echoes a secret in an error', () => {
    const cwd = dirWith('secrets:\n  keys:\n    - id: k1\n      secret: topsecret\n');
    expect(() => loadConfig({ cwd, env: {} })).toThrow(/secret: must be/);
    try {
      loadConfig({ cwd, env: {} });
    } catch (e: unknown) {
      expect((e as Error).message).not.toContain('topsecret');
    }
    expect(() => loadConfig({ cwd: dirWith(null), env: { TRXMAIL_HMAC_KEYS: 'k1:tooshortsecret' } })).toThrow(/TRXMAIL_HMAC_KEYS/);
    try {
      loadConfig({ cwd: dirWith(null), env: { TRXMAIL_HMAC_KEYS: 'k1:tooshortsecret' } });
    } catch (e: unknown) {
      expect((e as Error).message).not.toContain('tooshortsecret');
    }
  });

  it('reports a missing --config file', () => {
    expect(() => loadConfig({ cwd: dirWith(null), configPath: 'nope.yaml', env: {} })).toThrow(/nope\.yaml: configuration file not found/);
  });
});

describe('http and reinject', () => {
  const load = (yaml: string | null) => loadConfig({ cwd: dirWith(yaml), env: {} });

  it('defaults: loopback listener, base URL from it, Postfix re-injection on its unix socket in private/; frozen', () => {
    const c = load(null);
    expect(c.http).toEqual({ listen: '127.0.0.1:8080', baseUrl: 'http://127.0.0.1:8080', trustTlsProxy: false });
    expect(DEFAULT_HTTP_LISTEN).toBe('127.0.0.1:8080');
    expect(c.reinject).toBe(DEFAULT_REINJECT);
    expect(DEFAULT_REINJECT).toBe('unix:/var/spool/postfix/private/trxmail-reinject');
    expect(Object.isFrozen(c.http)).toBe(true);
  });

  it('reads http.listen, http.baseUrl (normalised, trailing slash dropped, path prefix kept) and reinject', () => {
    const c = load('http:\n  listen: "[::1]:9080"\n  baseUrl: "HTTPS://Track.Bücher.Example/mail/"\nreinject: "[::1]:2527"\n');
    expect(c.http).toEqual({ listen: '[::1]:9080', baseUrl: 'https://track.xn--bcher-kva.example/mail', trustTlsProxy: false });
    expect(c.reinject).toBe('[::1]:2527');
    expect(load('reinject: "inet:127.0.0.1:10026"\n').reinject).toBe('inet:127.0.0.1:10026');
    expect(load('reinject: "unix:/var/spool/postfix/public/trxmail-reinject"\n').reinject).toBe('unix:/var/spool/postfix/public/trxmail-reinject');
  });

  it('derives the base URL from http.listen when it is not given (loopback for an unspecified address)', () => {
    expect(load('http:\n  listen: "localhost:80"\n').http.baseUrl).toBe('http://localhost');
    expect(load('http:\n  listen: "0.0.0.0:8081"\n').http.baseUrl).toBe('http://127.0.0.1:8081');
    expect(load('http:\n  listen: "[::]:8082"\n').http.baseUrl).toBe('http://[::1]:8082');
  });

  const bad: Array<[string, RegExp]> = [
    ['http:\n  listen: 8080\n', /http\.listen: expected string, got 8080$/],
    ['http:\n  listen: "8080"\n', /http\.listen: expected host:port .*, got "8080"$/],
    ['http:\n  listen: "inet:127.0.0.1:8080"\n', /http\.listen: expected host:port/],
    ['http:\n  listen: "127.0.0.1:0"\n', /http\.listen: .*port from 1 to 65535, got "127\.0\.0\.1:0"$/],
    ['http:\n  listen: "127.0.0.1:65536"\n', /http\.listen: /],
    ['http:\n  listen: "::1:8080"\n', /http\.listen: /],
    ['http:\n  baseUrl: "track.example.com"\n', /http\.baseUrl: expected an absolute http:\/\/ or https:\/\/ URL.*, got "track\.example\.com"$/],
    ['http:\n  baseUrl: "ftp://track.example.com"\n', /http\.baseUrl: /],
    ['http:\n  baseUrl: "https://track.example.com/?a=1"\n', /http\.baseUrl: /],
    ['http:\n  baseUrl: "https://track.example.com/#x"\n', /http\.baseUrl: /],
    ['http:\n  baseUrl: "https://user:pw@track.example.com"\n', /http\.baseUrl: /],
    ['http:\n  baseUrl: "https:///path"\n', /http\.baseUrl: /],
    ['http:\n  port: 80\n', /http\.port: unknown key$/],
    ['reinject: "10026"\n', /reinject: expected unix:\/absolute\/path, inet:host:port or host:port .*, got "10026"$/],
    ['reinject: "unix:var/run/x"\n', /reinject: expected unix:/],
    ['reinject: "local:/var/run/x"\n', /reinject: expected unix:/],
    ['listen:\n  socketUser: "bad user"\n', /listen\.socketUser: expected a user or group name, or a numeric id, got "bad user"$/],
    ['listen:\n  socketGroup: ""\n', /listen\.socketGroup: /],
    ['postfix:\n  queueDirectory: spool\n', /postfix\.queueDirectory: expected an absolute directory, got "spool"$/],
  ];
  it.each(bad)('refuses %j with one line naming the key', (yaml, re) => {
    const cwd = dirWith(yaml);
    let err: unknown;
    try {
      loadConfig({ cwd, env: {} });
    } catch (e: unknown) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toMatch(re);
    expect((err as Error).message.startsWith(path.join(cwd, 'trxmail.yaml') + ':')).toBe(true);
  });

  it('parseHostPort splits host and port, without IPv6 brackets', () => {
    expect(parseHostPort('127.0.0.1:8080')).toEqual({ host: '127.0.0.1', port: 8080 });
    expect(parseHostPort('[::1]:1')).toEqual({ host: '::1', port: 1 });
    expect(parseHostPort('mail.example:65535')).toEqual({ host: 'mail.example', port: 65535 });
    for (const badSpec of ['', ':80', 'host:', 'host:0', 'host:65536', '[abc]:80', '[::1]', 'a b:80', 'host:080000']) {
      expect(parseHostPort(badSpec)).toBeNull();
    }
  });

  it('normaliseBaseUrl keeps a path prefix and drops trailing slashes', () => {
    expect(normaliseBaseUrl('http://127.0.0.1:8080/')).toBe('http://127.0.0.1:8080');
    expect(normaliseBaseUrl('https://t.example.com/a/b//')).toBe('https://t.example.com/a/b');
    expect(normaliseBaseUrl('https://t.example.com:443')).toBe('https://t.example.com');
    expect(normaliseBaseUrl('https://t.example.com/a b')).toBeNull();
  });
});

describe('listen.lmtp and maillog (bounce intake)', () => {
  const load = (yaml: string | null) => loadConfig({ cwd: dirWith(yaml), env: {} });

  it('defaults: LMTP on unix:/var/spool/postfix/private/trxmail-lmtp, no maillog', () => {
    const c = load(null);
    expect(c.listen.lmtp).toBe(DEFAULT_LMTP_LISTEN);
    expect(DEFAULT_LMTP_LISTEN).toBe('unix:/var/spool/postfix/private/trxmail-lmtp');
    expect(c.maillog).toBeNull();
  });

  it('reads listen.lmtp in Postfix notation and resolves maillog against the file directory', () => {
    const cwd = dirWith('listen:\n  lmtp: unix:/run/trxmail/lmtp.sock\nmaillog: pf/log/maillog\n');
    const c = loadConfig({ cwd, env: {} });
    expect(c.listen.lmtp).toBe('unix:/run/trxmail/lmtp.sock');
    expect(c.listen.milter).toBe('unix:/var/spool/postfix/private/trxmail-milter');
    expect(c.maillog).toBe(path.join(cwd, 'pf', 'log', 'maillog'));
    expect(load('maillog: /var/log/mail.log\n').maillog).toBe('/var/log/mail.log');
    expect(load('maillog: null\n').maillog).toBeNull();
  });

  const bad: Array<[string, RegExp]> = [
    ['listen:\n  lmtp: "8894"\n', /listen\.lmtp: expected inet:host:port or unix:\/absolute\/path, got "8894"$/],
    ['listen:\n  lmtp: "lmtp:inet:127.0.0.1:8894"\n', /listen\.lmtp: expected inet:host:port or unix:\/absolute\/path/],
    ['maillog: ""\n', /maillog: /],
    ['maillog: 3\n', /maillog: expected string, got 3$/],
  ];
  it.each(bad)('refuses %j naming the key', (yaml, re) => {
    expect(() => load(yaml)).toThrow(re);
  });
});

describe('dkim and dns', () => {
  const load = (yaml: string) => parseConfig(parse(yaml) ?? {}, { file: 'trxmail.yaml', env: {}, baseDir: '/etc/trxmail' });
  it('defaults: a week of overlap, hourly checks, SPF and CNAME target from the bounce domain', () => {
    const c = load('bounceDomain: Bounces.Relay.Example\n');
    expect(c.dkim).toEqual({ overlapDays: 7 });
    expect(c.dns).toEqual({ resolvers: [], checkIntervalMinutes: 60, spf: 'a:bounces.relay.example', returnPathTarget: 'bounces.relay.example' });
  });
  it('takes resolvers, an interval, an SPF mechanism and a CNAME target', () => {
    const c = load('dns:\n  resolvers: ["127.0.0.1:5353", "[::1]:53"]\n  checkIntervalMinutes: 0\n  spf: include:_spf.relay.example\n  returnPathTarget: RP.Relay.Example\n');
    expect(c.dns).toEqual({ resolvers: ['127.0.0.1:5353', '[::1]:53'], checkIntervalMinutes: 0, spf: 'include:_spf.relay.example', returnPathTarget: 'rp.relay.example' });
  });
  it.each([
    ['dkim:\n  overlapDays: 0\n', /dkim.overlapDays: /],
    ['dns:\n  resolvers: ["nohost"]\n', /dns.resolvers.0: /],
    ['dns:\n  spf: "a b"\n', /dns.spf: expected one SPF mechanism/],
    ['dns:\n  checkIntervalMinutes: -1\n', /dns.checkIntervalMinutes: /],
    ['dns:\n  returnPathTarget: "not a domain"\n', /dns.returnPathTarget: expected a domain name/],
  ])('refuses %j naming the key', (yaml, re) => {
    expect(() => load(yaml)).toThrow(re);
  });
});

describe('messageSizeLimit', () => {
  const load = (yaml: string | null) => loadConfig({ cwd: dirWith(yaml), env: {} });

  it('defaults to DEFAULT_MESSAGE_SIZE_LIMIT, 25 MiB (peers allow 10 to 40 MB)', () => {
    expect(DEFAULT_MESSAGE_SIZE_LIMIT).toBe(25 * 1024 * 1024);
    expect(load(null).messageSizeLimit).toBe(DEFAULT_MESSAGE_SIZE_LIMIT);
  });

  it('takes a value from MIN_MESSAGE_SIZE_LIMIT to MAX_MESSAGE_SIZE_LIMIT, one step past either is refused naming the key', () => {
    expect(load(`messageSizeLimit: ${MIN_MESSAGE_SIZE_LIMIT}\n`).messageSizeLimit).toBe(MIN_MESSAGE_SIZE_LIMIT);
    expect(load(`messageSizeLimit: ${MAX_MESSAGE_SIZE_LIMIT}\n`).messageSizeLimit).toBe(MAX_MESSAGE_SIZE_LIMIT);
    expect(MAX_MESSAGE_SIZE_LIMIT).toBe(51_200_000); // Postfix's mailbox_size_limit / virtual_mailbox_limit default
    for (const bad of [MIN_MESSAGE_SIZE_LIMIT - 1, MAX_MESSAGE_SIZE_LIMIT + 1, 1.5 * MIN_MESSAGE_SIZE_LIMIT + 0.5, '"25M"']) {
      expect(() => load(`messageSizeLimit: ${bad}\n`)).toThrow(/messageSizeLimit: /);
    }
  });
});

describe('bounces', () => {
  const load = (yaml: string) => parseConfig(parse(yaml) ?? {}, { file: 'trxmail.yaml', env: {}, baseDir: '/etc/trxmail' });
  it('defaults: a full mailbox is listed after 3 bounces over 7 days', () => {
    expect(load('{}\n').bounces).toEqual({ mailboxFullListAfter: { count: 3, days: 7 } });
    expect(load('bounces: {}\n').bounces).toEqual({ mailboxFullListAfter: { count: 3, days: 7 } });
  });
  it('takes a count and days (each defaulted alone)', () => {
    expect(load('bounces:\n  mailboxFullListAfter:\n    count: 5\n    days: 0\n').bounces).toEqual({ mailboxFullListAfter: { count: 5, days: 0 } });
    expect(load('bounces:\n  mailboxFullListAfter:\n    days: 14\n').bounces).toEqual({ mailboxFullListAfter: { count: 3, days: 14 } });
  });
  it.each([
    ['bounces:\n  mailboxFullListAfter:\n    count: 0\n', /bounces.mailboxFullListAfter.count: /],
    ['bounces:\n  mailboxFullListAfter:\n    days: -1\n', /bounces.mailboxFullListAfter.days: /],
    ['bounces:\n  mailboxFullListAfter:\n    count: 1.5\n', /bounces.mailboxFullListAfter.count: /],
    ['bounces:\n  mailboxFullAfter: 3\n', /bounces/],
  ])('refuses %j naming the key', (yaml, re) => {
    expect(() => load(yaml)).toThrow(re);
  });
});

describe('retention', () => {
  const load = (yaml: string) => parseConfig(parse(yaml) ?? {}, { file: 'trxmail.yaml', env: {}, baseDir: '/etc/trxmail' });
  it('defaults: everything is kept forever (0)', () => {
    expect(load('{}\n').retention).toEqual({ sendsDays: 0, webhookDays: 0 });
    expect(load('retention: {}\n').retention).toEqual({ sendsDays: 0, webhookDays: 0 });
  });
  it('takes 0, MIN_RETENTION_DAYS and MAX_RETENTION_DAYS (each defaulted alone)', () => {
    expect(MIN_RETENTION_DAYS).toBe(7);
    expect(MAX_RETENTION_DAYS).toBe(3650);
    expect(load(`retention:\n  sendsDays: ${MIN_RETENTION_DAYS}\n`).retention).toEqual({ sendsDays: MIN_RETENTION_DAYS, webhookDays: 0 });
    expect(load(`retention:\n  sendsDays: 90\n  webhookDays: ${MAX_RETENTION_DAYS}\n`).retention).toEqual({ sendsDays: 90, webhookDays: MAX_RETENTION_DAYS });
  });
  it.each([
    [`retention:\n  sendsDays: ${MIN_RETENTION_DAYS - 1}\n`, /^trxmail.yaml: retention.sendsDays: expected 0 \(keep forever\) or a whole number of days from 7 to 3650, got 6$/],
    [`retention:\n  sendsDays: ${MAX_RETENTION_DAYS + 1}\n`, /retention.sendsDays: .* got 3651$/],
    ['retention:\n  sendsDays: -1\n', /retention.sendsDays: /],
    ['retention:\n  sendsDays: 30.5\n', /retention.sendsDays: /],
    ['retention:\n  sendsDays: "90d"\n', /retention.sendsDays: expected number/],
    ['retention:\n  webhookDays: 1\n', /retention.webhookDays: /],
    ['retention:\n  eventsDays: 30\n', /retention.eventsDays: unknown key/],
  ])('refuses %j naming the key', (yaml, re) => {
    expect(() => load(yaml)).toThrow(re);
  });
});
