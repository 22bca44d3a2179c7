/**
 * Every size and count limit trxmail enforces, in one place. Each has a test that shows
 * what happens one step past it. The limits of the relay's rules live in core (src/core/limits.ts,
 * pure) and are re-exported here, so this stays the one list to read.
 */
export {
  MAX_TAGS,
  MAX_TAG_LENGTH,
  MAX_ADDRESS_LENGTH,
  MAX_LOCAL_PART_LENGTH,
  MAX_DOMAIN_LENGTH,
  MAX_RECIPIENTS,
  MAX_ECHO_LENGTH,
  MAX_HEADER_LINE_OCTETS,
  MAX_MESSAGE_ID_LENGTH,
} from '../core/limits.js';
/** Retention (core/retention.ts): the shortest and longest retention, sends per purge batch. */
export { MIN_RETENTION_DAYS, MAX_RETENTION_DAYS, PURGE_BATCH_SIZE, MAX_PURGE_BATCH_SIZE } from '../core/retention.js';

/** Largest top-level header block the transform accepts (bytes); above it: 552 5.3.4. Postfix's header_size_limit is 102400. */
export const MAX_HEADER_BLOCK_BYTES = 1024 * 1024;
/** Most MIME nodes in one message; above it: 552 5.3.4. */
export const MAX_MIME_NODES = 1000;
/** Longest header line we write before folding (RFC 5322 recommends 78; 998 is the hard limit). */
export const HEADER_FOLD_AT = 78;
/** Longest password accepted for hashing, in UTF-8 bytes (bounds scrypt input and SASL work). */
export const MAX_PASSWORD_BYTES = 1024;
/** Longest customer space name, in UTF-16 code units. */
export const MAX_SPACE_NAME_LENGTH = 100;
/** Longest Dovecot auth-protocol line, in bytes without the LF (Dovecot's AUTH_CLIENT_MAX_LINE_LENGTH); longer: drop. */
export const MAX_AUTH_LINE = 16384;
/** Most authentication requests open at once on one auth connection (Postfix keeps one); one more: drop. */
export const MAX_AUTH_PENDING_REQUESTS = 32;
/** Longest policy-delegation attribute line, in bytes without the LF; longer: drop without reply. */
export const MAX_POLICY_LINE = 4096;
/** Most attributes in one policy request (Postfix 3.7 sends 29); one more: drop without reply. */
export const MAX_POLICY_ATTRIBUTES = 100;
/** Most complete policy requests queued behind the one being decided (Postfix never pipelines); one more: drop. */
export const MAX_POLICY_QUEUED_REQUESTS = 4;
/**
 * Largest socketmap request payload (`<map> <key>` inside the netstring, bytes) we accept; one
 * more: drop. Keys are domains for relay_domains but whole recipient or sender addresses for
 * transport_maps, and smtpd takes addresses up to its 2048-byte command line, so 1 KiB would
 * be too tight; 4 KiB covers every address smtpd accepts plus the map name.
 */
export const MAX_SOCKETMAP_REQUEST = 4096;
/** Largest socketmap reply payload (`<status> <data>`, bytes): Postfix's client limit (fixed in 3.7; socketmap_max_reply_size from 3.10). */
export const MAX_SOCKETMAP_REPLY = 100_000;
/** Most complete socketmap requests queued behind the one being looked up (Postfix never pipelines); one more: drop. */
export const MAX_SOCKETMAP_QUEUED_REQUESTS = 4;
/**
 * Most connections open at once on one listener of each socket server; one more is closed at
 * once (and a warning logged, at most once a minute per listener). Postfix opens one milter
 * connection per SMTP session (default_process_limit 100 smtpd processes) and keeps one
 * policy, auth or socketmap connection per process, so these are generous; they only stop a
 * peer from pinning every descriptor of the process.
 */
export const MAX_MILTER_CONNECTIONS = 1000;
/** See MAX_MILTER_CONNECTIONS. */
export const MAX_POLICY_CONNECTIONS = 1000;
/** See MAX_MILTER_CONNECTIONS. */
export const MAX_AUTH_CONNECTIONS = 1000;
/** See MAX_MILTER_CONNECTIONS. */
export const MAX_SOCKETMAP_CONNECTIONS = 1000;
/** Largest milter packet we accept from the MTA (length field, which counts the command byte). Postfix sends body chunks of at most 65535 bytes. */
export const MAX_MILTER_FRAME = 1024 * 1024;
/** Largest payload of a milter packet we send; `b` body replacements are split into packets of this size (Postfix MILTER_CHUNK_SIZE). */
export const MAX_MILTER_REPLY_PAYLOAD = 65535;
/**
 * The response frames of one milter reply (end-of-message edits, then the final reply) are
 * joined into socket writes of at least this many bytes (the last one shorter): one write
 * for every reply without a large replacement body.
 */
