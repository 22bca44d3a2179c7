/**
 * Reading the TXT records of domain authentication: DKIM key records, SPF records, DMARC
 * records. What a check needs, not full evaluators: no SPF include chains are followed and no
 * DMARC report URIs are checked.
 *
 * Standards:
 *  - RFC 6376 3.2 tag-lists (`tag=value; …`, whitespace around tags and inside values is FWS,
 *    a tag name twice makes the whole list invalid; tag names are case-sensitive) and 3.6.1
 *    key records (`v=DKIM1` optional and first, `k=` defaults to rsa, `p=` base64, empty =
 *    revoked);
 *  - RFC 7208 4.5 (an SPF record starts with the version `v=spf1` followed by a space or the
 *    end; more than one SPF record at a name is a permerror) and 4.6.1 (terms are separated by
 *    spaces; a mechanism may carry a qualifier, `+` the default);
 *  - RFC 7489 6.3 (a DMARC record is a tag-list whose first tag is `v=DMARC1`; `p=` is the policy).
 *
 * Pure; throws nothing (bad input yields null or a reason).
 */

const TAG_NAME_RE = /^[A-Za-z][A-Za-z0-9_]*$/;
const WSP_RE = /[ \t\r\n]+/g;

/** A tag-list as tag name → value (value trimmed, inner FWS kept), in the order written; null when the list is invalid. */
export function parseTagList(text: string): Map<string, string> | null {
  const tags = new Map<string, string>();
  const specs = text.split(';');
  // A trailing ";" is allowed; an empty spec elsewhere is not (`a=1;;b=2`).
  if (specs.length > 1 && specs[specs.length - 1]?.trim() === '') specs.pop();
  for (const spec of specs) {
    const eq = spec.indexOf('=');
    if (eq < 0) return null;
    const name = spec.slice(0, eq).trim();
    if (!TAG_NAME_RE.test(name) || tags.has(name)) return null;
    tags.set(name, spec.slice(eq + 1).trim());
  }
  return tags;
}

/** The DKIM key type `k=` names for each signing algorithm (RFC 6376 3.6.1, RFC 8463). */
export const DKIM_KEY_TYPE = { 'rsa-sha256': 'rsa', 'ed25519-sha256': 'ed25519' } as const;

export interface DkimKeyTags {
  /** Key type, lower-case; "rsa" when `k=` is absent. */
  readonly k: string;
  /** Public key data without any whitespace; "" when revoked. */
  readonly p: string;
}

/** The tags of a DKIM key record that identify its key; null when it is no key record (bad tag-list, v= not DKIM1, no p=). */
export function dkimKeyTags(txt: string): DkimKeyTags | null {
  const tags = parseTagList(txt);
  if (!tags) return null;
  const v = tags.get('v');
  if (v !== undefined && (v !== 'DKIM1' || [...tags.keys()][0] !== 'v')) return null;
  const p = tags.get('p');
  if (p === undefined) return null;
  return { k: (tags.get('k') ?? 'rsa').toLowerCase(), p: p.replace(WSP_RE, '') };
}

/**
 * Compare a found DKIM key record with the expected one by the tags that matter: `p=` equal
 * (whitespace ignored) and `k=` equal (absent = rsa); tag order, other tags and whitespace
 * around tags do not matter. Returns null when they match, else why not (one line).
 */
export function dkimMismatch(expected: DkimKeyTags, foundTxt: string): string | null {
  const found = dkimKeyTags(foundTxt);
  if (!found) return 'not a DKIM key record (RFC 6376 3.6.1 tag-list with v=DKIM1 and p=)';
  if (found.p === '') return 'p= is empty: the key is revoked';
  if (found.k !== expected.k) return `k=${found.k} where k=${expected.k} is expected`;
  if (found.p !== expected.p) return 'p= differs from the key';
  return null;
}

/** True when `txt` is an SPF record (starts with `v=spf1` then a space or the end; ABNF literals are case-insensitive). */
export function isSpfRecord(txt: string): boolean {
  return /^v=spf1(?: |$)/i.test(txt);
}

/** The terms of a mechanism list, lower-case, with the default qualifier `+` dropped. */
export function spfTerms(text: string): string[] {
  return text
    .split(' ')
    .filter((t) => t !== '')
    .map((t) => (t.startsWith('+') ? t.slice(1) : t).toLowerCase());
}

/**
 * The relay's mechanisms (`relaySpf`, one or more terms) that the SPF record `txt` does not
 * authorise, i.e. does not contain with the pass qualifier; [] when it contains them all.
 * Only the record's own terms are read (no include or redirect is followed).
 */
export function spfMissingTerms(txt: string, relaySpf: string): string[] {
  const have = new Set(spfTerms(txt.replace(/^v=spf1/i, '')));
  return spfTerms(relaySpf).filter((t) => !have.has(t));
}

/** A DMARC record's policy: `p=` as written (lower-cased), or null when it has none; null overall when the text is no DMARC record. */
export function dmarcPolicy(txt: string): { policy: string | null } | null {
  const tags = parseTagList(txt);
  if (!tags) return null;
  const first = [...tags.entries()][0];
  if (!first || first[0] !== 'v' || first[1] !== 'DMARC1') return null;
  const p = tags.get('p');
  return { policy: p === undefined ? null : p.toLowerCase() };
}
