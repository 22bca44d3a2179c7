/**
 * Schema migrations for the SQLite store.
 *
 * The schema version lives in `PRAGMA user_version` (in the database header, so it changes
 * atomically with the migration that sets it). Migrations are ordered and numbered 1, 2, 3...;
 * each runs in its own IMMEDIATE transaction at open, and the version is re-read inside that
 * transaction so two processes opening a new database at once do not both apply it.
 * `PRAGMA application_id` marks the file as trxmail's, so pointing the store at some other
 * application's database fails instead of adding tables to it.
 *
 * Never edit a migration that has shipped; add a new one.
 *
 * Throws: ConfigError when the database is newer than this code, belongs to another
 * application, or is not empty at version 0. SQLite errors propagate to the caller (the
 * store maps them).
 */
import type Database from 'better-sqlite3';
import { ConfigError, InvariantError } from '../../lib/errors.js';
import { MIGRATIONS_FROM_8, type Migration } from './migrations-from-8.js';

/** "trxm" as a big-endian 32-bit integer: PRAGMA application_id of every trxmail database. */
export const TRXMAIL_APPLICATION_ID = 0x7472786d;

export type { Migration } from './migrations-from-8.js';

/*
 * Notes on the schema:
 *  - STRICT tables: SQLite refuses values of the wrong type instead of storing them.
 *  - Times are integer milliseconds since the epoch, UTC.
 *  - *_key columns hold listKey() of an address (domain normalised, local part lower-cased);
 *    the display form is kept beside it as given.
 *  - sends.user_id has no foreign key: removing a user must keep that user's sends for reports
 *    (user ids are AUTOINCREMENT, so never reused).
 *  - sends.status mirrors the To recipient's status so listSends needs no join.
 *  - send_recipients is keyed by position, not address: the same address may legitimately
 *    appear twice in RCPT TO.
 */
