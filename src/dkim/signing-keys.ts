/**
 * The keys that sign a domain's mail now: its `active` DKIM keys from the store, unwrapped
 * (key-wrap.ts) and loaded as KeyObjects for the signer (signer.ts). Pending keys do not sign
 * until they are published; retiring and retired ones no longer sign.
 *
 * Throws: ConfigError (DkimWrapKeyMissingError, DkimKeyUnwrapError, privateKeyFromPem) when a
 * stored key cannot be used — the secret it is wrapped with is gone or the key is damaged.
 * The accept step turns that into a 4xx: better late than sent without the promised signature.
 */
import type { HmacKey } from '../lib/hmac-keys.js';
import type { DkimKey } from '../store/store.js';
import { unwrapPrivateKey } from './key-wrap.js';
import { privateKeyFromPem } from './keys.js';
import type { SigningKey } from './signer.js';

export function signingKeysOf(keys: readonly DkimKey[], secrets: readonly HmacKey[]): SigningKey[] {
  return keys
    .filter((k) => k.state === 'active')
    .map((k) => {
      const ctx = { domain: k.domain, selector: k.selector };
      const pem = unwrapPrivateKey(k.wrappedPrivateKey, ctx, secrets);
      return {
        domain: k.domain,
        selector: k.selector,
        algorithm: k.algorithm,
        privateKey: privateKeyFromPem(pem, k.algorithm, `DKIM key for ${k.domain}/${k.selector}`),
      };
    });
}