export const MILTER_WRITE_BATCH_BYTES = 64 * 1024;
/** Longest line (octets, without CRLF) of a custom SMTP reply we send through a milter (RFC 5321 4.5.3.1.5: 512 with CRLF). */
export const MAX_MILTER_REPLY_LINE = 510;
/** Longest line (octets, without line break) of a header value we send in a milter header edit (RFC 5322 2.1.1). */
export const MAX_MILTER_HEADER_LINE = 998;
/**
 * Longest send id a bounce address carries ([0-9A-Za-z]). Postfix long queue ids are at most
 * 23 characters (6+ base-52 seconds, 4 microseconds, 'z', up to 12 base-51 inode digits);
 * 24 is what fits the 64-octet local part with the largest space id. One more: refused.
 */
export const MAX_BOUNCE_SEND_ID_LENGTH = 24;
/** Most verified credentials kept in the auth cache (LRU); one more evicts the least recently used. */
export const MAX_CREDENTIAL_CACHE_ENTRIES = 10_000;
/** Most (login, client address) pairs, and separately most client addresses, whose failed attempts are tracked; one more evicts the oldest. */
export const MAX_AUTH_THROTTLE_KEYS = 10_000;
/** Sliding window over which failed authentication attempts are counted (SMTP AUTH and the reports API). */
export const AUTH_FAILURE_WINDOW_MS = 5 * 60 * 1000;
/**
 * Failed attempts for one login from one client address (IPv6: its /64) within
 * AUTH_FAILURE_WINDOW_MS; at this count further attempts for that login from that address are
 * throttled (temporary failure without a password check). Other addresses are not affected.
 */
export const MAX_AUTH_FAILURES_PER_LOGIN_ADDRESS = 5;
/** Failed attempts from one client address, whatever the login, within AUTH_FAILURE_WINDOW_MS; at this count every attempt from it is throttled. */
export const MAX_AUTH_FAILURES_PER_ADDRESS = 20;
/**
 * Longest a throttled attempt is held before its temporary failure (ms). It is held as long as
 * a real password check takes (a running average); this cap keeps it far below Postfix's fixed
 * 10 s auth I/O timeout when scrypt is slow under load.
 */
export const MAX_AUTH_THROTTLE_DELAY_MS = 2000;
/** Bytes of a message body the milter keeps in memory before spilling to a temporary file. */
export const SPOOL_MEMORY_BYTES = 1024 * 1024;
/** Largest rendered copy (tracked To copy, BCC copy) a spool holds (bytes); past it: 552 5.3.4. Bodies are held to the message size limit. */
export const MAX_SPOOL_BYTES = 256 * 1024 * 1024;
/**
 * The default largest message (bytes), trxmail.yaml `messageSizeLimit`: Postfix's
 * message_size_limit (printed by `trxmail postfix-config`; it refuses larger mail with
 * `552 5.3.4`, and advertises it in EHLO `SIZE`) and the bound of the milter's body spool
 * (`552 5.3.4 Message size exceeds fixed limit of N bytes`). 25 MiB: in the middle of what
 * transactional relays allow (10 to 40 MB), and about what large mailbox providers accept, so
 * a message the relay takes is not refused for its size at the recipient's end. Base64
 * attachments grow by a third: about 18 MiB of files fit.
 */
export const DEFAULT_MESSAGE_SIZE_LIMIT = 25 * 1024 * 1024;
/** Smallest messageSizeLimit accepted (bytes): less is no use for a mail relay. */
export const MIN_MESSAGE_SIZE_LIMIT = 1024 * 1024;
/**
 * Largest messageSizeLimit accepted (bytes): Postfix's default mailbox_size_limit and
 * virtual_mailbox_limit (51200000); local(8) and virtual(8) refuse to run with a
 * message_size_limit above them.
 */
export const MAX_MESSAGE_SIZE_LIMIT = 51_200_000;
/** Longest URL (UTF-8 bytes) a click-tracking token carries; a longer link is left untracked (signing returns null). */
export const MAX_TRACKED_URL_LENGTH = 2048;
/** Longest send id (UTF-8 bytes) a tracking token carries (Postfix long queue ids have at most 23 characters). */
export const MAX_TRACKING_SEND_ID_BYTES = 64;
/**
 * Longest tracking token (characters) the HTTP service looks at; longer: 404 without verifying.
 * The longest token we sign (send id, address and URL at their caps) has 3192 characters.
 */
export const MAX_TRACKING_TOKEN_LENGTH = 4096;
/** Longest User-Agent (UTF-16 code units) kept in an open/click event and classified; longer is cut. */
export const MAX_USER_AGENT_LENGTH = 512;
/** Most send ids in one Store.eventCounts call; one more: UsageError. */
export const MAX_EVENT_COUNT_SENDS = 100_000;
/**
 * Largest text/html part (decoded bytes) the tracking rewrite buffers; one byte more and the
 * part passes through untracked (its content unchanged), never buffered past this + one chunk.
 */
