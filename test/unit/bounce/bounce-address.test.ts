import { createHmac } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  BOUNCE_KEY_TAG_CHARS,
  BOUNCE_MAC_CHARS,
  MAX_BOUNCE_SPACE_ID,
  SEND_ID_ALPHABET,
  copySendId,
  decodeBounceAddress,
  encodeBounceAddress,
  isBounceSendId,
  sendOfBounceId,
  type BounceDecodeFailure,
} from '../../../src/bounce/bounce-address.js';
import { InvariantError } from '../../../src/lib/errors.js';
import type { HmacKey } from '../../../src/lib/hmac-keys.js';
import { MAX_BOUNCE_SEND_ID_LENGTH, MAX_LOCAL_PART_LENGTH } from '../../../src/lib/limits.js';

const DOMAIN = 'bounces.example';
const k1: HmacKey = { id: 'k1', secret: 'first secret, 16+ bytes long' };
const k2: HmacKey = { id: 'k2', secret: 'second secret, also long enough' };
const KEYS = [k1];
const QUEUE_ID = '4jXQZB3dVKzJ9Ft';

// ---- independent reference implementation of the documented layout (BigInt, not bit loops)
const B32 = 'abcdefghijklmnopqrstuvwxyz234567';

function refPack(sendId: string): string {
  let value = 0n;
  for (const ch of sendId) value = value * 64n + BigInt(SEND_ID_ALPHABET.indexOf(ch));
  const chars = Math.ceil((sendId.length * 6) / 5);
  value <<= BigInt(chars * 5 - sendId.length * 6);
  let out = '';
  for (let i = chars - 1; i >= 0; i--) out += B32[Number((value >> BigInt(i * 5)) & 31n)];
  return out;
}

function refTopBits(bytes: Buffer, chars: number): string {
  let value = 0n;
  for (const b of bytes) value = value * 256n + BigInt(b);
  const total = bytes.length * 8;
  let out = '';
  for (let i = 1; i <= chars; i++) out += B32[Number((value >> BigInt(total - 5 * i)) & 31n)];
  return out;
}

function lengthPrefixed(parts: string[]): Buffer {
  return Buffer.concat(
    parts.flatMap((p) => {
      const bytes = Buffer.from(p, 'utf8');
      const len = Buffer.alloc(4);
      len.writeUInt32BE(bytes.length);
      return [len, bytes];
    }),
  );
}

function refMac(secret: string, spaceId: number, sendId: string): string {
  const mac = createHmac('sha256', secret)
    .update(lengthPrefixed(['trxmail/bounce-address', '1', String(spaceId), sendId]))
    .digest();
  return refTopBits(mac, BOUNCE_MAC_CHARS);
}

const sendIdArb = fc.string({ unit: fc.constantFrom(...SEND_ID_ALPHABET), minLength: 1, maxLength: MAX_BOUNCE_SEND_ID_LENGTH });
const spaceIdArb = fc.oneof(fc.integer({ min: 0, max: 1000 }), fc.maxSafeNat());

function localPart(address: string): string {
  return address.slice(0, address.lastIndexOf('@'));
}

function decodeOk(address: string, keys: readonly HmacKey[] = KEYS, domain = DOMAIN) {
  const r = decodeBounceAddress(address, keys, domain);
  if (!r.ok) throw new Error(`expected ${address} to decode, got ${r.reason}`);
  return r;
}

describe('bounce address format', () => {
  it('matches the documented layout, checked by an independent implementation', () => {
    const a = encodeBounceAddress({ spaceId: 42, sendId: QUEUE_ID }, KEYS, DOMAIN);
    const m = /^trx-42-([a-z2-7]+)-([a-z2-7]{2})([a-z2-7]{11})@bounces\.example$/.exec(a);
    expect(m).not.toBeNull();
    expect(m![1]).toBe(refPack(QUEUE_ID));
    expect(m![3]).toBe(refMac(k1.secret, 42, QUEUE_ID));
    expect(BOUNCE_KEY_TAG_CHARS + BOUNCE_MAC_CHARS).toBe(13);
    expect(BOUNCE_MAC_CHARS * 5).toBeGreaterThanOrEqual(50);
  });

  it('packs send ids exactly like the reference for many ids', () => {
    fc.assert(
      fc.property(sendIdArb, (sendId) => {
        const a = encodeBounceAddress({ spaceId: 7, sendId }, KEYS, DOMAIN);
        expect(a.split('-')[2]).toBe(refPack(sendId));
      }),
    );
  });

  it('writes the bounce domain in its normalised form', () => {
    expect(encodeBounceAddress({ spaceId: 1, sendId: 'A' }, KEYS, 'Bounces.EXAMPLE.')).toMatch(/@bounces\.example$/);
    expect(encodeBounceAddress({ spaceId: 1, sendId: 'A' }, KEYS, 'bücher.example')).toMatch(/@xn--bcher-kva\.example$/);
  });
});

