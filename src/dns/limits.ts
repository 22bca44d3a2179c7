/**
 * The limits and fixed values of DNS domain authentication (src/dns): what we print for a
 * customer to publish and how long one check may wait for the DNS. Kept beside the module
 * (not in src/lib/limits.ts) because nothing outside src/dns uses them; each has a test.
 *
 * Throws nothing.
 */

/** Longest character-string inside a TXT record, in octets (RFC 1035 3.3: one length octet). Longer values are split. */
export const TXT_CHARACTER_STRING_MAX_OCTETS = 255;
/** TTL (seconds) of every record we print in a zone (an hour: a fix the customer makes shows up within one). */
export const ZONE_TTL_SECONDS = 3600;
/** Preference of the Return-Path MX record we print (the only MX of that name). */
export const RETURN_PATH_MX_PREFERENCE = 10;
/** Default bound (ms) on one DNS query, all servers and retries included; past it the record's status is 'error'. */
export const DNS_QUERY_TIMEOUT_MS = 5000;
/** Largest query timeout (ms) a caller may configure; more: UsageError. */
export const MAX_DNS_QUERY_TIMEOUT_MS = 60_000;
/** Most values found at one name that a check reports (all are compared); the rest are counted in the detail. */
export const MAX_FOUND_VALUES = 16;
/** Longest found value a check reports, in UTF-16 code units (after escaping); longer is cut and "..." added. */
export const MAX_FOUND_VALUE_LENGTH = 2048;
/** Most DKIM selectors one domain may publish at once (pending, active and retiring); more: UsageError. */
export const MAX_DKIM_SELECTORS = 16;