export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'initial schema',
    sql: `
      PRAGMA application_id = ${TRXMAIL_APPLICATION_ID};

      CREATE TABLE spaces (
        id               INTEGER PRIMARY KEY AUTOINCREMENT,
        name             TEXT    NOT NULL UNIQUE COLLATE NOCASE,
        default_flags    INTEGER CHECK (default_flags IS NULL OR default_flags BETWEEN 0 AND 15),
        allow_subdomains INTEGER NOT NULL DEFAULT 0 CHECK (allow_subdomains IN (0, 1)),
        created_at       INTEGER NOT NULL
      ) STRICT;

      CREATE TABLE users (
        id            INTEGER PRIMARY KEY AUTOINCREMENT,
        space_id      INTEGER NOT NULL REFERENCES spaces (id),
        email         TEXT    NOT NULL,
        email_key     TEXT    NOT NULL UNIQUE,
        password_hash TEXT    NOT NULL,
        created_at    INTEGER NOT NULL
      ) STRICT;
      CREATE INDEX users_space ON users (space_id);

      CREATE TABLE sender_domains (
        space_id INTEGER NOT NULL REFERENCES spaces (id),
        domain   TEXT    NOT NULL,
        PRIMARY KEY (space_id, domain)
      ) STRICT, WITHOUT ROWID;

      CREATE TABLE from_defaults (
        space_id    INTEGER NOT NULL REFERENCES spaces (id),
        address_key TEXT    NOT NULL,
        address     TEXT    NOT NULL,
        flags       INTEGER NOT NULL CHECK (flags BETWEEN 0 AND 15),
        PRIMARY KEY (space_id, address_key)
      ) STRICT, WITHOUT ROWID;

      CREATE TABLE list_entries (
        space_id    INTEGER NOT NULL REFERENCES spaces (id),
        address_key TEXT    NOT NULL,
        list        TEXT    NOT NULL CHECK (list IN ('bounce', 'unsubscribe')),
        address     TEXT    NOT NULL,
        reason      TEXT    NOT NULL,
        added_at    INTEGER NOT NULL,
        PRIMARY KEY (space_id, address_key, list)
      ) STRICT, WITHOUT ROWID;
      CREATE INDEX list_entries_by_list ON list_entries (space_id, list, address_key);

      CREATE TABLE sends (
        id              TEXT    NOT NULL UNIQUE,
        space_id        INTEGER NOT NULL REFERENCES spaces (id),
        user_id         INTEGER NOT NULL,
        mail_from       TEXT    NOT NULL,
        envelope_sender TEXT    NOT NULL,
        from_addr       TEXT    NOT NULL,
        from_key        TEXT    NOT NULL,
        to_addr         TEXT    NOT NULL,
        bcc             TEXT,
        discarded       TEXT    NOT NULL CHECK (json_valid(discarded)),
        tags            TEXT    NOT NULL CHECK (json_valid(tags)),
        flags           INTEGER NOT NULL CHECK (flags BETWEEN 0 AND 15),
        flags_source    TEXT    NOT NULL CHECK (flags_source IN ('header', 'from-address', 'space', 'default')),
        received_at     INTEGER NOT NULL,
        status          TEXT    NOT NULL
                        CHECK (status IN ('queued', 'suppressed', 'delivered', 'deferred', 'bounced'))
      ) STRICT;
      CREATE INDEX sends_space_time      ON sends (space_id, received_at);
      CREATE INDEX sends_space_from_time ON sends (space_id, from_key, received_at);
      CREATE INDEX sends_time            ON sends (received_at);

      CREATE TABLE send_tags (
        send_id TEXT NOT NULL REFERENCES sends (id),
        tag     TEXT NOT NULL,
        PRIMARY KEY (send_id, tag)
      ) STRICT, WITHOUT ROWID;
      CREATE INDEX send_tags_tag ON send_tags (tag, send_id);

      CREATE TABLE send_recipients (
        send_id       TEXT    NOT NULL REFERENCES sends (id),
        position      INTEGER NOT NULL,
        address       TEXT    NOT NULL,
        address_key   TEXT    NOT NULL,
        role          TEXT    NOT NULL CHECK (role IN ('to', 'bcc', 'discarded')),
        status        TEXT    NOT NULL
                      CHECK (status IN ('queued', 'suppressed', 'delivered', 'deferred', 'bounced', 'discarded')),
        suppressed_by TEXT    CHECK (suppressed_by IS NULL OR suppressed_by IN ('bounce', 'unsubscribe')),
        detail        TEXT,
        PRIMARY KEY (send_id, position)
      ) STRICT, WITHOUT ROWID;

      CREATE TABLE events (
        id        INTEGER PRIMARY KEY AUTOINCREMENT,
        send_id   TEXT    NOT NULL REFERENCES sends (id),
        recipient TEXT    NOT NULL,
        type      TEXT    NOT NULL CHECK (type IN ('accepted', 'suppressed', 'delivered', 'deferred',
                                                   'bounced', 'opened', 'clicked', 'complained')),
        at        INTEGER NOT NULL,
        detail    TEXT    NOT NULL CHECK (json_valid(detail))
      ) STRICT;
      CREATE INDEX events_send_time ON events (send_id, at, id);
    `,
  },
  {
    version: 2,
    name: 'webhooks and their outbox',
    // webhooks: one endpoint per space; the secret is kept as given (it signs every request).
    // webhook_outbox: one row per event to push, written in the event's transaction; the
    // event fields are copied so the body is the same on every retry. Rows are kept after
    // delivery or expiry (the CLI shows them).
    sql: `
      CREATE TABLE webhooks (
        space_id   INTEGER PRIMARY KEY REFERENCES spaces (id),
        url        TEXT    NOT NULL,
        secret     TEXT    NOT NULL,
        created_at INTEGER NOT NULL
      ) STRICT;

      CREATE TABLE webhook_outbox (
        id              INTEGER PRIMARY KEY AUTOINCREMENT,
        space_id        INTEGER NOT NULL REFERENCES spaces (id),
        type            TEXT    NOT NULL CHECK (type IN ('suppressed', 'delivered', 'deferred', 'bounced',
                                                         'opened', 'clicked', 'complained')),
        send_id         TEXT    NOT NULL,
        recipient       TEXT    NOT NULL,
        at              INTEGER NOT NULL,
        detail          TEXT    NOT NULL CHECK (json_valid(detail)),
        status          TEXT    NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'expired')),
        attempts        INTEGER NOT NULL DEFAULT 0,
        created_at      INTEGER NOT NULL,
        next_attempt_at INTEGER NOT NULL,
        last_error      TEXT,
        done_at         INTEGER
      ) STRICT;
      CREATE INDEX webhook_outbox_due   ON webhook_outbox (status, next_attempt_at, id);
      CREATE INDEX webhook_outbox_space ON webhook_outbox (space_id, status, id);
    `,
  },
  {
    version: 3,
    name: 'domain authentication: DKIM keys, return-path host, DNS check',
    // dkim_keys: one row per key; a selector is unique per domain (one DNS name). Private keys
    // are stored wrapped (src/dkim/key-wrap.ts). sender_domains gains the return-path host
    // (unique across spaces: Postfix routes it to the bounce intake) and the last DNS check.
    sql: `
      ALTER TABLE spaces ADD COLUMN allow_unsigned INTEGER NOT NULL DEFAULT 0 CHECK (allow_unsigned IN (0, 1));
      ALTER TABLE sender_domains ADD COLUMN return_path TEXT;
      ALTER TABLE sender_domains ADD COLUMN check_status TEXT NOT NULL DEFAULT 'unchecked'
        CHECK (check_status IN ('unchecked', 'ok', 'incomplete', 'error'));
      ALTER TABLE sender_domains ADD COLUMN checked_at INTEGER;
      ALTER TABLE sender_domains ADD COLUMN check_detail TEXT CHECK (check_detail IS NULL OR json_valid(check_detail));
      CREATE UNIQUE INDEX sender_domains_return_path ON sender_domains (return_path) WHERE return_path IS NOT NULL;

      CREATE TABLE dkim_keys (
        id                  INTEGER PRIMARY KEY AUTOINCREMENT,
        space_id            INTEGER NOT NULL REFERENCES spaces (id),
        domain              TEXT    NOT NULL,
        selector            TEXT    NOT NULL,
        algorithm           TEXT    NOT NULL CHECK (algorithm IN ('rsa-sha256', 'ed25519-sha256')),
        state               TEXT    NOT NULL CHECK (state IN ('pending', 'active', 'retiring', 'retired')),
        public_txt          TEXT    NOT NULL,
        wrapped_private_key TEXT    NOT NULL,
        created_at          INTEGER NOT NULL,
        activated_at        INTEGER,
        retire_after        INTEGER,
        UNIQUE (domain, selector)
      ) STRICT;
      CREATE INDEX dkim_keys_domain ON dkim_keys (space_id, domain, state);
    `,
  },
  {
    version: 4,
    name: "webhook outbox: the 'domain' event type",
    // A domain's DNS check status changed (src/dkim/domain-checker.ts). SQLite cannot alter a
    // CHECK, so the table is rebuilt (create, copy, drop, rename, indexes again). A domain
    // event has no send and no recipient: send_id and recipient stay NOT NULL and hold ''
    // (every reader keeps its plain string; the webhook body leaves both out for this type).
    // The id sequence is carried over: the id is the webhook body's, on which receivers
    // dedupe, so it is never reused. Nothing references webhook_outbox, so dropping it is
    // safe with foreign_keys on.
    sql: `
      CREATE TABLE webhook_outbox_v4 (
        id              INTEGER PRIMARY KEY AUTOINCREMENT,
        space_id        INTEGER NOT NULL REFERENCES spaces (id),
        type            TEXT    NOT NULL CHECK (type IN ('suppressed', 'delivered', 'deferred', 'bounced',
                                                         'opened', 'clicked', 'complained', 'domain')),
        send_id         TEXT    NOT NULL,
        recipient       TEXT    NOT NULL,
        at              INTEGER NOT NULL,
        detail          TEXT    NOT NULL CHECK (json_valid(detail)),
        status          TEXT    NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'expired')),
        attempts        INTEGER NOT NULL DEFAULT 0,
        created_at      INTEGER NOT NULL,
        next_attempt_at INTEGER NOT NULL,
        last_error      TEXT,
        done_at         INTEGER
      ) STRICT;
      INSERT INTO webhook_outbox_v4 (id, space_id, type, send_id, recipient, at, detail, status, attempts, created_at,
                                     next_attempt_at, last_error, done_at)
        SELECT id, space_id, type, send_id, recipient, at, detail, status, attempts, created_at,
               next_attempt_at, last_error, done_at
        FROM webhook_outbox ORDER BY id;
      DELETE FROM sqlite_sequence WHERE name = 'webhook_outbox_v4';
      INSERT INTO sqlite_sequence (name, seq) SELECT 'webhook_outbox_v4', seq FROM sqlite_sequence WHERE name = 'webhook_outbox';
      DROP TABLE webhook_outbox;
      ALTER TABLE webhook_outbox_v4 RENAME TO webhook_outbox;
      CREATE INDEX webhook_outbox_due   ON webhook_outbox (status, next_attempt_at, id);
      CREATE INDEX webhook_outbox_space ON webhook_outbox (space_id, status, id);
    `,
  },
  {
    version: 5,
    name: 'delivery cursors and not-queued sends',
    // delivery_cursors: one row per log path (src/delivery/maillog-follower.ts): the identity
    // of the file read (st_dev, st_ino as decimal text: inode numbers may not fit a double),
    // the offset just past the last line fully processed, and since when the log has been read
    // without a gap. Written after each batch of lines, read at start.
    // sends.log_seen_at: when the message's qmgr `from=` line was first read;
    // sends.not_queued_at/_reason: the follower decided Postfix never queued it (phantom
    // send); such sends are left out of reports. Existing sends keep NULLs (never marked: the
    // cursors begin now, and only sends received since a cursor's following_since are checked).
    sql: `
      CREATE TABLE delivery_cursors (
        path            TEXT    PRIMARY KEY,
        dev             TEXT    NOT NULL CHECK (dev GLOB '[0-9]*'),
        ino             TEXT    NOT NULL CHECK (ino GLOB '[0-9]*'),
        offset          INTEGER NOT NULL CHECK (offset >= 0),
        following_since INTEGER NOT NULL,
        saved_at        INTEGER NOT NULL
      ) STRICT, WITHOUT ROWID;

      ALTER TABLE sends ADD COLUMN log_seen_at INTEGER;
      ALTER TABLE sends ADD COLUMN not_queued_at INTEGER;
      ALTER TABLE sends ADD COLUMN not_queued_reason TEXT CHECK ((not_queued_at IS NULL) = (not_queued_reason IS NULL));
    `,
  },
  {
    version: 6,
    name: 'several nodes: node of a send, cursors per node, shared login failures',
    // sends.node: the node (config node.name) that accepted the send; NULL for older sends.
    // delivery_cursors: keyed by (node, path): each node reads its own Postfix's log; the
    // position saved before (node '') is taken over by the first node that asks for it.
    // auth_failures: failed logins by throttle key (a client address, or a login and address
    // pair), shared by every node (src/auth/credentials.ts); rows older than the window are
    // deleted as new failures are written.
    sql: `
      ALTER TABLE sends ADD COLUMN node TEXT;

      CREATE TABLE delivery_cursors_by_node (
        node            TEXT    NOT NULL,
        path            TEXT    NOT NULL,
        dev             TEXT    NOT NULL CHECK (dev GLOB '[0-9]*'),
        ino             TEXT    NOT NULL CHECK (ino GLOB '[0-9]*'),
        offset          INTEGER NOT NULL CHECK (offset >= 0),
        following_since INTEGER NOT NULL,
        saved_at        INTEGER NOT NULL,
        PRIMARY KEY (node, path)
      ) STRICT, WITHOUT ROWID;
      INSERT INTO delivery_cursors_by_node (node, path, dev, ino, offset, following_since, saved_at)
        SELECT '', path, dev, ino, offset, following_since, saved_at FROM delivery_cursors;
      DROP TABLE delivery_cursors;
      ALTER TABLE delivery_cursors_by_node RENAME TO delivery_cursors;

      CREATE TABLE auth_failures (
        key   TEXT    NOT NULL,
        at    INTEGER NOT NULL
      ) STRICT;
      CREATE INDEX auth_failures_key_at ON auth_failures (key, at);
      CREATE INDEX auth_failures_at ON auth_failures (at);
    `,
  },
  {
    version: 7,
    name: 'bounce reasons and streaks',
    // Bounce reasons (src/core/bounce-reason.ts; the values are checked by the neutral layer,
    // not by CHECK constraints, so the taxonomy can grow without a table rebuild):
    // send_recipients.reason: why the recipient's last delivery attempt failed (set with
    // 'bounced' / 'deferred', NULL otherwise); list_entries.bounce_reason and .rule: the reason
    // and the classifier's rule that listed a Bounce list entry (NULL for complaints and
    // operators' entries). Existing rows keep NULLs: their reason was never classified.
    // bounce_streaks: per space and address, the final bounces for one reason in a row with no
    // delivery in between (mailbox-full, core/bounce-listing.ts); deleted on a delivery.
    sql: `
      ALTER TABLE send_recipients ADD COLUMN reason TEXT;
      ALTER TABLE list_entries ADD COLUMN bounce_reason TEXT;
      ALTER TABLE list_entries ADD COLUMN rule TEXT;

      CREATE TABLE bounce_streaks (
        space_id    INTEGER NOT NULL REFERENCES spaces (id),
        address_key TEXT    NOT NULL,
        reason      TEXT    NOT NULL,
        count       INTEGER NOT NULL CHECK (count >= 1),
        first_at    INTEGER NOT NULL,
        last_at     INTEGER NOT NULL,
        PRIMARY KEY (space_id, address_key, reason)
      ) STRICT, WITHOUT ROWID;
    `,
  },
  ...MIGRATIONS_FROM_8,
];

