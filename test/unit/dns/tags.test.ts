import { describe, expect, it } from 'vitest';
import { MAX_FOUND_VALUE_LENGTH, TXT_CHARACTER_STRING_MAX_OCTETS } from '../../../src/dns/limits.js';
import { dkimKeyTags, dkimMismatch, dmarcPolicy, isSpfRecord, parseTagList, spfMissingTerms } from '../../../src/dns/tags.js';
import { displayText, quoteCharacterString, splitCharacterStrings } from '../../../src/dns/txt.js';
import { RSA_A, RSA_B } from '../../helpers/dns-facts.js';

describe('parseTagList (RFC 6376 3.2)', () => {
  it('reads tags in order, values trimmed, a trailing ";" allowed', () => {
    expect([...parseTagList(' v = DKIM1 ;k=rsa;  p=ab cd ;')!]).toEqual([
      ['v', 'DKIM1'],
      ['k', 'rsa'],
      ['p', 'ab cd'],
    ]);
  });
  it.each(['v=DKIM1; v=DKIM1', 'v=DKIM1; k', 'v=DKIM1;; p=x', '1a=x', 'k-x=1', '=x', ''])('refuses %j', (text) => {
    expect(parseTagList(text)).toBeNull();
  });
});

describe('DKIM key comparison by tags', () => {
  const expected = dkimKeyTags(`v=DKIM1; k=rsa; p=${RSA_A}`)!;
  it.each([
    ['the same text', `v=DKIM1; k=rsa; p=${RSA_A}`],
    ['tags in another order', `p=${RSA_A}; k=rsa; v=DKIM1`.replace('v=DKIM1', 't=y')],
    ['no v= and no k= (k defaults to rsa)', `p=${RSA_A}`],
    ['spaces and tabs around tags and inside p=', `v=DKIM1 ;\tk = RSA ;  p= ${RSA_A.slice(0, 100)} \t ${RSA_A.slice(100)} ;`],
    ['extra tags', `v=DKIM1; h=sha256; k=rsa; s=email; t=s; p=${RSA_A}; n=note`],
  ])('matches %s', (_what, found) => {
    expect(dkimMismatch(expected, found)).toBeNull();
  });
  it.each([
    ['another key', `v=DKIM1; k=rsa; p=${RSA_B}`, 'p= differs from the key'],
    ['a truncated key', `v=DKIM1; k=rsa; p=${RSA_A.slice(0, -4)}`, 'p= differs from the key'],
    ['another key type', `v=DKIM1; k=ed25519; p=${RSA_A}`, 'k=ed25519 where k=rsa is expected'],
    ['a revoked key', 'v=DKIM1; k=rsa; p=', 'p= is empty: the key is revoked'],
    ['v= not first', `k=rsa; v=DKIM1; p=${RSA_A}`, 'not a DKIM key record'],
    ['another version', `v=DKIM2; k=rsa; p=${RSA_A}`, 'not a DKIM key record'],
    ['no p=', 'v=DKIM1; k=rsa', 'not a DKIM key record'],
    ['not a tag-list', 'google-site-verification=abc; xyz', 'not a DKIM key record'],
  ])('refuses %s', (_what, found, reason) => {
    expect(dkimMismatch(expected, found)).toContain(reason);
  });
  it('compares k= case-insensitively with the default rsa', () => {
    expect(dkimKeyTags('v=DKIM1; p=abc')).toEqual({ k: 'rsa', p: 'abc' });
    expect(dkimKeyTags('v=DKIM1; k=Ed25519; p=a b\tc')).toEqual({ k: 'ed25519', p: 'abc' });
  });
});

describe('SPF records', () => {
  it.each([
    ['v=spf1 include:_spf.relay.example -all', true],
    ['V=SPF1 -all', true],
    ['v=spf1', true],
    ['v=spf10 include:x', false],
    ['spf1 include:x', false],
    [' v=spf1 include:x', false],
  ])('%j is an SPF record: %s', (txt, want) => {
    expect(isSpfRecord(txt)).toBe(want);
  });
  it.each([
    ['v=spf1 include:_spf.relay.example -all', 'include:_spf.relay.example', []],
    ['v=spf1 mx +include:_SPF.Relay.Example ~all', 'include:_spf.relay.example', []],
    ['v=spf1 include:_spf.other.example -all', 'include:_spf.relay.example', ['include:_spf.relay.example']],
    ['v=spf1 -include:_spf.relay.example -all', 'include:_spf.relay.example', ['include:_spf.relay.example']],
    ['v=spf1 ?include:_spf.relay.example -all', 'include:_spf.relay.example', ['include:_spf.relay.example']],
    ['v=spf1 include:_spf.relay.example.evil -all', 'include:_spf.relay.example', ['include:_spf.relay.example']],
    ['v=spf1 ip4:203.0.113.7 -all', 'ip4:203.0.113.7 ip6:2001:db8::7', ['ip6:2001:db8::7']],
  ])('%j with %j lacks %j', (txt, relay, missing) => {
    expect(spfMissingTerms(txt, relay)).toEqual(missing);
  });
});

describe('DMARC records', () => {
  it.each([
    ['v=DMARC1; p=none; adkim=r; aspf=r', { policy: 'none' }],
    ['v=DMARC1;p=Reject;rua=mailto:d@shop.example', { policy: 'reject' }],
    ['v=DMARC1; rua=mailto:d@shop.example', { policy: null }],
    ['p=none; v=DMARC1', null],
    ['v=DMARC2; p=none', null],
    ['v=DMARC1 p=none', null],
    ['v=spf1 -all', null],
  ])('%j → %j', (txt, want) => {
    expect(dmarcPolicy(txt)).toEqual(want);
  });
});

describe('TXT character-strings and zone quoting', () => {
  it(`keeps ${TXT_CHARACTER_STRING_MAX_OCTETS} octets in one string and splits one more`, () => {
    expect(splitCharacterStrings('a'.repeat(255))).toEqual(['a'.repeat(255)]);
    expect(splitCharacterStrings('a'.repeat(256))).toEqual(['a'.repeat(255), 'a']);
    expect(splitCharacterStrings('a'.repeat(600)).map((s) => s.length)).toEqual([255, 255, 90]);
    expect(splitCharacterStrings('')).toEqual(['']);
  });
  it('never cuts a multi-byte character', () => {
    const parts = splitCharacterStrings('a'.repeat(254) + 'é' + 'b');
    expect(parts).toEqual(['a'.repeat(254), 'éb']);
  });
  it('quotes with \\" \\\\ and \\DDD for octets outside printable ASCII', () => {
    expect(quoteCharacterString('say "hi" \\ é\t')).toBe('"say \\"hi\\" \\\\ \\195\\169\\009"');
  });
  it('shows DNS text with control characters escaped and cut at the limit', () => {
    expect(displayText('a\u0000b\u001bc\u007f\u0085')).toBe('a\\x00b\\x1bc\\x7f\\x85');
    const long = 'x'.repeat(MAX_FOUND_VALUE_LENGTH + 1);
    expect(displayText(long)).toBe('x'.repeat(MAX_FOUND_VALUE_LENGTH) + '...');
    expect(displayText('x'.repeat(MAX_FOUND_VALUE_LENGTH))).toHaveLength(MAX_FOUND_VALUE_LENGTH);
  });
});
