import { createHash, createHmac } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { HmacKey } from '../../../src/lib/hmac-keys.js';
import {
  MAX_ADDRESS_LENGTH,
  MAX_TRACKED_URL_LENGTH,
  MAX_TRACKING_SEND_ID_BYTES,
  MAX_TRACKING_TOKEN_LENGTH,
} from '../../../src/lib/limits.js';
import { CLICK_PATH, OPEN_PATH, TrackingLinks } from '../../../src/tracking/links.js';
import {
  TRACKING_MAC_BYTES,
  redirectLocation,
  signTrackingToken,
  verifyTrackingToken,
  type TrackingClaims,
} from '../../../src/tracking/token.js';
import { InvariantError } from '../../../src/lib/errors.js';

const k1: HmacKey = { id: 'k1', secret: 'first secret, 16+ bytes long' };
const k2: HmacKey = { id: 'k2', secret: 'second secret, also long enough' };
const KEYS = [k1];
const QUEUE_ID = '4jXQZB3dVKzJ9Ft';
const RCPT = 'alice@example.org';
const URL1 = 'https://shop.example/a%2Fb?b=2&a=1#frag';

const open = (sendId = QUEUE_ID, recipient = RCPT): TrackingClaims => ({ kind: 'open', sendId, recipient });
const click = (url = URL1, sendId = QUEUE_ID, recipient = RCPT): TrackingClaims => ({ kind: 'click', sendId, recipient, url });

function sign(claims: TrackingClaims, keys: readonly HmacKey[] = KEYS): string {
  const t = signTrackingToken(claims, keys);
  if (t === null) throw new Error('expected a token');
  return t;
}

// ---- independent reference implementation of the documented layout -----------------------
function lengthPrefixed(parts: string[], width: 2 | 4): Buffer {
  return Buffer.concat(
    parts.flatMap((p) => {
      const bytes = Buffer.from(p, 'utf8');
      const len = Buffer.alloc(width);
      if (width === 4) len.writeUInt32BE(bytes.length);
      else len.writeUInt16BE(bytes.length);
      return [len, bytes];
    }),
  );
}

function refToken(key: HmacKey, c: TrackingClaims): string {
  const tag = createHash('sha256').update(lengthPrefixed(['trxmail/tracking-key-tag', key.id], 4)).digest().subarray(0, 2);
  const fields = c.kind === 'click' ? [c.sendId, c.recipient, c.url] : [c.sendId, c.recipient];
  const mac = createHmac('sha256', key.secret)
    .update(lengthPrefixed(['trxmail/tracking-token', '1', c.kind, ...fields], 4))
    .digest()
    .subarray(0, 16);
  return Buffer.concat([Buffer.from([1]), tag, Buffer.from([c.kind === 'open' ? 1 : 2]), lengthPrefixed(fields, 2), mac]).toString('base64url');
}

const B64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

// ---- arbitraries --------------------------------------------------------------------------
const sendIdArb = fc.string({ unit: fc.constantFrom(...'0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz'), minLength: 1, maxLength: 24 });
const recipientArb = fc.emailAddress().filter((a) => a.length <= MAX_ADDRESS_LENGTH);
const pathArb = fc.string({ unit: fc.constantFrom(...'abcXYZ019-._~!$&\'()*+,;=:@/%?#éü€😀 '), maxLength: 60 });
const urlArb = fc
  .tuple(fc.constantFrom('http://', 'https://', 'HTTPS://'), fc.constantFrom('shop.example', 'bücher.example', 'xn--bcher-kva.example', '[::1]', '127.0.0.1', 'Sub.Example.COM:8443'), pathArb)
  .map(([s, h, p]) => `${s}${h}/${p}`)
  .filter((u) => redirectLocation(u) !== null);

