import { createPrivateKey, createPublicKey, sign, verify } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  checkSelector,
  dkimTxtRecord,
  freeSelectorName,
  generateDkimKey,
  isValidSelector,
  privateKeyFromPem,
  publicKeyValue,
  selectorName,
  txtCharacterStrings,
  type GeneratedDkimKey,
} from '../../../src/dkim/keys.js';
import { ConfigError, InvariantError, UsageError } from '../../../src/lib/errors.js';

let rsa: GeneratedDkimKey;
let ed: GeneratedDkimKey;

beforeAll(async () => {
  [rsa, ed] = await Promise.all([generateDkimKey('rsa-sha256'), generateDkimKey('ed25519-sha256')]);
});

describe('generateDkimKey', () => {
  it('makes an RSA key with a 2048-bit modulus and e = 65537, as PKCS#8 PEM', () => {
    expect(rsa.privateKeyPem).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
    const key = createPrivateKey(rsa.privateKeyPem);
    expect(key.asymmetricKeyType).toBe('rsa');
    expect(key.asymmetricKeyDetails?.modulusLength).toBe(2048);
    expect(key.asymmetricKeyDetails?.publicExponent).toBe(65537n);
  });

  it('publishes the RSA key as base64 SubjectPublicKeyInfo DER in p= and the TXT record', () => {
    const pub = createPublicKey({ key: Buffer.from(rsa.publicKey, 'base64'), format: 'der', type: 'spki' });
    expect(pub.asymmetricKeyDetails?.modulusLength).toBe(2048);
    // it is the public half of the private key: a signature made with one verifies with the other
    const sig = sign('sha256', Buffer.from('x'), createPrivateKey(rsa.privateKeyPem));
    expect(verify('sha256', Buffer.from('x'), pub, sig)).toBe(true);
    expect(rsa.txtRecord).toBe(`v=DKIM1; k=rsa; p=${rsa.publicKey}`);
  });

  it('makes an Ed25519 key whose p= is the raw 32-byte public key (RFC 8463 4.2), not an SPKI', () => {
    expect(ed.privateKeyPem).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
    const key = createPrivateKey(ed.privateKeyPem);
    expect(key.asymmetricKeyType).toBe('ed25519');
    const raw = Buffer.from(ed.publicKey, 'base64');
    expect(raw).toHaveLength(32);
    // the SPKI of an Ed25519 key is a 12-byte prefix followed by the raw key
    const spki = createPublicKey(key).export({ type: 'spki', format: 'der' });
    expect(spki.subarray(12).equals(raw)).toBe(true);
    expect(ed.txtRecord).toBe(`v=DKIM1; k=ed25519; p=${ed.publicKey}`);
  });

  it('derives the same p= from the private or the public key', () => {
    const key = createPrivateKey(ed.privateKeyPem);
    expect(publicKeyValue(key)).toBe(ed.publicKey);
    expect(publicKeyValue(createPublicKey(key))).toBe(ed.publicKey);
    expect(publicKeyValue(createPrivateKey(rsa.privateKeyPem))).toBe(rsa.publicKey);
  });

  it('gives a different key each time', async () => {
    const again = await generateDkimKey('ed25519-sha256');
    expect(again.publicKey).not.toBe(ed.publicKey);
  });

  it('refuses an unknown algorithm', async () => {
    await expect(generateDkimKey('rsa-sha1' as never)).rejects.toThrow(InvariantError);
    expect(() => dkimTxtRecord('ed448' as never, 'x')).toThrow(InvariantError);
  });
});

describe('txtCharacterStrings', () => {
  it('cuts an RSA record into strings of at most 255 characters that join back', () => {
    const parts = txtCharacterStrings(rsa.txtRecord);
    expect(parts.length).toBe(2);
    expect(parts.every((p) => p.length <= 255)).toBe(true);
    expect(parts.join('')).toBe(rsa.txtRecord);
    expect(txtCharacterStrings(ed.txtRecord)).toEqual([ed.txtRecord]);
  });
});

