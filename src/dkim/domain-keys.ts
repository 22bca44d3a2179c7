/**
 * DKIM keys and DNS checks per customer sender domain, on the store: what `trxmail domain`
 * and the scheduled checker (domain-checker.ts) share.
 *
 *  - createKeyPair: a new pair, RSA-2048 and Ed25519 (keys.ts), selectors `trx<yyyymmdd>r` /
 *    `trx<yyyymmdd>e` free among ALL the domain's selectors (retired ones too: a selector is
 *    one DNS name, never reused), private keys wrapped (key-wrap.ts) with the first configured
 *    secret. Both are stored pending; an 'active' pair is then activated in one store
 *    transaction, so a domain never signs with half a pair.
 *  - ensureDomainKeys: the upgrade path — every sender domain without an active or pending
 *    key (added before DKIM existed, or removed and added again: its old keys are retired)
 *    gets an active pair.
 *  - domainDnsFacts: the facts src/dns needs (keys pending, active or retiring; the relay's
 *    side from trxmail.yaml `dns`).
 *  - checkAndActivate: checkDomain, then a pending pair whose records are all published
 *    becomes active (the active one retiring for `dkim.overlapDays`), then the result is
 *    recorded — which queues a 'domain' webhook event when the status changed.
 *
 * Status of a check: 'ok' when every record is as expected and an active key is published;
 * 'incomplete' when a record is missing or wrong (or the domain has no key at all);
 * 'error' when the DNS did not answer for some record and nothing is known to be missing —
 * such a check is NOT recorded (the last known status and time stay, no webhook fires for a
 * resolver's hiccup) and activates nothing; the caller says so and tries again later.
 *
 * Throws: UsageError (unknown space or domain, createKeyPair for a domain that has an active
 * key already), ConfigError from key wrapping (no secret configured), TransientError from
 * the store. DNS failures never throw (they are record status 'error').
 */
import type { Config } from '../config/config.js';
import { normaliseDomain } from '../core/domain.js';
import { checkDomain } from '../dns/check.js';
import type { DnsResolver } from '../dns/resolver.js';
import type { DkimKeyFacts, DomainCheck, DomainDnsFacts } from '../dns/types.js';
import { UsageError } from '../lib/errors.js';
import type { HmacKey } from '../lib/hmac-keys.js';
import type { DkimKey, DomainCheckProblem, DomainCheckStatus, Store } from '../store/store.js';
import { wrapPrivateKey } from './key-wrap.js';
import { DKIM_ALGORITHMS, freeSelectorName, generateDkimKey } from './keys.js';
import { merged } from '../lib/merged.js';

const DAY_MS = 24 * 60 * 60 * 1000;

/** The store methods a key pair needs. */
export type KeyStore = Pick<Store, 'listDkimKeys' | 'addDkimKey' | 'activateDkimKeys'>;
/** The store methods the checks need. */
export type CheckStore = Pick<Store, 'getDomainAuth' | 'listDkimKeys' | 'activateDkimKeys' | 'recordDomainCheck'>;

export interface KeyPairOptions {
  readonly spaceId: number;
  readonly domain: string;
  readonly state: 'active' | 'pending';
  /** Creation (and activation) time; the selectors carry its UTC date. */
  readonly now: Date;
}

/** The domain as the store keeps it (lower-case A-label), or UsageError. */
function domainName(domain: string): string {
  const d = normaliseDomain(domain);
  if (d === null) throw new UsageError(`not a domain name: ${JSON.stringify(domain.slice(0, 100))}`);
  return d;
}

/** A key that is published and may sign now or soon. */
export function isLiveKey(k: DkimKey): boolean {
  return k.state === 'active' || k.state === 'pending';
}

/**
 * Generates, wraps and stores an RSA-2048 and an Ed25519 key for the domain; returns the two
 * keys as stored (in the state asked for). UsageError when `state` is 'active' and the domain
 * has an active key already (replace it with a pending pair and activateDkimKeys instead).
 */