describe('tracking token format', () => {
  it('matches the documented layout, checked by an independent implementation', () => {
    expect(sign(open())).toBe(refToken(k1, open()));
    expect(sign(click())).toBe(refToken(k1, click()));
    expect(sign(click('https://bücher.example/ä?q=€'))).toBe(refToken(k1, click('https://bücher.example/ä?q=€')));
    expect(TRACKING_MAC_BYTES * 8).toBeGreaterThanOrEqual(128);
  });

  it('is URL-safe base64url without padding', () => {
    fc.assert(
      fc.property(sendIdArb, recipientArb, urlArb, (sendId, recipient, url) => {
        expect(sign(click(url, sendId, recipient))).toMatch(/^[A-Za-z0-9_-]+$/);
        expect(sign(open(sendId, recipient))).toMatch(/^[A-Za-z0-9_-]+$/);
      }),
    );
  });
});

describe('tracking token round trip', () => {
  it('verifies what it signs, for many ids, addresses and URLs (the URL exactly)', () => {
    fc.assert(
      fc.property(sendIdArb, recipientArb, urlArb, (sendId, recipient, url) => {
        expect(verifyTrackingToken(sign(open(sendId, recipient)), KEYS)).toEqual({ kind: 'open', sendId, recipient });
        const got = verifyTrackingToken(sign(click(url, sendId, recipient)), KEYS);
        expect(got).toEqual({ kind: 'click', sendId, recipient, url });
      }),
    );
  });

  it.each([
    ['percent-encoded slash', 'https://shop.example/a%2Fb/c'],
    ['query order', 'https://shop.example/?b=2&a=1&b=3'],
    ['fragment', 'https://shop.example/page#section-2'],
    ['nested encoded URL', 'https://r.example/go?u=https%3A%2F%2Fx.example%2Fa%3Fb%3D1%26c%3D2&x=%25'],
    ['unicode IDN host', 'https://bücher.example/straße?q=ä#ü'],
    ['upper-case scheme and host', 'HTTP://SHOP.Example:8080/A'],
    ['lower-case percent escapes', 'https://shop.example/%c3%a4'],
    ['empty query and fragment', 'https://shop.example/?#'],
    ['BOM in path', 'https://shop.example/\ufeffx'],
  ])('keeps a tricky URL exactly (%s)', (_label, url) => {
    expect(verifyTrackingToken(sign(click(url)), KEYS)).toEqual(click(url));
  });
});

