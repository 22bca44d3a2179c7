/**
 * The types of DNS domain authentication: the facts a caller gives (a customer's sender
 * domain, its DKIM keys, its Return-Path host and the relay's side), the records we ask the
 * customer to publish, and the result of checking that they are there.
 *
 * Standards: DKIM key records (RFC 6376 3.6), SPF (RFC 7208), DMARC (RFC 7489), CNAME
 * (RFC 1034 3.6.2: a name with a CNAME has no other data), MX (RFC 1035 3.3.9).
 *
 * Types only: throws nothing.
 */

import type { DkimAlgorithm } from '../core/dkim-algorithms.js';
export type { DkimAlgorithm } from '../core/dkim-algorithms.js';
export type DkimKeyState = 'pending' | 'active' | 'retiring';

export interface DkimKeyFacts {
  /** DKIM selector (RFC 6376 3.1), e.g. "trx2025a"; the record lives at `<selector>._domainkey.<domain>`. */
  readonly selector: string;
  readonly algorithm: DkimAlgorithm;
  /** The full TXT value, e.g. "v=DKIM1; k=rsa; p=MIIB…" (one string, not yet split). */
  readonly txt: string;
  /** pending: published before signing starts; active: signs; retiring: no longer signs, kept while signed mail is verified. */
  readonly state: DkimKeyState;
}

export interface RelayDnsFacts {
  /** The relay's bounce host, e.g. "bounces.relay.example": the CNAME target of a customer's Return-Path host. */
  readonly bounceHost: string;
  /**
   * When set, the Return-Path host gets an MX to this host and its own SPF TXT instead of a
   * CNAME to `bounceHost` (for customers who cannot or will not use a CNAME there).
   */
  readonly mxHost: string | null;
  /** The SPF mechanism(s) customers authorise, e.g. "include:_spf.relay.example" or "ip4:203.0.113.7". */
  readonly spf: string;
}

export interface DomainDnsFacts {
  /** The customer's sender (From) domain, e.g. "shop.example"; U-labels are accepted and normalised. */
  readonly domain: string;
  readonly dkim: readonly DkimKeyFacts[];
  /** The customer's Return-Path (envelope sender) host, e.g. "bounces.shop.example"; null when none is set up. */
  readonly returnPath: string | null;
  readonly relay: RelayDnsFacts;
}

export type RecordType = 'TXT' | 'CNAME' | 'MX';
export type RecordPurpose = 'dkim' | 'spf' | 'return-path' | 'dmarc';

/**
 * One DNS record. `value` is the record's data as one string: the whole TXT text (not split,
 * not quoted), the CNAME target or `<preference> <exchange>` for MX, names with a trailing dot.
 */
interface RecordBase {
  /** Owner name, an FQDN with trailing dot, lower-case A-labels. */
  readonly name: string;
  readonly value: string;
  readonly purpose: RecordPurpose;
  /**
   * Who publishes it: 'customer' in their zone, or 'relay' (the SPF of the relay's bounce host,
   * which a customer's Return-Path CNAME points at; the relay operator publishes it once).
   */
  readonly publishedBy: 'customer' | 'relay';
  /** One or two sentences for the customer: why the record is there and what to watch. */
  readonly note: string;
}

export interface TxtRecord extends RecordBase {
  readonly type: 'TXT';
  /** `value` split into character-strings of at most 255 octets each (RFC 1035 3.3), as a zone file needs them. */
  readonly strings: readonly string[];
}

export interface CnameRecord extends RecordBase {
  readonly type: 'CNAME';
  /** The target, FQDN with trailing dot (same as `value`). */
  readonly target: string;
}

export interface MxRecord extends RecordBase {
  readonly type: 'MX';
  readonly preference: number;
  /** The exchange, FQDN with trailing dot. */
  readonly exchange: string;
}

export type DnsRecord = TxtRecord | CnameRecord | MxRecord;

/**
 * ok: the record is there as expected. missing: NXDOMAIN, NODATA, or no record of the kind
 * (e.g. no `v=spf1` TXT). wrong: records of the kind are there but none matches. error: the
 * DNS did not answer (SERVFAIL, REFUSED, timeout, unreachable server): we cannot tell.
 */
export type RecordStatus = 'ok' | 'missing' | 'wrong' | 'error';

export interface RecordCheck {
  readonly record: DnsRecord;
  readonly status: RecordStatus;
  /** What the DNS answered at `record.name` for `record.type` (TXT strings joined), escaped and bounded for display. */
  readonly found: readonly string[];
  /** What we expect, in the same form as `found`. */
  readonly expected: string;
  /** One line: why the status (e.g. "p= differs", "ESERVFAIL", "timed out after 5000 ms"). */
  readonly detail: string;
}

export interface DomainAlignment {
  /** At least one active DKIM key's record is ok. */
  readonly dkim: boolean;
  /** A Return-Path host is set, its CNAME (or MX) is ok and the SPF that covers it is ok. */
  readonly spf: boolean;
  /** 'present' when `_dmarc.<domain>` has a `v=DMARC1` record (any policy). */
  readonly dmarc: 'missing' | 'present';
  /** The `p=` of that DMARC record ("none", "quarantine", "reject", or what was found), null when none. */
  readonly dmarcPolicy: string | null;
}

export interface DomainCheck {
  /** The normalised sender domain. */
  readonly domain: string;
  readonly records: readonly RecordCheck[];
  readonly alignment: DomainAlignment;
  /** 'ok' when every record is ok; otherwise 'incomplete' (missing, wrong, or not answered). */
  readonly status: 'ok' | 'incomplete';
}