export async function createKeyPair(store: KeyStore, hmacKeys: readonly HmacKey[], opts: KeyPairOptions): Promise<DkimKey[]> {
  const domain = domainName(opts.domain);
  const existing = await store.listDkimKeys(opts.spaceId, domain);
  if (opts.state === 'active' && existing.some((k) => k.state === 'active')) {
    throw new UsageError(`${domain} has an active DKIM key pair already: rotate it (trxmail domain dkim rotate)`);
  }
  const taken = existing.map((k) => k.selector);
  const generated = await Promise.all(DKIM_ALGORITHMS.map((algorithm) => generateDkimKey(algorithm)));
  const added: DkimKey[] = [];
  for (const g of generated) {
    const selector = freeSelectorName(g.algorithm, opts.now, taken);
    taken.push(selector);
    added.push(
      await store.addDkimKey({
        spaceId: opts.spaceId,
        domain,
        selector,
        algorithm: g.algorithm,
        state: 'pending',
        publicTxt: g.txtRecord,
        wrappedPrivateKey: wrapPrivateKey(g.privateKeyPem, { domain, selector }, hmacKeys),
        createdAt: opts.now,
      }),
    );
  }
  if (opts.state === 'pending') return added;
  // No active key to retire (checked above): retireAfter is not used.
  const after = await store.activateDkimKeys(opts.spaceId, domain, added.map((k) => k.id), opts.now, opts.now);
  const ids = new Set(added.map((k) => k.id));
  return after.filter((k) => ids.has(k.id));
}

export interface EnsuredDomain {
  readonly spaceId: number;
  readonly domain: string;
  readonly keys: readonly DkimKey[];
}

/**
 * An active pair for every sender domain (of every space) that has no active or pending key;
 * returns what it created. A domain that fails goes to `onError` and the others go on; without
 * `onError` the first failure is thrown once every domain has been tried.
 */
export async function ensureDomainKeys(
  store: KeyStore & Pick<Store, 'listDomainAuth'>,
  hmacKeys: readonly HmacKey[],
  now: Date,
  onError?: (domain: { spaceId: number; domain: string }, err: unknown) => void,
): Promise<EnsuredDomain[]> {
  const created: EnsuredDomain[] = [];
  let first: { err: unknown } | null = null;
  for (const d of await store.listDomainAuth()) {
    try {
      const keys = await store.listDkimKeys(d.spaceId, d.domain);
      if (keys.some(isLiveKey)) continue;
      created.push({ spaceId: d.spaceId, domain: d.domain, keys: await createKeyPair(store, hmacKeys, { spaceId: d.spaceId, domain: d.domain, state: 'active', now }) });
    } catch (err: unknown) {
      if (onError) onError({ spaceId: d.spaceId, domain: d.domain }, err);
      else first ??= { err };
    }
  }
  if (first) throw first.err;
  return created;
}

/** The DNS facts of one sender domain: its published keys, its return-path host, the relay's side. */
export async function domainDnsFacts(
  store: Pick<Store, 'getDomainAuth' | 'listDkimKeys'>,
  config: Pick<Config, 'dns'>,
  spaceId: number,
  domain: string,
): Promise<DomainDnsFacts> {
  const auth = await store.getDomainAuth(spaceId, domain);
  const keys = await store.listDkimKeys(spaceId, auth.domain);
  const dkim: DkimKeyFacts[] = [];
  for (const k of keys) {
    if (k.state === 'retired') continue;
    dkim.push({ selector: k.selector, algorithm: k.algorithm, txt: k.publicTxt, state: k.state });
  }
  return {
    domain: auth.domain,
    dkim,
    returnPath: auth.returnPath,
    relay: { bounceHost: config.dns.returnPathTarget, mxHost: null, spf: config.dns.spf },
  };
}

/** The status a check amounts to (see the header). */
export function checkStatusOf(check: DomainCheck): Exclude<DomainCheckStatus, 'unchecked'> {
  if (check.records.some((r) => r.status === 'missing' || r.status === 'wrong')) return 'incomplete';
  if (check.records.some((r) => r.status === 'error')) return 'error';
  return check.alignment.dkim ? 'ok' : 'incomplete';
}

