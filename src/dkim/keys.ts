/**
 * DKIM signing keys: generation, the DNS public-key record, loading a stored private key, and
 * selector names.
 *
 * Algorithms (RFC 6376 3.3, RFC 8301, RFC 8463):
 *  - `rsa-sha256`: RSA with a 2048-bit modulus and e = 65537 (RFC 8301 3.2: at least 1024,
 *    2048 recommended). The DNS `p=` is the base64 of the SubjectPublicKeyInfo DER
 *    (RFC 6376 3.6.1, "k=rsa").
 *  - `ed25519-sha256`: Ed25519 (RFC 8032). The DNS `p=` is the base64 of the raw 32-byte
 *    public key, not an SPKI (RFC 8463 4.2, "k=ed25519").
 * Private keys leave this module as PKCS#8 PEM (see key-wrap.ts for how they are stored).
 *
 * TXT record: `v=DKIM1; k=rsa; p=...` / `v=DKIM1; k=ed25519; p=...` at
 * `<selector>._domainkey.<domain>`. An RSA-2048 record has about 410 characters, more than
 * one DNS character-string holds (255): `txtCharacterStrings` splits it for a zone file;
 * resolvers join the strings again (RFC 6376 3.6.2.2).
 *
 * Selectors: `trx<yyyymmdd>r` (RSA) / `trx<yyyymmdd>e` (Ed25519) from a date in UTC, then
 * `trx<yyyymmdd>r2`, `r3`, ... when the name is taken. A selector is a dot-separated list of
 * DNS labels (RFC 6376 3.1: sub-domain of RFC 5321): letters, digits and inner hyphens,
 * 1..63 characters each.
 *
 * Throws: InvariantError for a bad argument from our own code (unknown algorithm, invalid
 * date or counter); UsageError from `checkSelector` (an operator typed it);
 * ConfigError from `privateKeyFromPem` for a stored key that is unreadable or of the wrong type
 * (messages never contain key material).
 */
import { createPrivateKey, createPublicKey, generateKeyPair, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';
import { ConfigError, InvariantError, UsageError } from '../lib/errors.js';
import { MAX_DOMAIN_LENGTH } from '../lib/limits.js';
import { DKIM_ALGORITHMS, type DkimAlgorithm } from '../core/dkim-algorithms.js';
export { DKIM_ALGORITHMS, type DkimAlgorithm } from '../core/dkim-algorithms.js';


/** Modulus of the RSA keys we generate (RFC 8301 3.2 recommends 2048). */
export const RSA_MODULUS_BITS = 2048;
/** Public exponent of the RSA keys we generate. */
export const RSA_PUBLIC_EXPONENT = 65537;
/** Smallest RSA modulus accepted for signing (RFC 8301 3.2: signers MUST use at least 1024 bits). */
export const MIN_RSA_MODULUS_BITS = 1024;

/** A freshly generated key pair in the forms trxmail stores and publishes. */
export interface GeneratedDkimKey {
  readonly algorithm: DkimAlgorithm;
  /** PKCS#8 PEM ("-----BEGIN PRIVATE KEY-----"). Secret: wrap it before storing. */
  readonly privateKeyPem: string;
  /** The DNS `p=` value (base64). */
  readonly publicKey: string;
  /** The whole TXT record value, e.g. `v=DKIM1; k=ed25519; p=...`. */
  readonly txtRecord: string;
}

const generateKeyPairAsync = promisify(generateKeyPair);

/** The `k=` tag of the DNS record and the node:crypto key type for an algorithm. */
export function keyTypeOf(algorithm: DkimAlgorithm): 'rsa' | 'ed25519' {
  switch (algorithm) {
    case 'rsa-sha256':
      return 'rsa';
    case 'ed25519-sha256':
      return 'ed25519';
  }
}

function checkAlgorithm(algorithm: string): asserts algorithm is DkimAlgorithm {
  if (!(DKIM_ALGORITHMS as readonly string[]).includes(algorithm)) {
    throw new InvariantError(`dkim: unknown algorithm ${JSON.stringify(String(algorithm).slice(0, 40))}`);
  }
}

/** Generate a key pair for `algorithm` (RSA 2048/65537 or Ed25519). */
export async function generateDkimKey(algorithm: DkimAlgorithm): Promise<GeneratedDkimKey> {
  checkAlgorithm(algorithm);
  const pair =
    algorithm === 'rsa-sha256'
      ? await generateKeyPairAsync('rsa', { modulusLength: RSA_MODULUS_BITS, publicExponent: RSA_PUBLIC_EXPONENT })
      : await generateKeyPairAsync('ed25519');
  const privateKeyPem = pair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const publicKey = publicKeyValue(pair.publicKey);
  return { algorithm, privateKeyPem, publicKey, txtRecord: dkimTxtRecord(algorithm, publicKey) };
}

/**
 * The DNS `p=` value of a key (public, or private: its public half is taken).
 * RSA: base64 SubjectPublicKeyInfo DER. Ed25519: base64 of the raw 32 bytes (RFC 8463 4.2).
 */
export function publicKeyValue(key: KeyObject): string {
  const pub = key.type === 'private' ? createPublicKey(key) : key;
  const type = pub.asymmetricKeyType;
  if (type === 'rsa') return pub.export({ type: 'spki', format: 'der' }).toString('base64');
  if (type === 'ed25519') {
    // the JWK "x" member is exactly the raw public key (RFC 8037 2)
    const jwk = pub.export({ format: 'jwk' });
    if (typeof jwk.x !== 'string') throw new InvariantError('dkim: Ed25519 key without a public value');
    return Buffer.from(jwk.x, 'base64url').toString('base64');
  }
  throw new InvariantError(`dkim: no DKIM public key form for key type ${String(type)}`);
}

/** The TXT record value for `<selector>._domainkey.<domain>`. */
export function dkimTxtRecord(algorithm: DkimAlgorithm, publicKey: string): string {
  checkAlgorithm(algorithm);
  return `v=DKIM1; k=${keyTypeOf(algorithm)}; p=${publicKey}`;
}

/** Longest character-string in a DNS TXT record (RFC 1035 3.3). */
const TXT_STRING_MAX = 255;

/** A TXT record value cut into character-strings of at most 255 characters (zone files). */
export function txtCharacterStrings(record: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < record.length; i += TXT_STRING_MAX) out.push(record.slice(i, i + TXT_STRING_MAX));
  return out.length === 0 ? [''] : out;
}

