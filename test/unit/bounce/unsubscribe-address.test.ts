import { describe, expect, it } from 'vitest';
import { encodeBounceAddress } from '../../../src/bounce/bounce-address.js';
import {
  MAX_UNSUBSCRIBE_SPACE_DIGITS,
  UNSUBSCRIBE_PREFIX,
  decodeUnsubscribeAddress,
  encodeUnsubscribeAddress,
  unsubscribeMailto,
} from '../../../src/bounce/unsubscribe-address.js';
import type { HmacKey } from '../../../src/lib/hmac-keys.js';
import { MAX_BOUNCE_SEND_ID_LENGTH, MAX_LOCAL_PART_LENGTH } from '../../../src/lib/limits.js';
import { signUnsubscribeToken } from '../../../src/tracking/unsubscribe-token.js';

const DOMAIN = 'bounces.example';
const k1: HmacKey = { id: 'k1', secret: 'first secret, 16+ bytes long' };
const k2: HmacKey = { id: 'k2', secret: 'second secret, also long enough' };
const QUEUE_ID = '4jXQZB3dVKzJ9Ft';
const LONGEST_SEND = 'Z'.repeat(MAX_BOUNCE_SEND_ID_LENGTH);

function addr(spaceId = 42, sendId = QUEUE_ID, keys: readonly HmacKey[] = [k1], domain = DOMAIN): string {
  const a = encodeUnsubscribeAddress({ spaceId, sendId }, keys, domain);
  if (a === null) throw new Error('not encoded');
  return a;
}

describe('unsubscribe addresses', () => {
  it('round-trip: unsub-<space>-<send>-<check>@domain, lower case, verified by every configured key', () => {
    const a = addr();
    expect(a).toMatch(/^unsub-42-[a-z2-7]+-[a-z2-7]{13}@bounces\.example$/);
    expect(decodeUnsubscribeAddress(a, [k1], DOMAIN)).toEqual({ ok: true, spaceId: 42, sendId: QUEUE_ID, keyId: 'k1' });
    // Rotation: k2 signs now, k1 still verifies its older addresses.
    expect(decodeUnsubscribeAddress(a, [k2, k1], DOMAIN)).toMatchObject({ ok: true, keyId: 'k1' });
    // MTAs may change the case of the local part and of the domain.
    expect(decodeUnsubscribeAddress(a.toUpperCase(), [k1], DOMAIN)).toMatchObject({ ok: true, sendId: QUEUE_ID });
    expect(unsubscribeMailto(a)).toBe(`mailto:${a}?subject=unsubscribe`);
  });

  it('refuses forged and edited addresses', () => {
    const a = addr();
    expect(decodeUnsubscribeAddress(addr(42, QUEUE_ID, [{ id: 'k1', secret: 'another secret, long enough' }]), [k1], DOMAIN)).toEqual({ ok: false, reason: 'bad-check' });
    expect(decodeUnsubscribeAddress(addr(42, QUEUE_ID, [k2]), [k1], DOMAIN)).toEqual({ ok: false, reason: 'unknown-key' });
    // Another space, another send, one changed check character.
    expect(decodeUnsubscribeAddress(a.replace('unsub-42-', 'unsub-43-'), [k1], DOMAIN)).toEqual({ ok: false, reason: 'bad-check' });
    const [local = '', domain = ''] = a.split('@');
    const last = local.at(-1) === 'a' ? 'b' : 'a';
    expect(decodeUnsubscribeAddress(`${local.slice(0, -1)}${last}@${domain}`, [k1], DOMAIN)).toEqual({ ok: false, reason: 'bad-check' });
    expect(decodeUnsubscribeAddress(a, [k1], 'other.example')).toEqual({ ok: false, reason: 'wrong-domain' });
    expect(decodeUnsubscribeAddress(`${local}x@${domain}`, [k1], DOMAIN)).toEqual({ ok: false, reason: 'malformed' });
    expect(decodeUnsubscribeAddress('unsub-42@bounces.example', [k1], DOMAIN)).toEqual({ ok: false, reason: 'malformed' });
    expect(decodeUnsubscribeAddress('nobody@bounces.example', [k1], DOMAIN)).toEqual({ ok: false, reason: 'not-ours' });
    expect(decodeUnsubscribeAddress(42, [k1], DOMAIN)).toEqual({ ok: false, reason: 'malformed' });
  });

  it('a bounce address with the same ids never verifies as an unsubscribe address, nor the reverse, nor an unsubscribe URL token', () => {
    const bounce = encodeBounceAddress({ spaceId: 42, sendId: QUEUE_ID }, [k1], DOMAIN);
    const local = bounce.split('@')[0]!.slice('trx-'.length);
    expect(decodeUnsubscribeAddress(`${UNSUBSCRIBE_PREFIX}${local}@${DOMAIN}`, [k1], DOMAIN)).toEqual({ ok: false, reason: 'bad-check' });
    const token = signUnsubscribeToken({ spaceId: 42, sendId: QUEUE_ID, recipient: 'to@example.org' }, [k1]);
    expect(decodeUnsubscribeAddress(`${UNSUBSCRIBE_PREFIX}${token ?? ''}@${DOMAIN}`, [k1], DOMAIN).ok).toBe(false);
  });

  it(`keeps the local part within ${MAX_LOCAL_PART_LENGTH} octets: any space id of up to ${MAX_UNSUBSCRIBE_SPACE_DIGITS} digits with the longest send id`, () => {
    expect(MAX_UNSUBSCRIBE_SPACE_DIGITS).toBe(14);
    const widest = addr(10 ** MAX_UNSUBSCRIBE_SPACE_DIGITS - 1, LONGEST_SEND);
    expect(widest.split('@')[0]).toHaveLength(MAX_LOCAL_PART_LENGTH);
    expect(decodeUnsubscribeAddress(widest, [k1], DOMAIN)).toMatchObject({ ok: true, sendId: LONGEST_SEND });
    // One digit more would be 65 octets: not offered.
    expect(encodeUnsubscribeAddress({ spaceId: 10 ** MAX_UNSUBSCRIBE_SPACE_DIGITS, sendId: LONGEST_SEND }, [k1], DOMAIN)).toBeNull();
    expect(encodeUnsubscribeAddress({ spaceId: 10 ** MAX_UNSUBSCRIBE_SPACE_DIGITS, sendId: QUEUE_ID }, [k1], DOMAIN)).not.toBeNull();
    // A too-long local part is refused when decoding too.
    expect(decodeUnsubscribeAddress(`unsub-${'1'.repeat(16)}-${'a'.repeat(29)}-${'a'.repeat(13)}@${DOMAIN}`, [k1], DOMAIN)).toEqual({ ok: false, reason: 'malformed' });
  });

  it('encodes nothing it cannot carry', () => {
    expect(encodeUnsubscribeAddress({ spaceId: 1, sendId: QUEUE_ID }, [], DOMAIN)).toBeNull();
    expect(encodeUnsubscribeAddress({ spaceId: -1, sendId: QUEUE_ID }, [k1], DOMAIN)).toBeNull();
    expect(encodeUnsubscribeAddress({ spaceId: 1, sendId: 'no-dash' }, [k1], DOMAIN)).toBeNull();
    expect(encodeUnsubscribeAddress({ spaceId: 1, sendId: QUEUE_ID }, [k1], 'not a domain')).toBeNull();
  });
});
