/**
 * Fixture facts for the DNS domain-authentication tests (unit and e2e): one customer domain
 * with an active RSA-2048 key (its TXT is longer than 255 octets, so it is split), a pending
 * Ed25519 key and a retiring RSA key; real public keys generated once with node:crypto.
 */
import type { DomainDnsFacts } from '../../src/dns/types.js';

export const RSA_A =
  'MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAzTRdLhthWtNdcv9d5VfGx12rZgp4uQceaEiCHqQYV1EAxAPqMc8ah4K9yJHviq0Hk9DoQElqpXnXAsjJ/c9l8XnfAbH4e/ByQGjzEQKwJ+Do8Jopb8WMLnGXMmbt4NJ0AgcsvPyxWJAoT8Z+ejpYMF5exmzDaCRWrgcpaCt2YTIQJCwgVoBppfpbtW25BRlkEicozFpAKCX5s+Ow+UaUCiUKwXTNeMLDVCywYRUBTygnU+u7S/+WO8Hh6v9QR6nFO0yRA2st3EDYjU61cTczjlgBwhz9CSoqkB5OJtDXs2+floRtYN0ZEGQuO+Sk4dNtO6m6RFoJ4Ifzs7npnh7sRQIDAQAB';
export const RSA_B =
  'MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAsF/h7RXJ5LpR/ev1u3g8Y8h7h7MHNnLpRnbr4mkp+PIuBkFoJgNF8WhQGENmcKQEBEVeI8y0yltxBX9a1wjKPmJhtnFjBzAthkkMOXN/ZQmsHAwtEXjdD2YGtpbQfBk1uJlFiv5RmpnFnbnm40WATx1MGImRGn9cMcns0O9k0QXuoWtR1FSzdTQO3AdnG6F8e6xYv2PvKLlVIorCiggDjJoyXJUIHCihOmCe8b7Ud1GCP3LcjuNIMyFWfWfQtltB0TCDfmanhrGKvB7gF7t/fMYHCncNRczAxyoKGYGeRy0cwRNrws08mcM9R2ALSuaqm8fMp2R8kN6+7XXLnPYtLwIDAQAB';
export const ED25519 = 'dQpdgQ5FXkNYhIGylzbttbUYMoE7Bp/WIV9uU6n4WdM=';

/** shop.example: active RSA key s2025a, pending Ed25519 key s2025e, retiring RSA key s2024; Return-Path CNAME. */
export function shopFacts(): DomainDnsFacts {
  return {
    domain: 'shop.example',
    dkim: [
      { selector: 's2025a', algorithm: 'rsa-sha256', txt: `v=DKIM1; k=rsa; p=${RSA_A}`, state: 'active' },
      { selector: 's2025e', algorithm: 'ed25519-sha256', txt: `v=DKIM1; k=ed25519; p=${ED25519}`, state: 'pending' },
      { selector: 's2024', algorithm: 'rsa-sha256', txt: `v=DKIM1; k=rsa; p=${RSA_B}`, state: 'retiring' },
    ],
    returnPath: 'bounces.shop.example',
    relay: { bounceHost: 'bounces.relay.example', mxHost: null, spf: 'include:_spf.relay.example' },
  };
}