describe('bounce address round trip', () => {
  it('decodes what it encodes, also lower-cased and upper-cased, for many ids', () => {
    fc.assert(
      fc.property(spaceIdArb, sendIdArb, (spaceId, sendId) => {
        const a = encodeBounceAddress({ spaceId, sendId }, KEYS, DOMAIN);
        expect(a).toBe(a.toLowerCase());
        expect(localPart(a).length).toBeLessThanOrEqual(MAX_LOCAL_PART_LENGTH);
        for (const variant of [a, a.toLowerCase(), a.toUpperCase()]) {
          expect(decodeBounceAddress(variant, KEYS, DOMAIN)).toEqual({ ok: true, spaceId, sendId, keyId: 'k1' });
        }
      }),
    );
  });

  it('keeps case-sensitive send ids apart: ids differing only in case encode differently', () => {
    const lower = encodeBounceAddress({ spaceId: 1, sendId: 'abc' }, KEYS, DOMAIN);
    const upper = encodeBounceAddress({ spaceId: 1, sendId: 'ABC' }, KEYS, DOMAIN);
    expect(lower).not.toBe(upper);
    expect(decodeOk(lower.toUpperCase()).sendId).toBe('abc');
    expect(decodeOk(upper.toLowerCase()).sendId).toBe('ABC');
  });

  it('accepts the domain in any equivalent form (case, trailing dot, U-label)', () => {
    const a = encodeBounceAddress({ spaceId: 3, sendId: QUEUE_ID }, KEYS, 'bücher.example');
    const local = localPart(a);
    for (const domain of ['xn--bcher-kva.example', 'XN--BCHER-KVA.EXAMPLE', 'bücher.example', 'BÜCHER.example.']) {
      expect(decodeOk(`${local}@${domain}`, KEYS, 'bücher.example').sendId).toBe(QUEUE_ID);
    }
    expect(decodeOk(a, KEYS, 'XN--BCHER-KVA.example.').spaceId).toBe(3);
  });
});

describe('bounce address limits', () => {
  it('fits the longest allowed ids into exactly 64 characters of local part', () => {
    const a = encodeBounceAddress({ spaceId: MAX_BOUNCE_SPACE_ID, sendId: 'z'.repeat(MAX_BOUNCE_SEND_ID_LENGTH) }, KEYS, DOMAIN);
    expect(localPart(a).length).toBe(MAX_LOCAL_PART_LENGTH);
    expect(decodeOk(a).sendId).toBe('z'.repeat(MAX_BOUNCE_SEND_ID_LENGTH));
  });

  it('MAX_BOUNCE_SEND_ID_LENGTH: 24 characters are carried, 25 are refused', () => {
    expect(MAX_BOUNCE_SEND_ID_LENGTH).toBe(24);
    expect(isBounceSendId('A'.repeat(MAX_BOUNCE_SEND_ID_LENGTH))).toBe(true);
    expect(isBounceSendId('A'.repeat(MAX_BOUNCE_SEND_ID_LENGTH + 1))).toBe(false);
    expect(() => encodeBounceAddress({ spaceId: 1, sendId: 'A'.repeat(MAX_BOUNCE_SEND_ID_LENGTH + 1) }, KEYS, DOMAIN)).toThrow(InvariantError);
  });

  it('covers Postfix queue ids, long (up to 23 characters) and short (hex)', () => {
    for (const id of [QUEUE_ID, '4Ysg1b6vJ0zJqYb', '4jXQZB3dVKz' + 'yyyyyyyyyyyy', '3F1A2B4C5D', 'ABCDEF012345']) {
      expect(isBounceSendId(id)).toBe(true);
      expect(decodeOk(encodeBounceAddress({ spaceId: 9, sendId: id }, KEYS, DOMAIN)).sendId).toBe(id);
    }
  });

  it('refuses to encode ids, keys or domains outside the format', () => {
    const bad: [string, () => string][] = [
      ['negative space', () => encodeBounceAddress({ spaceId: -1, sendId: 'A' }, KEYS, DOMAIN)],
      ['fractional space', () => encodeBounceAddress({ spaceId: 1.5, sendId: 'A' }, KEYS, DOMAIN)],
      ['NaN space', () => encodeBounceAddress({ spaceId: Number.NaN, sendId: 'A' }, KEYS, DOMAIN)],
      ['unsafe space', () => encodeBounceAddress({ spaceId: MAX_BOUNCE_SPACE_ID + 1, sendId: 'A' }, KEYS, DOMAIN)],
      ['empty send id', () => encodeBounceAddress({ spaceId: 1, sendId: '' }, KEYS, DOMAIN)],
      ['dash in send id', () => encodeBounceAddress({ spaceId: 1, sendId: 'AB-C' }, KEYS, DOMAIN)],
      ['non-ASCII send id', () => encodeBounceAddress({ spaceId: 1, sendId: 'Aü' }, KEYS, DOMAIN)],
      ['no keys', () => encodeBounceAddress({ spaceId: 1, sendId: 'A' }, [], DOMAIN)],
      ['bad domain', () => encodeBounceAddress({ spaceId: 1, sendId: 'A' }, KEYS, 'not a domain')],
      ['literal domain', () => encodeBounceAddress({ spaceId: 1, sendId: 'A' }, KEYS, '[127.0.0.1]')],
    ];
    for (const [name, f] of bad) expect(f, name).toThrow(InvariantError);
  });
});

