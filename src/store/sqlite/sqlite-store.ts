/**
 * SQLite backend of the Store interface (better-sqlite3, embedded, zero set-up).
 *
 * Connection settings, applied at open:
 *  - journal_mode=WAL: readers never block the writer and the writer never blocks readers, so
 *    reports can run while the milter records sends; several processes may share the file.
 *  - synchronous=NORMAL: in WAL mode this never corrupts the database, and a commit survives a
 *    crash or kill of the trxmail process (the common failure). Only an operating-system crash
 *    or power loss can lose the last transactions before the next WAL checkpoint. FULL would
 *    add an fsync per recorded send (milliseconds each on ordinary disks, directly on the SMTP
 *    reply path); the Postfix queue file, which holds the message itself, is fsynced by Postfix.
 *  - foreign_keys=ON, busy_timeout=SQLITE_BUSY_TIMEOUT_MS (a writer waits for the lock that long,
 *    then the call fails with TransientError).
 *
 * All SQL is parameterised; fixed statements are prepared once at open, the few dynamic ones
 * (listSends filters; reports, report-query.ts) are cached by their text. Every change of several rows runs in one
 * IMMEDIATE transaction. better-sqlite3 is synchronous; the methods return promises because the
 * interface is shared with network backends.
 *
 * Limits: lookupSuppression takes at most MAX_RECIPIENTS addresses, listSends at most MAX_TAGS
 * tags, eventCounts at most MAX_EVENT_COUNT_SENDS ids; space names at most MAX_SPACE_NAME_LENGTH.
 *
 * Throws: UsageError (unknown space, duplicate name / e-mail / send id, invalid domain, address,
 * flags or date), TransientError (database busy or I/O failure), ConfigError from open()
 * (cannot open or create the file, newer schema, foreign database), InvariantError (a bug).
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { listKey, normaliseDomain } from '../../core/domain.js';
import { MAX_FLAGS } from '../../core/types.js';
import type { FlagSource, SuppressionAnswer, SuppressionList } from '../../core/types.js';
import { ConfigError, InvariantError, TransientError, UsageError } from '../../lib/errors.js';
import {
  MAX_ADDRESS_LENGTH,
  MAX_EVENT_COUNT_SENDS,
  MAX_RECIPIENTS,
  MAX_SPACE_NAME_LENGTH,
  MAX_WEBHOOK_BATCH,
  MAX_WEBHOOK_ERROR_LENGTH,
} from '../../lib/limits.js';
import { checkWebhookUrl } from '../../webhooks/url.js';
import type {
  EventCounts,
  FromDefault,
  ListEntry,
  NewSend,
  NewSendEvent,
  RecipientStatus,
  ReportFilter,
  ReportGroupBy,
  ReportRow,
  Send,
  SendEvent,
  SendFilter,
  SendRecipient,
  SendStatus,
  Space,
  Store,
  User,
  EventType,
  DueWebhookDelivery,
  Webhook,
  WebhookBacklog,
  WebhookDelivery,
  WebhookDeliveryStatus,
  WebhookEventType,
  WebhookOutcome,
} from '../store.js';
import { migrate } from './migrations.js';
import { mapSqliteError, sqliteCode } from './sqlite-errors.js';
import { ReportQuery, registerReportFunctions } from './report-query.js';
import { looseAddressKey, sendFilterClauses, toMs } from './send-filter.js';

/** How long a statement waits for another connection's write lock before failing (ms). */
export const SQLITE_BUSY_TIMEOUT_MS = 5000;

interface SpaceRow {
  id: number;
  name: string;
  default_flags: number | null;
  allow_subdomains: number;
  created_at: number;
}
interface UserRow {
  id: number;
  space_id: number;
  email: string;
  password_hash: string;
  created_at: number;
}
interface FromDefaultRow {
  space_id: number;
  address: string;
  flags: number;
}
interface ListEntryRow {
  space_id: number;
  list: SuppressionList;
  address: string;
  reason: string;
  added_at: number;
}
interface SuppressionRow {
  address_key: string;
  list: SuppressionList;
  reason: string;
}
interface SendRow {
  id: string;
  space_id: number;
  user_id: number;
  mail_from: string;
  envelope_sender: string;
  from_addr: string;
  to_addr: string;
  bcc: string | null;
  discarded: string;
  tags: string;
  flags: number;
  flags_source: FlagSource;
  received_at: number;
  status: SendStatus;
}
interface RecipientRow {
  send_id: string;
  address: string;
  role: SendRecipient['role'];
  status: SendRecipient['status'];
  suppressed_by: SuppressionList | null;
  detail: string | null;
}
interface EventCountRow {
  send_id: string;
  type: 'opened' | 'clicked';
  machine: number;
  n: number;
}
interface EventRow {
  id: number;
  send_id: string;
  recipient: string;
  type: EventType;
  at: number;
  detail: string;
}

interface WebhookRow {
  space_id: number;
  url: string;
  secret: string;
  created_at: number;
}
interface OutboxRow {
  id: number;
  space_id: number;
  space_name: string;
  type: WebhookEventType;
  send_id: string;
  recipient: string;
  at: number;
  detail: string;
  status: WebhookDeliveryStatus;
  attempts: number;
  created_at: number;
  next_attempt_at: number;
  last_error: string | null;
  done_at: number | null;
}
type DueRow = OutboxRow & { url: string; secret: string };

const SPACE_COLS = 'id, name, default_flags, allow_subdomains, created_at';
const USER_COLS = 'id, space_id, email, password_hash, created_at';
const SEND_COLS =
  's.id, s.space_id, s.user_id, s.mail_from, s.envelope_sender, s.from_addr, s.to_addr, s.bcc, ' +
  's.discarded, s.tags, s.flags, s.flags_source, s.received_at, s.status';
