/**
 * `trxmail domain` (src/cli/commands/domain*.ts) through the real runCli on a real SQLite file,
 * with DNS checks against an in-process DNS server (test/helpers/dns-stub-server.ts) that
 * serves what `domain dns --json` says to publish. The real dnsmasq is the e2e suite's
 * (test/e2e/domain-check.test.ts).
 */
import { createPublicKey } from 'node:crypto';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { selectorName } from '../../src/dkim/keys.js';
import { openStore } from '../../src/store/open-store.js';
import type { DkimKey } from '../../src/store/store.js';
import { startDnsStub, type DnsStubServer, type StubRecord } from '../helpers/dns-stub-server.js';
import { cli, tempWorkDir, type CliResult } from './helpers.js';

const DAY_MS = 86_400_000;
/** Every stdout and stderr of this file: no private key material may appear in any. */
const outputs: string[] = [];

async function run(cwd: string, argv: string[]): Promise<CliResult> {
  const r = await cli(cwd, argv);
  outputs.push(r.stdout, r.stderr);
  return r;
}

/** stdout of a command that must succeed. */
async function ok(cwd: string, argv: string[]): Promise<string> {
  const r = await run(cwd, argv);
  expect(r, argv.join(' ')).toMatchObject({ code: 0, stderr: '' });
  return r.stdout;
}

interface JsonKey {
  selector: string;
  algorithm: string;
  state: string;
  createdAt: string;
  activatedAt: string | null;
  retireAfter: string | null;
}
interface JsonDomain {
  domain: string;
  unicode: string;
  returnPath: string | null;
  checkStatus: string;
  checkedAt: string | null;
  keys: JsonKey[];
}

async function listJson(cwd: string, space = 'shop'): Promise<JsonDomain[]> {
  return JSON.parse(await ok(cwd, ['domain', 'list', '--space', space, '--json'])) as JsonDomain[];
}

async function keysOf(cwd: string, domain: string): Promise<JsonKey[]> {
  return (await listJson(cwd)).find((d) => d.domain === domain)?.keys ?? [];
}

/** Every key in the store (the test's independent look at what must stay secret). */
async function storedKeys(cwd: string): Promise<DkimKey[]> {
  const store = await openStore({ driver: 'sqlite', path: path.join(cwd, 'trxmail-data', 'trxmail.db') });
  try {
    const out: DkimKey[] = [];
    for (const d of await store.listDomainAuth()) out.push(...(await store.listDkimKeys(d.spaceId, d.domain)));
    return out;
  } finally {
    await store.close();
  }
}

/** The records of `domain dns --json` as the stub serves them; `except` names left out. */
async function publish(dns: DnsStubServer, cwd: string, domain: string, except: (name: string) => boolean = () => false): Promise<void> {
  const records = JSON.parse(await ok(cwd, ['domain', 'dns', '--space', 'shop', domain, '--json'])) as { name: string; type: 'TXT' | 'CNAME' | 'MX'; value: string }[];
  const stub: StubRecord[] = [];
  for (const r of records) {
    if (except(r.name)) continue;
    if (r.type === 'TXT') {
      const strings: string[] = [];
      for (let i = 0; i < r.value.length; i += 255) strings.push(r.value.slice(i, i + 255));
      stub.push({ name: r.name, type: 'TXT', data: strings });
    } else if (r.type === 'CNAME') {
      stub.push({ name: r.name, type: 'CNAME', data: [r.value] });
    }
  }
  dns.setRecords(stub);
}

/** Selector names for today (UTC), allowing for a run across midnight. */
function todays(before: Date, algorithm: 'rsa-sha256' | 'ed25519-sha256', n = 1): string[] {
  return [selectorName(algorithm, before, n), selectorName(algorithm, new Date(), n)];
}