/**
 * Load a stored PKCS#8 PEM private key for signing with `algorithm`. Throws ConfigError when
 * it does not parse, is of another type, or is an RSA key under MIN_RSA_MODULUS_BITS;
 * `what` names the key in the message (e.g. "DKIM key for example.com/trx20261202r").
 */
export function privateKeyFromPem(pem: string, algorithm: DkimAlgorithm, what = 'DKIM key'): KeyObject {
  checkAlgorithm(algorithm);
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: pem, format: 'pem' });
  } catch (err: unknown) {
    // the cause is node's parser error, which quotes no key material
    throw new ConfigError(`${what}: the private key is not a readable PEM key`, { cause: err });
  }
  const want = keyTypeOf(algorithm);
  if (key.asymmetricKeyType !== want) {
    throw new ConfigError(`${what}: expected an ${want} private key for ${algorithm}, got ${String(key.asymmetricKeyType)}`);
  }
  const bits = key.asymmetricKeyDetails?.modulusLength;
  if (want === 'rsa' && (bits === undefined || bits < MIN_RSA_MODULUS_BITS)) {
    throw new ConfigError(`${what}: RSA modulus of ${String(bits)} bits is under ${MIN_RSA_MODULUS_BITS} (RFC 8301)`);
  }
  return key;
}

// ---- selectors ----

const LABEL_RE = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;

/** True when `selector` is a valid DKIM selector (dot-separated DNS labels, RFC 6376 3.1). */
export function isValidSelector(selector: string): boolean {
  if (selector.length === 0 || selector.length > MAX_DOMAIN_LENGTH) return false;
  return selector.split('.').every((label) => LABEL_RE.test(label));
}

/** The selector, lower-cased, or UsageError naming what is wrong with it. */
export function checkSelector(selector: string): string {
  if (!isValidSelector(selector)) {
    throw new UsageError(
      `invalid DKIM selector ${JSON.stringify(selector.slice(0, 80))}: expected DNS labels of 1-63 letters, digits or inner hyphens, separated by dots`,
    );
  }
  return selector.toLowerCase();
}

const SUFFIX: Readonly<Record<DkimAlgorithm, string>> = { 'rsa-sha256': 'r', 'ed25519-sha256': 'e' };

/**
 * `trx<yyyymmdd>r` / `trx<yyyymmdd>e` for `date` in UTC; `counter` n >= 2 appends n
 * (`trx20261202r2`), 1 (the default) appends nothing.
 */
export function selectorName(algorithm: DkimAlgorithm, date: Date, counter = 1): string {
  checkAlgorithm(algorithm);
  if (Number.isNaN(date.getTime())) throw new InvariantError('dkim: selector date is invalid');
  if (!Number.isSafeInteger(counter) || counter < 1) throw new InvariantError(`dkim: selector counter ${counter} is not a positive integer`);
  const y = date.getUTCFullYear();
  if (y < 1000 || y > 9999) throw new InvariantError(`dkim: selector year ${y} has not four digits`);
  const ymd = `${y}${String(date.getUTCMonth() + 1).padStart(2, '0')}${String(date.getUTCDate()).padStart(2, '0')}`;
  return `trx${ymd}${SUFFIX[algorithm]}${counter === 1 ? '' : String(counter)}`;
}

/**
 * The first of `trx<yyyymmdd>r`, `...r2`, `...r3`, ... not in `taken` (compared
 * case-insensitively, as DNS does). Ends: at most `taken.size + 1` names are tried.
 */
export function freeSelectorName(algorithm: DkimAlgorithm, date: Date, taken: Iterable<string>): string {
  const used = new Set<string>();
  for (const t of taken) used.add(t.toLowerCase());
  for (let n = 1; ; n++) {
    const name = selectorName(algorithm, date, n);
    if (!used.has(name)) return name;
  }
}
