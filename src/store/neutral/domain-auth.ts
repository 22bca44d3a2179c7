/**
 * The domain-authentication aggregate above the backends (DomainAuthStore): checks domains,
 * selectors and return-path hosts, refuses domains that are not the space's, turns the
 * backend's findings ('duplicate', 'taken', 'not-pending') into messages, and decides the
 * webhook fan-out of a check: one 'domain' delivery when the status changes. The backend only
 * runs SQL.
 *
 * Limits: MAX_DOMAIN_CHECK_PROBLEMS problems per recorded check.
 *
 * Throws: UsageError (unknown space or domain, invalid selector or host, a taken selector or
 * return-path host, a key that is not pending), TransientError and InvariantError from the
 * backend.
 */
import { UsageError } from '../../lib/errors.js';
import { MAX_DOMAIN_CHECK_PROBLEMS } from '../../lib/limits.js';
import type { AccountBackend, DeliveryRecord, DomainAuthBackend } from '../backend.js';
import {
  DKIM_ALGORITHMS,
  type DkimKey,
  type DomainAuth,
  type DomainAuthStore,
  type DomainCheckProblem,
  type DomainCheckResult,
  type DomainCheckStatus,
  type NewDkimKey,
} from '../domain-auth-store.js';
import { requireSpace } from './accounts.js';
import { quote, requireDomain, requireText, toMs } from './checks.js';

/** A DKIM selector: one or more DNS labels (RFC 6376 §3.1), stored lower-case. */
/** Longest type, name or status of a reported problem (a DNS name has at most 253 characters plus the dot). */
const PROBLEM_FIELD_MAX = 256;