describe('bounce address check', () => {
  const good = encodeBounceAddress({ spaceId: 42, sendId: QUEUE_ID }, KEYS, DOMAIN);
  const [pre, space, packed, check] = localPart(good).split('-') as [string, string, string, string];
  const tag = check.slice(0, BOUNCE_KEY_TAG_CHARS);

  it('refuses a forged check', () => {
    const forged = [
      refMac('some other secret entirely', 42, QUEUE_ID),
      'a'.repeat(BOUNCE_MAC_CHARS),
      refMac(k1.secret, 43, QUEUE_ID), // right key, other space
      refMac(k1.secret, 42, QUEUE_ID.toLowerCase()), // right key, other send id
    ];
    for (const mac of forged) {
      expect(decodeBounceAddress(`${pre}-${space}-${packed}-${tag}${mac}@${DOMAIN}`, KEYS, DOMAIN)).toEqual({ ok: false, reason: 'bad-check' });
    }
    // A valid check of one send moved onto another.
    const other = encodeBounceAddress({ spaceId: 42, sendId: 'Other1' }, KEYS, DOMAIN);
    expect(decodeBounceAddress(`${pre}-${space}-${packed}-${localPart(other).split('-')[3]!}@${DOMAIN}`, KEYS, DOMAIN)).toEqual({
      ok: false,
      reason: 'bad-check',
    });
  });

  it('refuses the address once any character is changed', () => {
    const replacements = ['a', 'q', 'z', '2', '7', '0', '9', '1', '-', '.', '@', '_', '+'];
    let tried = 0;
    for (let i = 0; i < good.length; i++) {
      for (const r of replacements) {
        if (r.toLowerCase() === good[i]!.toLowerCase()) continue;
        const flipped = good.slice(0, i) + r + good.slice(i + 1);
        const result = decodeBounceAddress(flipped, KEYS, DOMAIN);
        expect(result.ok, `${flipped}`).toBe(false);
        tried++;
      }
    }
    expect(tried).toBeGreaterThan(good.length * 10);
  });

  it('refuses random single-character changes (property)', () => {
    fc.assert(
      fc.property(spaceIdArb, sendIdArb, fc.nat(), fc.string({ minLength: 1, maxLength: 1 }), (spaceId, sendId, at, r) => {
        const a = encodeBounceAddress({ spaceId, sendId }, KEYS, DOMAIN);
        const i = at % a.length;
        fc.pre(r.toLowerCase() !== a[i]!.toLowerCase());
        expect(decodeBounceAddress(a.slice(0, i) + r + a.slice(i + 1), KEYS, DOMAIN).ok).toBe(false);
      }),
    );
  });
});

