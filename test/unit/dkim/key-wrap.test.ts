import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  DkimKeyUnwrapError,
  DkimWrapKeyMissingError,
  unwrapPrivateKey,
  wrapPrivateKey,
  wrappedKeyId,
} from '../../../src/dkim/key-wrap.js';
import { ConfigError, TrxError } from '../../../src/lib/errors.js';
import type { HmacKey } from '../../../src/lib/hmac-keys.js';

const PEM = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
const A: HmacKey = { id: 'k2025', secret: 'first secret of at least thirty-two bytes!!' };
const B: HmacKey = { id: 'k2026', secret: 'second secret, also long enough for a key' };
const CTX = { domain: 'shop.example', selector: 'trx20261202e' };

/** The base64url body of a PEM (what must never show up in a blob or a message). */
const PEM_BODY = PEM.split('\n')[1]!;

function caught(f: () => unknown): Error {
  try {
    f();
  } catch (err: unknown) {
    return err as Error;
  }
  throw new Error('expected a throw');
}

describe('wrapPrivateKey / unwrapPrivateKey', () => {
  it('round-trips a PEM', () => {
    const blob = wrapPrivateKey(PEM, CTX, [A]);
    expect(unwrapPrivateKey(blob, CTX, [A])).toBe(PEM);
  });

  it('writes v1.<keyId>.<iv>.<tag>.<ciphertext> in ASCII base64url, with a fresh IV each time', () => {
    const blob = wrapPrivateKey(PEM, CTX, [A]);
    const parts = blob.split('.');
    expect(parts).toHaveLength(5);
    expect(parts[0]).toBe('v1');
    expect(parts[1]).toBe('k2025');
    expect(Buffer.from(parts[2]!, 'base64url')).toHaveLength(12);
    expect(Buffer.from(parts[3]!, 'base64url')).toHaveLength(16);
    expect(/^[A-Za-z0-9_.-]+$/.test(blob)).toBe(true);
    expect(wrapPrivateKey(PEM, CTX, [A])).not.toBe(blob);
    expect(wrappedKeyId(blob)).toBe('k2025');
    expect(wrappedKeyId('not a blob')).toBeNull();
  });

  it('contains no PEM text', () => {
    const blob = wrapPrivateKey(PEM, CTX, [A]);
    expect(blob).not.toContain('PRIVATE KEY');
    expect(blob).not.toContain(PEM_BODY.slice(0, 16));
    expect(Buffer.from(blob.split('.')[4]!, 'base64url').toString('latin1')).not.toContain('PRIVATE KEY');
  });

  it('binds the blob to its domain and selector (AAD)', () => {
    const blob = wrapPrivateKey(PEM, CTX, [A]);
    for (const other of [
      { domain: 'other.example', selector: CTX.selector },
      { domain: CTX.domain, selector: 'trx20261202r' },
      { domain: `x${CTX.domain}`, selector: CTX.selector },
    ]) {
      const err = caught(() => unwrapPrivateKey(blob, other, [A]));
      expect(err).toBeInstanceOf(DkimKeyUnwrapError);
      expect(err.message).toContain(`DKIM key for ${other.domain}/${other.selector} does not decrypt with secret key id k2025`);
    }
  });

  it('treats domain case, a trailing dot and the U-label form as the same domain', () => {
    const blob = wrapPrivateKey(PEM, { domain: 'bücher.example', selector: 'S1' }, [A]);
    expect(unwrapPrivateKey(blob, { domain: 'XN--BCHER-KVA.example.', selector: 's1' }, [A])).toBe(PEM);
  });

  it('names an unknown key id clearly, as a ConfigError, without key material', () => {
    const blob = wrapPrivateKey(PEM, CTX, [A]);
    const err = caught(() => unwrapPrivateKey(blob, CTX, [B]));
    expect(err).toBeInstanceOf(DkimWrapKeyMissingError);
    expect(err).toBeInstanceOf(ConfigError);
    expect(err).toBeInstanceOf(TrxError);
    expect((err as DkimWrapKeyMissingError).code).toBe('ECONFIG');
    expect((err as DkimWrapKeyMissingError).keyId).toBe('k2025');
    expect(err.message).toBe('DKIM key for shop.example/trx20261202e is wrapped with secret key id k2025, which is not configured');
    expect(err.message).not.toContain(A.secret);
    expect(err.message).not.toContain(B.secret);
  });

  it('refuses to wrap when no key is configured', () => {
    const err = caught(() => wrapPrivateKey(PEM, CTX, []));
    expect(err).toBeInstanceOf(DkimWrapKeyMissingError);
    expect(err.message).toMatch(/no secret key is configured/);
  });

  it('fails on tampered ciphertext, tag or IV', () => {
    const blob = wrapPrivateKey(PEM, CTX, [A]);
    const parts = blob.split('.');
    for (const k of [2, 3, 4]) {
      const bytes = Buffer.from(parts[k]!, 'base64url');
      bytes[bytes.length >> 1]! ^= 0x01;
      const bad = parts.map((p, i) => (i === k ? bytes.toString('base64url') : p)).join('.');
      const err = caught(() => unwrapPrivateKey(bad, CTX, [A]));
      expect(err, `part ${k}`).toBeInstanceOf(DkimKeyUnwrapError);
      expect(err.message).not.toContain(PEM_BODY.slice(0, 16));
    }
  });

  it('fails when the secret under the same key id changed', () => {
    const blob = wrapPrivateKey(PEM, CTX, [A]);
    expect(() => unwrapPrivateKey(blob, CTX, [{ id: A.id, secret: B.secret }])).toThrow(DkimKeyUnwrapError);
  });

  it.each([
    ['empty', ''],
    ['wrong version', 'v2.k2025.AAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAA.AAAA'],
    ['too few parts', 'v1.k2025.AAAAAAAAAAAAAAAA.AAAA'],
    ['short IV', 'v1.k2025.AAAA.AAAAAAAAAAAAAAAAAAAAAA.AAAA'],
    ['short tag', 'v1.k2025.AAAAAAAAAAAAAAAA.AAAA.AAAA'],
    ['empty ciphertext', 'v1.k2025.AAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAA.'],
    ['not base64url', 'v1.k2025.AAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAA.AA+/'],
    ['bad key id', 'v1.k 1.AAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAA.AAAA'],
    ['a PEM', PEM],
  ])('refuses a malformed blob (%s)', (_label, blob) => {
    const err = caught(() => unwrapPrivateKey(blob, CTX, [A]));
    expect(err).toBeInstanceOf(DkimKeyUnwrapError);
    expect(err.message).toBe('DKIM key for shop.example/trx20261202e: the stored key is not in the v1 wrapped format');
  });

  it('keeps old blobs readable across a rotation, and wraps new ones with the first key', () => {
    const old = wrapPrivateKey(PEM, CTX, [A]);
    const rotated = [B, A];
    expect(unwrapPrivateKey(old, CTX, rotated)).toBe(PEM);
    const fresh = wrapPrivateKey(PEM, CTX, rotated);
    expect(wrappedKeyId(fresh)).toBe('k2026');
    expect(unwrapPrivateKey(fresh, CTX, rotated)).toBe(PEM);
    // once A is removed, the old blob names it
    expect(() => unwrapPrivateKey(old, CTX, [B])).toThrow(/wrapped with secret key id k2025, which is not configured/);
  });
});
