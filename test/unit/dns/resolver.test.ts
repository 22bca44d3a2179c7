import { describe, expect, it } from 'vitest';
import { UsageError } from '../../../src/core/errors.js';
import { MAX_DNS_QUERY_TIMEOUT_MS } from '../../../src/dns/limits.js';
import { createResolver } from '../../../src/dns/resolver.js';

describe('createResolver options', () => {
  it.each([0, -1, 1.5, Number.NaN, MAX_DNS_QUERY_TIMEOUT_MS + 1])('refuses a timeout of %s ms', (timeoutMs) => {
    expect(() => createResolver({ timeoutMs })).toThrow(UsageError);
  });
  it(`accepts 1 and ${MAX_DNS_QUERY_TIMEOUT_MS} ms`, () => {
    expect(typeof createResolver({ timeoutMs: 1 }).resolveTxt).toBe('function');
    expect(typeof createResolver({ timeoutMs: MAX_DNS_QUERY_TIMEOUT_MS }).resolveMx).toBe('function');
  });
  it.each([['nope'], ['127.0.0.1:99999'], ['127.0.0.1:0'], ['ns.example.com'], ['::1:53x'], ['[127.0.0.1]:53'], ['1.2.3:53']])('refuses the server %j', (server) => {
    expect(() => createResolver({ servers: [server] })).toThrow(`DNS server ${JSON.stringify(server)}: not an address`);
  });
  it('refuses an empty server list', () => {
    expect(() => createResolver({ servers: [] })).toThrow(UsageError);
  });
  it('accepts IPv4 and IPv6 servers with and without a port', () => {
    expect(() => createResolver({ servers: ['127.0.0.1:5353', '[::1]:53', '192.0.2.1', '::1'] })).not.toThrow();
  });
});
