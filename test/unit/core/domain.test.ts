import { describe, expect, it } from 'vitest';
import { allowingDomain, canonicalAddress, domainAllowed, listKey, MAX_NORMALISED_DOMAINS_REMEMBERED, MAX_REMEMBERED_DOMAIN_INPUT, normaliseDomain, withAsciiDots } from '../../../src/core/domain.js';
import { senderDomainOf } from '../../../src/core/evaluate.js';

describe('normaliseDomain', () => {
  it('maps U-label, A-label, case and trailing dot to one form', () => {
    expect(normaliseDomain('Bücher.Example.')).toBe('xn--bcher-kva.example');
    expect(normaliseDomain('XN--BCHER-KVA.example')).toBe('xn--bcher-kva.example');
    expect(normaliseDomain('bu\u0308cher.example')).toBe('xn--bcher-kva.example');
  });
  it.each(['', '.', 'a..b', '-a.com', 'a-.com', '[127.0.0.1]', 'a b.com', 'a_b.com', 'x'.repeat(64) + '.com', 'xn--.com'])(
    'refuses %j',
    (d) => {
      expect(normaliseDomain(d)).toBeNull();
    },
  );
});

describe('withAsciiDots', () => {
  it('writes the IDNA full stops U+3002, U+FF0E, U+FF61 as "." and changes nothing else', () => {
    expect(withAsciiDots('demo\uff0eexample')).toBe('demo.example');
    expect(withAsciiDots('a\u3002B\uff61bücher\uff0eexample.')).toBe('a.B.bücher.example.');
    expect(withAsciiDots('Demo.Example')).toBe('Demo.Example');
    // and normaliseDomain agrees with it
    expect(normaliseDomain('Demo\u3002Example')).toBe('demo.example');
  });
});

describe('domainAllowed', () => {
  const allowed = ['oxfordstones.com'];
  it.each(['oxfordstones.com.evil.test', 'evil-oxfordstones.com', 'oxfordstones.co', 'mail.oxfordstones.com'])(
    'refuses lookalike or subdomain %s',
    (d) => {
      expect(domainAllowed(d, allowed, false)).toBe(false);
    },
  );
  it('allows subdomains only when told', () => {
    expect(domainAllowed('mail.oxfordstones.com', allowed, true)).toBe(true);
    expect(domainAllowed('evil-oxfordstones.com', allowed, true)).toBe(false);
  });
});

describe('addresses', () => {
  it('keeps the local part, normalises the domain', () => {
    expect(canonicalAddress('John@Bücher.Example')).toBe('John@xn--bcher-kva.example');
    expect(listKey('John@Bücher.Example')).toBe('john@xn--bcher-kva.example');
    expect(canonicalAddress('no-at-sign')).toBeNull();
  });
});

describe('allowingDomain / senderDomainOf', () => {
  it('gives the listed domain itself, else the longest listed parent when subdomains are allowed', () => {
    expect(allowingDomain('shop.example', ['shop.example'], false)).toBe('shop.example');
    expect(allowingDomain('mail.shop.example', ['shop.example'], false)).toBeNull();
    expect(allowingDomain('a.mail.shop.example', ['shop.example', 'mail.shop.example'], true)).toBe('mail.shop.example');
    expect(allowingDomain('evilshop.example', ['shop.example'], true)).toBeNull();
  });
  it('senderDomainOf reads MAIL FROM (IDN-aware) and answers null for a sender that is not allowed', () => {
    const space = { id: 1, name: 's', domains: ['xn--bcher-kva.example'], allowSubdomains: true, defaultFlags: null };
    expect(senderDomainOf(space, 'news@Mail.Bücher.example')).toBe('xn--bcher-kva.example');
    expect(senderDomainOf(space, 'news@other.example')).toBeNull();
    expect(senderDomainOf(space, '')).toBeNull();
  });
});

describe('normaliseDomain remembers its answers', () => {
  it('gives the same answer asked again, past MAX_NORMALISED_DOMAINS_REMEMBERED inputs and for inputs over MAX_REMEMBERED_DOMAIN_INPUT', () => {
    const cases: Array<[string, string | null]> = [
      ['Bücher.Example.', 'xn--bcher-kva.example'],
      ['bad..example', null],
      [`${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(61)}`, `${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(61)}`],
      [`${'x.'.repeat(MAX_REMEMBERED_DOMAIN_INPUT)}example`, null],
    ];
    for (let round = 0; round < 2; round++) {
      for (const [input, want] of cases) expect(normaliseDomain(input)).toBe(want);
      // Fill the memory past its bound: the answers above are still right.
      for (let i = 0; i <= MAX_NORMALISED_DOMAINS_REMEMBERED; i++) expect(normaliseDomain(`host-${round}-${i}.Example`)).toBe(`host-${round}-${i}.example`);
    }
  });
});
