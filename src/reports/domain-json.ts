/**
 * One sender domain and its DKIM keys as JSON, for the two places that print it: the CLI
 * (`domain list --json`) and the reports API (`GET /api/v1/domains`). One mapping, the same in
 * both: the domain (A-label and Unicode), its return-path host, the last DNS check (status and
 * time) and every key with its public facts — selector, algorithm, state, created, activated,
 * retire-after. Private keys are never part of it, wrapped or not: the fields are named one by
 * one, so a new field of DkimKey is not printed by accident.
 *
 * Key order is part of the output. Pure; throws nothing.
 */
import { displayDomain } from '../core/domain.js';
import type { DkimKey, DomainAuth } from '../store/store.js';

/** One key: public facts only (dates ISO 8601, UTC, milliseconds; null when not set). */
export function dkimKeyJson(k: DkimKey): Record<string, unknown> {
  return {
    selector: k.selector,
    algorithm: k.algorithm,
    state: k.state,
    createdAt: k.createdAt.toISOString(),
    activatedAt: k.activatedAt?.toISOString() ?? null,
    retireAfter: k.retireAfter?.toISOString() ?? null,
  };
}

/** One domain with its keys (oldest first, every state). */
export function domainJson(auth: DomainAuth, keys: readonly DkimKey[]): Record<string, unknown> {
  return {
    domain: auth.domain,
    unicode: displayDomain(auth.domain),
    returnPath: auth.returnPath,
    checkStatus: auth.checkStatus,
    checkedAt: auth.checkedAt?.toISOString() ?? null,
    keys: keys.map(dkimKeyJson),
  };
}