const RECIPIENT_COLS = 'send_id, address, role, status, suppressed_by, detail';
const EVENT_COLS = 'id, send_id, recipient, type, at, detail';
const WEBHOOK_COLS = 'space_id, url, secret, created_at';
const OUTBOX_COLS =
  'o.id, o.space_id, sp.name AS space_name, o.type, o.send_id, o.recipient, o.at, o.detail, o.status, o.attempts, ' +
  'o.created_at, o.next_attempt_at, o.last_error, o.done_at';

/** Operator input quoted for an error message: JSON-escaped, cut at 100 characters. */
function quote(value: string): string {
  return JSON.stringify(value.length > 100 ? value.slice(0, 100) + '…' : value);
}

function isUniqueViolation(err: unknown): boolean {
  const code = sqliteCode(err);
  return code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}

function checkFlags(flags: number, what: string): number {
  if (!Number.isInteger(flags) || flags < 0 || flags > MAX_FLAGS) {
    throw new UsageError(`${what} must be an integer from 0 to ${MAX_FLAGS}, got ${String(flags)}`);
  }
  return flags;
}


function checkSpaceName(name: string): string {
  if (name === '' || name.trim() !== name) throw new UsageError(`space name ${quote(name)} is empty or has surrounding spaces`);
  if (name.length > MAX_SPACE_NAME_LENGTH) throw new UsageError(`space name is longer than ${MAX_SPACE_NAME_LENGTH} characters`);
  if (/[\u0000-\u001f\u007f]/.test(name)) throw new UsageError(`space name ${quote(name)} contains control characters`);
  return name;
}

/** listKey of an address for keyed tables; UsageError naming the value when it is not one. */
function requireListKey(address: string, what: string): string {
  const key = address.length <= MAX_ADDRESS_LENGTH ? listKey(address) : null;
  if (key === null) throw new UsageError(`${what} ${quote(address)} is not a valid e-mail address`);
  return key;
}

/** Key used to match a recipient or From address: listKey when it is an address, else lower case. */

function requireDomain(domain: string): string {
  const d = normaliseDomain(domain);
  if (d === null) throw new UsageError(`${quote(domain)} is not a valid domain`);
  return d;
}

function parseStringArray(json: string, what: string): string[] {
  const v: unknown = JSON.parse(json);
  if (!Array.isArray(v) || !v.every((x): x is string => typeof x === 'string')) {
    throw new InvariantError(`stored ${what} is not a JSON array of strings`);
  }
  return v;
}

function parseDetail(json: string): Record<string, unknown> {
  const v: unknown = JSON.parse(json);
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new InvariantError('stored event detail is not a JSON object');
  return v as Record<string, unknown>;
}

function spaceFrom(r: SpaceRow): Space {
  return {
    id: r.id,
    name: r.name,
    defaultFlags: r.default_flags,
    allowSubdomains: r.allow_subdomains === 1,
    createdAt: new Date(r.created_at),
  };
}

function userFrom(r: UserRow): User {
  return { id: r.id, spaceId: r.space_id, email: r.email, passwordHash: r.password_hash, createdAt: new Date(r.created_at) };
}

function recipientFrom(r: RecipientRow): SendRecipient {
  return { address: r.address, role: r.role, status: r.status, suppressedBy: r.suppressed_by, detail: r.detail };
}

function sendFrom(r: SendRow, recipients: SendRecipient[]): Send {
  return {
    id: r.id,
    spaceId: r.space_id,
    userId: r.user_id,
    mailFrom: r.mail_from,
    envelopeSender: r.envelope_sender,
    from: r.from_addr,
    to: r.to_addr,
    bcc: r.bcc,
    discarded: parseStringArray(r.discarded, 'discarded list'),
    tags: parseStringArray(r.tags, 'tag list'),
    flags: r.flags,
    flagsSource: r.flags_source,
    receivedAt: new Date(r.received_at),
    recipients,
    status: r.status,
  };
}

function eventFrom(r: EventRow): SendEvent {
  return {
    id: r.id,
    sendId: r.send_id,
    recipient: r.recipient,
    type: r.type,
    at: new Date(r.at),
    detail: parseDetail(r.detail),
  };
}

function webhookFrom(r: WebhookRow): Webhook {
  return { spaceId: r.space_id, url: r.url, secret: r.secret, createdAt: new Date(r.created_at) };
}

function deliveryFrom(r: OutboxRow): WebhookDelivery {
  return {
    id: r.id,
    spaceId: r.space_id,
    spaceName: r.space_name,
    type: r.type,
    sendId: r.send_id,
    recipient: r.recipient,
    at: new Date(r.at),
    detail: parseDetail(r.detail),
    status: r.status,
    attempts: r.attempts,
    createdAt: new Date(r.created_at),
    nextAttemptAt: new Date(r.next_attempt_at),
    lastError: r.last_error,
    doneAt: r.done_at === null ? null : new Date(r.done_at),
  };
}

/** A non-negative safe integer, or UsageError. */
function checkCount(n: number, what: string): number {
  if (!Number.isSafeInteger(n) || n < 0) throw new UsageError(`${what} must be a non-negative integer, got ${String(n)}`);
  return n;
}

