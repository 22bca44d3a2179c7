/**
 * checkDomain against a real DNS server: Debian's dnsmasq (test/helpers/dnsmasq.ts) serving
 * one zone per scenario (each customer domain its own), asked through createResolver
 * (node:dns/promises). The failure paths use real sockets too: a port nobody listens on, a
 * UDP socket that never answers, and one that answers SERVFAIL.
 */
import dgram from 'node:dgram';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkDomain } from '../../src/dns/check.js';
import { recordsFor } from '../../src/dns/records.js';
import { createResolver, type DnsResolver } from '../../src/dns/resolver.js';
import type { DomainCheck, DomainDnsFacts, RecordCheck } from '../../src/dns/types.js';
import { RSA_A, RSA_B, shopFacts } from '../helpers/dns-facts.js';
import { startDnsmasq, type Dnsmasq, type DnsmasqZone } from '../helpers/dnsmasq.js';
import { freePorts } from '../helpers/net.js';

const RELAY_SPF = 'v=spf1 include:_spf.relay.example -all';
/** Deadline of each query in the failure tests (ms); the tests wait for the answers, not for a clock. */
const SHORT_TIMEOUT_MS = 300;

/** The fixture facts moved to `domain` (Return-Path bounces.<domain>, CNAME to bounces.relay.example). */
function factsFor(domain: string, relay: Partial<DomainDnsFacts['relay']> = {}): DomainDnsFacts {
  const f = shopFacts();
  return { ...f, domain, returnPath: `bounces.${domain}`, relay: { ...f.relay, ...relay } };
}

interface Zone {
  txt: { name: string; strings: readonly string[] }[];
  cname: { name: string; target: string }[];
  mx: { name: string; exchange: string; preference: number }[];
}

/** What a customer publishes for `facts`, as recordsFor prints it (the relay's SPF left out). */
function published(facts: DomainDnsFacts): Zone {
  const zone: Zone = { txt: [], cname: [], mx: [] };
  for (const r of recordsFor(facts)) {
    if (r.publishedBy !== 'customer') continue;
    const name = r.name.slice(0, -1);
    if (r.type === 'TXT') zone.txt.push({ name, strings: r.strings });
    if (r.type === 'CNAME') zone.cname.push({ name, target: r.target.slice(0, -1) });
    if (r.type === 'MX') zone.mx.push({ name, exchange: r.exchange.slice(0, -1), preference: r.preference });
  }
  return zone;
}

function withoutTxt(zone: Zone, name: string): Zone {
  return { ...zone, txt: zone.txt.filter((t) => t.name !== name) };
}

function withTxt(zone: Zone, name: string, strings: string[]): Zone {
  return { ...withoutTxt(zone, name), txt: [...withoutTxt(zone, name).txt, { name, strings }] };
}

const MX_RELAY = { mxHost: 'mx.relay.example' };

/** The scenarios: domain → what it publishes. */
const SCENARIOS: Record<string, Zone> = {
  'good.example': published(factsFor('good.example')),
  'nodkim.example': withoutTxt(published(factsFor('nodkim.example')), 's2025a._domainkey.nodkim.example'),
  'wrongp.example': withTxt(published(factsFor('wrongp.example')), 's2025a._domainkey.wrongp.example', [`v=DKIM1; k=rsa; p=${RSA_B.slice(0, 200)}`, RSA_B.slice(200)]),
  'wrongcname.example': {
    ...published(factsFor('wrongcname.example')),
    cname: [{ name: 'bounces.wrongcname.example', target: 'bounces.other-relay.example' }],
  },
  'mxrp.example': withTxt(published(factsFor('mxrp.example', MX_RELAY)), 'bounces.mxrp.example', ['v=spf1 ip4:198.51.100.1 -all']),
  'nodmarc.example': withoutTxt(published(factsFor('nodmarc.example')), '_dmarc.nodmarc.example'),
  'reject.example': withTxt(published(factsFor('reject.example')), '_dmarc.reject.example', ['v=DMARC1; p=reject; rua=mailto:dmarc@reject.example']),
  // The active key as some DNS hosts store it: three strings cut anywhere, tags spaced and reordered.
  'split.example': withTxt(published(factsFor('split.example')), 's2025a._domainkey.split.example', [
    'v=DKIM1;  t=s ; p=' + RSA_A.slice(0, 40),
    RSA_A.slice(40, 290),
    RSA_A.slice(290) + ' ; k=rsa ;',
  ]),
};

function zoneOfAll(): DnsmasqZone {
  const parts = Object.values(SCENARIOS);
  return {
    localDomains: [...Object.keys(SCENARIOS), 'relay.example', 'other-relay.example'],
    txt: [{ name: 'bounces.relay.example', strings: [RELAY_SPF] }, ...parts.flatMap((p) => p.txt)],
    cname: parts.flatMap((p) => p.cname),
    mx: parts.flatMap((p) => p.mx),
  };
}

