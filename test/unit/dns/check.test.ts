/**
 * checkDomain over a stub resolver (a map of answers and error codes): the judging rules and
 * the error mapping without a DNS server. The same rules against a real one: test/e2e/dns-check.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { UsageError } from '../../../src/core/errors.js';
import { checkDomain } from '../../../src/dns/check.js';
import { MAX_FOUND_VALUES } from '../../../src/dns/limits.js';
import { recordsFor } from '../../../src/dns/records.js';
import type { DnsResolver, MxAnswer } from '../../../src/dns/resolver.js';
import type { DomainCheck, DomainDnsFacts } from '../../../src/dns/types.js';
import { RSA_B, shopFacts } from '../../helpers/dns-facts.js';

type Answer = string[][] | string[] | MxAnswer[] | { code: string } | 'throw';

class StubResolver implements DnsResolver {
  readonly asked: string[] = [];
  constructor(readonly answers: Map<string, Answer>) {}
  private answer<T>(type: string, name: string): Promise<T> {
    this.asked.push(`${type} ${name}`);
    const a = this.answers.get(`${type} ${name}`);
    if (a === 'throw') throw new Error('stub exploded synchronously');
    if (a === undefined) return Promise.reject(Object.assign(new Error(`query${type} ENOTFOUND ${name}`), { code: 'ENOTFOUND' }));
    if (!Array.isArray(a)) return Promise.reject(Object.assign(new Error(`query${type} ${a.code} ${name}`), { code: a.code }));
    return Promise.resolve(a as T);
  }
  resolveTxt(name: string): Promise<string[][]> {
    return this.answer('TXT', name);
  }
  resolveCname(name: string): Promise<string[]> {
    return this.answer('CNAME', name);
  }
  resolveMx(name: string): Promise<MxAnswer[]> {
    return this.answer('MX', name);
  }
}

/** Every record of `facts` answered as published (TXT split as in a zone). */
function published(facts: DomainDnsFacts): Map<string, Answer> {
  const m = new Map<string, Answer>();
  for (const r of recordsFor(facts)) {
    const name = r.name.slice(0, -1);
    if (r.type === 'TXT') m.set(`TXT ${name}`, [[...r.strings]]);
    if (r.type === 'CNAME') m.set(`CNAME ${name}`, [r.target.slice(0, -1)]);
    if (r.type === 'MX') m.set(`MX ${name}`, [{ exchange: r.exchange.slice(0, -1), priority: r.preference }]);
  }
  return m;
}

function statuses(c: DomainCheck): Record<string, string> {
  return Object.fromEntries(c.records.map((r) => [`${r.record.type} ${r.record.name}`, r.status]));
}

const DKIM_A = 'TXT s2025a._domainkey.shop.example';
const DMARC = 'TXT _dmarc.shop.example';
const SPF = 'TXT bounces.relay.example';
const CNAME = 'CNAME bounces.shop.example';

