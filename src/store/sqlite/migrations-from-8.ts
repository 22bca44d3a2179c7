/**
 * SQLite schema migrations from version 8 on (migrations.ts holds 1-7, the machinery and the
 * notes on the schema; it appends these). Never edit a migration that has shipped; add a new
 * one at the end.
 */
/** One schema step (migrations.ts re-exports this type). */
export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

export const MIGRATIONS_FROM_8: readonly Migration[] = [
  {
    version: 8,
    name: 'retention: daily report aggregates',
    // report_days: the report numbers of purged sends (core/retention.ts), one row per space,
    // UTC day received, From key, tag set (JSON array, distinct, sorted), To's bounce reason
    // ('' for none: a key column cannot be NULL) and To's domain; rows only ever add up.
    // webhook_outbox_done: the purge of finished webhook deliveries by done_at.
    sql: `
      CREATE TABLE report_days (
        space_id               INTEGER NOT NULL REFERENCES spaces (id),
        day                    TEXT    NOT NULL,
        from_key               TEXT    NOT NULL,
        tags                   TEXT    NOT NULL CHECK (json_valid(tags)),
        reason                 TEXT    NOT NULL,
        domain                 TEXT    NOT NULL,
        sends                  INTEGER NOT NULL,
        delivered              INTEGER NOT NULL,
        deferred               INTEGER NOT NULL,
        bounced_hard           INTEGER NOT NULL,
        bounced_soft           INTEGER NOT NULL,
        blocked                INTEGER NOT NULL,
        suppressed_bounce      INTEGER NOT NULL,
        suppressed_unsubscribe INTEGER NOT NULL,
        opened_unique          INTEGER NOT NULL,
        opened_total           INTEGER NOT NULL,
        opened_machine         INTEGER NOT NULL,
        clicked_unique         INTEGER NOT NULL,
        clicked_total          INTEGER NOT NULL,
        clicked_machine        INTEGER NOT NULL,
        complained             INTEGER NOT NULL,
        PRIMARY KEY (space_id, day, from_key, tags, reason, domain)
      ) STRICT, WITHOUT ROWID;
      CREATE INDEX webhook_outbox_done ON webhook_outbox (status, done_at);
    `,
  },
  {
    version: 9,
    name: 'message search',
    // sends.message_id: the message's Message-ID (core/message-id.ts; NULL when it had none,
    // and for sends recorded before). Indexes for the search of listSends: by Message-ID and
    // by recipient address key (To, BCC or discarded; send_id makes the lookup covering).
    // Tags already have send_tags_tag, the send id its primary key.
    sql: `
      ALTER TABLE sends ADD COLUMN message_id TEXT;
      CREATE INDEX sends_message_id ON sends (message_id);
      CREATE INDEX send_recipients_key ON send_recipients (address_key, send_id);
    `,
  },
  {
    version: 10,
    name: 'sending limits, usage and pause',
    // space_sending: one row per space with limits or a pause (none: no limits, not paused);
    // resumed_at: the auto-pause counts only after it. space_usage: per space and minute bucket
    // (start, ms), recipients sent and hard bounces and complaints recorded (core/sending-limits.ts),
    // deleted by the space's own writes once older than USAGE_RETENTION_MS.
    // webhook_outbox gets the 'space' event type (paused/resumed); SQLite cannot alter a CHECK,
    // so the table is rebuilt as in migration 4 (id sequence carried over). The rebuild drops
    // the table's indexes, so every index it has is created again — including
    // webhook_outbox_done (status, done_at) of migration 8 (retention).
    sql: `
      CREATE TABLE space_sending (
        space_id     INTEGER PRIMARY KEY REFERENCES spaces (id),
        per_minute   INTEGER CHECK (per_minute >= 0),
        per_hour     INTEGER CHECK (per_hour >= 0),
        per_day      INTEGER CHECK (per_day >= 0),
        paused_at    INTEGER,
        pause_reason TEXT,
        pause_auto   INTEGER NOT NULL DEFAULT 0 CHECK (pause_auto IN (0, 1)),
        resumed_at   INTEGER,
        CHECK ((paused_at IS NULL) = (pause_reason IS NULL))
      ) STRICT;

      CREATE TABLE space_usage (
        space_id     INTEGER NOT NULL REFERENCES spaces (id),
        minute       INTEGER NOT NULL,
        sent         INTEGER NOT NULL DEFAULT 0 CHECK (sent >= 0),
        hard_bounced INTEGER NOT NULL DEFAULT 0 CHECK (hard_bounced >= 0),
        complained   INTEGER NOT NULL DEFAULT 0 CHECK (complained >= 0),
        PRIMARY KEY (space_id, minute)
      ) STRICT, WITHOUT ROWID;

      CREATE TABLE webhook_outbox_v8 (
        id              INTEGER PRIMARY KEY AUTOINCREMENT,
        space_id        INTEGER NOT NULL REFERENCES spaces (id),
        type            TEXT    NOT NULL CHECK (type IN ('suppressed', 'delivered', 'deferred', 'bounced',
                                                         'opened', 'clicked', 'complained', 'domain', 'space')),
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
      INSERT INTO webhook_outbox_v8 (id, space_id, type, send_id, recipient, at, detail, status, attempts, created_at,
                                     next_attempt_at, last_error, done_at)
        SELECT id, space_id, type, send_id, recipient, at, detail, status, attempts, created_at,
               next_attempt_at, last_error, done_at
        FROM webhook_outbox ORDER BY id;
      DELETE FROM sqlite_sequence WHERE name = 'webhook_outbox_v8';
      INSERT INTO sqlite_sequence (name, seq) SELECT 'webhook_outbox_v8', seq FROM sqlite_sequence WHERE name = 'webhook_outbox';
      DROP TABLE webhook_outbox;
      ALTER TABLE webhook_outbox_v8 RENAME TO webhook_outbox;
      CREATE INDEX webhook_outbox_due   ON webhook_outbox (status, next_attempt_at, id);
      CREATE INDEX webhook_outbox_space ON webhook_outbox (space_id, status, id);
      CREATE INDEX webhook_outbox_done ON webhook_outbox (status, done_at);
    `,
  },
  {
    version: 11,
    name: "one-click unsubscribe: the 'unsubscribed' event, list entry sources, list changes",
    // events and webhook_outbox: the type 'unsubscribed' (a recipient used the one-click
    // unsubscribe URL of a send, src/http/unsubscribe.ts). SQLite cannot alter a CHECK, so both
    // tables are rebuilt as in version 4 (the outbox keeps version 10's 'space' type and every
    // index, webhook_outbox_done of version 8 included; ids and their sequences carried over: webhook bodies
    // and receivers dedupe on the outbox id; nothing references either table).
    // list_entries.source: who put the entry there — 'bounce' (bounce intake or maillog),
    // 'complaint' (ARF), 'unsubscribe-link' (one-click), 'api' (suppression API), 'operator'
    // (CLI). Existing rows: 'complaint' for Bounce entries whose reason says so, 'bounce' for
    // other Bounce entries with a bounce reason or the intake's wording, else 'operator'.
    // list_changes: one row per removal from a list (and per addition by the API, CLI or the
    // unsubscribe link), kept for the space's history (GET /api/v1/lists/:list/changes).
    sql: `
      CREATE TABLE events_v11 (
        id        INTEGER PRIMARY KEY AUTOINCREMENT,
        send_id   TEXT    NOT NULL REFERENCES sends (id),
        recipient TEXT    NOT NULL,
        type      TEXT    NOT NULL CHECK (type IN ('accepted', 'suppressed', 'delivered', 'deferred',
                                                   'bounced', 'opened', 'clicked', 'complained', 'unsubscribed')),
        at        INTEGER NOT NULL,
        detail    TEXT    NOT NULL CHECK (json_valid(detail))
      ) STRICT;
      INSERT INTO events_v11 (id, send_id, recipient, type, at, detail)
        SELECT id, send_id, recipient, type, at, detail FROM events ORDER BY id;
      DELETE FROM sqlite_sequence WHERE name = 'events_v11';
      INSERT INTO sqlite_sequence (name, seq) SELECT 'events_v11', seq FROM sqlite_sequence WHERE name = 'events';
      DROP TABLE events;
      ALTER TABLE events_v11 RENAME TO events;
      CREATE INDEX events_send_time ON events (send_id, at, id);

      CREATE TABLE webhook_outbox_v11 (
        id              INTEGER PRIMARY KEY AUTOINCREMENT,
        space_id        INTEGER NOT NULL REFERENCES spaces (id),
        type            TEXT    NOT NULL CHECK (type IN ('suppressed', 'delivered', 'deferred', 'bounced',
                                                         'opened', 'clicked', 'complained', 'domain', 'space', 'unsubscribed')),
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
      INSERT INTO webhook_outbox_v11 (id, space_id, type, send_id, recipient, at, detail, status, attempts, created_at,
                                     next_attempt_at, last_error, done_at)
        SELECT id, space_id, type, send_id, recipient, at, detail, status, attempts, created_at,
               next_attempt_at, last_error, done_at
        FROM webhook_outbox ORDER BY id;
      DELETE FROM sqlite_sequence WHERE name = 'webhook_outbox_v11';
      INSERT INTO sqlite_sequence (name, seq) SELECT 'webhook_outbox_v11', seq FROM sqlite_sequence WHERE name = 'webhook_outbox';
      DROP TABLE webhook_outbox;
      ALTER TABLE webhook_outbox_v11 RENAME TO webhook_outbox;
      CREATE INDEX webhook_outbox_due   ON webhook_outbox (status, next_attempt_at, id);
      CREATE INDEX webhook_outbox_space ON webhook_outbox (space_id, status, id);
      CREATE INDEX webhook_outbox_done  ON webhook_outbox (status, done_at);

      ALTER TABLE list_entries ADD COLUMN source TEXT NOT NULL DEFAULT 'operator'
        CHECK (source IN ('bounce', 'complaint', 'unsubscribe-link', 'api', 'operator'));
      UPDATE list_entries SET source = 'complaint' WHERE list = 'bounce' AND reason LIKE 'complaint%';
      UPDATE list_entries SET source = 'bounce'
        WHERE list = 'bounce' AND source = 'operator'
          AND (bounce_reason IS NOT NULL OR reason LIKE 'hard bounce%' OR reason LIKE 'mailbox full%');

      CREATE TABLE list_changes (
        id        INTEGER PRIMARY KEY AUTOINCREMENT,
        space_id  INTEGER NOT NULL REFERENCES spaces (id),
        list      TEXT    NOT NULL CHECK (list IN ('bounce', 'unsubscribe')),
        address   TEXT    NOT NULL,
        action    TEXT    NOT NULL CHECK (action IN ('added', 'removed')),
        source    TEXT    NOT NULL CHECK (source IN ('bounce', 'complaint', 'unsubscribe-link', 'api', 'operator')),
        reason    TEXT    NOT NULL,
        at        INTEGER NOT NULL
      ) STRICT;
      CREATE INDEX list_changes_space ON list_changes (space_id, list, id);
    `,
  },
  {
    version: 12,
    name: 'one-click unsubscribe defaults of spaces and From addresses',
    // spaces.unsubscribe and from_defaults.unsubscribe: 'one-click' or 'none' (X-Mxm-Unsubscribe,
    // core/unsubscribe.ts); NULL: none configured. from_defaults is rebuilt so that flags may be
    // NULL (a row holding only the unsubscribe default); a row holds at least one of the two.
    // Nothing references from_defaults, so the rebuild is safe with foreign_keys on.
    sql: `
      ALTER TABLE spaces ADD COLUMN unsubscribe TEXT CHECK (unsubscribe IN ('one-click', 'none'));

      CREATE TABLE from_defaults_v12 (
        space_id    INTEGER NOT NULL REFERENCES spaces (id),
        address_key TEXT    NOT NULL,
        address     TEXT    NOT NULL,
        flags       INTEGER CHECK (flags BETWEEN 0 AND 15),
        unsubscribe TEXT    CHECK (unsubscribe IN ('one-click', 'none')),
        CHECK (flags IS NOT NULL OR unsubscribe IS NOT NULL),
        PRIMARY KEY (space_id, address_key)
      ) STRICT, WITHOUT ROWID;
      INSERT INTO from_defaults_v12 (space_id, address_key, address, flags)
        SELECT space_id, address_key, address, flags FROM from_defaults;
      DROP TABLE from_defaults;
      ALTER TABLE from_defaults_v12 RENAME TO from_defaults;
    `,
  },
];
