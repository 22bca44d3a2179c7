/**
 * Checks SMTP AUTH credentials (customer-level user e-mail + password) against the store,
 * for the Dovecot-protocol auth server (session.ts calls it through `authVerifier`) and the
 * reports API (HTTP Basic), which share one instance and so one throttle.
 *
 * Per attempt:
 *  1. Throttle. Failed attempts are counted per (login, client address) pair and per client
 *     address alone (the login by its store key, listKey, so case and IDN variants count
 *     together; the address `rip` by addressThrottleKey, IPv6 by /64), in a sliding window
 *     (AUTH_FAILURE_WINDOW_MS). At MAX_AUTH_FAILURES_PER_LOGIN_ADDRESS for the pair or
 *     MAX_AUTH_FAILURES_PER_ADDRESS for the address, further attempts of that pair (that
 *     address) are *throttled*: no store read and no password check, result 'throttled',
 *     which the callers answer as a temporary failure (SMTP: the auth connection is dropped
 *     and Postfix says 454 4.7.0; API: 429 + Retry-After). Throttled attempts are not
 *     counted, so they do not extend the lock. There is deliberately no limit per login
 *     alone: failures from one address never stop the right password from another address
 *     that is not itself throttled (issue 11: a login known to an attacker was a lock-out).
 *     An attempt is counted when it starts (so parallel guesses cannot all slip past the
 *     limit); success clears the pair's count and takes the attempt back from the address,
 *     a temporary failure takes it back from both. Each map tracks at most
 *     MAX_AUTH_THROTTLE_KEYS keys; the least recently failed is evicted.
 *  2. Read the user row (every time: it is cheap, and it is what makes `user passwd` and
 *     `user remove` take effect at once). Any store error → tempfail, never 'ok'.
 *  3. Unknown user: one scrypt against a dummy hash with the current parameters, so the
 *     answer takes as long as for a wrong password, then fail.
 *  4. Verified-credential cache: a positive entry per user id holds the stored password hash
 *     it was verified against and HMAC-SHA256(per-process random key, user id, hash,
 *     password) — never the password nor a bare hash of it. It matches only if the row's
 *     hash is still the same, the HMAC is equal (constant time) and it is younger than
 *     CREDENTIAL_CACHE_TTL_MS (not extended by hits). LRU, MAX_CREDENTIAL_CACHE_ENTRIES.
 *     Both bounded maps are `lru-cache` instances used for order and bound only: expiry is
 *     judged against the attempt's own clock reading, which lru-cache's TTL cannot be given.
 *  5. Otherwise scrypt (password.ts, ~130 ms on the libuv pool); success fills the cache.
 *
 * Timing of a throttled answer. It must not come back visibly faster than a real check
 * (the old fast-fail answered in ~20 ms against ~170 ms and so showed an attacker when the
 * lock lapsed), and it must not cost a real check either: a throttled client may send at
 * any rate, and one scrypt per throttled attempt would let one address fill libuv's thread
 * pool and starve everyone's real checks. So a throttled attempt is *held* (a timer, no
 * CPU) for as long as a password check currently takes: a running average of every check
 * run (wrong, right, and the unknown-user dummy), measured on a monotonic clock, capped at
 * MAX_AUTH_THROTTLE_DELAY_MS. Until the first check has been measured, the throttled
 * attempt runs one check against the dummy hash instead, which is that measurement.
 * Throttled attempts do not wait in the per-login queue (see verify()).
 *
 * Returns the user row; its `email` (as stored) is the canonical name for `user=`.
 * Logs login (escaped, truncated), rip, result and reason — never the password.
 * verify() never rejects: unexpected errors become tempfail and are logged.
 * Every attempt counts in trxmail_auth_attempts_total{result} (src/metrics/metrics.ts).
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleepFor } from 'node:timers/promises';
import { LRUCache } from 'lru-cache';
import { listKey } from '../core/domain.js';
import { InvariantError, TransientError } from '../lib/errors.js';
import { constantTimeEqual, hmacSha256 } from '../lib/hmac-keys.js';
import {
  AUTH_FAILURE_WINDOW_MS,
  MAX_ADDRESS_LENGTH,
  MAX_AUTH_FAILURES_PER_ADDRESS,
  MAX_AUTH_FAILURES_PER_LOGIN_ADDRESS,
  MAX_AUTH_THROTTLE_DELAY_MS,
  MAX_AUTH_THROTTLE_KEYS,
  MAX_CREDENTIAL_CACHE_ENTRIES,
  MAX_PASSWORD_BYTES,
} from '../lib/limits.js';
import { SCRYPT_KEYLEN, SCRYPT_LOG2_N, SCRYPT_P, SCRYPT_R, SCRYPT_SALT_BYTES, verifyPassword } from '../lib/password.js';
import type { Store, User } from '../store/store.js';
import { escapeLogValue, MAX_LOG_ERROR_MESSAGE, silentLogger, type Logger } from '../lib/logger.js';
import type { AuthVerifier } from './session.js';
import { FailureLog, addressThrottleKey, pairThrottleKey } from './throttle.js';
import { metrics } from '../metrics/metrics.js';

/** How long a verified credential is trusted without running scrypt again. */
export const CREDENTIAL_CACHE_TTL_MS = 5 * 60 * 1000;
/** Weight of the newest measurement in the running average of a password check's cost. */
const CHECK_COST_WEIGHT = 0.2;

