import { describe, expect, it } from 'vitest';
import { UsageError } from '../../../src/core/errors.js';
import { MAX_DKIM_SELECTORS, TXT_CHARACTER_STRING_MAX_OCTETS } from '../../../src/dns/limits.js';
import { DMARC_START, formatZone, recordsFor } from '../../../src/dns/records.js';
import type { DnsRecord, DomainDnsFacts } from '../../../src/dns/types.js';
import { shopFacts } from '../../helpers/dns-facts.js';

/** The zone for shopFacts(), written out by hand: the RSA values split after 255 octets. */
const SHOP_ZONE = [
  '; DKIM public keys (RFC 6376): one TXT record per selector',
  's2024._domainkey.shop.example. 3600 IN TXT ' +
    '"v=DKIM1; k=rsa; p=MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAsF/h7RXJ5LpR/ev1u3g8Y8h7h7MHNnLpRnbr4mkp+PIuBkFoJgNF8WhQGENmcKQEBEVeI8y0yltxBX9a1wjKPmJhtnFjBzAthkkMOXN/ZQmsHAwtEXjdD2YGtpbQfBk1uJlFiv5RmpnFnbnm40WATx1MGImRGn9cMcns0O9k0QXuoWtR1FSzdTQO3AdnG6F8e" ' +
    '"6xYv2PvKLlVIorCiggDjJoyXJUIHCihOmCe8b7Ud1GCP3LcjuNIMyFWfWfQtltB0TCDfmanhrGKvB7gF7t/fMYHCncNRczAxyoKGYGeRy0cwRNrws08mcM9R2ALSuaqm8fMp2R8kN6+7XXLnPYtLwIDAQAB"',
  's2025a._domainkey.shop.example. 3600 IN TXT ' +
    '"v=DKIM1; k=rsa; p=MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAzTRdLhthWtNdcv9d5VfGx12rZgp4uQceaEiCHqQYV1EAxAPqMc8ah4K9yJHviq0Hk9DoQElqpXnXAsjJ/c9l8XnfAbH4e/ByQGjzEQKwJ+Do8Jopb8WMLnGXMmbt4NJ0AgcsvPyxWJAoT8Z+ejpYMF5exmzDaCRWrgcpaCt2YTIQJCwgVoBppfpbtW25BRlkE" ' +
    '"icozFpAKCX5s+Ow+UaUCiUKwXTNeMLDVCywYRUBTygnU+u7S/+WO8Hh6v9QR6nFO0yRA2st3EDYjU61cTczjlgBwhz9CSoqkB5OJtDXs2+floRtYN0ZEGQuO+Sk4dNtO6m6RFoJ4Ifzs7npnh7sRQIDAQAB"',
  's2025e._domainkey.shop.example. 3600 IN TXT "v=DKIM1; k=ed25519; p=dQpdgQ5FXkNYhIGylzbttbUYMoE7Bp/WIV9uU6n4WdM="',
  '; Return-Path host (envelope sender): bounces come back to the relay',
  'bounces.shop.example. 3600 IN CNAME bounces.relay.example.',
  '; SPF (RFC 7208) for the Return-Path host, the domain SPF checks',
  '; published by the relay, not in this zone: bounces.relay.example. 3600 IN TXT "v=spf1 include:_spf.relay.example -all"',
  '; DMARC (RFC 7489): start with p=none, then p=quarantine, then p=reject',
  '_dmarc.shop.example. 3600 IN TXT "v=DMARC1; p=none; adkim=r; aspf=r"',
  '',
].join('\n');

function withRelay(relay: Partial<DomainDnsFacts['relay']>, rest: Partial<DomainDnsFacts> = {}): DomainDnsFacts {
  const f = shopFacts();
  return { ...f, ...rest, relay: { ...f.relay, ...relay } };
}

function short(records: DnsRecord[]): string[] {
  return records.map((r) => `${r.purpose} ${r.publishedBy} ${r.name} ${r.type} ${r.value}`);
}

