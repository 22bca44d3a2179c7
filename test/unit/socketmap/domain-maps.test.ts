import { describe, expect, it } from 'vitest';
import { ConfigError, TransientError } from '../../../src/lib/errors.js';
import { RELAY_MAP, TRANSPORT_MAP, TRANSPORT_WILDCARD, domainMapsLookup, type DomainMapsOptions } from '../../../src/socketmap/domain-maps.js';

const BOUNCE = 'bounces.trxmail.test';
const LMTP = 'lmtp:inet:127.0.0.1:8894';
/** Return-path domains as the store keeps them: lower-case A-labels. */
const RETURN_PATH = new Set(['bounces.shop.example', 'rp.xn--bcher-kva.example']);

function make(overrides: Partial<DomainMapsOptions> = {}): { lookup: ReturnType<typeof domainMapsLookup>; asked: string[] } {
  const asked: string[] = [];
  const lookup = domainMapsLookup({
    isReturnPathDomain: (d) => {
      asked.push(d);
      return Promise.resolve(RETURN_PATH.has(d));
    },
    bounceDomain: BOUNCE,
    bounceTransport: LMTP,
    ...overrides,
  });
  return { lookup, asked };
}

describe('relay map (relay_domains: the key is a domain)', () => {
  it.each([
    ['bounces.shop.example', 'bounces.shop.example'],
    ['Bounces.SHOP.example', 'bounces.shop.example'],
    ['bounces.shop.example.', 'bounces.shop.example'],
    ['rp.bücher.example', 'rp.xn--bcher-kva.example'],
    ['RP.BÜCHER.example', 'rp.xn--bcher-kva.example'],
    ['rp.xn--bcher-kva.example', 'rp.xn--bcher-kva.example'],
  ])('%s is a return-path domain → found, the value is %s', async (key, value) => {
    const { lookup, asked } = make();
    expect(await lookup(RELAY_MAP, key)).toBe(value);
    expect(asked).toEqual([value]);
  });
  it('the bounce domain is found without asking', async () => {
    const { lookup, asked } = make();
    expect(await lookup(RELAY_MAP, 'Bounces.TrxMail.test')).toBe(BOUNCE);
    expect(asked).toEqual([]);
  });
  it.each([
    ['another domain', 'shop.example'],
    ['a subdomain of a return-path domain', 'x.bounces.shop.example'],
    ['a subdomain of the bounce domain', `x.${BOUNCE}`],
    ['a lookalike', 'bounces.shop.example.evil.test'],
  ])('%s is not found', async (_name, key) => {
    const { lookup } = make();
    expect(await lookup(RELAY_MAP, key)).toBeNull();
  });
  it.each([
    ['empty', ''],
    ['an address', 'a@bounces.shop.example'],
    ['an address literal', '[192.0.2.1]'],
    ['the wildcard', '*'],
    ['a label with a space', 'bounces shop.example'],
    ['a label over 63 characters', `${'a'.repeat(64)}.example`],
    ['invalid punycode', 'xn--.example'],
  ])('a key that is not a domain (%s) is not found, without asking', async (_name, key) => {
    const { lookup, asked } = make();
    expect(await lookup(RELAY_MAP, key)).toBeNull();
    expect(asked).toEqual([]);
  });
});