/** The records of a check that are not ok; a domain without an active key counts as one `no-key` problem. */
export function checkProblems(check: DomainCheck): DomainCheckProblem[] {
  const problems: DomainCheckProblem[] = check.records
    .filter((r) => r.status !== 'ok')
    .map((r) => ({ type: r.record.type, name: r.record.name, status: r.status }));
  if (!check.records.some((r) => r.record.purpose === 'dkim')) {
    problems.unshift({ type: 'TXT', name: `_domainkey.${check.domain}.`, status: 'no-key' });
  }
  return problems;
}

/** The check as stored with the domain (DomainAuth.checkDetail): records without the long key values. */
export function checkDetail(check: DomainCheck): Record<string, unknown> {
  return {
    records: check.records.map((r) => ({
      type: r.record.type,
      name: r.record.name,
      purpose: r.record.purpose,
      publishedBy: r.record.publishedBy,
      status: r.status,
      detail: r.detail,
    })),
    alignment: { ...check.alignment },
  };
}

export interface CheckOutcome {
  readonly check: DomainCheck;
  /** What the check amounts to (see checkStatusOf). */
  readonly status: Exclude<DomainCheckStatus, 'unchecked'>;
  /** The records that are not ok. */
  readonly missing: readonly DomainCheckProblem[];
  /** False for status 'error': nothing was recorded or activated. */
  readonly recorded: boolean;
  /** The recorded status before this check. */
  readonly previous: DomainCheckStatus;
  /** The status changed (and a 'domain' webhook event was queued if the space has a webhook). */
  readonly changed: boolean;
  /** Pending keys that became active now. */
  readonly activated: readonly DkimKey[];
  /** Keys that were active and are retiring now (until their retireAfter). */
  readonly retiring: readonly DkimKey[];
}

/**
 * Checks the domain's records in the DNS; activates its pending keys when all their records
 * are ok (the active ones retire after `config.dkim.overlapDays`); records the result unless
 * the DNS did not answer (status 'error').
 */
export async function checkAndActivate(
  store: CheckStore,
  config: Pick<Config, 'dns' | 'dkim'>,
  resolver: DnsResolver,
  spaceId: number,
  domain: string,
  now: Date,
): Promise<CheckOutcome> {
  const facts = await domainDnsFacts(store, config, spaceId, domain);
  let check = await checkDomain(facts, resolver);
  if (checkStatusOf(check) === 'error') {
    const auth = await store.getDomainAuth(spaceId, facts.domain);
    return { check, status: 'error', missing: checkProblems(check), recorded: false, previous: auth.checkStatus, changed: false, activated: [], retiring: [] };
  }
  let activated: DkimKey[] = [];
  let retiring: DkimKey[] = [];
  const pendingNames = new Set(facts.dkim.filter((k) => k.state === 'pending').map((k) => `${k.selector}._domainkey.${facts.domain}.`));
  const pendingChecks = check.records.filter((r) => r.record.purpose === 'dkim' && pendingNames.has(r.record.name));
  if (pendingNames.size > 0 && pendingChecks.length === pendingNames.size && pendingChecks.every((r) => r.status === 'ok')) {
    const before = await store.listDkimKeys(spaceId, facts.domain);
    // Only the keys whose records were checked (another pair may have been created meanwhile).
    const ids = before.filter((k) => k.state === 'pending' && pendingNames.has(`${k.selector}._domainkey.${facts.domain}.`)).map((k) => k.id);
    const wasActive = new Set(before.filter((k) => k.state === 'active').map((k) => k.id));
    const retireAfter = new Date(now.getTime() + config.dkim.overlapDays * DAY_MS);
    if (ids.length > 0) {
      const after = await store.activateDkimKeys(spaceId, facts.domain, ids, now, retireAfter);
      activated = after.filter((k) => ids.includes(k.id));
      retiring = after.filter((k) => wasActive.has(k.id) && k.state === 'retiring');
    }
    // The keys just activated are published (their records are ok): DKIM aligns from now on.
    if (activated.length > 0) check = merged(check, { alignment: merged(check.alignment, { dkim: true }) });
  }
  const status = checkStatusOf(check);
  const missing = checkProblems(check);
  const { changed, previous } = await store.recordDomainCheck(spaceId, facts.domain, { status, at: now, detail: checkDetail(check), missing });
  return { check, status, missing, recorded: true, previous, changed, activated, retiring };
}