describe('tracking token tampering', () => {
  it('fails every single-character change, for an open and a click token', () => {
    for (const claims of [open(), click()]) {
      const token = sign(claims);
      for (let i = 0; i < token.length; i++) {
        for (const ch of B64URL) {
          if (ch === token[i]) continue;
          const edited = token.slice(0, i) + ch + token.slice(i + 1);
          expect(verifyTrackingToken(edited, KEYS), `position ${i} -> ${ch}`).toBeNull();
        }
      }
    }
  });

  it('fails every truncation, every extension and an inserted or deleted character', () => {
    const token = sign(click());
    for (let n = 0; n < token.length; n++) expect(verifyTrackingToken(token.slice(0, n), KEYS)).toBeNull();
    for (const tail of ['A', 'AA', 'AAA', 'AAAA', '_']) expect(verifyTrackingToken(token + tail, KEYS)).toBeNull();
    for (let i = 0; i < token.length; i++) {
      expect(verifyTrackingToken(token.slice(0, i) + token.slice(i + 1), KEYS)).toBeNull();
      expect(verifyTrackingToken(token.slice(0, i) + 'Q' + token.slice(i), KEYS)).toBeNull();
    }
  });

  it('does not verify as the other kind: kind byte flipped, or a click token re-labelled', () => {
    const bytes = Buffer.from(sign(click()), 'base64url');
    bytes[3] = 1;
    expect(verifyTrackingToken(bytes.toString('base64url'), KEYS)).toBeNull();
    const openBytes = Buffer.from(sign(open()), 'base64url');
    openBytes[3] = 2;
    expect(verifyTrackingToken(openBytes.toString('base64url'), KEYS)).toBeNull();
    expect(verifyTrackingToken(sign(open()), KEYS)?.kind).toBe('open');
    expect(verifyTrackingToken(sign(click()), KEYS)?.kind).toBe('click');
  });

  it('refuses a forged token: right layout, MAC from a key not configured', () => {
    const forged = refToken({ id: 'k1', secret: 'attacker secret, 16+ bytes' }, click('https://evil.example/'));
    expect(verifyTrackingToken(forged, KEYS)).toBeNull();
    // swapping the URL of a genuine token
    const genuine = Buffer.from(sign(click('https://shop.example/aaaa')), 'base64url');
    const swapped = Buffer.from(genuine.toString('latin1').replace('shop.example/aaaa', 'evil.example/aaaa'), 'latin1');
    expect(swapped.length).toBe(genuine.length);
    expect(verifyTrackingToken(swapped.toString('base64url'), KEYS)).toBeNull();
  });

  it('refuses the unused bits of the last character set (one encoding per token)', () => {
    // Find a token whose byte length leaves unused bits in the last character.
    let token = sign(open());
    for (let n = 1; Buffer.from(token, 'base64url').length % 3 === 0; n++) token = sign(open(QUEUE_ID + 'x'.repeat(n)));
    const last = token.at(-1)!;
    const value = B64URL.indexOf(last);
    const noisy = B64URL[value | 1] === last ? B64URL[value ^ 1]! : B64URL[value | 1]!;
    expect(Buffer.from(token.slice(0, -1) + noisy, 'base64url').equals(Buffer.from(token, 'base64url'))).toBe(true);
    expect(verifyTrackingToken(token.slice(0, -1) + noisy, KEYS)).toBeNull();
  });

  it('refuses layouts a valid MAC cannot rescue: bad version, kind, lengths, UTF-8', () => {
    const withMac = (body: Buffer, key = k1): string => {
      const tag = Buffer.from(refToken(key, open()), 'base64url').subarray(1, 3);
      return Buffer.concat([Buffer.from([body[0]!]), tag, body.subarray(1), Buffer.alloc(16)]).toString('base64url');
    };
    const fields = (...parts: Buffer[]): Buffer =>
      Buffer.concat(parts.flatMap((p) => [Buffer.from([p.length >> 8, p.length & 255]), p]));
    const s = Buffer.from(QUEUE_ID);
    const r = Buffer.from(RCPT);
    for (const body of [
      Buffer.concat([Buffer.from([2, 1]), fields(s, r)]), // version 2
      Buffer.concat([Buffer.from([1, 3]), fields(s, r)]), // kind 3
      Buffer.concat([Buffer.from([1, 1]), fields(s)]), // one field missing
      Buffer.concat([Buffer.from([1, 1]), fields(s, r, r)]), // one field too many
      Buffer.concat([Buffer.from([1, 1]), fields(Buffer.alloc(0), r)]), // empty send id
      Buffer.concat([Buffer.from([1, 1]), fields(Buffer.from([0xc3, 0x28]), r)]), // invalid UTF-8
      Buffer.concat([Buffer.from([1, 1]), fields(Buffer.from('a\nb'), r)]), // control character
      Buffer.concat([Buffer.from([1, 2]), fields(s, r, Buffer.from('javascript:alert(1)'))]), // not http(s)
    ]) {
      expect(verifyTrackingToken(withMac(body), KEYS)).toBeNull();
    }
  });
});

describe('tracking token key rotation', () => {
  it('signs with the first key; every configured key verifies', () => {
    const old = sign(click(), [k1]);
    const fresh = sign(click(), [k2, k1]);
    expect(fresh).toBe(refToken(k2, click()));
    expect(verifyTrackingToken(old, [k2, k1])).toEqual(click());
    expect(verifyTrackingToken(fresh, [k2, k1])).toEqual(click());
    expect(verifyTrackingToken(fresh, [k1, k2])).toEqual(click());
  });

  it('retires tokens of a removed key', () => {
    const old = sign(open(), [k1]);
    expect(verifyTrackingToken(old, [k2])).toBeNull();
    expect(verifyTrackingToken(old, [])).toBeNull();
  });

  it('tries every key sharing a tag (same id, new secret)', () => {
    const k1b: HmacKey = { id: 'k1', secret: 'k1 re-issued secret, 16+ bytes' };
    const token = sign(open(), [k1]);
    expect(verifyTrackingToken(token, [k1b, k1])).toEqual(open());
    expect(verifyTrackingToken(token, [k1b])).toBeNull();
  });

  it('cannot sign without a key', () => {
    expect(signTrackingToken(open(), [])).toBeNull();
  });
});