describe('bounce address key rotation', () => {
  const ref = { spaceId: 5, sendId: QUEUE_ID };

  it('verifies addresses signed with the new key and with the old key', () => {
    const byK2 = encodeBounceAddress(ref, [k2, k1], DOMAIN);
    const byK1 = encodeBounceAddress(ref, [k1], DOMAIN);
    expect(byK2).not.toBe(byK1);
    expect(decodeOk(byK2, [k2, k1])).toMatchObject({ keyId: 'k2', sendId: QUEUE_ID, spaceId: 5 });
    expect(decodeOk(byK1, [k2, k1])).toMatchObject({ keyId: 'k1', sendId: QUEUE_ID, spaceId: 5 });
  });

  it('reports unknown-key once the signing key is removed', () => {
    const byK1 = encodeBounceAddress(ref, [k1], DOMAIN);
    expect(decodeBounceAddress(byK1, [k2], DOMAIN)).toEqual({ ok: false, reason: 'unknown-key' });
    expect(decodeBounceAddress(byK1, [], DOMAIN)).toEqual({ ok: false, reason: 'unknown-key' });
  });

  it('reports bad-check when a key id is reused with a new secret', () => {
    const byK1 = encodeBounceAddress(ref, [k1], DOMAIN);
    expect(decodeBounceAddress(byK1, [{ id: 'k1', secret: 'a brand new secret value' }], DOMAIN)).toEqual({ ok: false, reason: 'bad-check' });
  });

  it('tries every key whose id shares the tag', () => {
    const tagOf = (id: string): string => localPart(encodeBounceAddress(ref, [{ id, secret: k1.secret }], DOMAIN)).split('-')[3]!.slice(0, 2);
    const target = tagOf('k1');
    let twin: string | null = null;
    for (let i = 0; i < 100_000 && twin === null; i++) if (`t${i}` !== 'k1' && tagOf(`t${i}`) === target) twin = `t${i}`;
    expect(twin).not.toBeNull();
    const twinKey = { id: twin!, secret: 'the twin key has its own secret' };
    const byK1 = encodeBounceAddress(ref, [k1], DOMAIN);
    const byTwin = encodeBounceAddress(ref, [twinKey], DOMAIN);
    for (const keys of [
      [twinKey, k1],
      [k1, twinKey],
    ]) {
      expect(decodeOk(byK1, keys).keyId).toBe('k1');
      expect(decodeOk(byTwin, keys).keyId).toBe(twin);
    }
    expect(decodeBounceAddress(byK1, [twinKey], DOMAIN)).toEqual({ ok: false, reason: 'bad-check' });
  });
});

