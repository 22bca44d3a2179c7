/**
 * The domain-authentication aggregate of the Store: per sender domain of a space, its DKIM
 * keys (RSA-2048 and Ed25519 pairs, their selectors and life cycle), the optional return-path
 * host that makes SPF align, and the result of the last DNS check.
 *
 * Key life cycle (docs/architecture.md "Domain authentication"):
 *   pending  → created, published in `domain dns`, does not sign yet;
 *   active   → signs every message of the domain (at most one pair: one key per algorithm);
 *   retiring → replaced by a newer pair; still published (verifiers may hold mail signed
 *              with it) but no longer signs, until `retireAfter`;
 *   retired  → neither published nor used; kept for the record.
 * Private keys are stored wrapped (src/dkim/key-wrap.ts): a copy of the database alone does
 * not reveal them.
 *
 * Throws: UsageError for operator mistakes (unknown space or domain, bad selector, a
 * return-path host that is not a domain or is taken by another space, a state change the
 * life cycle does not allow), TransientError when the backend is unavailable.
 */

import type { DkimAlgorithm } from '../core/dkim-algorithms.js';
export { DKIM_ALGORITHMS, type DkimAlgorithm } from '../core/dkim-algorithms.js';

export type DkimKeyState = 'pending' | 'active' | 'retiring' | 'retired';
export const DKIM_KEY_STATES: readonly DkimKeyState[] = ['pending', 'active', 'retiring', 'retired'];

export interface DkimKey {
  readonly id: number;
  readonly spaceId: number;
  /** The sender domain (`d=`), normalised A-label. */
  readonly domain: string;
  readonly selector: string;
  readonly algorithm: DkimAlgorithm;
  readonly state: DkimKeyState;
  /** The TXT value to publish at `<selector>._domainkey.<domain>`. */
  readonly publicTxt: string;
  /** The private key, wrapped (src/dkim/key-wrap.ts). */
  readonly wrappedPrivateKey: string;
  readonly createdAt: Date;
  /** When it started signing, or null. */
  readonly activatedAt: Date | null;
  /** Retiring keys: when they stop being published; null otherwise. */
  readonly retireAfter: Date | null;
}

export interface NewDkimKey {
  readonly spaceId: number;
  readonly domain: string;
  readonly selector: string;
  readonly algorithm: DkimAlgorithm;
  readonly state: 'pending' | 'active';
  readonly publicTxt: string;
  readonly wrappedPrivateKey: string;
  readonly createdAt: Date;
}

export type DomainCheckStatus = 'unchecked' | 'ok' | 'incomplete' | 'error';

export interface DomainAuth {
  readonly spaceId: number;
  readonly domain: string;
  /** The customer's return-path host (envelope sender domain), or null: the relay's bounce domain. */
  readonly returnPath: string | null;
  readonly checkStatus: DomainCheckStatus;
  readonly checkedAt: Date | null;
  /** The last check's result as JSON-able data (records and alignment), or null. */
  readonly checkDetail: Readonly<Record<string, unknown>> | null;
}

export interface DomainAuthStore {
  /** UsageError when the domain is not one of the space's or the selector is taken for it. */
  addDkimKey(key: NewDkimKey): Promise<DkimKey>;
  /** Every key of the domain (every state), oldest first. */
  listDkimKeys(spaceId: number, domain: string): Promise<DkimKey[]>;
  /**
   * Moves keys through the life cycle in one transaction: `activate` (pending → active) and
   * the domain's keys that were active become retiring until `retireAfter`; retiring keys
   * whose `retireAfter` has passed at `now` become retired. UsageError for a key id that is
   * not the domain's or not pending.
   */
  activateDkimKeys(spaceId: number, domain: string, activate: readonly number[], now: Date, retireAfter: Date): Promise<DkimKey[]>;
  /** Retiring keys whose time has come become retired; returns how many. */
  retireDkimKeys(now: Date): Promise<number>;

  /** The domain's settings (defaults when never set). UsageError for a domain not of the space. */
  getDomainAuth(spaceId: number, domain: string): Promise<DomainAuth>;
  /** Every sender domain of every space with its settings (for scheduled checks). */
  listDomainAuth(): Promise<DomainAuth[]>;
  /**
   * Sets (or clears, with null) the return-path host. UsageError when it is not a domain, is
   * one of the sender domains itself, or another space's domain uses it already.
   */
  setReturnPath(spaceId: number, domain: string, host: string | null): Promise<DomainAuth>;
  /** Every configured return-path host (normalised), sorted. */
  listReturnPathHosts(): Promise<string[]>;
  /**
   * Stores a check result; returns whether the status changed. When it changed and the space
   * has a webhook, a 'domain' webhook delivery is queued in the same transaction, its detail
   * `{ domain, from, to, at, missing }` (`missing`: the check's records that are not ok, as
   * given; [] when absent).
   */
  recordDomainCheck(spaceId: number, domain: string, check: DomainCheckResult): Promise<{ changed: boolean; previous: DomainCheckStatus }>;
}

/** A record a DNS check did not find as expected (for the 'domain' webhook event). */
export interface DomainCheckProblem {
  /** DNS type: TXT, CNAME, MX. */
  readonly type: string;
  /** Owner name, FQDN with trailing dot. */
  readonly name: string;
  /** missing, wrong or error (the DNS did not answer). */
  readonly status: string;
}

export interface DomainCheckResult {
  readonly status: Exclude<DomainCheckStatus, 'unchecked'>;
  readonly at: Date;
  readonly detail: Readonly<Record<string, unknown>>;
  /** The records that are not ok; reported in the 'domain' webhook event. */
  readonly missing?: readonly DomainCheckProblem[];
}