describe('tracking token limits', () => {
  it(`MAX_TRACKED_URL_LENGTH: a URL of ${MAX_TRACKED_URL_LENGTH} bytes is signed, one more is not`, () => {
    const prefix = 'https://shop.example/';
    const longest = prefix + 'a'.repeat(MAX_TRACKED_URL_LENGTH - prefix.length);
    expect(verifyTrackingToken(sign(click(longest)), KEYS)).toEqual(click(longest));
    expect(signTrackingToken(click(longest + 'a'), KEYS)).toBeNull();
    // counted in UTF-8 bytes: one 2-byte character in place of an 'a' is one byte too many
    expect(signTrackingToken(click(longest.slice(0, -1) + 'é'), KEYS)).toBeNull();
  });

  it('MAX_TRACKING_SEND_ID_BYTES and MAX_ADDRESS_LENGTH bound the ids', () => {
    const id = 'A'.repeat(MAX_TRACKING_SEND_ID_BYTES);
    expect(verifyTrackingToken(sign(open(id)), KEYS)).toEqual(open(id));
    expect(signTrackingToken(open(id + 'A'), KEYS)).toBeNull();
    const rcpt = 'a'.repeat(MAX_ADDRESS_LENGTH - '@example.org'.length) + '@example.org';
    expect(verifyTrackingToken(sign(open(QUEUE_ID, rcpt)), KEYS)).toEqual(open(QUEUE_ID, rcpt));
    expect(signTrackingToken(open(QUEUE_ID, 'a' + rcpt), KEYS)).toBeNull();
  });

  it('MAX_TRACKING_TOKEN_LENGTH: the longest signable token fits; a longer input is refused unread', () => {
    const longestUrl = 'https://shop.example/' + 'a'.repeat(MAX_TRACKED_URL_LENGTH - 21);
    const rcpt = 'a'.repeat(MAX_ADDRESS_LENGTH - '@example.org'.length) + '@example.org';
    const token = sign(click(longestUrl, 'A'.repeat(MAX_TRACKING_SEND_ID_BYTES), rcpt));
    expect(token.length).toBe(3192);
    expect(token.length).toBeLessThanOrEqual(MAX_TRACKING_TOKEN_LENGTH);
    expect(verifyTrackingToken('A'.repeat(MAX_TRACKING_TOKEN_LENGTH + 1), KEYS)).toBeNull();
  });
});

describe('tracking token: what can be signed', () => {
  it.each([
    ['not http(s)', 'ftp://shop.example/'],
    ['javascript', 'javascript:alert(1)'],
    ['mailto', 'mailto:a@example.org'],
    ['relative', '/path'],
    ['scheme without slashes', 'https:shop.example'],
    ['leading space', ' https://shop.example/'],
    ['trailing space (WHATWG strips it)', 'https://shop.example/a '],
    ['newline', 'https://shop.example/a\nb'],
    ['tab', 'https://shop.example/a\tb'],
    ['NUL', 'https://shop.example/\u0000'],
    ['no host', 'https:///path'],
    ['unparseable host', 'https://exa mple.com/'],
    ['bad port', 'https://shop.example:99999/'],
    ['lone surrogate', 'https://shop.example/\ud800'],
    ['empty', ''],
  ])('does not sign a click to %s', (_label, url) => {
    expect(signTrackingToken(click(url), KEYS)).toBeNull();
    expect(redirectLocation(url)).toBeNull();
  });

  it.each([
    ['empty send id', open('')],
    ['control in send id', open('a\r\nb')],
    ['empty recipient', open(QUEUE_ID, '')],
    ['control in recipient', open(QUEUE_ID, 'a\u0000@example.org')],
    ['lone surrogate in recipient', open(QUEUE_ID, '\udc00@example.org')],
  ])('does not sign %s', (_label, claims) => {
    expect(signTrackingToken(claims, KEYS)).toBeNull();
  });

  it('never throws on garbage, for signing or verifying', () => {
    const garbage: unknown[] = [undefined, null, 0, 1n, {}, [], 'x', '!!!!', '====', 'AAAA', '\u0000', Symbol('s'), () => 1, new Date()];
    for (const g of garbage) {
      expect(verifyTrackingToken(g, KEYS)).toBeNull();
      expect(verifyTrackingToken(sign(open()), g as readonly HmacKey[])).toBeNull();
      expect(signTrackingToken(g as TrackingClaims, KEYS)).toBeNull();
      expect(signTrackingToken({ kind: 'click', sendId: QUEUE_ID, recipient: RCPT, url: g } as unknown as TrackingClaims, KEYS)).toBeNull();
      expect(signTrackingToken(open(), g as readonly HmacKey[])).toBeNull();
      expect(redirectLocation(g)).toBeNull();
    }
    expect(verifyTrackingToken(sign(open()), [null, 1, { id: 1 }, k1] as unknown as HmacKey[])).toEqual(open());
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), (s) => {
        expect(verifyTrackingToken(s, KEYS)).toBeNull();
      }),
    );
  });
});