/** What the auth client told us about the session (session.ts AuthRequestMeta fits). */
export interface CredentialMeta {
  readonly service: string;
  readonly rip?: string;
  readonly lip?: string;
  readonly secured: boolean;
}

export type CredentialFailReason =
  | 'invalid login'
  | 'invalid password'
  | 'unknown user'
  | 'wrong password';

export type CredentialResult =
  | { readonly result: 'ok'; readonly user: User; readonly cached: boolean }
  | { readonly result: 'fail'; readonly reason: CredentialFailReason }
  /**
   * Too many recent failures from this client address (for this login, or for any): not
   * checked, try again later. retryAfterMs is the window: by then every failure that caused
   * the throttle has left it (throttled attempts are not counted).
   */
  | { readonly result: 'throttled'; readonly by: ThrottleKind; readonly retryAfterMs: number }
  | { readonly result: 'tempfail'; readonly reason: string };

/** Which count throttled an attempt: the (login, client address) pair, or the address alone. */
export type ThrottleKind = 'login+address' | 'address';

export interface CredentialVerifierOptions {
  /** Milliseconds since the epoch; default Date.now. */
  readonly clock?: () => number;
  readonly logger?: Logger;
  readonly cacheTtlMs?: number;
  readonly cacheMaxEntries?: number;
  readonly maxFailuresPerLoginAddress?: number;
  readonly maxFailuresPerAddress?: number;
  readonly failureWindowMs?: number;
  readonly maxThrottleKeys?: number;
  readonly maxThrottleDelayMs?: number;
  /** The slow check; default password.ts verifyPassword (tests count calls through it). */
  readonly checkPassword?: (password: string, encoded: string) => Promise<boolean>;
  /** Monotonic milliseconds for measuring the check's cost; default performance.now. */
  readonly monotonic?: () => number;
  /** Holds a throttled attempt; default a timer (node:timers/promises). */
  readonly sleep?: (ms: number) => Promise<void>;
  /**
   * The failures every node sees (the store's auth_failures): when given, failed attempts are
   * written there too and an attempt is throttled when either this process's counts or the
   * shared ones reach a limit, so guesses spread over several nodes meet one limit.
   */
  readonly shared?: SharedFailures;
}

/** The store's login-failure methods (AuthFailureStore). */
export type SharedFailures = Pick<Store, 'countAuthFailures' | 'recordAuthFailure' | 'clearAuthFailures'>;

const CACHE_PURPOSE = 'trxmail/credential-cache';

interface ThrottleKeys {
  /** Null for a login no user can have (it is still counted per address). */
  readonly pairKey: string | null;
  readonly addressKey: string | null;
}

interface Attempt extends ThrottleKeys {
  /** When the attempt started (and was counted). */
  readonly at: number;
  /** The attempt is in the failure logs (until taken back). */
  counted: boolean;
  /** Failures of the pair in the shared store when the attempt started (a success clears them when > 0). */
  sharedPairFailures: number;
}

/** The shared store's key of a client address's failures. */
function sharedAddressKey(addressKey: string): string {
  return JSON.stringify(['address', addressKey]);
}

