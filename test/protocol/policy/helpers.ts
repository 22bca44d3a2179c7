/**
 * Independent builders for policy-delegation test traffic, written out by hand (never with
 * the production codec).
 */

/** A request: one `name=value` line per pair, then the empty line. */
export function request(pairs: readonly (readonly [string, string])[]): string {
  return pairs.map(([name, value]) => `${name}=${value}\n`).join('') + '\n';
}

/** A reply as Postfix expects it. */
export function reply(action: string): string {
  return `action=${action}\n\n`;
}

/**
 * The attributes Postfix 3.7 sends at RCPT, in its order (smtpd_check.c check_policy_service),
 * for an authenticated client over TLS on the submission port.
 */
export const RCPT_ATTRIBUTES: readonly (readonly [string, string])[] = [
  ['request', 'smtpd_access_policy'],
  ['protocol_state', 'RCPT'],
  ['protocol_name', 'ESMTP'],
  ['client_address', '192.0.2.10'],
  ['client_name', 'mail.client.example'],
  ['client_port', '54321'],
  ['reverse_client_name', 'mail.client.example'],
  ['server_address', '127.0.0.1'],
  ['server_port', '587'],
  ['helo_name', 'client.example'],
  ['sender', 'news@oxfordstones.com'],
  ['recipient', 'alice@example.net'],
  ['recipient_count', '0'],
  ['queue_id', ''],
  ['instance', '3a1f.6560f1c2.3e8f1.0'],
  ['size', '0'],
  ['etrn_domain', ''],
  ['stress', ''],
  ['sasl_method', 'PLAIN'],
  ['sasl_username', 'joe@example.com'],
  ['sasl_sender', ''],
  ['ccert_subject', ''],
  ['ccert_issuer', ''],
  ['ccert_fingerprint', ''],
  ['ccert_pubkey_fingerprint', ''],
  ['encryption_protocol', 'TLSv1.3'],
  ['encryption_cipher', 'TLS_AES_256_GCM_SHA384'],
  ['encryption_keysize', '256'],
  ['policy_context', ''],
];

export const RCPT_REQUEST = request(RCPT_ATTRIBUTES);

/** The same attributes as an object, for comparing with what decide() received. */
export function asRecord(pairs: readonly (readonly [string, string])[]): Record<string, string> {
  return Object.fromEntries(pairs);
}

/** RCPT_ATTRIBUTES with some values replaced (names must exist). */
export function withValues(overrides: Record<string, string>): (readonly [string, string])[] {
  return RCPT_ATTRIBUTES.map(([name, value]) => [name, overrides[name] ?? value] as const);
}
