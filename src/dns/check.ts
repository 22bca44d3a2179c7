/**
 * Whether a customer's domain publishes what recordsFor asks for: one lookup per record,
 * concurrently, each judged ok / missing / wrong / error, then the alignment that follows.
 *
 * Rules (RFC 6376 3.6, RFC 7208 4.5, RFC 7489 6.3 and 6.6.3; see tags.ts):
 *  - DKIM TXT: the character-strings of each record joined; ok when one record has the
 *    expected `p=` (whitespace ignored) and `k=` (absent = rsa); tag order, other tags and
 *    spacing do not matter. Any other TXT at the selector's name is wrong.
 *  - SPF: ok when the one `v=spf1` record at the name has the relay's mechanism(s) with the
 *    pass qualifier (no include is followed); none: missing; two or more: wrong (permerror).
 *  - CNAME / MX: the target / one exchange equals the expected host, case-insensitive,
 *    trailing dot ignored.
 *  - DMARC: present when `_dmarc.<domain>` has a `v=DMARC1` record, whatever its policy
 *    (reported); wrong when there are several, or its `p=` is not none/quarantine/reject.
 * NXDOMAIN and NODATA (and an empty answer) are missing; any other failure of the resolver
 * (SERVFAIL, REFUSED, timeout, no server) is status 'error' with the reason in `detail`: a
 * check never throws for a DNS failure and takes as long as the slowest lookup, which the
 * resolver bounds (createResolver: DNS_QUERY_TIMEOUT_MS).
 *
 * Limits: MAX_FOUND_VALUES, MAX_FOUND_VALUE_LENGTH (what is reported; everything is compared).
 * Throws UsageError for unusable facts (facts.ts), before any lookup.
 */
import { normaliseDomain } from '../core/domain.js';
import { normaliseFacts } from './facts.js';
import { MAX_FOUND_VALUES } from './limits.js';
import { recordsOf } from './records.js';
import type { DnsResolver } from './resolver.js';
import { dkimKeyTags, dkimMismatch, dmarcPolicy, isSpfRecord, spfMissingTerms } from './tags.js';
import { displayText } from './txt.js';
import type { DnsRecord, DomainCheck, DomainDnsFacts, RecordCheck, RecordStatus } from './types.js';
import { merged } from '../lib/merged.js';

const DMARC_POLICIES: readonly string[] = ['none', 'quarantine', 'reject'];

type Lookup<T> = { readonly kind: 'answer'; readonly values: T[] } | { readonly kind: 'missing' | 'error'; readonly detail: string };

const ERROR_TEXT: Readonly<Record<string, string>> = {
  ESERVFAIL: 'the DNS server answered SERVFAIL',
  EREFUSED: 'the DNS server refused the query (REFUSED)',
  ECONNREFUSED: 'no DNS server answers at the address (connection refused)',
  ECANCELLED: 'the query was cancelled',
  EBADRESP: 'the DNS server sent a malformed answer',
};

function errorCode(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : 'EDNS';
}

/** Run one lookup; never rejects. */
async function lookup<T>(type: string, run: () => Promise<T[]>): Promise<Lookup<T>> {
  try {
    const values = await run();
    if (values.length === 0) return { kind: 'missing', detail: `NODATA: no ${type} record at the name` };
    return { kind: 'answer', values };
  } catch (err: unknown) {
    const code = errorCode(err);
    if (code === 'ENOTFOUND') return { kind: 'missing', detail: 'NXDOMAIN: the name does not exist' };
    if (code === 'ENODATA') return { kind: 'missing', detail: `NODATA: no ${type} record at the name` };
    const text = ERROR_TEXT[code] ?? displayText(err instanceof Error ? err.message : String(err), 200);
    return { kind: 'error', detail: `${code}: ${text}` };
  }
}

function sameHost(a: string, b: string): boolean {
  const norm = (h: string): string => normaliseDomain(h) ?? h.toLowerCase().replace(/\.$/, '');
  return norm(a) === norm(b);
}

function shown(values: readonly string[]): string[] {
  return values.slice(0, MAX_FOUND_VALUES).map((v) => displayText(v));
}

function more(values: readonly string[]): string {
  return values.length > MAX_FOUND_VALUES ? ` (${values.length - MAX_FOUND_VALUES} more found, not shown)` : '';
}

interface Judged {
  readonly status: RecordStatus;
  readonly detail: string;
  /** DMARC only: the policy of the first v=DMARC1 record, or undefined when there is none. */
  readonly dmarc?: { readonly policy: string | null };
}

function judgeDkim(record: DnsRecord, values: readonly string[]): Judged {
  const expected = dkimKeyTags(record.value);
  if (!expected) return { status: 'wrong', detail: 'the expected record is no DKIM key record' };
  const reasons = values.map((v) => dkimMismatch(expected, v));
  if (reasons.includes(null)) return { status: 'ok', detail: 'the key matches' };
  return { status: 'wrong', detail: [...new Set(reasons)].join('; ') };
}

