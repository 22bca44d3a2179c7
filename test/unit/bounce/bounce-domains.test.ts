import { describe, expect, it } from 'vitest';
import { encodeBounceAddress, decodeBounceAddress } from '../../../src/bounce/bounce-address.js';
import { BounceDomainSet } from '../../../src/bounce/bounce-domains.js';
import { silentLogger } from '../../../src/lib/logger.js';

const KEYS = [{ id: 'k1', secret: 'bounce-domains-test-secret-0123' }];

describe('BounceDomainSet', () => {
  it('holds the bounce domain and the return-path hosts of the store; decoding accepts addresses in each', async () => {
    let hosts = ['bounces.shop.example'];
    const set = new BounceDomainSet('Bounces.Relay.Example', { listReturnPathHosts: () => Promise.resolve(hosts) }, silentLogger);
    await set.refresh();
    expect(set.list()).toEqual(['bounces.relay.example', 'bounces.shop.example']);
    const viaHost = encodeBounceAddress({ spaceId: 3, sendId: 'ABC123' }, KEYS, 'bounces.shop.example');
    expect(decodeBounceAddress(viaHost, KEYS, set)).toMatchObject({ ok: true, spaceId: 3, sendId: 'ABC123' });
    expect(decodeBounceAddress(viaHost, KEYS, 'bounces.relay.example')).toEqual({ ok: false, reason: 'wrong-domain' });
    hosts = [];
    await set.refresh();
    expect(decodeBounceAddress(viaHost, KEYS, set)).toEqual({ ok: false, reason: 'wrong-domain' });
    expect(set.has('bounces.relay.example')).toBe(true);
  });

  it('keeps the last set when a refresh fails', async () => {
    let fail = false;
    const set = new BounceDomainSet('b.example', { listReturnPathHosts: () => (fail ? Promise.reject(new Error('locked')) : Promise.resolve(['rp.example'])) }, silentLogger);
    await set.refresh();
    fail = true;
    await expect(set.refresh()).rejects.toThrow('locked');
    expect(set.has('rp.example')).toBe(true);
  });
});