describe('bounce address garbage', () => {
  const good = encodeBounceAddress({ spaceId: 42, sendId: QUEUE_ID }, KEYS, DOMAIN);
  const [, , packed, check] = localPart(good).split('-') as [string, string, string, string];

  it('refuses each bad input with the right reason and never throws', () => {
    const cases: [unknown, BounceDecodeFailure][] = [
      ['', 'malformed'],
      ['@', 'malformed'],
      ['no-at-sign', 'malformed'],
      [`trx-42-${packed}-${check}`, 'malformed'],
      [`@${DOMAIN}`, 'malformed'],
      [`trx-42-${packed}-${check}@`, 'malformed'],
      [`${'x'.repeat(300)}@${DOMAIN}`, 'malformed'],
      [null, 'malformed'],
      [undefined, 'malformed'],
      [42, 'malformed'],
      [{ toString: () => good }, 'malformed'],
      [`postmaster@${DOMAIN}`, 'not-ours'],
      [`MAILER-DAEMON@${DOMAIN}`, 'not-ours'],
      [`trx_42-${packed}-${check}@${DOMAIN}`, 'not-ours'],
      [`tr-42-${packed}-${check}@${DOMAIN}`, 'not-ours'],
      [`\u212Arx-42-${packed}-${check}@${DOMAIN}`, 'not-ours'],
      [`"trx-42-${packed}-${check}"@${DOMAIN}`, 'not-ours'],
      [`trx-42-${packed}-${check}@other.example`, 'wrong-domain'],
      [`trx-42-${packed}-${check}@sub.${DOMAIN}`, 'wrong-domain'],
      [`trx-42-${packed}-${check}@${DOMAIN}.evil.test`, 'wrong-domain'],
      [`trx-42-${packed}-${check}@[127.0.0.1]`, 'wrong-domain'],
      [`trx-42-${packed}@${DOMAIN}`, 'malformed'],
      [`trx-42-${packed}-${check}-x@${DOMAIN}`, 'malformed'],
      [`trx--42-${packed}-${check}@${DOMAIN}`, 'malformed'],
      [`trx-042-${packed}-${check}@${DOMAIN}`, 'malformed'],
      [`trx-+42-${packed}-${check}@${DOMAIN}`, 'malformed'],
      [`trx-4e1-${packed}-${check}@${DOMAIN}`, 'malformed'],
      [`trx-9007199254740992-${packed}-${check}@${DOMAIN}`, 'malformed'],
      [`trx-12345678901234567-${packed}-${check}@${DOMAIN}`, 'malformed'],
      [`trx-42--${check}@${DOMAIN}`, 'malformed'],
      [`trx-42-a-${check}@${DOMAIN}`, 'malformed'], // 5 bits: no character
      [`trx-42-ab-${check}@${DOMAIN}`, 'malformed'], // padding bits not zero
      [`trx-42-77-${check}@${DOMAIN}`, 'malformed'], // index 63 is not in the alphabet
      [`trx-42-a1-${check}@${DOMAIN}`, 'malformed'], // '1' is not base32
      [`trx-42-${packed}a-${check}@${DOMAIN}`, 'malformed'], // non-canonical length
      [`trx-42-${'a'.repeat(30)}-${check}@${DOMAIN}`, 'malformed'], // 25 characters
      [`trx-42-${packed}-${check.slice(1)}@${DOMAIN}`, 'malformed'],
      [`trx-42-${packed}-${check}a@${DOMAIN}`, 'malformed'],
      [`trx-42-${packed}-${check.slice(0, 12)}0@${DOMAIN}`, 'malformed'],
      [`trx-1234567890-${'a'.repeat(40)}-${check}@${DOMAIN}`, 'malformed'], // local part over 64
      [`trx-42-${packed}-${check}@${DOMAIN}`.replace('-', '\u00ad'), 'not-ours'],
    ];
    for (const [input, reason] of cases) {
      expect(decodeBounceAddress(input, KEYS, DOMAIN), String(input)).toEqual({ ok: false, reason });
    }
  });

  it('answers wrong-domain when its own bounce domain is unusable', () => {
    expect(decodeBounceAddress(good, KEYS, 'not a domain')).toEqual({ ok: false, reason: 'wrong-domain' });
  });

  it('never throws on arbitrary strings', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.string({ unit: fc.constantFrom(...'trx-@.027aqzTRX\u212a\u00ad\u00fc\0 ') }), fc.constantFrom(good, good.toUpperCase())), fc.string({ maxLength: 3 }), (s, tail) => {
        const r = decodeBounceAddress(s + tail, KEYS, DOMAIN);
        expect(typeof r.ok).toBe('boolean');
      }),
    );
  });
});

describe('the BCC copy bounce address', () => {
  it('round-trips <queue id>_b and maps it back to the send', () => {
    const keys = [{ id: 'k1', secret: 'a-secret-of-enough-bytes' }];
    const id = copySendId('4jXQZB3dVKzJ9Ft');
    const addr = encodeBounceAddress({ spaceId: 7, sendId: id }, keys, 'bounces.example');
    const d = decodeBounceAddress(addr.toUpperCase(), keys, 'bounces.example');
    expect(d).toMatchObject({ ok: true, spaceId: 7, sendId: '4jXQZB3dVKzJ9Ft_b' });
    expect(sendOfBounceId('4jXQZB3dVKzJ9Ft_b')).toEqual({ sendId: '4jXQZB3dVKzJ9Ft', bccCopy: true });
    expect(sendOfBounceId('4jXQZB3dVKzJ9Ft')).toEqual({ sendId: '4jXQZB3dVKzJ9Ft', bccCopy: false });
    expect(decodeBounceAddress(encodeBounceAddress({ spaceId: 7, sendId: '4jXQZB3dVKzJ9Ft' }, keys, 'bounces.example'), keys, 'bounces.example')).toMatchObject({ sendId: '4jXQZB3dVKzJ9Ft' });
  });
});
