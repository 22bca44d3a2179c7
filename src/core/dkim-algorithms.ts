/**
 * The DKIM signing algorithms trxmail uses (RFC 6376 rsa-sha256 with RSA-2048 keys, RFC 8463
 * ed25519-sha256): the vocabulary the store, the DNS records and the signer share.
 */

export type DkimAlgorithm = 'rsa-sha256' | 'ed25519-sha256';

/** Every algorithm, in the order a new key pair is made and signs. */
export const DKIM_ALGORITHMS: readonly DkimAlgorithm[] = Object.freeze(['rsa-sha256', 'ed25519-sha256']);
