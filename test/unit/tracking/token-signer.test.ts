/**
 * token.ts clickTokenSigner (one send and recipient, the HMAC states prepared once) writes
 * exactly the tokens signTrackingToken writes, and the verifier still accepts every token
 * issued before it: test/fixtures/tracking-tokens/issued-v1.json holds tokens made by main's
 * signTrackingToken (commit e9e65a0), before the fast signer existed. Tampered and forged
 * tokens are still refused; TrackingLinks switches signers when the send or recipient changes.
 */
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { HmacKey } from '../../../src/lib/hmac-keys.js';
import { MAX_TRACKED_URL_LENGTH } from '../../../src/lib/limits.js';
import { TrackingLinks } from '../../../src/tracking/links.js';
import { clickTokenSigner, redirectLocation, signTrackingToken, verifyTrackingToken, type TrackingClaims } from '../../../src/tracking/token.js';

const KEYS: HmacKey[] = [{ id: 'k1', secret: 'first secret, 16+ bytes long' }];
const LONG_KEY: HmacKey[] = [{ id: 'long', secret: 'x'.repeat(100) }];

interface Issued {
  keys: HmacKey[];
  tokens: Array<{ claims: TrackingClaims; token: string }>;
}
const issued = JSON.parse(readFileSync(join(import.meta.dirname, '..', '..', 'fixtures', 'tracking-tokens', 'issued-v1.json'), 'utf8')) as Issued;

const sendIdArb = fc.string({ unit: fc.constantFrom(...'0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_'), minLength: 1, maxLength: 64 });
const pathArb = fc.string({ unit: fc.constantFrom(...'abcXYZ019-._~!$&\'()*+,;=:@/%?#éü€😀 '), maxLength: 300 });
const urlArb = fc
  .tuple(fc.constantFrom('http://', 'https://', 'HTTPS://'), fc.constantFrom('shop.example', 'bücher.example', '[::1]', 'Sub.Example.COM:8443'), pathArb)
  .map(([s, h, p]) => `${s}${h}/${p}`);

describe('clickTokenSigner', () => {
  it('writes the tokens signTrackingToken writes, for many sends, recipients, keys and URLs', () => {
    fc.assert(
      fc.property(sendIdArb, fc.emailAddress(), fc.constantFrom(KEYS, LONG_KEY), fc.array(urlArb, { minLength: 1, maxLength: 8 }), (sendId, recipient, keys, urls) => {
        const sign = clickTokenSigner(sendId, recipient, keys);
        if (sign === null) {
          expect(signTrackingToken({ kind: 'open', sendId, recipient }, keys)).toBeNull();
          return;
        }
        for (const url of urls) expect(sign(url)).toBe(signTrackingToken({ kind: 'click', sendId, recipient, url }, keys));
      }),
      { numRuns: 400, seed: 1502 },
    );
  });

  it('signs URLs up to MAX_TRACKED_URL_LENGTH bytes and refuses what signTrackingToken refuses', () => {
    const sign = clickTokenSigner('Q1', 'a@example.org', KEYS)!;
    const longest = `https://x.example/${'é'.repeat((MAX_TRACKED_URL_LENGTH - 18) / 2)}`;
    expect(Buffer.byteLength(longest)).toBe(MAX_TRACKED_URL_LENGTH);
    expect(sign(longest)).toBe(signTrackingToken({ kind: 'click', sendId: 'Q1', recipient: 'a@example.org', url: longest }, KEYS));
    for (const bad of [`${longest}a`, 'mailto:a@b', 'https:///x', 'javascript:alert(1)', 'https://x.example/\u0000', '']) {
      expect(redirectLocation(bad)).toBeNull();
      expect(sign(bad)).toBeNull();
    }
    // a URL after a long one: no byte of the long one leaks into the next token
    const short = sign('https://y.example/')!;
    expect(verifyTrackingToken(short, KEYS)).toEqual({ kind: 'click', sendId: 'Q1', recipient: 'a@example.org', url: 'https://y.example/' });
  });

  it('cannot sign without a key or for ids a token cannot carry', () => {
    expect(clickTokenSigner('Q1', 'a@example.org', [])).toBeNull();
    expect(clickTokenSigner('', 'a@example.org', KEYS)).toBeNull();
    expect(clickTokenSigner('Q1', 'a\r\n@example.org', KEYS)).toBeNull();
    expect(clickTokenSigner('x'.repeat(65), 'a@example.org', KEYS)).toBeNull();
  });
});

