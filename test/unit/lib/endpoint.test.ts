import { describe, expect, it } from 'vitest';
import { formatEndpoint, formatHostPort, parseEndpoint, type Endpoint } from '../../../src/lib/endpoint.js';
import { ConfigError } from '../../../src/lib/errors.js';

describe('parseEndpoint', () => {
  it.each<[string, Endpoint]>([
    ['inet:127.0.0.1:8891', { kind: 'tcp', host: '127.0.0.1', port: 8891 }],
    ['inet:localhost:0', { kind: 'tcp', host: 'localhost', port: 0 }],
    ['inet:[::1]:8891', { kind: 'tcp', host: '::1', port: 8891 }],
    ['inet6:::1:8891', { kind: 'tcp', host: '::1', port: 8891 }],
    ['inet:8891@127.0.0.1', { kind: 'tcp', host: '127.0.0.1', port: 8891 }],
    ['unix:/run/trxmail/milter.sock', { kind: 'unix', path: '/run/trxmail/milter.sock' }],
    ['local:/run/m.sock', { kind: 'unix', path: '/run/m.sock' }],
    ['/run/m.sock', { kind: 'unix', path: '/run/m.sock' }],
  ])('%s', (spec, want) => {
    expect(parseEndpoint(spec)).toEqual(want);
  });

  it.each(['', 'inet:', 'inet:host', 'inet::25', 'inet:host:', 'inet:host:65536', 'inet:host:x', 'inet:host:-1', 'tcp:host:25', 'unix:', 'relative.sock'])(
    'refuses %j',
    (spec) => {
      expect(() => parseEndpoint(spec)).toThrow(ConfigError);
    },
  );

  it('names the endpoint and the spec in its error', () => {
    expect(() => parseEndpoint('inet:host:99999', 'listen.auth')).toThrow('listen.auth "inet:host:99999": bad port "99999"');
  });
});

describe('formatEndpoint', () => {
  it.each<[Endpoint, string]>([
    [{ kind: 'tcp', host: '127.0.0.1', port: 8891 }, 'inet:127.0.0.1:8891'],
    [{ kind: 'tcp', host: '::1', port: 8891 }, 'inet:[::1]:8891'],
    [{ kind: 'unix', path: '/run/m.sock' }, 'unix:/run/m.sock'],
  ])('%j → %s', (endpoint, want) => {
    expect(formatEndpoint(endpoint)).toBe(want);
    expect(parseEndpoint(want)).toEqual(endpoint);
  });
});

describe('formatHostPort', () => {
  it.each<[string, number, string]>([
    ['127.0.0.1', 8080, '127.0.0.1:8080'],
    ['localhost', 0, 'localhost:0'],
    ['mail.example', 65535, 'mail.example:65535'],
    ['::1', 8891, '[::1]:8891'],
    ['::', 80, '[::]:80'],
    ['2001:db8::1', 443, '[2001:db8::1]:443'],
    ['fe80::1%eth0', 25, '[fe80::1%eth0]:25'],
  ])('%s %d → %s', (host, port, want) => {
    expect(formatHostPort(host, port)).toBe(want);
  });

  it('writes what a URL and parseEndpoint read back', () => {
    for (const host of ['192.0.2.7', '2001:db8::7', 'relay.example']) {
      const text = formatHostPort(host, 2525);
      const url = new URL(`http://${text}/`);
      expect(url.port).toBe('2525');
      expect(url.hostname.replace(/^\[(.*)\]$/, '$1')).toBe(host);
      expect(parseEndpoint(`inet:${text}`)).toEqual({ kind: 'tcp', host, port: 2525 });
    }
  });
});