/** The shared store's key of a (login, address) pair's failures (the pair key holds a NUL, which PostgreSQL text cannot). */
function sharedPairKey(pairKey: string): string {
  return JSON.stringify(['pair', pairKey]);
}

interface CacheEntry {
  readonly passwordHash: Buffer;
  readonly digest: Buffer;
  readonly expiresAt: number;
}

/** A hash in the current format that no password matches: the work of one real check. */
function makeDummyHash(): string {
  return ['scrypt', SCRYPT_LOG2_N, SCRYPT_R, SCRYPT_P, randomBytes(SCRYPT_SALT_BYTES).toString('base64'), randomBytes(SCRYPT_KEYLEN).toString('base64')].join('$');
}

function positiveInteger(value: number | undefined, fallback: number, name: string): number {
  const v = value ?? fallback;
  if (!Number.isSafeInteger(v) || v < 1) throw new InvariantError(`credential verifier: ${name} must be a positive integer`);
  return v;
}

export class CredentialVerifier {
  readonly #store: Pick<Store, 'getUserByEmail'>;
  readonly #clock: () => number;
  readonly #monotonic: () => number;
  readonly #sleep: (ms: number) => Promise<void>;
  readonly #log: Logger;
  readonly #check: (password: string, encoded: string) => Promise<boolean>;
  readonly #cacheTtlMs: number;
  readonly #cache: LRUCache<number, CacheEntry>;
  readonly #pairs: FailureLog;
  readonly #addresses: FailureLog;
  readonly #shared: SharedFailures | null;
  readonly #windowMs: number;
  readonly #maxThrottleDelayMs: number;
  /** Running average of a password check's cost (ms); null until one has been measured. */
  #checkCostMs: number | null = null;
  /** The dummy check a throttled attempt runs while no cost has been measured (shared). */
  #calibration: Promise<unknown> | null = null;
  /** Per-process key of the cache digests; dies with the process. */
  readonly #cacheKey = randomBytes(32);
  readonly #dummyHash = makeDummyHash();