/** The schema version this code writes. */
export const LATEST_VERSION = MIGRATIONS.length;

function checkMigrationList(list: readonly Migration[]): void {
  list.forEach((m, i) => {
    if (m.version !== i + 1) throw new InvariantError(`migration ${i} has version ${m.version}, expected ${i + 1}`);
  });
}

function userVersion(db: Database.Database): number {
  const v: unknown = db.pragma('user_version', { simple: true });
  if (typeof v !== 'number') throw new InvariantError('PRAGMA user_version did not return a number');
  return v;
}

function refuseForeign(db: Database.Database, path: string, version: number, latest: number): void {
  const appId: unknown = db.pragma('application_id', { simple: true });
  if (appId !== 0 && appId !== TRXMAIL_APPLICATION_ID) {
    throw new ConfigError(`database ${path} belongs to another application (application_id ${String(appId)}); refusing to use it`);
  }
  if (version > latest) {
    throw new ConfigError(
      `database ${path} has schema version ${version}, newer than this trxmail understands ` +
        `(up to ${latest}); upgrade trxmail or point it at another database`,
    );
  }
  if (version === 0) {
    const row = db.prepare<[], { n: number }>("SELECT count(*) AS n FROM sqlite_schema WHERE name NOT LIKE 'sqlite_%'").get();
    if (row && row.n > 0) {
      throw new ConfigError(`database ${path} is not empty and not a trxmail database; refusing to use it`);
    }
  }
}

/**
 * Brings the database to LATEST_VERSION, one transaction per migration. Returns the version
 * found at open and the version now. `path` is only used in error messages.
 */
export function migrate(
  db: Database.Database,
  path: string,
  migrations: readonly Migration[] = MIGRATIONS,
): { from: number; to: number } {
  checkMigrationList(migrations);
  const latest = migrations.length;
  const from = userVersion(db);
  refuseForeign(db, path, from, latest);
  for (const m of migrations) {
    if (m.version <= from) continue;
    db.transaction(() => {
      // Another process may have migrated while we waited for the write lock.
      const now = userVersion(db);
      if (now >= m.version) return;
      if (now !== m.version - 1) throw new InvariantError(`database ${path} is at version ${now}, cannot apply migration ${m.version}`);
      db.exec(m.sql);
      db.pragma(`user_version = ${m.version}`);
    }).immediate();
  }
  return { from, to: latest };
}