function prepareAll(db: Database.Database) {
  return {
    spaceExists: db.prepare<[number], { one: number }>('SELECT 1 AS one FROM spaces WHERE id = ?'),
    insertSpace: db.prepare<[string, number | null, number, number]>(
      'INSERT INTO spaces (name, default_flags, allow_subdomains, created_at) VALUES (?, ?, ?, ?)',
    ),
    getSpace: db.prepare<[number], SpaceRow>(`SELECT ${SPACE_COLS} FROM spaces WHERE id = ?`),
    getSpaceByName: db.prepare<[string], SpaceRow>(`SELECT ${SPACE_COLS} FROM spaces WHERE name = ?`),
    listSpaces: db.prepare<[], SpaceRow>(`SELECT ${SPACE_COLS} FROM spaces ORDER BY id`),
    updateSpace: db.prepare<[number | null, number, number]>(
      'UPDATE spaces SET default_flags = ?, allow_subdomains = ? WHERE id = ?',
    ),

    addDomain: db.prepare<[number, string]>('INSERT OR IGNORE INTO sender_domains (space_id, domain) VALUES (?, ?)'),
    removeDomain: db.prepare<[number, string]>('DELETE FROM sender_domains WHERE space_id = ? AND domain = ?'),
    listDomains: db.prepare<[number], { domain: string }>('SELECT domain FROM sender_domains WHERE space_id = ? ORDER BY domain'),

    insertUser: db.prepare<[number, string, string, string, number]>(
      'INSERT INTO users (space_id, email, email_key, password_hash, created_at) VALUES (?, ?, ?, ?, ?)',
    ),
    getUserById: db.prepare<[number], UserRow>(`SELECT ${USER_COLS} FROM users WHERE id = ?`),
    getUserByKey: db.prepare<[string], UserRow>(`SELECT ${USER_COLS} FROM users WHERE email_key = ?`),
    setPasswordHash: db.prepare<[string, string]>('UPDATE users SET password_hash = ? WHERE email_key = ?'),
    removeUser: db.prepare<[string]>('DELETE FROM users WHERE email_key = ?'),
    listUsers: db.prepare<[], UserRow>(`SELECT ${USER_COLS} FROM users ORDER BY email_key`),
    listUsersInSpace: db.prepare<[number], UserRow>(`SELECT ${USER_COLS} FROM users WHERE space_id = ? ORDER BY email_key`),

    upsertFromFlags: db.prepare<[number, string, string, number]>(
      'INSERT INTO from_defaults (space_id, address_key, address, flags) VALUES (?, ?, ?, ?) ' +
        'ON CONFLICT (space_id, address_key) DO UPDATE SET address = excluded.address, flags = excluded.flags',
    ),
    deleteFromFlags: db.prepare<[number, string]>('DELETE FROM from_defaults WHERE space_id = ? AND address_key = ?'),
    getFromFlags: db.prepare<[number, string], { flags: number }>(
      'SELECT flags FROM from_defaults WHERE space_id = ? AND address_key = ?',
    ),
    listFromFlags: db.prepare<[number], FromDefaultRow>(
      'SELECT space_id, address, flags FROM from_defaults WHERE space_id = ? ORDER BY address_key',
    ),

    upsertListEntry: db.prepare<[number, string, SuppressionList, string, string, number]>(
      'INSERT INTO list_entries (space_id, address_key, list, address, reason, added_at) VALUES (?, ?, ?, ?, ?, ?) ' +
        'ON CONFLICT (space_id, address_key, list) DO UPDATE SET reason = excluded.reason, added_at = excluded.added_at',
    ),
    removeListEntry: db.prepare<[number, SuppressionList, string]>(
      'DELETE FROM list_entries WHERE space_id = ? AND list = ? AND address_key = ?',
    ),
    listEntries: db.prepare<[number, SuppressionList], ListEntryRow>(
      'SELECT space_id, list, address, reason, added_at FROM list_entries WHERE space_id = ? AND list = ? ORDER BY address_key',
    ),
    lookupSuppression: db.prepare<[number, string], SuppressionRow>(
      'SELECT address_key, list, reason FROM list_entries ' +
        'WHERE space_id = ? AND address_key IN (SELECT value FROM json_each(?))',
    ),

    insertSend: db.prepare<
      [string, number, number, string, string, string, string, string, string | null, string, string, number, FlagSource, number, SendStatus]
    >(
      'INSERT INTO sends (id, space_id, user_id, mail_from, envelope_sender, from_addr, from_key, to_addr, bcc, ' +
        'discarded, tags, flags, flags_source, received_at, status) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
    ),
    insertTag: db.prepare<[string, string]>('INSERT OR IGNORE INTO send_tags (send_id, tag) VALUES (?, ?)'),
    insertRecipient: db.prepare<[string, number, string, string, string, string, string | null, string | null]>(
      'INSERT INTO send_recipients (send_id, position, address, address_key, role, status, suppressed_by, detail) ' +
        'VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
    ),
    sendExists: db.prepare<[string], { one: number }>('SELECT 1 AS one FROM sends WHERE id = ?'),
    getSend: db.prepare<[string], SendRow>(`SELECT ${SEND_COLS} FROM sends s WHERE s.id = ?`),
    getSendInSpace: db.prepare<[string, number], SendRow>(`SELECT ${SEND_COLS} FROM sends s WHERE s.id = ? AND s.space_id = ?`),
    recipientsOf: db.prepare<[string], RecipientRow>(
      `SELECT ${RECIPIENT_COLS} FROM send_recipients WHERE send_id IN (SELECT value FROM json_each(?)) ORDER BY send_id, position`,
    ),
    updateRecipient: db.prepare<[RecipientStatus, string | null, string, string]>(
      "UPDATE send_recipients SET status = ?, detail = ? WHERE send_id = ? AND address_key = ? AND role <> 'discarded'",
    ),
    syncSendStatus: db.prepare<[string, string]>(
      "UPDATE sends SET status = (SELECT status FROM send_recipients WHERE send_id = ? AND role = 'to') WHERE id = ?",
    ),

    insertEvent: db.prepare<[string, string, EventType, number, string]>(
      'INSERT INTO events (send_id, recipient, type, at, detail) VALUES (?, ?, ?, ?, ?)',
    ),
    listEvents: db.prepare<[string], EventRow>(`SELECT ${EVENT_COLS} FROM events WHERE send_id = ? ORDER BY at, id`),
    // json_type is 'true' only for JSON true: "machine": 1 or "true" are not machine traffic.
    eventCounts: db.prepare<[string], EventCountRow>(
      "SELECT send_id, type, json_type(detail, '$.machine') IS 'true' AS machine, count(*) AS n FROM events " +
        "WHERE send_id IN (SELECT value FROM json_each(?)) AND type IN ('opened', 'clicked') GROUP BY send_id, type, machine",
    ),

    sendSpace: db.prepare<[string], { space_id: number }>('SELECT space_id FROM sends WHERE id = ?'),
    hasWebhook: db.prepare<[number], { one: number }>('SELECT 1 AS one FROM webhooks WHERE space_id = ?'),
    upsertWebhook: db.prepare<[number, string, string, number]>(
      'INSERT INTO webhooks (space_id, url, secret, created_at) VALUES (?, ?, ?, ?) ' +
        'ON CONFLICT (space_id) DO UPDATE SET url = excluded.url, secret = excluded.secret, created_at = excluded.created_at',
    ),
    getWebhook: db.prepare<[number], WebhookRow>(`SELECT ${WEBHOOK_COLS} FROM webhooks WHERE space_id = ?`),
    deleteWebhook: db.prepare<[number]>('DELETE FROM webhooks WHERE space_id = ?'),
    listWebhooks: db.prepare<[], WebhookRow>(`SELECT ${WEBHOOK_COLS} FROM webhooks ORDER BY space_id`),
    expireSpaceOutbox: db.prepare<[string, number, number]>(
      "UPDATE webhook_outbox SET status = 'expired', last_error = ?, done_at = ? WHERE space_id = ? AND status = 'pending'",
    ),
    insertOutbox: db.prepare<[number, WebhookEventType, string, string, number, string, number, number]>(
      'INSERT INTO webhook_outbox (space_id, type, send_id, recipient, at, detail, created_at, next_attempt_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
    ),
    dueOutbox: db.prepare<[number, number], DueRow>(
      `SELECT ${OUTBOX_COLS}, w.url, w.secret FROM webhook_outbox o JOIN spaces sp ON sp.id = o.space_id ` +
        "JOIN webhooks w ON w.space_id = o.space_id WHERE o.status = 'pending' AND o.next_attempt_at <= ? " +
        'ORDER BY o.next_attempt_at, o.id LIMIT ?',
    ),
    leaseOutbox: db.prepare<[number, number]>('UPDATE webhook_outbox SET next_attempt_at = ? WHERE id = ?'),
    deliveredOutbox: db.prepare<[number, number]>(
      "UPDATE webhook_outbox SET status = 'delivered', attempts = attempts + 1, last_error = NULL, done_at = ? WHERE id = ? AND status = 'pending'",
    ),
    retryOutbox: db.prepare<[string, number, number]>(
      "UPDATE webhook_outbox SET attempts = attempts + 1, last_error = ?, next_attempt_at = ? WHERE id = ? AND status = 'pending'",
    ),
    expireOutbox: db.prepare<[string, number, number]>(
      "UPDATE webhook_outbox SET status = 'expired', attempts = attempts + 1, last_error = ?, done_at = ? WHERE id = ? AND status = 'pending'",
    ),
    outboxBacklog: db.prepare<[], { pending: number; expired: number; oldest: number | null }>(
      "SELECT coalesce(sum(status = 'pending'), 0) AS pending, coalesce(sum(status = 'expired'), 0) AS expired, " +
        "min(CASE WHEN status = 'pending' THEN created_at END) AS oldest FROM webhook_outbox",
    ),
  };
}

