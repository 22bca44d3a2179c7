/**
 * DKIM private keys at rest: encrypted with a key derived from one of trxmail's configured
 * secrets (Config.hmacKeys, the secrets file or TRXMAIL_HMAC_KEYS), so that a copy of the
 * database alone does not reveal them.
 *
 * Scheme:
 *   kek  = HKDF-SHA256(ikm = UTF-8 of the secret, salt = empty, info = KEY_WRAP_INFO, 32 bytes)
 *          (RFC 5869)
 *   blob = AES-256-GCM(kek, iv = 12 random bytes, aad, PEM as UTF-8) with a 16-byte tag
 *          (NIST SP 800-38D)
 *   aad  = the length-prefixed parts (lib/hmac-keys.ts macInput) of
 *          [KEY_WRAP_INFO, key id, domain (lower-case A-label), selector (lower-case)]
 *          so a blob copied to another domain or selector does not decrypt.
 * Stored as one ASCII string, base64url parts (a key id is already [A-Za-z0-9_-]{1,16}):
 *
 *   v1.<keyId>.<iv: 16 chars>.<tag: 22 chars>.<ciphertext>
 *
 * Rotation: `wrapPrivateKey` always uses the FIRST configured key; `unwrapPrivateKey` finds
 * the key named in the blob, so old blobs stay readable while their key id stays configured;
 * `wrappedKeyId` tells which blobs still need re-wrapping before an old key is removed.
 *
 * Throws (both extend ConfigError: the remedy is the operator's, not a retry; messages name
 * the domain, selector and key id, never key material or secrets):
 *  - DkimWrapKeyMissingError: no key configured to wrap with, or the blob's key id is not
 *    configured;
 *  - DkimKeyUnwrapError: the blob is malformed or does not authenticate (damaged, copied from
 *    another domain/selector, or the secret under that key id changed).
 * InvariantError for a configured key id that cannot be written into the format (config
 * validation prevents it).
 */
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { normaliseDomain } from '../core/domain.js';
import { ConfigError, InvariantError } from '../lib/errors.js';
import { macInput, type HmacKey } from '../lib/hmac-keys.js';

/** HKDF info and AAD label of this format; a new format gets a new label and version. */
export const KEY_WRAP_INFO = 'trxmail dkim key wrap v1';
const VERSION = 'v1';
const IV_BYTES = 12;
const TAG_BYTES = 16;
const KEK_BYTES = 32;
const KEY_ID_RE = /^[A-Za-z0-9_-]{1,16}$/;
const B64URL_RE = /^[A-Za-z0-9_-]+$/;

/** Which key a blob belongs to: it is bound to this domain and selector. */
export interface KeyWrapContext {
  readonly domain: string;
  readonly selector: string;
}

/** No configured secret to wrap with, or the blob's key id is not configured. */
export class DkimWrapKeyMissingError extends ConfigError {
  /** The key id the blob names, or null when wrapping found no key at all. */
  readonly keyId: string | null;
  constructor(message: string, keyId: string | null) {
    super(message);
    this.keyId = keyId;
  }
}

/** The blob is malformed or does not authenticate for this domain/selector and secret. */
export class DkimKeyUnwrapError extends ConfigError {}

function label(ctx: KeyWrapContext): string {
  return `${ctx.domain}/${ctx.selector}`;
}

function aad(keyId: string, ctx: KeyWrapContext): Buffer {
  const domain = normaliseDomain(ctx.domain) ?? ctx.domain.trim().toLowerCase();
  return macInput([KEY_WRAP_INFO, keyId, domain, ctx.selector.trim().toLowerCase()]);
}

function kek(key: HmacKey): Buffer {
  return Buffer.from(hkdfSync('sha256', Buffer.from(key.secret, 'utf8'), Buffer.alloc(0), KEY_WRAP_INFO, KEK_BYTES));
}

/** Encrypt a PEM private key with the first configured key, bound to domain and selector. */
export function wrapPrivateKey(pem: string, ctx: KeyWrapContext, keys: readonly HmacKey[]): string {
  const key = keys[0];
  if (key === undefined) {
    throw new DkimWrapKeyMissingError(
      `cannot store the DKIM key for ${label(ctx)}: no secret key is configured to wrap it (secrets.keys or TRXMAIL_HMAC_KEYS)`,
      null,
    );
  }
  if (!KEY_ID_RE.test(key.id)) throw new InvariantError('dkim key wrap: a configured key id is not 1-16 of [A-Za-z0-9_-]');
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', kek(key), iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(aad(key.id, ctx));
  const ciphertext = Buffer.concat([cipher.update(pem, 'utf8'), cipher.final()]);
  const tag = cipher.getAuthTag();
  return [VERSION, key.id, iv.toString('base64url'), tag.toString('base64url'), ciphertext.toString('base64url')].join('.');
}

interface ParsedBlob {
  readonly keyId: string;
  readonly iv: Buffer;
  readonly tag: Buffer;
  readonly ciphertext: Buffer;
}

function parseBlob(blob: string): ParsedBlob | null {
  const parts = blob.split('.');
  if (parts.length !== 5) return null;
  const [version, keyId, iv, tag, ciphertext] = parts as [string, string, string, string, string];
  if (version !== VERSION || !KEY_ID_RE.test(keyId)) return null;
  if (!B64URL_RE.test(iv) || !B64URL_RE.test(tag) || !B64URL_RE.test(ciphertext)) return null;
  const p = {
    keyId,
    iv: Buffer.from(iv, 'base64url'),
    tag: Buffer.from(tag, 'base64url'),
    ciphertext: Buffer.from(ciphertext, 'base64url'),
  };
  if (p.iv.length !== IV_BYTES || p.tag.length !== TAG_BYTES || p.ciphertext.length === 0) return null;
  return p;
}

/** The key id a blob was wrapped with, or null when it is not a v1 blob. */
export function wrappedKeyId(blob: string): string | null {
  return parseBlob(blob)?.keyId ?? null;
}

/** Decrypt a blob made by wrapPrivateKey for the same domain and selector; returns the PEM. */
export function unwrapPrivateKey(blob: string, ctx: KeyWrapContext, keys: readonly HmacKey[]): string {
  const p = parseBlob(blob);
  if (p === null) {
    throw new DkimKeyUnwrapError(`DKIM key for ${label(ctx)}: the stored key is not in the ${VERSION} wrapped format`);
  }
  const key = keys.find((k) => k.id === p.keyId);
  if (key === undefined) {
    throw new DkimWrapKeyMissingError(
      `DKIM key for ${label(ctx)} is wrapped with secret key id ${p.keyId}, which is not configured`,
      p.keyId,
    );
  }
  try {
    const decipher = createDecipheriv('aes-256-gcm', kek(key), p.iv, { authTagLength: TAG_BYTES });
    decipher.setAAD(aad(key.id, ctx));
    decipher.setAuthTag(p.tag);
    return Buffer.concat([decipher.update(p.ciphertext), decipher.final()]).toString('utf8');
  } catch (err: unknown) {
    // node's message ("Unsupported state or unable to authenticate data") carries no key material
    throw new DkimKeyUnwrapError(
      `DKIM key for ${label(ctx)} does not decrypt with secret key id ${p.keyId}: the stored key is damaged, belongs to another domain or selector, or the secret of ${p.keyId} changed`,
      { cause: err },
    );
  }
}