describe('checkDomain (stub resolver)', () => {
  it('all published: every record ok, aligned, each name asked once without trailing dot', async () => {
    const stub = new StubResolver(published(shopFacts()));
    const c = await checkDomain(shopFacts(), stub);
    expect(Object.values(statuses(c))).toEqual(['ok', 'ok', 'ok', 'ok', 'ok', 'ok']);
    expect(c.alignment).toEqual({ dkim: true, spf: true, dmarc: 'present', dmarcPolicy: 'none' });
    expect(c.status).toBe('ok');
    expect(stub.asked.sort()).toEqual([CNAME, DMARC, SPF, 'TXT s2024._domainkey.shop.example', DKIM_A, 'TXT s2025e._domainkey.shop.example']);
  });

  it('NXDOMAIN, NODATA and an empty answer are missing; the alignment follows', async () => {
    const answers = published(shopFacts());
    answers.delete(DKIM_A);
    answers.set(DMARC, { code: 'ENODATA' });
    answers.set(CNAME, []);
    const c = await checkDomain(shopFacts(), new StubResolver(answers));
    const byName = new Map(c.records.map((r) => [`${r.record.type} ${r.record.name.slice(0, -1)}`, r]));
    expect(byName.get(DKIM_A)).toMatchObject({ status: 'missing', found: [], detail: 'NXDOMAIN: the name does not exist' });
    expect(byName.get(DMARC)).toMatchObject({ status: 'missing', detail: 'NODATA: no TXT record at the name' });
    expect(byName.get(CNAME)).toMatchObject({ status: 'missing', detail: 'NODATA: no CNAME record at the name' });
    expect(c.alignment).toEqual({ dkim: false, spf: false, dmarc: 'missing', dmarcPolicy: null });
    expect(c.status).toBe('incomplete');
  });

  it('other resolver failures, thrown or rejected, are an error for that record only', async () => {
    const answers = published(shopFacts());
    answers.set(DKIM_A, { code: 'ESERVFAIL' });
    answers.set(SPF, { code: 'ETIMEOUT' });
    answers.set(DMARC, 'throw');
    const c = await checkDomain(shopFacts(), new StubResolver(answers));
    const byName = new Map(c.records.map((r) => [`${r.record.type} ${r.record.name.slice(0, -1)}`, r]));
    expect(byName.get(DKIM_A)).toMatchObject({ status: 'error', detail: 'ESERVFAIL: the DNS server answered SERVFAIL' });
    expect(byName.get(SPF)).toMatchObject({ status: 'error', detail: 'ETIMEOUT: queryTXT ETIMEOUT bounces.relay.example' });
    expect(byName.get(DMARC)).toMatchObject({ status: 'error', detail: 'EDNS: stub exploded synchronously' });
    expect(byName.get(CNAME)?.status).toBe('ok');
    expect(c.alignment.spf).toBe(false);
  });

  it('an active key counts for DKIM alignment; pending and retiring ones do not', async () => {
    const answers = published(shopFacts());
    answers.delete(DKIM_A);
    const c = await checkDomain(shopFacts(), new StubResolver(answers));
    expect(c.records.filter((r) => r.record.purpose === 'dkim').map((r) => r.status)).toEqual(['ok', 'missing', 'ok']);
    expect(c.alignment.dkim).toBe(false);
  });

  it('a DKIM name with several records is ok when one matches, wrong with the reasons when none does', async () => {
    const answers = published(shopFacts());
    const good = answers.get(DKIM_A) as string[][];
    answers.set(DKIM_A, [['v=DKIM1; k=rsa; p='], ...good]);
    expect(statuses(await checkDomain(shopFacts(), new StubResolver(answers)))[`TXT s2025a._domainkey.shop.example.`]).toBe('ok');
    answers.set(DKIM_A, [['v=DKIM1; k=rsa; p='], [`v=DKIM1; k=rsa; p=${RSA_B}`]]);
    const c = await checkDomain(shopFacts(), new StubResolver(answers));
    const dkim = c.records.find((r) => r.record.name === 's2025a._domainkey.shop.example.')!;
    expect(dkim).toMatchObject({ status: 'wrong', detail: 'p= is empty: the key is revoked; p= differs from the key' });
    expect(dkim.found).toEqual(['v=DKIM1; k=rsa; p=', `v=DKIM1; k=rsa; p=${RSA_B}`]);
    expect(dkim.expected).toBe(shopFacts().dkim[0]!.txt);
  });

  it('SPF: other TXT only is missing; two v=spf1 records are wrong (permerror)', async () => {
    const answers = published(shopFacts());
    answers.set(SPF, [['google-site-verification=x']]);
    let spf = (await checkDomain(shopFacts(), new StubResolver(answers))).records.find((r) => r.record.purpose === 'spf')!;
    expect(spf).toMatchObject({ status: 'missing', found: ['google-site-verification=x'] });
    answers.set(SPF, [['v=spf1 include:_spf.relay.example -all'], ['v=spf1 -all']]);
    spf = (await checkDomain(shopFacts(), new StubResolver(answers))).records.find((r) => r.record.purpose === 'spf')!;
    expect(spf.status).toBe('wrong');
    expect(spf.detail).toContain('2 v=spf1 records at one name');
  });

  it('DMARC: any policy is present and reported; two records or a bad p= are wrong', async () => {
    const answers = published(shopFacts());
    answers.set(DMARC, [['v=DMARC1; p=reject; rua=mailto:d@shop.example']]);
    let c = await checkDomain(shopFacts(), new StubResolver(answers));
    expect(c.alignment).toMatchObject({ dmarc: 'present', dmarcPolicy: 'reject' });
    expect(c.records.find((r) => r.record.purpose === 'dmarc')).toMatchObject({ status: 'ok', detail: 'p=reject' });
    answers.set(DMARC, [['v=DMARC1; p=none'], ['v=DMARC1; p=reject']]);
    c = await checkDomain(shopFacts(), new StubResolver(answers));
    expect(c.records.find((r) => r.record.purpose === 'dmarc')?.status).toBe('wrong');
    expect(c.alignment).toMatchObject({ dmarc: 'present', dmarcPolicy: 'none' });
    answers.set(DMARC, [['v=DMARC1; p=monitor']]);
    c = await checkDomain(shopFacts(), new StubResolver(answers));
    expect(c.records.find((r) => r.record.purpose === 'dmarc')).toMatchObject({ status: 'wrong', detail: 'p=monitor is not none, quarantine or reject' });
    answers.set(DMARC, [['some=thing']]);
    c = await checkDomain(shopFacts(), new StubResolver(answers));
    expect(c.alignment).toMatchObject({ dmarc: 'missing', dmarcPolicy: null });
  });

  it('MX Return-Path: the exchange compares case-insensitively, trailing dot ignored; the SPF is asked at the Return-Path host', async () => {
    const f = { ...shopFacts(), relay: { ...shopFacts().relay, mxHost: 'mx.relay.example' } };
    const answers = published(f);
    answers.set('MX bounces.shop.example', [{ exchange: 'MX.RELAY.EXAMPLE.', priority: 20 }]);
    const stub = new StubResolver(answers);
    let c = await checkDomain(f, stub);
    expect(c.status).toBe('ok');
    expect(c.alignment.spf).toBe(true);
    expect(stub.asked).toContain('TXT bounces.shop.example');
    answers.set('MX bounces.shop.example', [{ exchange: 'mx.other.example', priority: 10 }]);
    c = await checkDomain(f, new StubResolver(answers));
    expect(c.records.find((r) => r.record.type === 'MX')).toMatchObject({ status: 'wrong', found: ['10 mx.other.example.'], expected: '10 mx.relay.example.' });
    expect(c.alignment.spf).toBe(false);
  });

  it('without a Return-Path host SPF cannot align, even with everything else ok', async () => {
    const f = { ...shopFacts(), returnPath: null };
    const c = await checkDomain(f, new StubResolver(published(f)));
    expect(c.status).toBe('ok');
    expect(c.alignment).toEqual({ dkim: true, spf: false, dmarc: 'present', dmarcPolicy: 'none' });
  });

  it(`reports at most ${MAX_FOUND_VALUES} found values, escaped, and says how many more`, async () => {
    const answers = published(shopFacts());
    answers.set(SPF, Array.from({ length: MAX_FOUND_VALUES + 3 }, (_, i) => [`token${i}\u001b[31m`]));
    const spf = (await checkDomain(shopFacts(), new StubResolver(answers))).records.find((r) => r.record.purpose === 'spf')!;
    expect(spf.found).toHaveLength(MAX_FOUND_VALUES);
    expect(spf.found[0]).toBe('token0\\x1b[31m');
    expect(spf.detail).toContain('(3 more found, not shown)');
  });

  it('refuses unusable facts before asking anything', async () => {
    const stub = new StubResolver(new Map());
    await expect(checkDomain({ ...shopFacts(), domain: 'not a domain' }, stub)).rejects.toThrow(UsageError);
    expect(stub.asked).toEqual([]);
  });
});