/** redirectLocation's rule for an ASCII URL as it was written before its fast path (a URL object). */
function slowAsciiLocation(url: string): string | null {
  if (url.length === 0 || url.length > MAX_TRACKED_URL_LENGTH || !/^[\x21-\x7e]*$/.test(url) || !/^https?:\/\//i.test(url)) return null;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return null;
  }
  const schemeEnd = url.indexOf('//') + 2;
  let authorityEnd = url.slice(schemeEnd).search(/[/?#\\]/);
  authorityEnd = authorityEnd < 0 ? url.length : schemeEnd + authorityEnd;
  return parsed.hostname === '' || url.slice(schemeEnd, authorityEnd) === '' ? null : url;
}

describe('redirectLocation for visible-ASCII URLs (no URL object)', () => {
  it('answers what the URL-object rule answers', () => {
    const part = fc.string({ unit: fc.constantFrom(...'aZ09-._~!$&\'()*+,;=:@/%?#[]\\^`{|}<>"'), maxLength: 20 });
    const ascii = fc.tuple(fc.constantFrom('http://', 'https://', 'HTTP://', 'http:/', 'http:', 'ftp://', ''), part, part).map(([s, a, b]) => `${s}${a}${b}`);
    fc.assert(
      fc.property(ascii, (url) => {
        expect(redirectLocation(url)).toBe(slowAsciiLocation(url));
      }),
      { numRuns: 5000, seed: 77 },
    );
    for (const url of ['http://@/', 'http://:80/', 'https:///x', 'http://[::1]/', 'http://a:b@c/', 'http://x?', 'http://x#', 'http://\\x', 'https://%41.example/', 'http://1.2.3.4.5/', 'http://x:99999/']) {
      expect(redirectLocation(url)).toBe(slowAsciiLocation(url));
    }
  });
});

describe('tokens issued before the fast signer', () => {
  it('still verify, to the same claims', () => {
    expect(issued.tokens.length).toBeGreaterThanOrEqual(5);
    for (const { claims, token } of issued.tokens) expect(verifyTrackingToken(token, issued.keys)).toEqual(claims);
  });

  it('are what the signers write today, byte for byte', () => {
    for (const { claims, token } of issued.tokens) {
      expect(signTrackingToken(claims, issued.keys)).toBe(token);
      if (claims.kind === 'click') expect(clickTokenSigner(claims.sendId, claims.recipient, issued.keys)!(claims.url)).toBe(token);
    }
  });

  it('fail after any one-character change, and under another key', () => {
    const B64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    for (const { token } of issued.tokens) {
      for (let i = 0; i < token.length; i++) {
        const other = B64URL[(B64URL.indexOf(token[i]!) + 1) % 64]!;
        expect(verifyTrackingToken(token.slice(0, i) + other + token.slice(i + 1), issued.keys)).toBeNull();
      }
      expect(verifyTrackingToken(token, [{ id: issued.keys[0]!.id, secret: 'another secret, 16+ bytes' }])).toBeNull();
    }
  });
});

describe('TrackingLinks.clickUrl with the cached signer', () => {
  it('signs for the send and recipient asked for, when they alternate', () => {
    const links = new TrackingLinks('https://t.example', KEYS);
    const url = 'https://shop.example/p?a=1';
    for (const [sendId, recipient] of [['A1', 'a@example.org'], ['A1', 'b@example.org'], ['B2', 'b@example.org'], ['A1', 'a@example.org']] as const) {
      const c = links.clickUrl(sendId, recipient, url)!;
      expect(verifyTrackingToken(c.slice('https://t.example/c/'.length), KEYS)).toEqual({ kind: 'click', sendId, recipient, url });
    }
    expect(links.clickUrl('A1', 'a@example.org', 'ftp://x.example/')).toBeNull();
  });
});
