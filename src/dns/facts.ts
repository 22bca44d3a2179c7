/**
 * Checking and normalising the facts a caller gives about one customer domain
 * (DomainDnsFacts) before any record is printed or looked up: host names to lower-case
 * A-labels (src/core/domain.ts), DKIM selectors as DNS labels (RFC 6376 3.1), each DKIM TXT
 * a key record whose `k=` fits its algorithm (RFC 6376 3.6.1, RFC 8463), the relay's SPF
 * mechanisms as plain terms (RFC 7208 4.6.1).
 *
 * Limits: MAX_DKIM_SELECTORS, MAX_DOMAIN_LENGTH (the longest owner name we build).
 * Throws UsageError naming the field and the (escaped, cut) value for any fact that is not
 * usable. Pure.
 */
import { normaliseDomain } from '../core/domain.js';
import { UsageError } from '../core/errors.js';
import { MAX_DOMAIN_LENGTH } from '../core/limits.js';
import { MAX_DKIM_SELECTORS } from './limits.js';
import { DKIM_KEY_TYPE, dkimKeyTags, spfTerms, type DkimKeyTags } from './tags.js';
import { displayText } from './txt.js';
import type { DkimAlgorithm, DkimKeyState, DomainDnsFacts } from './types.js';

/** Longest piece of a bad value quoted back in an error message. */
const SHOWN_VALUE_LENGTH = 80;

export interface NormalisedDkimKey {
  /** Lower-case A-label(s). */
  readonly selector: string;
  readonly algorithm: DkimAlgorithm;
  readonly txt: string;
  readonly state: DkimKeyState;
  /** Owner name without trailing dot: `<selector>._domainkey.<domain>`. */
  readonly name: string;
  readonly key: DkimKeyTags;
}

export interface NormalisedFacts {
  readonly domain: string;
  readonly dkim: readonly NormalisedDkimKey[];
  readonly returnPath: string | null;
  readonly relay: { readonly bounceHost: string; readonly mxHost: string | null; readonly spf: string };
}

const STATES: readonly string[] = ['pending', 'active', 'retiring'];
const PRINTABLE_ASCII_RE = /^[\x20-\x7e]*$/;

function show(value: string): string {
  return JSON.stringify(displayText(value, SHOWN_VALUE_LENGTH));
}

function host(field: string, value: string): string {
  const d = normaliseDomain(value);
  if (!d) throw new UsageError(`${field} ${show(value)}: not a host name`);
  return d;
}

function ownerName(field: string, name: string): string {
  if (name.length > MAX_DOMAIN_LENGTH) throw new UsageError(`${field}: the name ${show(name)} is longer than ${MAX_DOMAIN_LENGTH} characters`);
  return name;
}

function dkimKey(domain: string, k: DomainDnsFacts['dkim'][number], i: number): NormalisedDkimKey {
  const field = `dkim[${i}]`;
  const selector = host(`${field}.selector`, k.selector);
  if (!STATES.includes(k.state)) throw new UsageError(`${field}.state ${show(String(k.state))}: not pending, active or retiring`);
  if (!Object.hasOwn(DKIM_KEY_TYPE, k.algorithm)) throw new UsageError(`${field}.algorithm ${show(String(k.algorithm))}: not rsa-sha256 or ed25519-sha256`);
  if (!PRINTABLE_ASCII_RE.test(k.txt)) throw new UsageError(`${field}.txt: not printable ASCII`);
  const key = dkimKeyTags(k.txt);
  if (!key || key.p === '') throw new UsageError(`${field}.txt ${show(k.txt)}: not a DKIM key record with a key (v=DKIM1; k=…; p=…)`);
  const want = DKIM_KEY_TYPE[k.algorithm];
  if (key.k !== want) throw new UsageError(`${field}.txt: k=${key.k} does not fit the algorithm ${k.algorithm} (k=${want})`);
  const name = ownerName(`${field}.selector`, `${selector}._domainkey.${domain}`);
  return { selector, algorithm: k.algorithm, txt: k.txt, state: k.state, name, key };
}

function relaySpf(spf: string): string {
  const terms = spf.trim().split(/ +/);
  const bad = !PRINTABLE_ASCII_RE.test(spf) || /["\\]/.test(spf) || spf.trim() === '';
  const lower = spfTerms(spf);
  if (bad || lower.some((t) => t === 'v=spf1' || /^[-~?]?all$/.test(t) || t.startsWith('redirect='))) {
    throw new UsageError(`relay.spf ${show(spf)}: not a list of SPF mechanisms (e.g. include:_spf.relay.example)`);
  }
  return terms.join(' ');
}

/** The facts checked and normalised; throws UsageError for the first unusable fact. */
export function normaliseFacts(facts: DomainDnsFacts): NormalisedFacts {
  const domain = host('domain', facts.domain);
  if (facts.dkim.length > MAX_DKIM_SELECTORS) {
    throw new UsageError(`dkim: ${facts.dkim.length} selectors, at most ${MAX_DKIM_SELECTORS}`);
  }
  const dkim = facts.dkim.map((k, i) => dkimKey(domain, k, i));
  const seen = new Set<string>();
  for (const k of dkim) {
    if (seen.has(k.selector)) throw new UsageError(`dkim: the selector ${show(k.selector)} is given twice`);
    seen.add(k.selector);
  }
  let returnPath: string | null = null;
  if (facts.returnPath !== null) {
    returnPath = host('returnPath', facts.returnPath);
    // A CNAME cannot sit at the zone apex (RFC 1034 3.6.2) and an MX there would take the domain's mail.
    if (returnPath === domain) throw new UsageError(`returnPath ${show(returnPath)}: must be a host below the domain, e.g. bounces.${domain}`);
  }
  const relay = {
    bounceHost: host('relay.bounceHost', facts.relay.bounceHost),
    mxHost: facts.relay.mxHost === null ? null : host('relay.mxHost', facts.relay.mxHost),
    spf: relaySpf(facts.relay.spf),
  };
  ownerName('domain', `_dmarc.${domain}`);
  return { domain, dkim, returnPath, relay };
}