describe('transport map (transport_maps: the key is a whole address)', () => {
  it.each([
    ['trx-1-abc-def@bounces.shop.example', 'bounces.shop.example'],
    ['Trx-1-A@Bounces.Shop.Example', 'bounces.shop.example'],
    ['"a b"@bounces.shop.example', 'bounces.shop.example'],
    ['"a@b"@bounces.shop.example', 'bounces.shop.example'],
    ['a@rp.bücher.example', 'rp.xn--bcher-kva.example'],
    ['bounces.shop.example', 'bounces.shop.example'],
  ])('%s → the bounce transport', async (key, domain) => {
    const { lookup, asked } = make();
    expect(await lookup(TRANSPORT_MAP, key)).toBe(LMTP);
    expect(asked).toEqual([domain]);
  });
  it('the bounce domain → the bounce transport, without asking', async () => {
    const { lookup, asked } = make();
    expect(await lookup(TRANSPORT_MAP, `trx-1-a-b@${BOUNCE.toUpperCase()}`)).toBe(LMTP);
    expect(asked).toEqual([]);
  });
  it('the wildcard key "*" is never found (it would route all mail to the bounce intake)', async () => {
    const { lookup, asked } = make({ isReturnPathDomain: () => Promise.resolve(true) });
    expect(TRANSPORT_WILDCARD).toBe('*');
    expect(await lookup(TRANSPORT_MAP, '*')).toBeNull();
    expect(asked).toEqual([]);
  });
  it.each([
    ['an address in another domain', 'alice@example.net'],
    ['an address in a subdomain of a return-path domain', 'a@x.bounces.shop.example'],
    ['the local part only', 'trx-1-abc-def@'],
    ['an address literal', 'a@[192.0.2.1]'],
    ['a domain in the local part only', 'bounces.shop.example@example.net'],
  ])('%s is not found', async (_name, key) => {
    const { lookup } = make();
    expect(await lookup(TRANSPORT_MAP, key)).toBeNull();
  });
  it('returns the transport as configured (pipe(8) variant)', async () => {
    const { lookup } = make({ bounceTransport: 'trxmail-bounce:' });
    expect(await lookup(TRANSPORT_MAP, 'a@bounces.shop.example')).toBe('trxmail-bounce:');
  });
});

describe('other maps and failures', () => {
  it.each([['virtual'], ['Relay'], ['transport '], ['']])('map %j is not found, without asking', async (map) => {
    const { lookup, asked } = make();
    expect(await lookup(map, 'bounces.shop.example')).toBeNull();
    expect(asked).toEqual([]);
  });
  it('a TransientError from isReturnPathDomain passes through', async () => {
    const { lookup } = make({ isReturnPathDomain: () => Promise.reject(new TransientError('ESTORE_IO', 'store down')) });
    await expect(lookup(RELAY_MAP, 'bounces.shop.example')).rejects.toBeInstanceOf(TransientError);
    await expect(lookup(TRANSPORT_MAP, 'a@bounces.shop.example')).rejects.toBeInstanceOf(TransientError);
    // The bounce domain does not depend on the store.
    expect(await lookup(RELAY_MAP, BOUNCE)).toBe(BOUNCE);
  });
  it.each([
    ['an empty bounce domain', { bounceDomain: '' }],
    ['a bounce domain that is an address', { bounceDomain: 'a@b.example' }],
    ['an empty transport', { bounceTransport: '' }],
    ['a transport without ":"', { bounceTransport: 'lmtp' }],
    ['a transport with a LF', { bounceTransport: 'lmtp:inet:127.0.0.1:8894\nx' }],
    ['a transport with NUL', { bounceTransport: 'lmtp:inet:127.0.0.1:88\x0094' }],
    ['a transport starting with ":"', { bounceTransport: ':inet:127.0.0.1:8894' }],
  ])('refuses %s (ConfigError)', (_name, overrides) => {
    expect(() => make(overrides)).toThrow(ConfigError);
  });
});

describe('access map (the bounce MX listener)', () => {
  it('answers OK for an address in the bounce domain or a return-path domain, nothing else', async () => {
    const lookup = domainMapsLookup({ isReturnPathDomain: (d) => Promise.resolve(d === 'bounces.shop.example'), bounceDomain: 'bounces.relay.example', bounceTransport: 'lmtp:inet:127.0.0.1:8894' });
    expect(await lookup('access', 'trx-1-x@Bounces.Shop.Example')).toBe('OK');
    expect(await lookup('access', 'trx-1-x@bounces.relay.example')).toBe('OK');
    expect(await lookup('access', 'someone@shop.example')).toBeNull();
    expect(await lookup('access', 'bounces.shop.example')).toBeNull();
  });
});