function judgeSpf(relaySpf: string, values: readonly string[]): Judged {
  const spf = values.filter(isSpfRecord);
  if (spf.length === 0) return { status: 'missing', detail: `no v=spf1 record among ${values.length} TXT record(s)` };
  if (spf.length > 1) return { status: 'wrong', detail: `${spf.length} v=spf1 records at one name: receivers fail SPF (permerror, RFC 7208 4.5)` };
  const missing = spfMissingTerms(spf[0] ?? '', relaySpf);
  if (missing.length > 0) return { status: 'wrong', detail: `the SPF record does not authorise ${missing.join(' ')}` };
  return { status: 'ok', detail: `authorises ${relaySpf}` };
}

function judgeDmarc(values: readonly string[]): Judged {
  const records = values.map(dmarcPolicy).filter((d) => d !== null);
  const first = records[0];
  if (!first) return { status: 'wrong', detail: 'TXT at the name, but no v=DMARC1 record' };
  if (records.length > 1) return { status: 'wrong', detail: `${records.length} v=DMARC1 records: receivers apply none (RFC 7489 6.6.3)`, dmarc: first };
  if (first.policy === null || !DMARC_POLICIES.includes(first.policy)) {
    return { status: 'wrong', detail: `p=${first.policy ?? ''} is not none, quarantine or reject`, dmarc: first };
  }
  return { status: 'ok', detail: `p=${first.policy}`, dmarc: first };
}

async function checkRecord(record: DnsRecord, relaySpf: string, resolver: DnsResolver): Promise<{ check: RecordCheck; dmarc?: { policy: string | null } }> {
  const name = record.name.replace(/\.$/, '');
  const base = { record, expected: record.value };
  switch (record.type) {
    case 'TXT': {
      const answer = await lookup('TXT', () => Promise.resolve().then(() => resolver.resolveTxt(name)));
      if (answer.kind !== 'answer') return { check: merged(base, { status: answer.kind, found: [], detail: answer.detail }) };
      const values = answer.values.map((strings) => strings.join(''));
      const judged =
        record.purpose === 'dkim' ? judgeDkim(record, values) : record.purpose === 'spf' ? judgeSpf(relaySpf, values) : judgeDmarc(values);
      const check = merged(base, { status: judged.status, found: shown(values), detail: judged.detail + more(values) });
      return judged.dmarc ? { check, dmarc: judged.dmarc } : { check };
    }
    case 'CNAME': {
      const answer = await lookup('CNAME', () => Promise.resolve().then(() => resolver.resolveCname(name)));
      if (answer.kind !== 'answer') return { check: merged(base, { status: answer.kind, found: [], detail: answer.detail }) };
      const found = answer.values.map((t) => (t.endsWith('.') ? t : t + '.'));
      const ok = answer.values.some((t) => sameHost(t, record.target));
      const detail = ok ? 'points to the relay' : `points to ${displayText(found.join(', '), 300)}, not ${record.target}`;
      return { check: merged(base, { status: ok ? 'ok' : 'wrong', found: shown(found), detail: detail + more(found) }) };
    }
    case 'MX': {
      const answer = await lookup('MX', () => Promise.resolve().then(() => resolver.resolveMx(name)));
      if (answer.kind !== 'answer') return { check: merged(base, { status: answer.kind, found: [], detail: answer.detail }) };
      const found = answer.values.map((mx) => `${mx.priority} ${mx.exchange.endsWith('.') ? mx.exchange : mx.exchange + '.'}`);
      const ok = answer.values.some((mx) => sameHost(mx.exchange, record.exchange));
      const detail = ok ? 'an exchange is the relay' : `no exchange is ${record.exchange}`;
      return { check: merged(base, { status: ok ? 'ok' : 'wrong', found: shown(found), detail: detail + more(found) }) };
    }
  }
}

/**
 * Look up every record recordsFor(facts) gives and judge it. Never throws for DNS failures
 * (they are status 'error'); throws UsageError for unusable facts.
 */
export async function checkDomain(facts: DomainDnsFacts, resolver: DnsResolver): Promise<DomainCheck> {
  const f = normaliseFacts(facts);
  const records = recordsOf(f);
  const results = await Promise.all(records.map((r) => checkRecord(r, f.relay.spf, resolver)));
  const checks = results.map((r) => r.check);
  const activeNames = new Set(f.dkim.filter((k) => k.state === 'active').map((k) => k.name + '.'));
  const okOf = (purpose: DnsRecord['purpose']): boolean => {
    const of = checks.filter((c) => c.record.purpose === purpose);
    return of.length > 0 && of.every((c) => c.status === 'ok');
  };
  const dmarc = results.find((r) => r.dmarc !== undefined)?.dmarc;
  return {
    domain: f.domain,
    records: checks,
    alignment: {
      dkim: checks.some((c) => c.record.purpose === 'dkim' && c.status === 'ok' && activeNames.has(c.record.name)),
      spf: f.returnPath !== null && okOf('return-path') && okOf('spf'),
      dmarc: dmarc ? 'present' : 'missing',
      dmarcPolicy: dmarc?.policy ?? null,
    },
    status: checks.every((c) => c.status === 'ok') ? 'ok' : 'incomplete',
  };
}