export class SqliteStore implements Store {
  readonly path: string;
  private readonly db: Database.Database;
  private readonly sql: ReturnType<typeof prepareAll>;
  /** listSends statements by SQL text; their number is bounded by the filter combinations. */
  private readonly dynamic = new Map<string, Database.Statement<(string | number)[], SendRow>>();
  private closed = false;
  /** Store.report (report-query.ts). */
  private readonly reports: ReportQuery;

  private constructor(path: string, db: Database.Database) {
    this.path = path;
    this.db = db;
    this.sql = prepareAll(db);
    registerReportFunctions(db);
    this.reports = new ReportQuery(db);
  }

  /**
   * Opens (creating it and its parent directory if needed) and migrates the database at
   * `path`; `:memory:` gives a private in-memory database. Throws ConfigError when the file
   * cannot be opened or created, or its schema is newer than this code or not trxmail's.
   */
  static open(path: string): SqliteStore {
    const memory = path === ':memory:';
    let db: Database.Database;
    try {
      if (!memory) mkdirSync(dirname(path), { recursive: true });
      db = new Database(path);
    } catch (err: unknown) {
      const why = err instanceof Error ? err.message : String(err);
      throw new ConfigError(`cannot open database ${path}: ${why}`, { cause: err });
    }
    try {
      db.pragma(`busy_timeout = ${SQLITE_BUSY_TIMEOUT_MS}`);
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
      db.pragma('foreign_keys = ON');
      migrate(db, path);
      return new SqliteStore(path, db);
    } catch (err: unknown) {
      db.close();
      const code = sqliteCode(err);
      if (code === 'SQLITE_NOTADB' || code === 'SQLITE_CANTOPEN' || code === 'SQLITE_READONLY') {
        throw new ConfigError(`cannot use database ${path}: ${(err as Error).message}`, { cause: err });
      }
      throw mapSqliteError(err);
    }
  }

