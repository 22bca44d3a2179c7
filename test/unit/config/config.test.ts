import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/config.js';
import { ConfigError } from '../../../src/lib/errors.js';

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
    expect(c.listen.milter).toBe('inet:127.0.0.1:8891');
    expect(c.hmacKeys).toEqual([]);
    expect(Object.isFrozen(c) && Object.isFrozen(c.listen)).toBe(true);
  });

  it('reads ./trxmail.yaml, resolves paths against its directory, normalises the bounce domain', () => {
    const cwd = dirWith('dataDir: data\nbounceDomain: Bounces.Bücher.Example.\nlisten:\n  milter: unix:/run/trxmail/milter.sock\n');
    const c = loadConfig({ cwd, env: {} });
    expect(c.file).toBe(path.join(cwd, 'trxmail.yaml'));
    expect(c.dataDir).toBe(path.join(cwd, 'data'));
    expect(c.bounceDomain).toBe('bounces.xn--bcher-kva.example');
    expect(c.listen.milter).toBe('unix:/run/trxmail/milter.sock');
    expect(c.listen.policy).toBe('inet:127.0.0.1:8892');
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