describe('recordsFor and formatZone', () => {
  it('writes the exact zone of the fixture domain (CNAME Return-Path)', () => {
    expect(formatZone(recordsFor(shopFacts()))).toBe(SHOP_ZONE);
  });

  it('gives the same zone whatever the order of keys and records', () => {
    const f = shopFacts();
    const reversed = recordsFor({ ...f, dkim: [...f.dkim].reverse() });
    expect(formatZone(reversed.reverse())).toBe(SHOP_ZONE);
    expect(formatZone([])).toBe('');
  });

  it('lists one DKIM record per selector whatever its state, each with a note naming the state', () => {
    const dkim = recordsFor(shopFacts()).filter((r) => r.purpose === 'dkim');
    expect(dkim.map((r) => [r.name, r.note.split(',')[1]?.split(':')[0]?.trim()])).toEqual([
      ['s2024._domainkey.shop.example.', 'retiring'],
      ['s2025a._domainkey.shop.example.', 'active'],
      ['s2025e._domainkey.shop.example.', 'pending'],
    ]);
  });

  it('splits every TXT value into character-strings of at most 255 octets that join back to it', () => {
    for (const r of recordsFor(shopFacts())) {
      if (r.type !== 'TXT') continue;
      expect(r.strings.join('')).toBe(r.value);
      for (const s of r.strings) expect(Buffer.byteLength(s)).toBeLessThanOrEqual(TXT_CHARACTER_STRING_MAX_OCTETS);
    }
    const rsa = recordsFor(shopFacts()).find((r) => r.name.startsWith('s2025a.'));
    expect(rsa?.type === 'TXT' ? rsa.strings.map((s) => s.length) : null).toEqual([255, 155]);
  });

  it('with the CNAME, the SPF record is the relay\'s at its bounce host (no other data beside a CNAME)', () => {
    const records = recordsFor(shopFacts());
    expect(short(records.filter((r) => r.purpose === 'spf' || r.purpose === 'return-path'))).toEqual([
      'return-path customer bounces.shop.example. CNAME bounces.relay.example.',
      'spf relay bounces.relay.example. TXT v=spf1 include:_spf.relay.example -all',
    ]);
    expect(records.filter((r) => r.name === 'bounces.shop.example.').map((r) => r.type)).toEqual(['CNAME']);
    expect(records.find((r) => r.purpose === 'spf')?.note).toContain('The SPF record of shop.example itself is not involved');
  });

  it('prints an MX and the customer\'s SPF TXT on the Return-Path host when the relay has an mxHost', () => {
    const records = recordsFor(withRelay({ mxHost: 'MX.Relay.Example.' }));
    expect(short(records.filter((r) => r.purpose === 'spf' || r.purpose === 'return-path'))).toEqual([
      'return-path customer bounces.shop.example. MX 10 mx.relay.example.',
      'spf customer bounces.shop.example. TXT v=spf1 include:_spf.relay.example -all',
    ]);
    expect(formatZone(records)).toContain(
      'bounces.shop.example. 3600 IN MX 10 mx.relay.example.\n; SPF (RFC 7208) for the Return-Path host, the domain SPF checks\n' +
        'bounces.shop.example. 3600 IN TXT "v=spf1 include:_spf.relay.example -all"\n',
    );
  });

  it('without a Return-Path host: no SPF or Return-Path record, and the DMARC note says SPF cannot align', () => {
    const records = recordsFor({ ...shopFacts(), returnPath: null });
    expect(records.map((r) => r.purpose)).toEqual(['dkim', 'dkim', 'dkim', 'dmarc']);
    const dmarc = records[3]!;
    expect(dmarc.value).toBe(DMARC_START);
    expect(dmarc.note).toContain('SPF cannot align with shop.example');
    expect(recordsFor(shopFacts()).find((r) => r.purpose === 'dmarc')?.note).not.toContain('cannot align');
  });

  it('keeps several relay mechanisms in the SPF record, spaces normalised', () => {
    const spf = recordsFor(withRelay({ mxHost: 'mx.relay.example', spf: ' ip4:203.0.113.7   ip6:2001:db8::7 ' })).find((r) => r.purpose === 'spf');
    expect(spf?.value).toBe('v=spf1 ip4:203.0.113.7 ip6:2001:db8::7 -all');
  });

  it('notes when the Return-Path host is outside the sender domain', () => {
    const rp = recordsFor({ ...shopFacts(), returnPath: 'rp.other.example' }).find((r) => r.purpose === 'return-path');
    expect(rp?.note).toContain('rp.other.example is not below shop.example');
  });

  it('normalises IDN and case to lower-case A-labels with a trailing dot', () => {
    const records = recordsFor({ ...shopFacts(), domain: 'Bücher.Example', returnPath: 'Bounces.Bücher.Example.' });
    expect(records.map((r) => r.name)).toEqual([
      's2024._domainkey.xn--bcher-kva.example.',
      's2025a._domainkey.xn--bcher-kva.example.',
      's2025e._domainkey.xn--bcher-kva.example.',
      'bounces.xn--bcher-kva.example.',
      'bounces.relay.example.',
      '_dmarc.xn--bcher-kva.example.',
    ]);
  });

  it(`accepts ${MAX_DKIM_SELECTORS} selectors and refuses one more`, () => {
    const key = shopFacts().dkim[0]!;
    const keys = (n: number): DomainDnsFacts['dkim'] => Array.from({ length: n }, (_, i) => ({ ...key, selector: `k${i}` }));
    expect(recordsFor({ ...shopFacts(), dkim: keys(MAX_DKIM_SELECTORS) }).filter((r) => r.purpose === 'dkim')).toHaveLength(MAX_DKIM_SELECTORS);
    expect(() => recordsFor({ ...shopFacts(), dkim: keys(MAX_DKIM_SELECTORS + 1) })).toThrow(UsageError);
  });
});

