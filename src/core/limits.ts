/**
 * The limits of the relay's rules (core/ is pure and imports nothing outside core/). The
 * operational limits are in src/lib/limits.ts, which re-exports these. Each has a test that
 * shows what happens one step past it.
 */

/** Most tags one message may carry (after splitting, trimming and de-duplication). */
export const MAX_TAGS = 20;
/** Longest single tag, in Unicode code points. */
export const MAX_TAG_LENGTH = 100;
/** Longest address (RFC 5321 path limit). */
export const MAX_ADDRESS_LENGTH = 256;
/** Longest local part (RFC 5321). */
export const MAX_LOCAL_PART_LENGTH = 64;
/** Longest domain (RFC 5321). */
export const MAX_DOMAIN_LENGTH = 255;
/** Most RCPT TO addresses core looks at; Postfix's smtpd_recipient_limit default is 1000. */
export const MAX_RECIPIENTS = 1000;
/** Longest piece of client text (address, header value) echoed in an SMTP reply; longer is cut and "..." added. */
export const MAX_ECHO_LENGTH = 64;
/** Hard limit of one header line the transform writes, in octets without CRLF (RFC 5322 2.1.1). */
export const MAX_HEADER_LINE_OCTETS = 998;
/** Longest Message-ID kept with a send and searched for (between the angle brackets), in characters. */
export const MAX_MESSAGE_ID_LENGTH = 500;
/** Longest space pause reason kept and echoed in the 451 (an operator's text, or the auto-pause's own). */
export const MAX_PAUSE_REASON_LENGTH = 200;