  /** Runs `fn` and turns its result or error (mapped) into a promise. */
  private run<T>(fn: () => T): Promise<T> {
    try {
      if (this.closed) throw new TransientError('ESTORE_CLOSED', 'the store is closed');
      return Promise.resolve(fn());
    } catch (err: unknown) {
      return Promise.reject(mapSqliteError(err));
    }
  }

  private requireSpace(spaceId: number): void {
    if (this.sql.spaceExists.get(spaceId) === undefined) throw new UsageError(`unknown space id ${String(spaceId)}`);
  }

  close(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      try {
        this.db.close();
      } catch (err: unknown) {
        return Promise.reject(mapSqliteError(err));
      }
    }
    return Promise.resolve();
  }

  // ---- spaces ----------------------------------------------------------------------------

  createSpace(input: { name: string; defaultFlags?: number | null; allowSubdomains?: boolean }): Promise<Space> {
    return this.run(() => {
      const name = checkSpaceName(input.name);
      const flags = input.defaultFlags ?? null;
      if (flags !== null) checkFlags(flags, 'default flags');
      const now = Date.now();
      try {
        const info = this.sql.insertSpace.run(name, flags, input.allowSubdomains === true ? 1 : 0, now);
        const row = this.sql.getSpace.get(Number(info.lastInsertRowid));
        if (!row) throw new InvariantError('space vanished after insert');
        return spaceFrom(row);
      } catch (err: unknown) {
        if (isUniqueViolation(err)) throw new UsageError(`a space named ${quote(name)} exists already`, { cause: err });
        throw err;
      }
    });
  }

  getSpace(id: number): Promise<Space | null> {
    return this.run(() => {
      const row = this.sql.getSpace.get(id);
      return row ? spaceFrom(row) : null;
    });
  }

  getSpaceByName(name: string): Promise<Space | null> {
    return this.run(() => {
      const row = this.sql.getSpaceByName.get(name);
      return row ? spaceFrom(row) : null;
    });
  }

  listSpaces(): Promise<Space[]> {
    return this.run(() => this.sql.listSpaces.all().map(spaceFrom));
  }

  updateSpace(id: number, patch: { defaultFlags?: number | null; allowSubdomains?: boolean }): Promise<Space> {
    return this.run(() =>
      this.db
        .transaction(() => {
          const row = this.sql.getSpace.get(id);
          if (!row) throw new UsageError(`unknown space id ${String(id)}`);
          let flags = row.default_flags;
          if (patch.defaultFlags !== undefined) {
            flags = patch.defaultFlags === null ? null : checkFlags(patch.defaultFlags, 'default flags');
          }
          const sub = patch.allowSubdomains === undefined ? row.allow_subdomains : patch.allowSubdomains ? 1 : 0;
          this.sql.updateSpace.run(flags, sub, id);
          return spaceFrom({ ...row, default_flags: flags, allow_subdomains: sub });
        })
        .immediate(),
    );
  }

  // ---- sender domains --------------------------------------------------------------------

  addDomain(spaceId: number, domain: string): Promise<void> {
    return this.run(() => {
      const d = requireDomain(domain);
      this.requireSpace(spaceId);
      this.sql.addDomain.run(spaceId, d);
    });
  }

  removeDomain(spaceId: number, domain: string): Promise<boolean> {
    return this.run(() => {
      const d = requireDomain(domain);
      this.requireSpace(spaceId);
      return this.sql.removeDomain.run(spaceId, d).changes > 0;
    });
  }

  listDomains(spaceId: number): Promise<string[]> {
    return this.run(() => {
      const rows = this.sql.listDomains.all(spaceId);
      if (rows.length === 0) this.requireSpace(spaceId);
      return rows.map((r) => r.domain);
    });
  }

  // ---- users -----------------------------------------------------------------------------

  createUser(input: { spaceId: number; email: string; passwordHash: string }): Promise<User> {
    return this.run(() => {
      const email = input.email.trim();
      const key = requireListKey(email, 'user e-mail');
      if (typeof input.passwordHash !== 'string' || input.passwordHash === '') throw new UsageError('password hash must not be empty');
      this.requireSpace(input.spaceId);
      try {
        const info = this.sql.insertUser.run(input.spaceId, email, key, input.passwordHash, Date.now());
        const row = this.sql.getUserById.get(Number(info.lastInsertRowid));
        if (!row) throw new InvariantError('user vanished after insert');
        return userFrom(row);
      } catch (err: unknown) {
        if (isUniqueViolation(err)) throw new UsageError(`a user with e-mail ${quote(email)} exists already`, { cause: err });
        throw err;
      }
    });
  }

  getUserByEmail(email: string): Promise<User | null> {
    return this.run(() => {
      const key = email.length <= MAX_ADDRESS_LENGTH ? listKey(email) : null;
      if (key === null) return null;
      const row = this.sql.getUserByKey.get(key);
      return row ? userFrom(row) : null;
    });
  }

  setPasswordHash(email: string, passwordHash: string): Promise<boolean> {
    return this.run(() => {
      if (typeof passwordHash !== 'string' || passwordHash === '') throw new UsageError('password hash must not be empty');
      const key = email.length <= MAX_ADDRESS_LENGTH ? listKey(email) : null;
      if (key === null) return false;
      return this.sql.setPasswordHash.run(passwordHash, key).changes > 0;
    });
  }

  removeUser(email: string): Promise<boolean> {
    return this.run(() => {
      const key = email.length <= MAX_ADDRESS_LENGTH ? listKey(email) : null;
      if (key === null) return false;
      return this.sql.removeUser.run(key).changes > 0;
    });
  }

  listUsers(spaceId?: number): Promise<User[]> {
    return this.run(() => {
      if (spaceId === undefined) return this.sql.listUsers.all().map(userFrom);
      const rows = this.sql.listUsersInSpace.all(spaceId);
      if (rows.length === 0) this.requireSpace(spaceId);
      return rows.map(userFrom);
    });
  }

  // ---- per-from-address default flags ------------------------------------------------------

  setFromFlags(spaceId: number, address: string, flags: number | null): Promise<void> {
    return this.run(() => {
      const trimmed = address.trim();
      const key = requireListKey(trimmed, 'from address');
      if (flags !== null) checkFlags(flags, 'flags');
      this.requireSpace(spaceId);
      if (flags === null) this.sql.deleteFromFlags.run(spaceId, key);
      else this.sql.upsertFromFlags.run(spaceId, key, trimmed, flags);
    });
  }

  getFromFlags(spaceId: number, address: string): Promise<number | null> {
    return this.run(() => {
      const key = address.length <= MAX_ADDRESS_LENGTH ? listKey(address) : null;
      const row = key === null ? undefined : this.sql.getFromFlags.get(spaceId, key);
      if (row === undefined) {
        this.requireSpace(spaceId);
        return null;
      }
      return row.flags;
    });
  }

  listFromFlags(spaceId: number): Promise<FromDefault[]> {
    return this.run(() => {
      const rows = this.sql.listFromFlags.all(spaceId);
      if (rows.length === 0) this.requireSpace(spaceId);
      return rows.map((r) => ({ spaceId: r.space_id, address: r.address, flags: r.flags }));
    });
  }

  // ---- suppression lists -----------------------------------------------------------------

  addListEntry(input: { spaceId: number; list: SuppressionList; address: string; reason: string; addedAt: Date }): Promise<void> {
    return this.run(() => {
      const address = input.address.trim();
      const key = requireListKey(address, 'list address');
      const at = toMs(input.addedAt, 'addedAt');
      this.requireSpace(input.spaceId);
      this.sql.upsertListEntry.run(input.spaceId, key, input.list, address, input.reason, at);
    });
  }

  removeListEntry(spaceId: number, list: SuppressionList, address: string): Promise<boolean> {
    return this.run(() => {
      const key = requireListKey(address, 'list address');
      this.requireSpace(spaceId);
      return this.sql.removeListEntry.run(spaceId, list, key).changes > 0;
    });
  }

  listEntries(spaceId: number, list: SuppressionList): Promise<ListEntry[]> {
    return this.run(() => {
      const rows = this.sql.listEntries.all(spaceId, list);
      if (rows.length === 0) this.requireSpace(spaceId);
      return rows.map((r) => ({ spaceId: r.space_id, list: r.list, address: r.address, reason: r.reason, addedAt: new Date(r.added_at) }));
    });
  }

  lookupSuppression(spaceId: number, addresses: readonly string[]): Promise<Record<string, SuppressionAnswer>> {
    return this.run(() => {
      if (addresses.length > MAX_RECIPIENTS) throw new UsageError(`at most ${MAX_RECIPIENTS} addresses per suppression lookup`);
      this.requireSpace(spaceId);
      const keys = addresses.map((a) => (a.length <= MAX_ADDRESS_LENGTH ? listKey(a) : null));
      const wanted = [...new Set(keys.filter((k): k is string => k !== null))];
      const found = new Map<string, { bounce?: { reason: string }; unsubscribe?: { reason: string } }>();
      if (wanted.length > 0) {
        for (const row of this.sql.lookupSuppression.all(spaceId, JSON.stringify(wanted))) {
          const entry = found.get(row.address_key) ?? {};
          entry[row.list] = { reason: row.reason };
          found.set(row.address_key, entry);
        }
      }
      // Null prototype: an address such as "__proto__" must be an ordinary key.
      const result = Object.create(null) as Record<string, SuppressionAnswer>;
      addresses.forEach((address, i) => {
        const key = keys[i];
        const hit = key === null || key === undefined ? undefined : found.get(key);
        result[address] = hit ? { ...hit } : {};
      });
      return result;
    });
  }

  // ---- sends -----------------------------------------------------------------------------

  recordSend(send: NewSend): Promise<void> {
    return this.run(() => {
      if (typeof send.id !== 'string' || send.id === '') throw new UsageError('send id must not be empty');
      checkFlags(send.flags, 'send flags');
      const receivedAt = toMs(send.receivedAt, 'receivedAt');
      const toRecipients = send.recipients.filter((r) => r.role === 'to');
      const to = toRecipients[0];
      if (toRecipients.length !== 1 || to === undefined) {
        throw new UsageError(`send ${quote(send.id)} must have exactly one recipient with role "to", has ${toRecipients.length}`);
      }
      for (const r of send.recipients) {
        if ((r.role === 'discarded') !== (r.status === 'discarded')) {
          throw new UsageError(`send ${quote(send.id)}: recipient ${quote(r.address)} has role ${r.role} but status ${r.status}`);
        }
      }
      const status = to.status as SendStatus; // not 'discarded': checked above
      this.db
        .transaction(() => {
          this.requireSpace(send.spaceId);
          const user = this.sql.getUserById.get(send.userId);
          if (!user || user.space_id !== send.spaceId) {
            throw new UsageError(`user id ${String(send.userId)} is not a user of space ${String(send.spaceId)}`);
          }
          try {
            this.sql.insertSend.run(
              send.id,
              send.spaceId,
              send.userId,
              send.mailFrom,
              send.envelopeSender,
              send.from,
              looseAddressKey(send.from),
              send.to,
              send.bcc,
              JSON.stringify(send.discarded),
              JSON.stringify(send.tags),
              send.flags,
              send.flagsSource,
              receivedAt,
              status,
            );
          } catch (err: unknown) {
            if (isUniqueViolation(err)) throw new UsageError(`a send with id ${quote(send.id)} is recorded already`, { cause: err });
            throw err;
          }
          for (const tag of send.tags) this.sql.insertTag.run(send.id, tag);
          send.recipients.forEach((r, position) => {
            this.sql.insertRecipient.run(send.id, position, r.address, looseAddressKey(r.address), r.role, r.status, r.suppressedBy, r.detail);
          });
          for (const r of send.recipients) {
            if (r.status !== 'suppressed') continue;
            const detail = JSON.stringify({ list: r.suppressedBy, reason: r.detail });
            this.queueWebhook(send.spaceId, 'suppressed', send.id, r.address, receivedAt, detail);
          }
        })
        .immediate();
    });
  }

  /** Attaches recipients to send rows (one query for the whole page). */
  private withRecipients(rows: SendRow[]): Send[] {
    if (rows.length === 0) return [];
    const bySend = new Map<string, SendRecipient[]>();
    for (const r of this.sql.recipientsOf.all(JSON.stringify(rows.map((s) => s.id)))) {
      const list = bySend.get(r.send_id);
      if (list) list.push(recipientFrom(r));
      else bySend.set(r.send_id, [recipientFrom(r)]);
    }
    return rows.map((s) => sendFrom(s, bySend.get(s.id) ?? []));
  }

  getSend(id: string, spaceId: number | null): Promise<Send | null> {
    return this.run(() => {
      const row = spaceId === null ? this.sql.getSend.get(id) : this.sql.getSendInSpace.get(id, spaceId);
      return row ? (this.withRecipients([row])[0] ?? null) : null;
    });
  }

  listSends(filter: SendFilter): Promise<Send[]> {
    return this.run(() => {
      const { where, params } = sendFilterClauses(filter);
      if (filter.before !== undefined) {
        const t = toMs(filter.before.receivedAt, 'cursor time');
        // The same-millisecond tie is broken by rowid, as in the ORDER BY; the cursor's send is
        // looked up in the same space only.
        const sameSpace = filter.spaceId !== undefined ? ' AND c.space_id = s.space_id' : '';
        where.push(`(s.received_at < ? OR (s.received_at = ? AND s.rowid < (SELECT c.rowid FROM sends c WHERE c.id = ?${sameSpace})))`);
        params.push(t, t, filter.before.id);
      }
      params.push(filter.limit === undefined ? -1 : checkCount(filter.limit, 'limit'));
      params.push(filter.offset === undefined ? 0 : checkCount(filter.offset, 'offset'));
      const text =
        `SELECT ${SEND_COLS} FROM sends s` +
        (where.length > 0 ? ` WHERE ${where.join(' AND ')}` : '') +
        ' ORDER BY s.received_at DESC, s.rowid DESC LIMIT ? OFFSET ?';
      let stmt = this.dynamic.get(text);
      if (!stmt) {
        stmt = this.db.prepare<(string | number)[], SendRow>(text);
        this.dynamic.set(text, stmt);
      }
      return this.withRecipients(stmt.all(...params));
    });
  }

  report(filter: ReportFilter, groupBy: ReportGroupBy | null): Promise<ReportRow[]> {
    return this.run(() => {
      this.requireSpace(filter.spaceId);
      return this.reports.run(filter, groupBy);
    });
  }

  /** EXPLAIN QUERY PLAN of a report (tests: the indexes are used). */
  reportPlan(filter: ReportFilter, groupBy: ReportGroupBy | null): string[] {
    return this.reports.plan(filter, groupBy);
  }

  updateRecipientStatus(sendId: string, address: string, status: RecipientStatus, detail: string | null): Promise<boolean> {
    return this.run(() =>
      this.db
        .transaction(() => {
          const changed = this.sql.updateRecipient.run(status, detail, sendId, looseAddressKey(address)).changes > 0;
          if (changed) this.sql.syncSendStatus.run(sendId, sendId);
          return changed;
        })
        .immediate(),
    );
  }

  // ---- events ----------------------------------------------------------------------------

  addEvent(event: NewSendEvent): Promise<SendEvent> {
    return this.run(() => {
      const at = toMs(event.at, 'event time');
      let detail: string;
      try {
        detail = JSON.stringify(event.detail);
      } catch (err: unknown) {
        throw new UsageError('event detail is not JSON-serialisable', { cause: err });
      }
      if (typeof detail !== 'string' || !detail.startsWith('{')) throw new UsageError('event detail must be a JSON object');
      const info = this.db
        .transaction(() => {
          const send = this.sql.sendSpace.get(event.sendId);
          if (send === undefined) throw new UsageError(`unknown send id ${quote(event.sendId)}`);
          const inserted = this.sql.insertEvent.run(event.sendId, event.recipient, event.type, at, detail);
          if (event.type !== 'accepted') this.queueWebhook(send.space_id, event.type, event.sendId, event.recipient, at, detail);
          return inserted;
        })
        .immediate();
      return {
        id: Number(info.lastInsertRowid),
        sendId: event.sendId,
        recipient: event.recipient,
        type: event.type,
        at: new Date(at),
        detail: parseDetail(detail),
      };
    });
  }

  listEvents(sendId: string): Promise<SendEvent[]> {
    return this.run(() => this.sql.listEvents.all(sendId).map(eventFrom));
  }

  eventCounts(sendIds: readonly string[]): Promise<Record<string, EventCounts>> {
    return this.run(() => {
      if (sendIds.length > MAX_EVENT_COUNT_SENDS) throw new UsageError(`at most ${MAX_EVENT_COUNT_SENDS} send ids per event count`);
      const counts = new Map<string, { opened: number; openedMachine: number; clicked: number; clickedMachine: number }>();
      const wanted = [...new Set(sendIds)];
      if (wanted.length > 0) {
        for (const row of this.sql.eventCounts.all(JSON.stringify(wanted))) {
          const c = counts.get(row.send_id) ?? { opened: 0, openedMachine: 0, clicked: 0, clickedMachine: 0 };
          if (row.type === 'opened') c[row.machine === 1 ? 'openedMachine' : 'opened'] += row.n;
          else c[row.machine === 1 ? 'clickedMachine' : 'clicked'] += row.n;
          counts.set(row.send_id, c);
        }
      }
      // Null prototype: a send id such as "__proto__" must be an ordinary key.
      const result = Object.create(null) as Record<string, EventCounts>;
      for (const id of sendIds) {
        const c = counts.get(id) ?? { opened: 0, openedMachine: 0, clicked: 0, clickedMachine: 0 };
        result[id] = { ...c, uniqueOpened: c.opened > 0 || c.clicked > 0, uniqueClicked: c.clicked > 0 };
      }
      return result;
    });
  }

  // ---- webhooks --------------------------------------------------------------------------

  /** Inside the caller's transaction: one outbox row when the space has a webhook. */
  private queueWebhook(spaceId: number, type: WebhookEventType, sendId: string, recipient: string, at: number, detail: string): void {
    if (this.sql.hasWebhook.get(spaceId) === undefined) return;
    const now = Date.now();
    this.sql.insertOutbox.run(spaceId, type, sendId, recipient, at, detail, now, now);
  }

  setWebhook(input: { spaceId: number; url: string; secret: string }): Promise<Webhook> {
    return this.run(() => {
      const url = checkWebhookUrl(input.url);
      if (typeof input.secret !== 'string' || input.secret === '') throw new UsageError('webhook secret must not be empty');
      this.requireSpace(input.spaceId);
      const now = Date.now();
      this.sql.upsertWebhook.run(input.spaceId, url, input.secret, now);
      return { spaceId: input.spaceId, url, secret: input.secret, createdAt: new Date(now) };
    });
  }

  getWebhook(spaceId: number): Promise<Webhook | null> {
    return this.run(() => {
      const row = this.sql.getWebhook.get(spaceId);
      return row ? webhookFrom(row) : null;
    });
  }

  removeWebhook(spaceId: number): Promise<boolean> {
    return this.run(() =>
      this.db
        .transaction(() => {
          this.requireSpace(spaceId);
          const removed = this.sql.deleteWebhook.run(spaceId).changes > 0;
          if (removed) this.sql.expireSpaceOutbox.run('webhook removed', Date.now(), spaceId);
          return removed;
        })
        .immediate(),
    );
  }

  listWebhooks(): Promise<Webhook[]> {
    return this.run(() => this.sql.listWebhooks.all().map(webhookFrom));
  }

  claimWebhookDeliveries(now: Date, limit: number, leaseMs: number): Promise<DueWebhookDelivery[]> {
    return this.run(() => {
      const nowMs = toMs(now, 'now');
      checkCount(limit, 'limit');
      checkCount(leaseMs, 'lease');
      if (limit > MAX_WEBHOOK_BATCH) throw new UsageError(`at most ${MAX_WEBHOOK_BATCH} webhook deliveries per claim`);
      if (limit === 0) return [];
      return this.db
        .transaction(() => {
          const rows = this.sql.dueOutbox.all(nowMs, limit);
          const until = nowMs + leaseMs;
          for (const r of rows) this.sql.leaseOutbox.run(until, r.id);
          return rows.map((r): DueWebhookDelivery => ({ ...deliveryFrom({ ...r, next_attempt_at: until }), url: r.url, secret: r.secret }));
        })
        .immediate();
    });
  }

  completeWebhookDelivery(id: number, outcome: WebhookOutcome): Promise<boolean> {
    return this.run(() => {
      const at = toMs(outcome.at, 'outcome time');
      if (outcome.delivered) return this.sql.deliveredOutbox.run(at, id).changes > 0;
      const error = outcome.error.slice(0, MAX_WEBHOOK_ERROR_LENGTH);
      if (outcome.retryAt === null) return this.sql.expireOutbox.run(error, at, id).changes > 0;
      return this.sql.retryOutbox.run(error, toMs(outcome.retryAt, 'retry time'), id).changes > 0;
    });
  }

  listWebhookDeliveries(filter: { spaceId?: number; status?: WebhookDeliveryStatus; limit?: number }): Promise<WebhookDelivery[]> {
    return this.run(() => {
      const where: string[] = [];
      const params: (string | number)[] = [];
      if (filter.spaceId !== undefined) {
        where.push('o.space_id = ?');
        params.push(filter.spaceId);
      }
      if (filter.status !== undefined) {
        where.push('o.status = ?');
        params.push(filter.status);
      }
      params.push(filter.limit === undefined ? -1 : checkCount(filter.limit, 'limit'));
      const text =
        `SELECT ${OUTBOX_COLS} FROM webhook_outbox o JOIN spaces sp ON sp.id = o.space_id` +
        (where.length > 0 ? ` WHERE ${where.join(' AND ')}` : '') +
        ' ORDER BY o.id DESC LIMIT ?';
      return this.db.prepare<(string | number)[], OutboxRow>(text).all(...params).map(deliveryFrom);
    });
  }

  webhookBacklog(): Promise<WebhookBacklog> {
    return this.run(() => {
      const row = this.sql.outboxBacklog.get();
      if (!row) throw new InvariantError('backlog query returned no row');
      return { pending: row.pending, expired: row.expired, oldestPendingAt: row.oldest === null ? null : new Date(row.oldest) };
    });
  }
}