describe('privateKeyFromPem', () => {
  it('loads a key of the right type', () => {
    expect(privateKeyFromPem(ed.privateKeyPem, 'ed25519-sha256').asymmetricKeyType).toBe('ed25519');
    expect(privateKeyFromPem(rsa.privateKeyPem, 'rsa-sha256').asymmetricKeyType).toBe('rsa');
  });

  it('refuses a key of the other type, and garbage, without quoting the key', () => {
    expect(() => privateKeyFromPem(ed.privateKeyPem, 'rsa-sha256', 'DKIM key for a.example/s1')).toThrow(
      /DKIM key for a\.example\/s1: expected an rsa private key for rsa-sha256, got ed25519/,
    );
    let err: unknown;
    try {
      privateKeyFromPem('-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n', 'rsa-sha256');
    } catch (e: unknown) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).not.toContain('AAAA');
  });
});

describe('selectors', () => {
  it('names by algorithm and UTC date', () => {
    expect(selectorName('rsa-sha256', new Date('2026-12-02T10:00:00Z'))).toBe('trx20261202r');
    expect(selectorName('ed25519-sha256', new Date('2026-12-02T10:00:00Z'))).toBe('trx20261202e');
    // 23:30 at UTC-5 is already the next day in UTC
    expect(selectorName('rsa-sha256', new Date('2026-12-01T23:30:00-05:00'))).toBe('trx20261202r');
    expect(selectorName('rsa-sha256', new Date('2027-01-05T00:00:00Z'))).toBe('trx20270105r');
  });

  it('appends a counter from 2 on', () => {
    const d = new Date('2026-12-02T00:00:00Z');
    expect(selectorName('rsa-sha256', d, 1)).toBe('trx20261202r');
    expect(selectorName('rsa-sha256', d, 2)).toBe('trx20261202r2');
    expect(selectorName('ed25519-sha256', d, 13)).toBe('trx20261202e13');
    expect(() => selectorName('rsa-sha256', d, 0)).toThrow(InvariantError);
    expect(() => selectorName('rsa-sha256', d, 1.5)).toThrow(InvariantError);
    expect(() => selectorName('rsa-sha256', new Date('nope'))).toThrow(InvariantError);
  });

  it('picks the first free name, comparing case-insensitively', () => {
    const d = new Date('2026-12-02T00:00:00Z');
    expect(freeSelectorName('rsa-sha256', d, [])).toBe('trx20261202r');
    expect(freeSelectorName('rsa-sha256', d, ['trx20261202e', 'other'])).toBe('trx20261202r');
    expect(freeSelectorName('rsa-sha256', d, ['TRX20261202R'])).toBe('trx20261202r2');
    expect(freeSelectorName('rsa-sha256', d, new Set(['trx20261202r', 'trx20261202r2', 'trx20261202r4']))).toBe('trx20261202r3');
  });

  it('accepts DNS labels', () => {
    for (const s of ['trx20261202r', 's1', 'a', 'Mail-2024', 'x.y.z', 'a'.repeat(63), `${'a'.repeat(63)}.b`]) {
      expect(isValidSelector(s), s).toBe(true);
    }
    expect(checkSelector('Trx20261202R')).toBe('trx20261202r');
  });

  it.each([
    ['empty', ''],
    ['leading hyphen', '-abc'],
    ['trailing hyphen', 'abc-'],
    ['underscore', 'a_b'],
    ['space', 'a b'],
    ['empty label', 'a..b'],
    ['trailing dot', 'abc.'],
    ['label of 64', 'a'.repeat(64)],
    ['non-ASCII', 'sélecteur'],
    ['semicolon (tag injection)', 'a;b=c'],
    ['too long', Array.from({ length: 100 }, () => 'abc').join('.')],
  ])('refuses a selector with %s', (_label, s) => {
    expect(isValidSelector(s)).toBe(false);
    expect(() => checkSelector(s)).toThrow(UsageError);
  });
});
