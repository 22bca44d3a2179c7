/**
 * The DNS records a customer publishes so that mail the relay sends for their domain
 * authenticates and aligns, and the same records as zone-file text.
 *
 * For a sender domain D with Return-Path host R (e.g. bounces.D):
 *  - DKIM (RFC 6376 3.6): `<selector>._domainkey.D TXT` per key, pending, active and retiring;
 *  - Return-Path: `R CNAME <relay bounce host>` when the relay has no `mxHost`; when it has
 *    one, `R MX 10 <mxHost>` instead (what is printed depends only on `relay.mxHost`);
 *  - SPF (RFC 7208) for R, the envelope domain SPF checks: `v=spf1 <relay.spf> -all`. With the
 *    CNAME, R can hold no other record (RFC 1034 3.6.2, RFC 2181 10.1), so this TXT is the one
 *    the relay publishes at its bounce host and receivers reach it through the CNAME: it is
 *    listed with publishedBy 'relay'. With the MX, the customer publishes it at R. D's own SPF
 *    record is not involved either way. Without R, SPF cannot align with D (the envelope
 *    domain is the relay's): no SPF or Return-Path record, and the DMARC note says so;
 *  - DMARC (RFC 7489): `_dmarc.D TXT "v=DMARC1; p=none; adkim=r; aspf=r"`, a start.
 *
 * Zone text (RFC 1035 5.1): `name TTL IN TYPE value`, TXT values quoted and split into
 * character-strings of at most 255 octets, one `;` comment line before each purpose, records
 * the relay publishes as comment lines; stable order (purpose, then publisher, name, type).
 *
 * Limits: ZONE_TTL_SECONDS, RETURN_PATH_MX_PREFERENCE, TXT_CHARACTER_STRING_MAX_OCTETS.
 * Throws UsageError for unusable facts (see facts.ts). Pure.
 */
import { normaliseFacts, type NormalisedDkimKey, type NormalisedFacts } from './facts.js';
import { RETURN_PATH_MX_PREFERENCE, ZONE_TTL_SECONDS } from './limits.js';
import { quoteCharacterString, splitCharacterStrings } from './txt.js';
import type { CnameRecord, DnsRecord, DomainDnsFacts, MxRecord, RecordPurpose, TxtRecord } from './types.js';

/** The DMARC record we suggest to start with: monitor only, relaxed alignment. */
export const DMARC_START = 'v=DMARC1; p=none; adkim=r; aspf=r';

const PURPOSE_ORDER: readonly RecordPurpose[] = ['dkim', 'return-path', 'spf', 'dmarc'];

const PURPOSE_COMMENT: Readonly<Record<RecordPurpose, string>> = {
  dkim: 'DKIM public keys (RFC 6376): one TXT record per selector',
  'return-path': 'Return-Path host (envelope sender): bounces come back to the relay',
  spf: 'SPF (RFC 7208) for the Return-Path host, the domain SPF checks',
  dmarc: 'DMARC (RFC 7489): start with p=none, then p=quarantine, then p=reject',
};

const DKIM_STATE_NOTE: Readonly<Record<NormalisedDkimKey['state'], string>> = {
  active: 'active: mail is signed with this key; without the record receivers cannot verify the signature',
  pending: 'pending: publish it now; signing moves to this key once it is visible in the DNS',
  retiring: 'retiring: no longer signs; keep it a few days so mail already signed with it still verifies, then delete it',
};

function fqdn(name: string): string {
  return name + '.';
}

function txt(name: string, value: string, purpose: RecordPurpose, publishedBy: 'customer' | 'relay', note: string): TxtRecord {
  return { name: fqdn(name), type: 'TXT', value, strings: splitCharacterStrings(value), purpose, publishedBy, note };
}

function dkimRecord(k: NormalisedDkimKey): TxtRecord {
  return txt(k.name, k.txt, 'dkim', 'customer', `DKIM key ${k.selector} (${k.algorithm}), ${DKIM_STATE_NOTE[k.state]}.`);
}