export const MAX_TRACKED_HTML_BYTES = 8 * 1024 * 1024;
/** Most links rewritten for click tracking in one HTML part; further links are left alone (and logged). */
export const MAX_TRACKED_LINKS = 10_000;
/** Longest webhook endpoint URL (characters); longer: UsageError at `webhook set`. */
export const MAX_WEBHOOK_URL_LENGTH = 2048;
/** Longest last-error text kept on a webhook delivery (characters); longer is cut. */
export const MAX_WEBHOOK_ERROR_LENGTH = 300;
/** Most webhook deliveries one dispatcher pass claims (and so has in flight at most). */
export const MAX_WEBHOOK_BATCH = 100;
/** Most not-ok records one domain check may report to recordDomainCheck (the 'domain' webhook event); more: UsageError. */
export const MAX_DOMAIN_CHECK_PROBLEMS = 64;
/** Longest diagnostic/detail text (characters) stored with a delivery outcome or Bounce list reason; longer is cut. */
export const MAX_OUTCOME_DETAIL_LENGTH = 300;
/** Longest classifier rule name stored with a Bounce list entry ('text:gmail-blocked-ip'); longer is a UsageError. */
export const MAX_BOUNCE_RULE_LENGTH = 100;
/** Most RCPT TO in one LMTP transaction; one more gets 452 4.5.3 (Postfix sends it in the next transaction). */
export const MAX_LMTP_RECIPIENTS = 100;
/** Most Postfix queue ids the maillog follower remembers (from= line to delivery lines); one more forgets the oldest. */
export const MAX_MAILLOG_QUEUE_IDS = 100_000;
/** Longest maillog line (bytes, without LF) the follower parses; a longer one is skipped up to its end. */
export const MAX_MAILLOG_LINE_BYTES = 16 * 1024;
/** Longest log path (characters) a delivery cursor is kept for (PATH_MAX); longer: UsageError. */
export const MAX_CURSOR_PATH_LENGTH = 4096;
/** Most keys one login-failure store call takes (the throttle uses two: the address, and the login with the address). */
export const MAX_AUTH_FAILURE_KEYS = 4;
/** Longest login-failure key (a JSON pair of a client address key and a login of at most MAX_ADDRESS_LENGTH characters, escaped). */
export const MAX_AUTH_FAILURE_KEY_LENGTH = 2048;
/**
 * Most sends recorded in one transaction by the store's group commit (store/neutral/group-commit.ts):
 * the sends that arrive together are written together; more wait for the next transaction.
 */
export const MAX_GROUP_COMMIT_SENDS = 64;
/** Most sends one markNotQueued call marks (the maillog follower's phantom check); the rest wait for the next call. */
export const MAX_NOT_QUEUED_BATCH = 100;
/** Most bytes of one bounce or complaint message that are analysed; the rest is ignored and the analysis notes 'truncated'. */
export const MAX_BOUNCE_BYTES = 10 * 1024 * 1024;
/** Most recipient reports taken from one bounce (DSN blocks or heuristic matches); more are dropped with the note 'recipients-truncated'. */
export const MAX_BOUNCE_RECIPIENTS = 100;
/** Longest Diagnostic-Code / Remote-MTA text kept per recipient, in UTF-16 code units (one line); longer is cut. */
export const MAX_BOUNCE_DIAGNOSTIC_LENGTH = 1000;
/** Deepest MIME nesting the bounce reader follows (root = 0; an attached message counts one level); deeper entities are left unparsed, note 'mime-limit'. */
export const MAX_BOUNCE_MIME_DEPTH = 12;
/** Most decoded bytes of one text part the bounce heuristics read (qmail/Exim/Exchange text); the rest is not scanned. */
export const MAX_BOUNCE_TEXT_BYTES = 256 * 1024;
/** Most sends one page of the reports API (`GET /api/v1/sends?limit=`) returns; more: 400. */
export const MAX_API_PAGE_SIZE = 500;
/**
 * Longest unsubscribe token (characters) the HTTP service looks at; longer: 404 without
 * verifying. The longest token signed (space id, send id and address at their caps) has 480.
 */
export const MAX_UNSUBSCRIBE_TOKEN_LENGTH = 512;
/** Largest request body (bytes) of a one-click unsubscribe POST (RFC 8058 sends 26); larger: 413. */
export const MAX_UNSUBSCRIBE_BODY_BYTES = 1024;
/** Most entries one page of the suppression API (`GET /api/v1/lists/:list?limit=`) returns; more: 400. */
export const MAX_LIST_PAGE_SIZE = 500;
/** Longest search text (characters) of the suppression API (`?q=`); longer: 400. */
export const MAX_LIST_SEARCH_LENGTH = 256;
/** Longest reason (characters) of a list entry added over the API or the CLI; longer: 400 / UsageError. */
export const MAX_LIST_REASON_LENGTH = 500;
