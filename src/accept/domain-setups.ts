/**
 * The DomainSetup port (ports.ts) over the store: a sender domain's return-path host and its
 * active DKIM keys (unwrapped, src/dkim/signing-keys.ts), cached per space and domain for
 * DOMAIN_SETUP_TTL_MS so the end-of-message path reads the store and decrypts keys once per
 * domain and interval, not once per message. A change made by the CLI (another process: a new
 * return-path host, a key activated by `domain check`) is honoured within the TTL.
 *
 * A domain found without an active key is remembered for DOMAIN_SETUP_NO_KEY_TTL_MS only: its
 * mail is deferred (451) until a key exists, and that key must sign from the next second, not
 * up to DOMAIN_SETUP_TTL_MS later. It happens after `trxmail serve` starts, while the domain
 * checker is still creating the pairs of domains that had none (seen in bench/milter: every
 * message of the first 30 s answered 451 "no active DKIM key" when the first one came before
 * the RSA key pair was ready).
 *
 * Limits: MAX_DOMAIN_SETUPS cached domains (least recently used evicted).
 * Throws: what the store throws (TransientError: the caller answers 4xx); ConfigError when a
 * stored key cannot be unwrapped (signing-keys.ts).
 */
import { LRUCache } from 'lru-cache';
import { signingKeysOf } from '../dkim/signing-keys.js';
import type { HmacKey } from '../lib/hmac-keys.js';
import type { Store } from '../store/store.js';
import type { DomainSetup } from './ports.js';

/** How long a domain's setup is reused (ms): a new return-path host or key signs within this. */
export const DOMAIN_SETUP_TTL_MS = 30_000;
/** How long a domain's setup without an active signing key is reused (ms). */
export const DOMAIN_SETUP_NO_KEY_TTL_MS = 1_000;
/** Most sender domains whose setup is cached. */
export const MAX_DOMAIN_SETUPS = 10_000;

export class DomainSetups {
  readonly #cache: LRUCache<string, DomainSetup>;

  constructor(
    private readonly store: Pick<Store, 'getDomainAuth' | 'listDkimKeys'>,
    /** The secrets the private keys are wrapped with (config hmacKeysInForce). */
    private readonly secrets: readonly HmacKey[],
    private readonly opts: { ttlMs?: number; noKeyTtlMs?: number; clock?: () => number } = {},
  ) {
    this.#cache = new LRUCache<string, DomainSetup>({
      max: MAX_DOMAIN_SETUPS,
      ttl: opts.ttlMs ?? DOMAIN_SETUP_TTL_MS,
      ttlAutopurge: false,
      // a given clock is read on every use (lru-cache otherwise reuses a reading for up to 1 ms)
      ...(opts.clock ? { perf: { now: opts.clock }, ttlResolution: 0 } : {}),
    });
  }

  /** The DomainSetup port. */
  readonly get = async (spaceId: number, domain: string): Promise<DomainSetup> => {
    const key = `${spaceId}\0${domain}`;
    const hit = this.#cache.get(key);
    if (hit) return hit;
    const [auth, keys] = await Promise.all([this.store.getDomainAuth(spaceId, domain), this.store.listDkimKeys(spaceId, domain)]);
    const setup: DomainSetup = { returnPath: auth.returnPath, signingKeys: signingKeysOf(keys, this.secrets) };
    if (setup.signingKeys.length > 0) this.#cache.set(key, setup);
    else this.#cache.set(key, setup, { ttl: Math.min(this.opts.noKeyTtlMs ?? DOMAIN_SETUP_NO_KEY_TTL_MS, this.opts.ttlMs ?? DOMAIN_SETUP_TTL_MS) });
    return setup;
  };
}
