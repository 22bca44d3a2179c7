import { createHash, createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { HmacKey } from '../../../src/lib/hmac-keys.js';
import { MAX_ADDRESS_LENGTH, MAX_TRACKING_SEND_ID_BYTES, MAX_UNSUBSCRIBE_TOKEN_LENGTH } from '../../../src/lib/limits.js';
import { signTrackingToken, verifyTrackingToken } from '../../../src/tracking/token.js';
import { signUnsubscribeToken, verifyUnsubscribeToken, type UnsubscribeClaims } from '../../../src/tracking/unsubscribe-token.js';

const k1: HmacKey = { id: 'k1', secret: 'first secret, 16+ bytes long' };
const k2: HmacKey = { id: 'k2', secret: 'second secret, also long enough' };
const claims: UnsubscribeClaims = { spaceId: 7, sendId: '4jXQZB3dVKzJ9Ft', recipient: 'alice@example.org' };

function sign(c: UnsubscribeClaims = claims, keys: readonly HmacKey[] = [k1]): string {
  const t = signUnsubscribeToken(c, keys);
  if (t === null) throw new Error('expected a token');
  return t;
}

// Independent reference of the documented layout.
function lp(parts: string[], width: 2 | 4): Buffer {
  return Buffer.concat(
    parts.map((p) => {
      const b = Buffer.from(p, 'utf8');
      const len = Buffer.alloc(width);
      if (width === 2) len.writeUInt16BE(b.length);
      else len.writeUInt32BE(b.length);
      return Buffer.concat([len, b]);
    }),
  );
}
function reference(c: UnsubscribeClaims, key: HmacKey): string {
  const tag = createHash('sha256').update(lp(['trxmail/unsubscribe-key-tag', key.id], 4)).digest().subarray(0, 2);
  const fields = [String(c.spaceId), c.sendId, c.recipient];
  const mac = createHmac('sha256', key.secret)
    .update(lp(['trxmail/unsubscribe-token', '1', ...fields], 4))
    .digest()
    .subarray(0, 16);
  return Buffer.concat([Buffer.from([1]), tag, lp(fields, 2), mac]).toString('base64url');
}

describe('unsubscribe tokens', () => {
  it('are the documented layout and round-trip', () => {
    const t = sign();
    expect(t).toBe(reference(claims, k1));
    expect(verifyUnsubscribeToken(t, [k1])).toEqual(claims);
  });

  it('verify with every configured key (rotation) and not with another', () => {
    const old = sign(claims, [k2]);
    expect(verifyUnsubscribeToken(old, [k1, k2])).toEqual(claims);
    expect(verifyUnsubscribeToken(old, [k1])).toBeNull();
    expect(verifyUnsubscribeToken(sign(), [{ id: 'k1', secret: 'another secret entirely here' }])).toBeNull();
  });

  it('refuse every single-byte edit', () => {
    const bytes = Buffer.from(sign(), 'base64url');
    for (let i = 0; i < bytes.length; i++) {
      const edited = Buffer.from(bytes);
      edited[i] = (edited[i] ?? 0) ^ 0x01;
      expect(verifyUnsubscribeToken(edited.toString('base64url'), [k1]), `byte ${i}`).toBeNull();
    }
  });

  it('refuse a forged token: right layout, MAC with a guessed secret', () => {
    expect(verifyUnsubscribeToken(reference({ ...claims, recipient: 'bob@example.org' }, { id: 'k1', secret: 'guess' }), [k1])).toBeNull();
  });

  it('are not interchangeable with open or click tokens (same keys)', () => {
    const open = signTrackingToken({ kind: 'open', sendId: claims.sendId, recipient: claims.recipient }, [k1]);
    expect(open).not.toBeNull();
    expect(verifyUnsubscribeToken(open, [k1])).toBeNull();
    expect(verifyTrackingToken(sign(), [k1])).toBeNull();
  });

  it('refuse non-canonical, padded, truncated, over-long and non-string input', () => {
    const t = sign();
    for (const bad of [t + '=', t.slice(0, -1), t + 'A', '', 'a b', t.replace(/[A-Za-z]/, '+'), 42, null, undefined, {}]) {
      expect(verifyUnsubscribeToken(bad, [k1])).toBeNull();
    }
    expect(verifyUnsubscribeToken('A'.repeat(MAX_UNSUBSCRIBE_TOKEN_LENGTH + 1), [k1])).toBeNull();
  });

  it('refuse what cannot be signed: bad space ids, empty or too long ids, control characters', () => {
    for (const c of [
      { ...claims, spaceId: 0 },
      { ...claims, spaceId: -1 },
      { ...claims, spaceId: 1.5 },
      { ...claims, sendId: '' },
      { ...claims, sendId: 'x'.repeat(MAX_TRACKING_SEND_ID_BYTES + 1) },
      { ...claims, recipient: 'a\r\nb@example.org' },
      { ...claims, recipient: 'a'.repeat(MAX_ADDRESS_LENGTH + 1) },
    ]) {
      expect(signUnsubscribeToken(c, [k1])).toBeNull();
    }
    expect(signUnsubscribeToken(claims, [])).toBeNull();
  });

  it('the longest signable token fits MAX_UNSUBSCRIBE_TOKEN_LENGTH', () => {
    const longest = sign({ spaceId: 999_999_999_999_999, sendId: 'x'.repeat(MAX_TRACKING_SEND_ID_BYTES), recipient: 'a'.repeat(MAX_ADDRESS_LENGTH) });
    expect(longest.length).toBeLessThanOrEqual(MAX_UNSUBSCRIBE_TOKEN_LENGTH);
    expect(verifyUnsubscribeToken(longest, [k1])).not.toBeNull();
  });
});
