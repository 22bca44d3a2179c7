import { describe, expect, it } from 'vitest';
import { canonicalAddress, domainAllowed, listKey, normaliseDomain } from '../../../src/core/domain.js';

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
