/**
 * An active RSA-2048 + Ed25519 key pair for a sender domain, as `domain add` creates it, for
 * tests that set up spaces through the store; returns the TXT records to publish (the
 * verifier's DNS answers).
 */
import { wrapPrivateKey } from '../../src/dkim/key-wrap.js';
import { generateDkimKey } from '../../src/dkim/keys.js';
import type { HmacKey } from '../../src/lib/hmac-keys.js';
import type { Store } from '../../src/store/store.js';

export async function addActiveDkimKeys(
  store: Pick<Store, 'addDkimKey'>,
  spaceId: number,
  domain: string,
  secrets: readonly HmacKey[],
  selectors: { rsa: string; ed25519: string } = { rsa: 'trx20261202r', ed25519: 'trx20261202e' },
): Promise<Record<string, string>> {
  const records: Record<string, string> = {};
  for (const algorithm of ['rsa-sha256', 'ed25519-sha256'] as const) {
    const k = await generateDkimKey(algorithm);
    const selector = algorithm === 'rsa-sha256' ? selectors.rsa : selectors.ed25519;
    await store.addDkimKey({
      spaceId,
      domain,
      selector,
      algorithm,
      state: 'active',
      publicTxt: k.txtRecord,
      wrappedPrivateKey: wrapPrivateKey(k.privateKeyPem, { domain, selector }, secrets),
      createdAt: new Date(),
    });
    records[`${selector}._domainkey.${domain}`] = k.txtRecord;
  }
  return records;
}