  constructor(store: Pick<Store, 'getUserByEmail'>, opts: CredentialVerifierOptions = {}) {
    this.#store = store;
    this.#clock = opts.clock ?? Date.now;
    this.#monotonic = opts.monotonic ?? (() => performance.now());
    this.#sleep = opts.sleep ?? ((ms) => sleepFor(ms));
    this.#log = opts.logger ?? silentLogger;
    this.#check = opts.checkPassword ?? verifyPassword;
    this.#cacheTtlMs = positiveInteger(opts.cacheTtlMs, CREDENTIAL_CACHE_TTL_MS, 'cacheTtlMs');
    this.#cache = new LRUCache({ max: positiveInteger(opts.cacheMaxEntries, MAX_CREDENTIAL_CACHE_ENTRIES, 'cacheMaxEntries') });
    this.#windowMs = positiveInteger(opts.failureWindowMs, AUTH_FAILURE_WINDOW_MS, 'failureWindowMs');
    this.#maxThrottleDelayMs = positiveInteger(opts.maxThrottleDelayMs, MAX_AUTH_THROTTLE_DELAY_MS, 'maxThrottleDelayMs');
    const maxKeys = positiveInteger(opts.maxThrottleKeys, MAX_AUTH_THROTTLE_KEYS, 'maxThrottleKeys');
    this.#pairs = new FailureLog(
      positiveInteger(opts.maxFailuresPerLoginAddress, MAX_AUTH_FAILURES_PER_LOGIN_ADDRESS, 'maxFailuresPerLoginAddress'),
      this.#windowMs,
      maxKeys,
    );
    this.#addresses = new FailureLog(positiveInteger(opts.maxFailuresPerAddress, MAX_AUTH_FAILURES_PER_ADDRESS, 'maxFailuresPerAddress'), this.#windowMs, maxKeys);
    this.#shared = opts.shared ?? null;
  }

  /**
   * The callback for AuthSession/AuthServer (`verify` option). A throttled attempt is a
   * temporary failure: the session drops the connection and Postfix answers 454 4.7.0.
   */
  readonly authVerifier: AuthVerifier = async (login, password, meta) => {
    const r = await this.verify(login, password, meta);
    switch (r.result) {
      case 'ok':
        return { status: 'ok', user: r.user.email };
      case 'fail':
        return { status: 'fail' };
      case 'throttled':
      case 'tempfail':
        return { status: 'tempfail' };
    }
  };

  /** Entries in the verified-credential cache. */
  get cacheSize(): number {
    return this.#cache.size;
  }

  /** Keys tracked by the throttle: (login, address) pairs and client addresses. */
  get throttleSize(): { readonly pairs: number; readonly addresses: number } {
    return { pairs: this.#pairs.size, addresses: this.#addresses.size };
  }

  /** The running average cost of one password check (ms), null before the first one. */
  get checkCostMs(): number | null {
    return this.#checkCostMs;
  }

  /**
   * Check a login and password. Never rejects.
   *
   * Attempts for one login from one client address run one after the other: a client pool
   * opening 20 connections at once costs one scrypt (the others then hit the cache) and is
   * not mistaken for guessing (each attempt is counted only once the one before it has
   * settled, and a success clears the count). Parallel wrong guesses still stop at the limit.
   * The queue is per pair, not per login, so nobody can make a login's real user wait behind
   * a flood of their own attempts; and an attempt that is throttled when it arrives skips the
   * queue altogether.
   */
  async verify(login: string, password: string, meta: CredentialMeta): Promise<CredentialResult> {
    const keys = this.#keys(login, meta);
    const queueKey = keys.pairKey;
    if (queueKey === null || this.#throttledBy(keys, this.#clock()) !== null) return this.#verifyOne(keys, login, password, meta);
    const before = this.#queues.get(queueKey) ?? Promise.resolve();
    const mine = before.then(() => this.#verifyOne(keys, login, password, meta));
    this.#queues.set(queueKey, mine);
    try {
      return await mine;
    } finally {
      if (this.#queues.get(queueKey) === mine) this.#queues.delete(queueKey);
    }
  }

  /** (login, address) pairs with an attempt in progress → the last attempt queued for them (never rejects). */
  readonly #queues = new Map<string, Promise<CredentialResult>>();

  #keys(login: string, meta: CredentialMeta): ThrottleKeys {
    const loginKey = login.length <= MAX_ADDRESS_LENGTH ? listKey(login) : null;
    const addressKey = meta.rip !== undefined && meta.rip !== '' ? addressThrottleKey(meta.rip) : null;
    return { pairKey: loginKey === null ? null : pairThrottleKey(loginKey, addressKey), addressKey };
  }

  /** Which count throttles an attempt with these keys at `now`, or null. */
  #throttledBy(keys: ThrottleKeys, now: number): ThrottleKind | null {
    if (keys.addressKey !== null && this.#addresses.blocked(keys.addressKey, now)) return 'address';
    if (keys.pairKey !== null && this.#pairs.blocked(keys.pairKey, now)) return 'login+address';
    return null;
  }

  async #verifyOne(keys: ThrottleKeys, login: string, password: string, meta: CredentialMeta): Promise<CredentialResult> {
    const attempt: Attempt = Object.assign({}, keys, { at: this.#clock(), counted: false, sharedPairFailures: 0 });
    let result: CredentialResult;
    let error: unknown = null;
    try {
      result = await this.#verify(attempt, login, password);
    } catch (err: unknown) {
      // A bug or an unexpected failure: never 'ok', never an unhandled rejection.
      error = err;
      this.#takeBack(attempt);
      result = { result: 'tempfail', reason: 'internal error' };
    }
    if (result.result === 'fail' && (await this.#shareFailure(attempt))) {
      // Counted in the store now, where every node (this one too) sees it; locally the log
      // keeps only attempts in progress, so a success on another node clears it everywhere.
      this.#takeBack(attempt);
    }
    this.#report(login, meta, result, error);
    metrics.auth.inc({ result: result.result });
    return result;
  }

  /**
   * The shared counts' verdict on an attempt (null: not throttled), or a temporary failure
   * when the store cannot say. Keeps the pair's count for #succeeded.
   */
  async #sharedVerdict(attempt: Attempt): Promise<ThrottleKind | 'unavailable' | null> {
    if (this.#shared === null) return null;
    const keys: string[] = [];
    if (attempt.addressKey !== null) keys.push(sharedAddressKey(attempt.addressKey));
    if (attempt.pairKey !== null) keys.push(sharedPairKey(attempt.pairKey));
    if (keys.length === 0) return null;
    let counts: ReadonlyMap<string, number>;
    try {
      counts = await this.#shared.countAuthFailures(keys, new Date(attempt.at - this.#windowMs));
    } catch (err: unknown) {
      if (err instanceof TransientError) return 'unavailable';
      throw err;
    }
    // This node's other attempts in progress (the attempt itself is counted already) are not
    // in the store yet: they count on top.
    const { addressKey, pairKey, at } = attempt;
    if (addressKey !== null && (counts.get(sharedAddressKey(addressKey)) ?? 0) + this.#addresses.count(addressKey, at) - 1 >= this.#addresses.limit) {
      return 'address';
    }
    attempt.sharedPairFailures = pairKey === null ? 0 : (counts.get(sharedPairKey(pairKey)) ?? 0);
    if (pairKey !== null && attempt.sharedPairFailures + this.#pairs.count(pairKey, at) - 1 >= this.#pairs.limit) return 'login+address';
    return null;
  }

  /**
   * A failed attempt, written where every node sees it; true when written. A store failure
   * leaves it in this node's own count only (the other nodes miss this one failure).
   */
  async #shareFailure(attempt: Attempt): Promise<boolean> {
    if (this.#shared === null || !attempt.counted) return false;
    const keys: string[] = [];
    if (attempt.addressKey !== null) keys.push(sharedAddressKey(attempt.addressKey));
    if (attempt.pairKey !== null) keys.push(sharedPairKey(attempt.pairKey));
    if (keys.length === 0) return false;
    try {
      await this.#shared.recordAuthFailure(keys, new Date(attempt.at), new Date(this.#clock() - this.#windowMs));
      return true;
    } catch (err: unknown) {
      this.#log.warn({ err: err instanceof Error ? escapeLogValue(err.message, MAX_LOG_ERROR_MESSAGE) : String(err) }, 'credentials: failed login not shared with the other nodes');
      return false;
    }
  }

  async #verify(attempt: Attempt, login: string, password: string): Promise<CredentialResult> {
    const { pairKey, addressKey, at } = attempt;
    const by = this.#throttledBy(attempt, at);
    if (by !== null) {
      await this.#holdThrottled(password);
      return { result: 'throttled', by, retryAfterMs: this.#windowMs };
    }
    // Counted from the start, so parallel guesses cannot all get past the limit.
    if (pairKey !== null) this.#pairs.add(pairKey, at);
    if (addressKey !== null) this.#addresses.add(addressKey, at);
    attempt.counted = true;
    const shared = await this.#sharedVerdict(attempt);
    if (shared !== null) {
      this.#takeBack(attempt);
      if (shared === 'unavailable') return { result: 'tempfail', reason: 'store unavailable (login failures)' };
      await this.#holdThrottled(password);
      return { result: 'throttled', by: shared, retryAfterMs: this.#windowMs };
    }
    // No user can have such a login, and the password could never verify: nothing to hide.
    if (pairKey === null) return { result: 'fail', reason: 'invalid login' };
    const passwordBytes = Buffer.byteLength(password, 'utf8');
    if (passwordBytes === 0 || passwordBytes > MAX_PASSWORD_BYTES) return { result: 'fail', reason: 'invalid password' };

    let user: User | null;
    try {
      user = await this.#store.getUserByEmail(login);
    } catch (err: unknown) {
      if (!(err instanceof TransientError)) throw err;
      this.#takeBack(attempt);
      return { result: 'tempfail', reason: `store unavailable (${err.code})` };
    }
    if (user === null) {
      await this.#timedCheck(password, this.#dummyHash);
      return { result: 'fail', reason: 'unknown user' };
    }

    const hash = Buffer.from(user.passwordHash, 'utf8');
    const digest = hmacSha256(this.#cacheKey, [CACHE_PURPOSE, String(user.id), user.passwordHash, password]);
    // peek: only a hit makes the entry recently used.
    const entry = this.#cache.peek(user.id);
    if (entry !== undefined) {
      const fresh = entry.expiresAt > at;
      // Both comparisons always run: the timing says nothing about which one failed.
      const sameHash = constantTimeEqual(entry.passwordHash, hash);
      const sameDigest = constantTimeEqual(entry.digest, digest);
      if (fresh && sameHash && sameDigest) {
        this.#cache.get(user.id); // most recently used now; its expiry stays as it was
        this.#succeeded(attempt);
        return { result: 'ok', user, cached: true };
      }
      // Expired, or the password was changed: the entry can never match again.
      if (!fresh || !sameHash) this.#cache.delete(user.id);
    }

    if (!(await this.#timedCheck(password, user.passwordHash))) return { result: 'fail', reason: 'wrong password' };
    this.#cache.set(user.id, { passwordHash: hash, digest, expiresAt: this.#clock() + this.#cacheTtlMs });
    this.#succeeded(attempt);
    return { result: 'ok', user, cached: false };
  }

  /** The password check, its cost folded into the running average. */
  async #timedCheck(password: string, encoded: string): Promise<boolean> {
    const started = this.#monotonic();
    const ok = await this.#check(password, encoded);
    const cost = Math.max(0, this.#monotonic() - started);
    const prev = this.#checkCostMs;
    this.#checkCostMs = prev === null ? cost : prev + (cost - prev) * CHECK_COST_WEIGHT;
    return ok;
  }

  /**
   * Hold a throttled attempt as long as a password check takes (see the header comment):
   * a timer for the measured cost, capped; before any measurement, one check against the
   * dummy hash (shared by the throttled attempts that arrive meanwhile).
   */
  async #holdThrottled(password: string): Promise<void> {
    if (this.#checkCostMs === null) {
      this.#calibration ??= this.#timedCheck(password, this.#dummyHash).finally(() => {
        this.#calibration = null;
      });
      await this.#calibration;
      return;
    }
    await this.#sleep(Math.min(Math.round(this.#checkCostMs), this.#maxThrottleDelayMs));
  }

  /** A temporary failure is nobody's fault: the attempt no longer counts. Idempotent. */
  #takeBack(attempt: Attempt): void {
    if (!attempt.counted) return;
    attempt.counted = false;
    if (attempt.pairKey !== null) this.#pairs.remove(attempt.pairKey, attempt.at);
    if (attempt.addressKey !== null) this.#addresses.remove(attempt.addressKey, attempt.at);
  }

  /** Success clears the pair's failures and takes this attempt back from the address. */
  #succeeded(attempt: Attempt): void {
    if (attempt.pairKey !== null) this.#pairs.clear(attempt.pairKey);
    if (attempt.addressKey !== null && attempt.counted) this.#addresses.remove(attempt.addressKey, attempt.at);
    attempt.counted = false;
    if (this.#shared !== null && attempt.pairKey !== null && attempt.sharedPairFailures > 0) {
      // Not awaited: the login succeeded whatever the store says; a failure leaves the count to expire.
      this.#shared.clearAuthFailures(sharedPairKey(attempt.pairKey)).catch((err: unknown) => {
        this.#log.warn({ err: err instanceof Error ? escapeLogValue(err.message, MAX_LOG_ERROR_MESSAGE) : String(err) }, 'credentials: shared failures of a login not cleared');
      });
    }
  }

  #report(login: string, meta: CredentialMeta, result: CredentialResult, error: unknown): void {
    const fields: Record<string, unknown> = {
      login: escapeLogValue(login),
      rip: escapeLogValue(meta.rip ?? '', 64),
      service: escapeLogValue(meta.service, 32),
      secured: meta.secured,
      result: result.result,
    };
    switch (result.result) {
      case 'ok':
        this.#log.info({ user: escapeLogValue(result.user.email), cached: result.cached, ...fields }, 'credentials: accepted');
        return;
      case 'fail':
        this.#log.info({ reason: result.reason, ...fields }, 'credentials: refused');
        return;
      case 'throttled':
        this.#log.warn({ throttle: result.by, ...fields }, 'credentials: throttled, answering temporary failure');
        return;
      case 'tempfail':
        if (error === null) {
          this.#log.warn({ reason: result.reason, ...fields }, 'credentials: temporary failure');
        } else {
          const e = error instanceof Error ? { name: error.name, message: escapeLogValue(error.message, MAX_LOG_ERROR_MESSAGE) } : { type: typeof error };
          this.#log.error({ reason: result.reason, err: e, ...fields }, 'credentials: unexpected error, answering temporary failure');
        }
        return;
    }
  }
}