function byName(c: DomainCheck): Map<string, RecordCheck> {
  return new Map(c.records.map((r) => [`${r.record.type} ${r.record.name}`, r]));
}

function statuses(c: DomainCheck): string[] {
  return c.records.map((r) => `${r.record.type} ${r.record.name} ${r.status}`);
}

describe('checkDomain against dnsmasq', () => {
  let dns: Dnsmasq;
  let resolver: DnsResolver;

  beforeAll(async () => {
    dns = await startDnsmasq(zoneOfAll());
    resolver = createResolver({ servers: [dns.server], timeoutMs: 5000 });
  });
  afterAll(async () => {
    await dns?.stop();
  });

  it('all records present: every status ok, aligned, and dnsmasq was asked each name', async () => {
    const c = await checkDomain(factsFor('good.example'), resolver);
    expect(statuses(c)).toEqual([
      'TXT s2024._domainkey.good.example. ok',
      'TXT s2025a._domainkey.good.example. ok',
      'TXT s2025e._domainkey.good.example. ok',
      'CNAME bounces.good.example. ok',
      'TXT bounces.relay.example. ok',
      'TXT _dmarc.good.example. ok',
    ]);
    expect(c.alignment).toEqual({ dkim: true, spf: true, dmarc: 'present', dmarcPolicy: 'none' });
    expect(c.status).toBe('ok');
    expect(dns.log()).toContain('query[TXT] s2025a._domainkey.good.example from 127.0.0.1');
    expect(dns.log()).toContain('query[CNAME] bounces.good.example from 127.0.0.1');
  });

  it('the long RSA record published as two strings is found joined and compares ok', async () => {
    const c = await checkDomain(factsFor('good.example'), resolver);
    const rsa = byName(c).get('TXT s2025a._domainkey.good.example.')!;
    expect(rsa.found).toEqual([`v=DKIM1; k=rsa; p=${RSA_A}`]);
    expect(rsa.record.type === 'TXT' ? rsa.record.strings.length : 0).toBe(2);
  });

  it('a long RSA record split into three strings anywhere, tags spaced and reordered, still compares ok', async () => {
    const c = await checkDomain(factsFor('split.example'), resolver);
    expect((await resolver.resolveTxt('s2025a._domainkey.split.example'))[0]).toHaveLength(3);
    expect(byName(c).get('TXT s2025a._domainkey.split.example.')).toMatchObject({ status: 'ok', detail: 'the key matches' });
    expect(c.status).toBe('ok');
  });

  it('the active DKIM record missing: missing (NXDOMAIN), alignment.dkim false, the others still ok', async () => {
    const c = await checkDomain(factsFor('nodkim.example'), resolver);
    expect(byName(c).get('TXT s2025a._domainkey.nodkim.example.')).toMatchObject({ status: 'missing', found: [], detail: 'NXDOMAIN: the name does not exist' });
    expect(byName(c).get('TXT s2024._domainkey.nodkim.example.')?.status).toBe('ok');
    expect(c.alignment.dkim).toBe(false);
    expect(c.alignment.spf).toBe(true);
    expect(c.status).toBe('incomplete');
  });

  it('a wrong p=: wrong, with what was expected and what was found', async () => {
    const c = await checkDomain(factsFor('wrongp.example'), resolver);
    const rsa = byName(c).get('TXT s2025a._domainkey.wrongp.example.')!;
    expect(rsa).toMatchObject({
      status: 'wrong',
      detail: 'p= differs from the key',
      expected: `v=DKIM1; k=rsa; p=${RSA_A}`,
      found: [`v=DKIM1; k=rsa; p=${RSA_B}`],
    });
    expect(c.alignment.dkim).toBe(false);
  });

  it('a CNAME to another target: wrong, naming both, and SPF does not align', async () => {
    const c = await checkDomain(factsFor('wrongcname.example'), resolver);
    expect(byName(c).get('CNAME bounces.wrongcname.example.')).toMatchObject({
      status: 'wrong',
      found: ['bounces.other-relay.example.'],
      expected: 'bounces.relay.example.',
      detail: 'points to bounces.other-relay.example., not bounces.relay.example.',
    });
    expect(c.alignment).toMatchObject({ dkim: true, spf: false });
  });

  it('MX Return-Path with an SPF record that lacks the relay: MX ok, SPF wrong, no SPF alignment', async () => {
    const c = await checkDomain(factsFor('mxrp.example', MX_RELAY), resolver);
    expect(byName(c).get('MX bounces.mxrp.example.')).toMatchObject({ status: 'ok', found: ['10 mx.relay.example.'] });
    expect(byName(c).get('TXT bounces.mxrp.example.')).toMatchObject({
      status: 'wrong',
      found: ['v=spf1 ip4:198.51.100.1 -all'],
      expected: RELAY_SPF,
      detail: 'the SPF record does not authorise include:_spf.relay.example',
    });
    expect(c.alignment.spf).toBe(false);
  });

  it('DMARC missing: missing, alignment.dmarc missing without policy', async () => {
    const c = await checkDomain(factsFor('nodmarc.example'), resolver);
    expect(byName(c).get('TXT _dmarc.nodmarc.example.')?.status).toBe('missing');
    expect(c.alignment).toMatchObject({ dmarc: 'missing', dmarcPolicy: null });
  });

  it('DMARC present with another policy: ok, and the policy is reported', async () => {
    const c = await checkDomain(factsFor('reject.example'), resolver);
    expect(byName(c).get('TXT _dmarc.reject.example.')).toMatchObject({ status: 'ok', detail: 'p=reject' });
    expect(c.alignment).toMatchObject({ dmarc: 'present', dmarcPolicy: 'reject' });
    expect(c.status).toBe('ok');
  });

  it('a domain the server does not serve: REFUSED is an error per record, not missing', async () => {
    const c = await checkDomain(factsFor('elsewhere.test'), resolver);
    const own = c.records.filter((r) => r.record.publishedBy === 'customer');
    expect(own.map((r) => r.status)).toEqual(['error', 'error', 'error', 'error', 'error']);
    expect(own.every((r) => r.detail.startsWith('EREFUSED: '))).toBe(true);
    expect(c.status).toBe('incomplete');
  });
});