describe('recordsFor refuses unusable facts', () => {
  const f = shopFacts();
  const key = f.dkim[0]!;
  const cases: [string, DomainDnsFacts, string][] = [
    ['domain not a host', { ...f, domain: 'shop..example' }, 'domain "shop..example": not a host name'],
    ['selector with underscore', { ...f, dkim: [{ ...key, selector: 'bad_sel' }] }, 'dkim[0].selector "bad_sel": not a host name'],
    ['selector twice', { ...f, dkim: [key, { ...key, selector: 'S2025A' }] }, 'the selector "s2025a" is given twice'],
    ['k= not the algorithm', { ...f, dkim: [{ ...key, algorithm: 'ed25519-sha256' }] }, 'k=rsa does not fit the algorithm ed25519-sha256'],
    ['no k= for ed25519', { ...f, dkim: [{ ...key, algorithm: 'ed25519-sha256', txt: 'v=DKIM1; p=abc' }] }, 'k=rsa does not fit'],
    ['no p=', { ...f, dkim: [{ ...key, txt: 'v=DKIM1; k=rsa' }] }, 'not a DKIM key record with a key'],
    ['empty p=', { ...f, dkim: [{ ...key, txt: 'v=DKIM1; k=rsa; p=' }] }, 'not a DKIM key record with a key'],
    ['txt not ASCII', { ...f, dkim: [{ ...key, txt: 'v=DKIM1; p=ab\ncd' }] }, 'dkim[0].txt: not printable ASCII'],
    ['unknown state', { ...f, dkim: [{ ...key, state: 'old' as 'active' }] }, 'dkim[0].state "old"'],
    ['return path = domain', { ...f, returnPath: 'SHOP.example' }, 'must be a host below the domain'],
    ['bad return path', { ...f, returnPath: '-x.shop.example' }, 'returnPath "-x.shop.example": not a host name'],
    ['bad bounce host', withRelay({ bounceHost: '' }), 'relay.bounceHost "": not a host name'],
    ['bad mx host', withRelay({ mxHost: 'a b' }), 'relay.mxHost "a b": not a host name'],
    ['spf with version', withRelay({ spf: 'v=spf1 include:x.example' }), 'relay.spf "v=spf1 include:x.example": not a list of SPF mechanisms'],
    ['spf with all', withRelay({ spf: 'ip4:192.0.2.1 ~all' }), 'not a list of SPF mechanisms'],
    ['spf with redirect', withRelay({ spf: 'redirect=_spf.x.example' }), 'not a list of SPF mechanisms'],
    ['spf with a quote', withRelay({ spf: 'include:"x' }), 'not a list of SPF mechanisms'],
    ['spf empty', withRelay({ spf: '  ' }), 'not a list of SPF mechanisms'],
    ['name too long', { ...f, dkim: [{ ...key, selector: Array.from({ length: 4 }, () => 'a'.repeat(62)).join('.') }] }, 'is longer than 255 characters'],
  ];
  it.each(cases)('%s', (_what, facts, message) => {
    expect(() => recordsFor(facts)).toThrow(UsageError);
    expect(() => recordsFor(facts)).toThrow(message);
  });
});
