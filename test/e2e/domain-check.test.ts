/**
 * Domain set-up end to end with a real DNS server: the exact zone text `trxmail domain dns`
 * prints is served by Debian's dnsmasq (test/helpers/dnsmasq.ts), then `trxmail domain check`
 * (the real runCli, real SQLite file) and the scheduler of `serve` (src/dkim/domain-checker.ts,
 * runOnce) ask it through node:dns. Status changes queue one 'domain' webhook delivery; a run
 * without a change queues none.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, type Config } from '../../src/config/config.js';
import { DomainChecker } from '../../src/dkim/domain-checker.js';
import { createResolver, type DnsResolver } from '../../src/dns/resolver.js';
import type { HmacKey } from '../../src/lib/hmac-keys.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { cli } from '../cli/helpers.js';
import { recordingLogger } from '../http/helpers.js';
import { startDnsmasq, type Dnsmasq, type DnsmasqZone } from '../helpers/dnsmasq.js';

const RELAY_PREFIX = '; published by the relay, not in this zone: ';
const HMAC: readonly HmacKey[] = [{ id: 'e2e', secret: 'domain check e2e secret, 16+ bytes' }];

interface Zone {
  txt: { name: string; strings: string[] }[];
  cname: { name: string; target: string }[];
}

/** The records of zone-file text as `domain dns` prints it (the relay's comment lines too), parsed here. */
function parseZone(text: string): Zone {
  const zone: Zone = { txt: [], cname: [] };
  for (const raw of text.split('\n')) {
    const line = raw.startsWith(RELAY_PREFIX) ? raw.slice(RELAY_PREFIX.length) : raw;
    if (line === '' || line.startsWith(';')) continue;
    const m = /^(\S+)\. 3600 IN (TXT|CNAME) (.+)$/.exec(line);
    if (!m) throw new Error(`unexpected zone line: ${line}`);
    const [, name = '', type, data = ''] = m;
    if (type === 'TXT') zone.txt.push({ name, strings: [...data.matchAll(/"([^"\\]*)"/g)].map((x) => x[1] ?? '') });
    else zone.cname.push({ name, target: data.replace(/\.$/, '') });
  }
  return zone;
}

function dnsmasqZone(zones: Zone[]): DnsmasqZone {
  const seen = new Set<string>();
  const txt = zones.flatMap((z) => z.txt).filter((t) => {
    const k = `${t.name} ${t.strings.join('')}`;
    return seen.has(k) ? false : (seen.add(k), true);
  });
  return {
    localDomains: ['good.example', 'late.example', 'relay.example'],
    txt,
    cname: zones.flatMap((z) => z.cname),
  };
}

function without(zone: Zone, name: string): Zone {
  return { ...zone, txt: zone.txt.filter((t) => t.name !== name) };
}

describe('domain set-up against dnsmasq', () => {
  const cwd = mkdtempSync(path.join(tmpdir(), 'trx-domain-e2e-'));
  const dbPath = path.join(cwd, 'trxmail-data', 'trxmail.db');
  let config: Config;
  let good: Zone;
  let late: Zone;
  let dns: Dnsmasq | null = null;
  /** Each run's resolver asks the dnsmasq of the moment (one per zone state). */
  const resolver: DnsResolver = {
    resolveTxt: (n) => createResolver({ servers: [dns!.server] }).resolveTxt(n),
    resolveCname: (n) => createResolver({ servers: [dns!.server] }).resolveCname(n),
    resolveMx: (n) => createResolver({ servers: [dns!.server] }).resolveMx(n),
  };

  async function serve(zone: DnsmasqZone): Promise<void> {
    await dns?.stop();
    dns = await startDnsmasq(zone);
  }

  async function ok(argv: string[]): Promise<string> {
    const r = await cli(cwd, argv);
    expect(r, argv.join(' ')).toMatchObject({ code: 0, stderr: '' });
    return r.stdout;
  }

  beforeAll(async () => {
    writeFileSync(path.join(cwd, 'trxmail.yaml'), 'bounceDomain: bounces.relay.example\ndns:\n  checkIntervalMinutes: 0\n');
    config = loadConfig({ env: {}, cwd });
    await ok(['space', 'add', 'shop']);
    await ok(['domain', 'add', '--space', 'shop', 'good.example', 'late.example']);
    await ok(['domain', 'set', '--space', 'shop', 'good.example', '--return-path', 'bounces.good.example']);
    good = parseZone(await ok(['domain', 'dns', '--space', 'shop', 'good.example']));
    late = parseZone(await ok(['domain', 'dns', '--space', 'shop', 'late.example']));
    // late.example has not published its DMARC record yet.
    await serve(dnsmasqZone([good, without(late, '_dmarc.late.example')]));
  });
  afterAll(async () => {
    await dns?.stop();
    rmSync(cwd, { recursive: true, force: true });
  });

  it('the records `domain dns` prints, served by dnsmasq: `domain check` says OK for each and exits 0', async () => {
    expect(good.txt.map((t) => t.name).sort()).toEqual(
      ['_dmarc.good.example', 'bounces.relay.example', ...good.txt.filter((t) => t.name.includes('._domainkey.')).map((t) => t.name)].sort(),
    );
    expect(good.cname).toEqual([{ name: 'bounces.good.example', target: 'bounces.relay.example' }]);
    const r = await cli(cwd, ['domain', 'check', '--space', 'shop', 'good.example', '--resolver', dns!.server]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const recordLines = r.stdout.split('\n').filter((l) => /^(OK|MISSING|WRONG|ERROR) /.test(l));
    expect(recordLines).toHaveLength(good.txt.length + good.cname.length);
    expect(recordLines.every((l) => l.startsWith('OK '))).toBe(true);
    expect(r.stdout).toContain('DKIM aligned: yes');
    expect(r.stdout).toContain('SPF aligned:  yes');
    expect(r.stdout).toContain('DMARC:        present, p=none');
    expect(dns!.log()).toMatch(/query\[TXT\] trx\d{8}r\._domainkey\.good\.example from 127\.0\.0\.1/);
    expect(dns!.log()).toContain('query[CNAME] bounces.good.example from 127.0.0.1');
  });

  it('one record missing: a MISSING line for it, exit 1, status incomplete', async () => {
    const r = await cli(cwd, ['domain', 'check', '--space', 'shop', 'late.example', '--resolver', dns!.server]);
    expect(r).toMatchObject({ code: 1, stderr: '' });
    expect(r.stdout).toMatch(/^MISSING +TXT +_dmarc\.late\.example\.$/m);
    expect(r.stdout.split('\n').filter((l) => l.startsWith('MISSING'))).toHaveLength(1);
    expect(r.stdout).toContain('status: incomplete (was unchecked) — 1 of 3 records not as expected');
    // No return-path host: SPF cannot align, and the line says why and what to do.
    expect(r.stdout).toContain('SPF aligned:  no (no return-path host: the envelope sender is in the relay\'s domain bounces.relay.example; set one with trxmail domain set --space shop late.example --return-path bounces.late.example)');
  });

  it('the scheduler records a status change, logs it and queues one domain webhook delivery; a run without change queues none', async () => {
    await ok(['webhook', 'set', '--space', 'shop', 'http://127.0.0.1:9/hook', '--secret', 'whsec_e2e']);
    const store = SqliteStore.open(dbPath);
    try {
      const logger = recordingLogger();
      const checker = new DomainChecker({ store, config, hmacKeys: HMAC, logger, resolver });
      const domainDeliveries = async () => (await store.listWebhookDeliveries({})).filter((d) => d.type === 'domain');

      // Nothing changed since the CLI checked: no delivery.
      const same = await checker.runOnce();
      expect(same).toMatchObject({ checked: 2, changed: [], failed: 0 });
      expect(await domainDeliveries()).toEqual([]);

      // late.example publishes its DMARC record: incomplete → ok.
      await serve(dnsmasqZone([good, late]));
      const fixed = await checker.runOnce();
      expect(fixed.changed.map((c) => [c.domain, c.from, c.to, c.missing])).toEqual([['late.example', 'incomplete', 'ok', []]]);
      const queued = await domainDeliveries();
      expect(queued).toHaveLength(1);
      expect(queued[0]).toMatchObject({ spaceName: 'shop', sendId: '', recipient: '', status: 'pending' });
      expect(queued[0]?.detail).toMatchObject({ domain: 'late.example', from: 'incomplete', to: 'ok', missing: [] });
      const line = logger.lines.find((l) => l.msg === 'domain check: late.example: incomplete → ok');
      expect(line).toMatchObject({ level: 'info', obj: { domain: 'late.example', from: 'incomplete', to: 'ok', missing: '' } });

      // Again without a change: still one.
      expect((await checker.runOnce()).changed).toEqual([]);
      expect(await domainDeliveries()).toHaveLength(1);

      // good.example loses its RSA key record: ok → incomplete, and the event names it.
      const rsa = good.txt.find((t) => /^trx\d{8}r\._domainkey\./.test(t.name))!.name;
      await serve(dnsmasqZone([without(good, rsa), late]));
      const broken = await checker.runOnce();
      expect(broken.changed.map((c) => [c.domain, c.from, c.to])).toEqual([['good.example', 'ok', 'incomplete']]);
      const [latest] = await domainDeliveries();
      expect(latest?.detail).toMatchObject({ domain: 'good.example', from: 'ok', to: 'incomplete', missing: [{ type: 'TXT', name: `${rsa}.`, status: 'missing' }] });
      expect(await domainDeliveries()).toHaveLength(2);
      expect(logger.lines.find((l) => l.msg === 'domain check: good.example: ok → incomplete')?.obj['missing']).toBe(`TXT ${rsa}. missing`);
      expect(logger.lines.filter((l) => l.level === 'warn')).toEqual([]);
    } finally {
      await store.close();
    }
  });
});