function returnPathRecords(f: NormalisedFacts, rp: string): DnsRecord[] {
  const spfValue = `v=spf1 ${f.relay.spf} -all`;
  const notOwn = f.domain !== rp && !rp.endsWith('.' + f.domain);
  const alignNote = notOwn
    ? ` ${rp} is not below ${f.domain}: SPF aligns only if both share one organisational domain.`
    : '';
  const ownSpf = `The SPF record of ${f.domain} itself is not involved: SPF checks the envelope (Return-Path) domain.`;
  if (f.relay.mxHost !== null) {
    const exchange = fqdn(f.relay.mxHost);
    const mx: MxRecord = {
      name: fqdn(rp),
      type: 'MX',
      value: `${RETURN_PATH_MX_PREFERENCE} ${exchange}`,
      preference: RETURN_PATH_MX_PREFERENCE,
      exchange,
      purpose: 'return-path',
      publishedBy: 'customer',
      note: `Return-Path host ${rp}: bounces to it go to the relay's ${f.relay.mxHost}.${alignNote}`,
    };
    return [mx, txt(rp, spfValue, 'spf', 'customer', `SPF for the Return-Path host ${rp}: authorises the relay to send with it. ${ownSpf}`)];
  }
  const target = fqdn(f.relay.bounceHost);
  const cname: CnameRecord = {
    name: fqdn(rp),
    type: 'CNAME',
    value: target,
    target,
    purpose: 'return-path',
    publishedBy: 'customer',
    note:
      `Return-Path host ${rp}: bounces come back to the relay, and receivers find its SPF through this CNAME. ` +
      `A CNAME cannot share its name with other records: add no TXT or MX at ${rp}.${alignNote}`,
  };
  const spf = txt(
    f.relay.bounceHost,
    spfValue,
    'spf',
    'relay',
    `Published by the relay at ${f.relay.bounceHost}; your CNAME at ${rp} makes it the SPF record of your Return-Path host. ${ownSpf}`,
  );
  return [cname, spf];
}

function dmarcRecord(f: NormalisedFacts): TxtRecord {
  let note =
    'Start with p=none and read the aggregate reports (add rua=mailto:... to get them); once all your mail passes, ' +
    'move to p=quarantine, then p=reject. adkim=r and aspf=r: relaxed alignment, so subdomains align with the domain. ' +
    'Keep an existing DMARC record instead of adding a second one.';
  if (f.returnPath === null) {
    note +=
      ` No Return-Path host is set: the envelope sender is in the relay's domain, so SPF cannot align with ${f.domain};` +
      ' DMARC passes through DKIM alone.';
  }
  return txt(`_dmarc.${f.domain}`, DMARC_START, 'dmarc', 'customer', note);
}

function compare(a: DnsRecord, b: DnsRecord): number {
  const byPurpose = PURPOSE_ORDER.indexOf(a.purpose) - PURPOSE_ORDER.indexOf(b.purpose);
  if (byPurpose !== 0) return byPurpose;
  if (a.publishedBy !== b.publishedBy) return a.publishedBy === 'customer' ? -1 : 1;
  if (a.name !== b.name) return a.name < b.name ? -1 : 1;
  return a.type < b.type ? -1 : a.type > b.type ? 1 : 0;
}

/** Records of already normalised facts, in zone order (for check.ts, which normalises once). */
export function recordsOf(f: NormalisedFacts): DnsRecord[] {
  const records: DnsRecord[] = f.dkim.map(dkimRecord);
  if (f.returnPath !== null) records.push(...returnPathRecords(f, f.returnPath));
  records.push(dmarcRecord(f));
  return records.sort(compare);
}

/**
 * The records for one customer domain, in zone order: DKIM (per selector), Return-Path
 * (CNAME, or MX when `relay.mxHost` is set), SPF, DMARC. Throws UsageError for unusable facts.
 */
export function recordsFor(facts: DomainDnsFacts): DnsRecord[] {
  return recordsOf(normaliseFacts(facts));
}

/** One record in zone-file syntax, without comment. */
export function zoneLine(r: DnsRecord): string {
  let data: string;
  switch (r.type) {
    case 'TXT':
      data = r.strings.map(quoteCharacterString).join(' ');
      break;
    case 'CNAME':
      data = r.target;
      break;
    case 'MX':
      data = `${r.preference} ${r.exchange}`;
      break;
  }
  return `${r.name} ${ZONE_TTL_SECONDS} IN ${r.type} ${data}`;
}

/**
 * Zone-file text for `records`: a `;` comment line per purpose, then its records; records the
 * relay publishes appear as comment lines (they are not the customer's to add). Order is
 * stable whatever the input order. Ends with a newline; "" for no records.
 */
export function formatZone(records: readonly DnsRecord[]): string {
  const lines: string[] = [];
  let purpose: RecordPurpose | null = null;
  for (const r of [...records].sort(compare)) {
    if (r.purpose !== purpose) {
      purpose = r.purpose;
      lines.push(`; ${PURPOSE_COMMENT[purpose]}`);
    }
    lines.push(r.publishedBy === 'customer' ? zoneLine(r) : `; published by the relay, not in this zone: ${zoneLine(r)}`);
  }
  return lines.length === 0 ? '' : lines.join('\n') + '\n';
}