describe('the dnsmasq helper', () => {
  it('fails with the install command when dnsmasq is missing (never skips)', async () => {
    await expect(startDnsmasq({ localDomains: [] }, '/nonexistent/sbin/dnsmasq')).rejects.toThrow(
      '/nonexistent/sbin/dnsmasq not found: these tests need Debian\'s dnsmasq; install it with `apt-get install -y dnsmasq-base`',
    );
  });
});

describe('checkDomain when the DNS does not answer (bounded, per record)', () => {
  const facts = factsFor('good.example');

  it('a port nobody listens on: every record is an error', async () => {
    const [port] = await freePorts(1);
    const c = await checkDomain(facts, createResolver({ servers: [`127.0.0.1:${port}`], timeoutMs: SHORT_TIMEOUT_MS }));
    expect(c.records).toHaveLength(6);
    for (const r of c.records) {
      expect(r.status).toBe('error');
      expect(r.detail).toMatch(/^(ECONNREFUSED|ETIMEOUT): /);
    }
    expect(c.alignment).toEqual({ dkim: false, spf: false, dmarc: 'missing', dmarcPolicy: null });
  });

  describe('real UDP servers that misbehave', () => {
    let silent: dgram.Socket;
    let servfail: dgram.Socket;
    let silentQueries = 0;
    beforeAll(async () => {
      silent = dgram.createSocket('udp4');
      silent.on('message', () => silentQueries++);
      servfail = dgram.createSocket('udp4');
      // Echo the query as a response: QR set, RD kept, RA set, RCODE 2 (SERVFAIL, RFC 1035 4.1.1).
      servfail.on('message', (msg, peer) => {
        if (msg.length < 12) return;
        const reply = Buffer.from(msg);
        reply[2] = (msg[2]! | 0x80) & 0x81;
        reply[3] = 0x82;
        servfail.send(reply, peer.port, peer.address);
      });
      await Promise.all([silent, servfail].map((s) => new Promise<void>((resolve) => s.bind(0, '127.0.0.1', () => resolve()))));
    });
    afterAll(async () => {
      await Promise.all([silent, servfail].map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
    });

    it('a server that never answers: every record is an ETIMEOUT error once the deadline passes', async () => {
      const resolver = createResolver({ servers: [`127.0.0.1:${silent.address().port}`], timeoutMs: SHORT_TIMEOUT_MS });
      const c = await checkDomain(facts, resolver);
      expect(c.records.map((r) => r.status)).toEqual(Array(6).fill('error'));
      for (const r of c.records) expect(r.detail).toMatch(/^ETIMEOUT: /);
      expect(silentQueries).toBeGreaterThanOrEqual(6);
      expect(c.status).toBe('incomplete');
    });

    it('a server that answers SERVFAIL: every record is an ESERVFAIL error', async () => {
      const c = await checkDomain(facts, createResolver({ servers: [`127.0.0.1:${servfail.address().port}`], timeoutMs: 5000 }));
      for (const r of c.records) expect(r).toMatchObject({ status: 'error', detail: 'ESERVFAIL: the DNS server answered SERVFAIL' });
    });
  });
});