describe('redirectLocation', () => {
  it('returns an ASCII URL byte for byte', () => {
    for (const url of [URL1, 'HTTP://SHOP.Example:8080/A/../b?x=%zz&&#', 'https://u:p@shop.example/a"b<c>{d}|e\\f^g`h']) {
      expect(redirectLocation(url)).toBe(url);
    }
  });

  it('writes a non-ASCII URL the way a browser requests it, and it is the same URL', () => {
    expect(redirectLocation('https://bücher.example/straße?q=ä#ü')).toBe('https://xn--bcher-kva.example/stra%C3%9Fe?q=%C3%A4#%C3%BC');
    expect(redirectLocation('https://BÜCHER.example:8443/x')).toBe('https://xn--bcher-kva.example:8443/x');
    expect(redirectLocation('https://üser@shop.example/€ x')).toBe('https://%C3%BCser@shop.example/%E2%82%AC%20x');
    fc.assert(
      fc.property(urlArb, (url) => {
        const loc = redirectLocation(url)!;
        expect(loc).toMatch(/^[\x21-\x7e]+$/);
        expect(new URL(loc).href).toBe(new URL(url).href);
      }),
    );
  });
});

describe('TrackingLinks', () => {
  it('builds pixel and click URLs under the base URL, with or without a path prefix', () => {
    for (const base of ['https://t.example.com', 'https://t.example.com/', 'https://t.example.com/mail/']) {
      const links = new TrackingLinks(base, KEYS);
      const prefix = base.replace(/\/+$/, '');
      const pixel = links.pixelUrl(QUEUE_ID, RCPT);
      expect(pixel.startsWith(`${prefix}/${OPEN_PATH}/`)).toBe(true);
      expect(verifyTrackingToken(pixel.slice(prefix.length + 3), KEYS)).toEqual(open());
      const c = links.clickUrl(QUEUE_ID, RCPT, URL1)!;
      expect(c.startsWith(`${prefix}/${CLICK_PATH}/`)).toBe(true);
      expect(verifyTrackingToken(c.slice(prefix.length + 3), KEYS)).toEqual(click());
    }
  });

  it('leaves untrackable links alone (null) and refuses unusable set-ups', () => {
    const links = new TrackingLinks('http://127.0.0.1:8080', KEYS);
    expect(links.clickUrl(QUEUE_ID, RCPT, 'mailto:a@example.org')).toBeNull();
    expect(links.clickUrl(QUEUE_ID, RCPT, 'https://shop.example/' + 'a'.repeat(MAX_TRACKED_URL_LENGTH))).toBeNull();
    expect(() => links.pixelUrl('', RCPT)).toThrow(InvariantError);
    expect(() => new TrackingLinks('http://127.0.0.1:8080', [])).toThrow(InvariantError);
    for (const bad of ['ftp://x.example', 'not a url', 'https://x.example/?q', 'https://x.example/#f', '/relative']) {
      expect(() => new TrackingLinks(bad, KEYS)).toThrow(InvariantError);
    }
  });
});