const SELECTOR_RE = /^(?=.{1,63}$)[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*$/;

/** The problems of a check as plain {type, name, status} strings, or UsageError. */
function checkProblems(problems: readonly DomainCheckProblem[]): DomainCheckProblem[] {
  if (problems.length > MAX_DOMAIN_CHECK_PROBLEMS) throw new UsageError(`at most ${MAX_DOMAIN_CHECK_PROBLEMS} problems per domain check`);
  return problems.map((p) => {
    for (const field of [p.type, p.name, p.status]) {
      if (typeof field !== 'string' || field === '' || field.length > PROBLEM_FIELD_MAX) {
        throw new UsageError(`a domain check problem needs type, name and status of 1 to ${PROBLEM_FIELD_MAX} characters`);
      }
    }
    return { type: p.type, name: p.name, status: p.status };
  });
}

function requireSelector(selector: string): string {
  const s = selector.trim().toLowerCase();
  if (!SELECTOR_RE.test(s)) throw new UsageError(`${quote(selector)} is not a valid DKIM selector`);
  return s;
}

export class NeutralDomainAuth implements DomainAuthStore {
  constructor(
    private readonly backend: DomainAuthBackend,
    private readonly accounts: AccountBackend,
  ) {}

  /** The normalised domain, after checking that it is one of the space's. */
  private async spaceDomain(spaceId: number, domain: string): Promise<string> {
    const d = requireDomain(domain);
    await requireSpace(this.accounts, spaceId);
    if (!(await this.backend.domainExists(spaceId, d))) throw new UsageError(`${quote(d)} is not a sender domain of space ${String(spaceId)}`);
    return d;
  }

  async addDkimKey(key: NewDkimKey): Promise<DkimKey> {
    const selector = requireSelector(key.selector);
    if (!DKIM_ALGORITHMS.includes(key.algorithm)) throw new UsageError(`unknown DKIM algorithm ${quote(String(key.algorithm))}`);
    if (key.state !== 'pending' && key.state !== 'active') throw new UsageError('a new DKIM key is pending or active');
    const publicTxt = requireText(key.publicTxt, 'DKIM public key record');
    const wrapped = requireText(key.wrappedPrivateKey, 'wrapped DKIM private key');
    const createdAtMs = toMs(key.createdAt, 'key creation time');
    const domain = await this.spaceDomain(key.spaceId, key.domain);
    const out = await this.backend.insertDkimKey({
      spaceId: key.spaceId,
      domain,
      selector,
      algorithm: key.algorithm,
      state: key.state,
      publicTxt,
      wrappedPrivateKey: wrapped,
      createdAtMs,
    });
    if (out === 'duplicate') throw new UsageError(`selector ${quote(selector)} exists already for ${quote(domain)}`);
    return out;
  }

  async listDkimKeys(spaceId: number, domain: string): Promise<DkimKey[]> {
    return this.backend.listDkimKeys(spaceId, await this.spaceDomain(spaceId, domain));
  }

  async activateDkimKeys(spaceId: number, domain: string, activate: readonly number[], now: Date, retireAfter: Date): Promise<DkimKey[]> {
    const nowMs = toMs(now, 'activation time');
    const retireMs = toMs(retireAfter, 'retire time');
    const d = await this.spaceDomain(spaceId, domain);
    const out = await this.backend.activateDkimKeys(spaceId, d, [...new Set(activate)], nowMs, retireMs);
    if (out === 'not-pending') throw new UsageError(`no pending DKIM keys ${activate.join(', ')} for ${quote(d)}`);
    return out;
  }

  retireDkimKeys(now: Date): Promise<number> {
    return this.backend.retireDkimKeys(toMs(now, 'time'));
  }

  async getDomainAuth(spaceId: number, domain: string): Promise<DomainAuth> {
    const d = await this.spaceDomain(spaceId, domain);
    const auth = await this.backend.getDomainAuth(spaceId, d);
    if (auth === null) throw new UsageError(`${quote(d)} is not a sender domain of space ${String(spaceId)}`);
    return auth;
  }

  listDomainAuth(): Promise<DomainAuth[]> {
    return this.backend.listDomainAuth();
  }

  async setReturnPath(spaceId: number, domain: string, host: string | null): Promise<DomainAuth> {
    const d = await this.spaceDomain(spaceId, domain);
    let h: string | null = null;
    if (host !== null) {
      h = requireDomain(host);
      if (h === d) throw new UsageError(`the return-path host must be a host of its own (e.g. bounces.${d}), not the sender domain itself`);
      const owners = await this.backend.listDomainAuth();
      if (owners.some((o) => o.domain === h)) throw new UsageError(`${quote(h)} is a sender domain; a return-path host receives only bounces`);
    }
    const out = await this.backend.setReturnPath(spaceId, d, h);
    if (out === 'taken') throw new UsageError(`${quote(h ?? '')} is the return-path host of another domain already`);
    if (out === null) throw new UsageError(`${quote(d)} is not a sender domain of space ${String(spaceId)}`);
    return out;
  }

  listReturnPathHosts(): Promise<string[]> {
    return this.backend.listReturnPathHosts();
  }

  async recordDomainCheck(spaceId: number, domain: string, check: DomainCheckResult): Promise<{ changed: boolean; previous: DomainCheckStatus }> {
    const atMs = toMs(check.at, 'check time');
    if (!['ok', 'incomplete', 'error'].includes(check.status)) throw new UsageError(`unknown check status ${quote(String(check.status))}`);
    const missing = checkProblems(check.missing ?? []);
    const d = await this.spaceDomain(spaceId, domain);
    const status = check.status;
    // The fan-out decision: a 'domain' event exactly when the status changes (decided in the
    // backend's transaction, so two checkers racing queue it once).
    const deliveryFor = (previous: DomainCheckStatus): DeliveryRecord | null =>
      previous === status
        ? null
        : {
            type: 'domain',
            sendId: '',
            recipient: '',
            atMs,
            detailJson: JSON.stringify({ domain: d, from: previous, to: status, at: new Date(atMs).toISOString(), missing }),
            queuedAtMs: Date.now(),
          };
    const previous = await this.backend.recordDomainCheck(spaceId, d, status, atMs, JSON.stringify(check.detail), deliveryFor);
    if (previous === null) throw new UsageError(`${quote(d)} is not a sender domain of space ${String(spaceId)}`);
    return { changed: previous !== status, previous };
  }
}