describe('trxmail domain', () => {
  let cwd: string;
  let dns: DnsStubServer;

  beforeAll(async () => {
    cwd = tempWorkDir();
    await ok(cwd, ['space', 'add', 'shop']);
    await ok(cwd, ['space', 'add', 'other']);
    dns = await startDnsStub();
  });
  afterAll(async () => {
    await dns.stop();
  });

  it('add creates an active RSA-2048 and Ed25519 pair per new domain with dated selectors and says what to publish; added again keeps them', async () => {
    const before = new Date();
    const out = await ok(cwd, ['domain', 'add', '--space', 'shop', 'Shop.Example', 'bücher.example']);
    expect(out).toContain('domain shop.example allowed for shop\n');
    expect(out).toContain('next: publish its DNS records (trxmail domain dns --space shop shop.example)');
    expect(out).toContain('trxmail domain dns --space shop xn--bcher-kva.example');
    const list = await listJson(cwd);
    expect(list.map((d) => [d.domain, d.unicode, d.returnPath, d.checkStatus, d.checkedAt])).toEqual([
      ['shop.example', 'shop.example', null, 'unchecked', null],
      ['xn--bcher-kva.example', 'bücher.example', null, 'unchecked', null],
    ]);
    for (const d of list) {
      expect(d.keys.map((k) => [k.algorithm, k.state])).toEqual([
        ['rsa-sha256', 'active'],
        ['ed25519-sha256', 'active'],
      ]);
      expect(todays(before, 'rsa-sha256')).toContain(d.keys[0]?.selector);
      expect(todays(before, 'ed25519-sha256')).toContain(d.keys[1]?.selector);
      expect(d.keys.every((k) => k.activatedAt === k.createdAt && k.retireAfter === null)).toBe(true);
    }
    const again = await ok(cwd, ['domain', 'add', '--space', 'shop', 'shop.example']);
    expect(again).toMatch(/^domain shop\.example allowed for shop \(DKIM keys kept: trx\d{8}r \(rsa-sha256\), trx\d{8}e \(ed25519-sha256\)\)\n$/);
    expect(await keysOf(cwd, 'shop.example')).toEqual(list[0]?.keys);
    // RSA-2048 and Ed25519 in the records as stored.
    const stored = (await storedKeys(cwd)).filter((k) => k.domain === 'shop.example');
    const p = (k: DkimKey | undefined): Buffer => Buffer.from(/p=([A-Za-z0-9+/=]+)/.exec(k?.publicTxt ?? '')?.[1] ?? '', 'base64');
    expect(stored[0]?.publicTxt).toMatch(/^v=DKIM1; k=rsa; p=/);
    expect(createPublicKey({ key: p(stored[0]), format: 'der', type: 'spki' }).asymmetricKeyDetails?.modulusLength).toBe(2048);
    expect(stored[1]?.publicTxt).toMatch(/^v=DKIM1; k=ed25519; p=/);
    expect(p(stored[1])).toHaveLength(32);
  });

  it('dns prints the zone: each key as stored, split into quoted strings, and the DMARC record; --json the same records', async () => {
    const keys = (await storedKeys(cwd)).filter((k) => k.domain === 'shop.example');
    const zone = await ok(cwd, ['domain', 'dns', '--space', 'shop', 'shop.example']);
    const lines = zone.split('\n');
    expect(lines[0]).toBe('; DKIM public keys (RFC 6376): one TXT record per selector');
    for (const k of keys) {
      const line = lines.find((l) => l.startsWith(`${k.selector}._domainkey.shop.example. 3600 IN TXT `));
      expect(line, k.selector).toBeDefined();
      const strings = [...(line ?? '').matchAll(/"([^"]*)"/g)].map((m) => m[1] ?? '');
      expect(strings.every((s) => s.length <= 255)).toBe(true);
      expect(strings.join('')).toBe(k.publicTxt);
    }
    expect(zone).toContain('_dmarc.shop.example. 3600 IN TXT "v=DMARC1; p=none; adkim=r; aspf=r"\n');
    expect(zone).not.toContain('CNAME'); // no return-path host yet
    const json = JSON.parse(await ok(cwd, ['domain', 'dns', '--space', 'shop', 'shop.example', '--json'])) as { name: string; type: string; value: string }[];
    expect(json.map((r) => r.name).sort()).toEqual([...keys.map((k) => `${k.selector}._domainkey.shop.example.`), '_dmarc.shop.example.'].sort());
  });

  it('set --return-path prints the CNAME to publish, list shows it, --no-return-path clears it', async () => {
    const set = await ok(cwd, ['domain', 'set', '--space', 'shop', 'shop.example', '--return-path', 'Bounces.Shop.Example']);
    expect(set).toBe(
      'return-path host of shop.example: bounces.shop.example\n' +
        'publish (bounces come back to the relay, SPF aligns with shop.example):\n' +
        'bounces.shop.example. 3600 IN CNAME bounces.localhost.\n' +
        'then run trxmail domain check --space shop shop.example\n',
    );
    expect((await listJson(cwd))[0]?.returnPath).toBe('bounces.shop.example');
    expect(await ok(cwd, ['domain', 'dns', '--space', 'shop', 'shop.example'])).toContain('bounces.shop.example. 3600 IN CNAME bounces.localhost.\n');
    const table = await ok(cwd, ['domain', 'list', '--space', 'shop']);
    expect(table.split('\n')[0]).toMatch(/^DOMAIN +UNICODE +RETURN-PATH +CHECK +CHECKED +KEYS$/);
    expect(table).toMatch(/shop\.example +shop\.example +bounces\.shop\.example +unchecked +trx\d{8}r rsa-sha256 active; trx\d{8}e ed25519-sha256 active/);
    const cleared = await ok(cwd, ['domain', 'set', '--space', 'shop', 'shop.example', '--no-return-path']);
    expect(cleared).toContain("shop.example has no return-path host: mail leaves with the relay's bounce address");
    expect(cleared).toContain('the CNAME at bounces.shop.example is no longer needed');
    expect((await listJson(cwd))[0]?.returnPath).toBeNull();
    await ok(cwd, ['domain', 'set', '--space', 'shop', 'shop.example', '--return-path', 'bounces.shop.example']);
  });

  it('check: all published → OK lines, alignment, exit 0; one record missing → MISSING line and exit 1', async () => {
    await publish(dns, cwd, 'shop.example');
    const good = await run(cwd, ['domain', 'check', '--space', 'shop', 'shop.example', '--resolver', dns.server]);
    expect(good.code, good.stdout + good.stderr).toBe(0);
    const lines = good.stdout.split('\n');
    expect(lines.filter((l) => /^OK +(TXT|CNAME) +\S+/.test(l))).toHaveLength(5);
    expect(good.stdout).toMatch(/^OK +CNAME bounces\.shop\.example\.$/m);
    expect(good.stdout).toMatch(/^OK +TXT +bounces\.localhost\. \(published by the relay\)$/m);
    expect(good.stdout).toContain('DKIM aligned: yes');
    expect(good.stdout).toContain('SPF aligned:  yes (the envelope sender is in bounces.shop.example');
    expect(good.stdout).toContain('DMARC:        present, p=none');
    expect(good.stdout).toMatch(/status: ok \(was unchecked\) — every record is published\n$/);
    expect((await listJson(cwd))[0]).toMatchObject({ checkStatus: 'ok' });

    await publish(dns, cwd, 'shop.example', (n) => n === '_dmarc.shop.example.');
    const bad = await run(cwd, ['domain', 'check', '--space', 'shop', 'shop.example', '--resolver', dns.server]);
    expect(bad).toMatchObject({ code: 1, stderr: '' });
    expect(bad.stdout).toMatch(/^MISSING +TXT +_dmarc\.shop\.example\.\n +NXDOMAIN: the name does not exist$/m);
    expect(bad.stdout).toContain('DMARC:        missing');
    expect(bad.stdout).toContain('status: incomplete (was ok) — 1 of 5 records not as expected');
    expect((await listJson(cwd))[0]).toMatchObject({ checkStatus: 'incomplete' });

    // A wrong CNAME: expected and found.
    const json = JSON.parse(await ok(cwd, ['domain', 'dns', '--space', 'shop', 'shop.example', '--json'])) as { name: string; type: string; value: string }[];
    dns.setRecords(
      json.map((r): StubRecord =>
        r.type === 'CNAME'
          ? { name: r.name, type: 'CNAME', data: ['bounces.other-relay.example'] }
          : { name: r.name, type: 'TXT', data: r.value.match(/.{1,255}/g) ?? [] },
      ),
    );
    const wrong = await run(cwd, ['domain', 'check', '--space', 'shop', 'shop.example', '--resolver', dns.server]);
    expect(wrong.code).toBe(1);
    expect(wrong.stdout).toMatch(/^WRONG +CNAME bounces\.shop\.example\.\n +expected: bounces\.localhost\.\n +found: +bounces\.other-relay\.example\.$/m);
    expect(wrong.stdout).toContain('SPF aligned:  no (the return-path host bounces.shop.example');
    await publish(dns, cwd, 'shop.example');
    expect((await run(cwd, ['domain', 'check', '--space', 'shop', 'shop.example', '--resolver', dns.server])).code).toBe(0);
  });

  it('dkim rotate: the next pair pending, printed to publish; check activates it once published, the old pair retiring for the overlap', async () => {
    const before = new Date();
    const old = await keysOf(cwd, 'shop.example');
    const out = await ok(cwd, ['domain', 'dkim', 'rotate', '--space', 'shop', 'shop.example']);
    const keys = await keysOf(cwd, 'shop.example');
    expect(keys.map((k) => k.state)).toEqual(['active', 'active', 'pending', 'pending']);
    const [r2, e2] = keys.slice(2);
    // Same day as the first pair: the counter goes up (or a new date after midnight).
    expect([...todays(before, 'rsa-sha256', 2), ...todays(before, 'rsa-sha256')]).toContain(r2?.selector);
    expect(out).toContain(`new DKIM key pair for shop.example (pending): ${r2?.selector} (rsa-sha256), ${e2?.selector} (ed25519-sha256)\n`);
    expect(out).toContain('publish these records, then run trxmail domain check --space shop shop.example');
    expect(out).toMatch(new RegExp(`^${r2?.selector}\\._domainkey\\.shop\\.example\\. 3600 IN TXT "v=DKIM1; k=rsa; p=`, 'm'));
    expect(out).toMatch(new RegExp(`^${e2?.selector}\\._domainkey\\.shop\\.example\\. 3600 IN TXT "v=DKIM1; k=ed25519; p=`, 'm'));
    expect(out).not.toContain(`${old[0]?.selector}._domainkey`);
    // A second rotation waits for this one.
    const again = await run(cwd, ['domain', 'dkim', 'rotate', '--space', 'shop', 'shop.example']);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/^trxmail: shop\.example has a pending key pair already \(.*\): publish it \(trxmail domain dns --space shop shop\.example\) and run trxmail domain check --space shop shop\.example\n$/);

    // The DNS still has the old records only (what publish served last time).
    const notYet = await run(cwd, ['domain', 'check', '--space', 'shop', 'shop.example', '--resolver', dns.server]);
    expect(notYet.code).toBe(1);
    expect(notYet.stdout).toMatch(new RegExp(`^MISSING +TXT +${r2?.selector}\\._domainkey\\.shop\\.example\\.$`, 'm'));
    expect(notYet.stdout).not.toContain('activated:');
    expect((await keysOf(cwd, 'shop.example')).map((k) => k.state)).toEqual(['active', 'active', 'pending', 'pending']);

    await publish(dns, cwd, 'shop.example');
    const now = await run(cwd, ['domain', 'check', '--space', 'shop', 'shop.example', '--resolver', dns.server]);
    expect(now.code, now.stdout).toBe(0);
    expect(now.stdout).toContain(`activated: ${r2?.selector}, ${e2?.selector} sign from now on\n`);
    expect(now.stdout).toMatch(new RegExp(`retiring: ${old[0]?.selector}, ${old[1]?.selector} \\(keep their records published until \\S+Z\\)`));
    const after = await keysOf(cwd, 'shop.example');
    expect(after.map((k) => k.state)).toEqual(['retiring', 'retiring', 'active', 'active']);
    const activatedAt = Date.parse(after[2]?.activatedAt ?? '');
    expect(Date.parse(after[0]?.retireAfter ?? '')).toBe(activatedAt + 7 * DAY_MS);
    // Retiring keys stay in the zone until they retire.
    const zone = await ok(cwd, ['domain', 'dns', '--space', 'shop', 'shop.example']);
    for (const k of after) expect(zone).toContain(`${k.selector}._domainkey.shop.example. 3600 IN TXT`);
    // Nothing changes on the next check.
    const same = await run(cwd, ['domain', 'check', '--space', 'shop', 'shop.example', '--resolver', dns.server]);
    expect(same.stdout).toMatch(/status: ok — every record is published\n$/);
  });

  it('dkim rotate --force signs with the new pair at once, the previous pair retiring', async () => {
    await ok(cwd, ['domain', 'add', '--space', 'shop', 'force.example']);
    const first = await keysOf(cwd, 'force.example');
    const out = await ok(cwd, ['domain', 'dkim', 'rotate', '--space', 'shop', 'force.example', '--force']);
    const keys = await keysOf(cwd, 'force.example');
    expect(keys.map((k) => k.state)).toEqual(['retiring', 'retiring', 'active', 'active']);
    expect(out).toContain(`new DKIM key pair for force.example, signing at once: ${keys[2]?.selector} (rsa-sha256), ${keys[3]?.selector} (ed25519-sha256)\n`);
    expect(out).toContain(`retiring: ${first[0]?.selector} (rsa-sha256), ${first[1]?.selector} (ed25519-sha256) (keep their records published until ${keys[0]?.retireAfter ?? '?'})`);
    expect(out).toContain('publish these records now: mail is signed with the new keys already');
    expect(Date.parse(keys[0]?.retireAfter ?? '')).toBe(Date.parse(keys[2]?.activatedAt ?? '') + 7 * DAY_MS);
  });

  it('a DNS that does not answer: ERROR lines, nothing recorded, exit 1', async () => {
    const before = (await listJson(cwd)).find((d) => d.domain === 'force.example');
    const dead = await run(cwd, ['domain', 'check', '--space', 'shop', 'force.example', '--resolver', '127.0.0.1:9']);
    expect(dead.code).toBe(1);
    expect(dead.stdout).toMatch(/^ERROR +TXT +_dmarc\.force\.example\.\n +ECONNREFUSED/m);
    expect(dead.stdout).toContain('DKIM aligned: unknown (the DNS did not answer)');
    expect(dead.stdout).toMatch(/status: not checked — the DNS did not answer for \d+ record\(s\); the recorded status \(unchecked\) stays, try again\n$/);
    expect((await listJson(cwd)).find((d) => d.domain === 'force.example')).toEqual(before);
  });

  it('list: table, CSV and JSON; JSON has every key with its times, never any private material', async () => {
    const csv = await ok(cwd, ['domain', 'list', '--space', 'shop', '--csv']);
    expect(csv.split('\r\n')[0] ?? csv.split('\n')[0]).toMatch(/^DOMAIN,UNICODE,RETURN-PATH,CHECK,CHECKED,KEYS/);
    const json = await listJson(cwd);
    expect(json.map((d) => d.domain)).toEqual(['force.example', 'shop.example', 'xn--bcher-kva.example']);
    expect(Object.keys(json[1]?.keys[0] ?? {}).sort()).toEqual(['activatedAt', 'algorithm', 'createdAt', 'retireAfter', 'selector', 'state']);
    expect(json[1]).toMatchObject({ returnPath: 'bounces.shop.example', checkStatus: 'ok' });
    expect(Date.parse(json[1]?.checkedAt ?? '')).toBeGreaterThan(0);
    // Another space sees none of it.
    expect(await listJson(cwd, 'other')).toEqual([]);
  });

  it('refuses bad input with one line and exit 1', async () => {
    const bad: [string[], string][] = [
      [['domain', 'dns', '--space', 'shop', 'nope.example'], 'domain nope.example is not allowed for shop (see: trxmail domain list --space shop)'],
      [['domain', 'dns', '--space', 'other', 'shop.example'], 'domain shop.example is not allowed for other (see: trxmail domain list --space other)'],
      [['domain', 'set', '--space', 'shop', 'shop.example'], 'nothing to change: give --return-path HOST or --no-return-path'],
      [['domain', 'set', '--space', 'shop', 'shop.example', '--return-path', 'force.example'], '"force.example" is a sender domain; a return-path host receives only bounces'],
      [['domain', 'check', '--space', 'shop', 'shop.example', '--resolver', 'dns.example'], 'DNS server "dns.example": not an address ("127.0.0.1", "127.0.0.1:5353" or "[::1]:53")'],
      [['domain', 'dkim', 'rotate', '--space', 'nope', 'shop.example'], 'no space named "nope" (see: trxmail space list)'],
      [['domain', 'list', '--space', 'shop', '--json', '--csv'], 'choose one of --json and --csv'],
    ];
    for (const [argv, message] of bad) {
      expect(await run(cwd, argv), argv.join(' ')).toMatchObject({ code: 1, stdout: '', stderr: `trxmail: ${message}\n` });
    }
    const help = await run(cwd, ['domain', 'check', '--help']);
    expect(help.stdout.replace(/\s+/g, ' ')).toContain('Exit status 0 when everything is published (status ok), 1 when something is missing or wrong (incomplete)');
  });

  it('no output of this file contains a private key, wrapped or not', async () => {
    const keys = await storedKeys(cwd);
    expect(keys.length).toBeGreaterThanOrEqual(10);
    const all = outputs.join('\n');
    for (const k of keys) {
      expect(k.wrappedPrivateKey).toMatch(/^v1\./);
      expect(all).not.toContain(k.wrappedPrivateKey);
      // nor any long piece of it (the ciphertext part)
      expect(all).not.toContain(k.wrappedPrivateKey.split('.')[4]?.slice(0, 32));
    }
    expect(all).not.toContain('PRIVATE KEY');
  });
});
