/**
 * Copying a whole store from one backend to another (`trxmail store copy`, SQLite to
 * PostgreSQL), backend-neutral: the tables and their columns in an order their foreign keys
 * allow, the row normalisation between the two schemas, and the per-table count check. A
 * source (sqlite/copy-source.ts) reads rows; a sink (postgres/copy-sink.ts) writes them in ONE
 * transaction — the target gets everything or nothing — and counts them before it commits.
 *
 * Normalisation: SQLite's 0/1 flags become booleans, JSON text columns become JSON values,
 * events get the loose key of their recipient (events.recipient_key, which only the
 * PostgreSQL schema has). Ids (and SQLite's send rowid, as sends.seq) are copied as they are,
 * so every reference, webhook delivery id and report order stays the same.
 *
 * Not copied: auth_failures (failed logins kept for the throttle window, minutes; short-lived
 * throttle data that every node rebuilds as logins fail). Its rows in the target are neither
 * counted nor emptied by --replace.
 *
 * Throws: UsageError (a target that is not empty without `replace`), InvariantError (a count
 * that differs after the copy: nothing committed), and what source and sink throw.
 */
import { InvariantError, UsageError } from '../lib/errors.js';
import { looseAddressKey } from './address-key.js';

export type CopyValue = string | number | boolean | null | CopyJson;
export type CopyJson = { readonly [k: string]: unknown } | readonly unknown[];
export type CopyRow = Record<string, CopyValue>;

export interface CopyTable {
  readonly name: string;
  /** Columns read from the source and written to the target, in this order. */
  readonly columns: readonly string[];
  /** Columns holding 0/1 in SQLite, booleans in the target. */
  readonly booleans?: readonly string[];
  /** Columns holding JSON text in the source, JSON values in the target. */
  readonly json?: readonly string[];
  /** Identity column whose sequence continues after the copied ids. */
  readonly identity?: string;
}

/** Every table of the store, parents before children (all but auth_failures: see above). */
export const COPY_TABLES: readonly CopyTable[] = [
  { name: 'spaces', columns: ['id', 'name', 'default_flags', 'allow_subdomains', 'allow_unsigned', 'unsubscribe', 'created_at'], booleans: ['allow_subdomains', 'allow_unsigned'], identity: 'id' },
  { name: 'users', columns: ['id', 'space_id', 'email', 'email_key', 'password_hash', 'created_at'], identity: 'id' },
  { name: 'sender_domains', columns: ['space_id', 'domain', 'return_path', 'check_status', 'checked_at', 'check_detail'], json: ['check_detail'] },
  { name: 'from_defaults', columns: ['space_id', 'address_key', 'address', 'flags', 'unsubscribe'] },
  { name: 'list_entries', columns: ['space_id', 'address_key', 'list', 'address', 'reason', 'bounce_reason', 'rule', 'source', 'added_at'] },
  { name: 'list_changes', columns: ['id', 'space_id', 'list', 'address', 'action', 'source', 'reason', 'at'], identity: 'id' },
  { name: 'bounce_streaks', columns: ['space_id', 'address_key', 'reason', 'count', 'first_at', 'last_at'] },
  {
    name: 'sends',
    columns: ['seq', 'id', 'space_id', 'user_id', 'mail_from', 'envelope_sender', 'from_addr', 'from_key', 'to_addr', 'bcc', 'discarded', 'tags', 'flags',
      'flags_source', 'received_at', 'status', 'log_seen_at', 'not_queued_at', 'not_queued_reason', 'node', 'message_id'],
    json: ['discarded', 'tags'],
    identity: 'seq',
  },
  { name: 'send_tags', columns: ['send_id', 'tag'] },
  { name: 'send_recipients', columns: ['send_id', 'position', 'address', 'address_key', 'role', 'status', 'suppressed_by', 'detail', 'reason'] },
  { name: 'events', columns: ['id', 'send_id', 'recipient', 'type', 'at', 'detail'], json: ['detail'], identity: 'id' },
  { name: 'webhooks', columns: ['space_id', 'url', 'secret', 'created_at'] },
  {
    name: 'webhook_outbox',
    columns: ['id', 'space_id', 'type', 'send_id', 'recipient', 'at', 'detail', 'status', 'attempts', 'created_at', 'next_attempt_at', 'last_error', 'done_at'],
    json: ['detail'],
    identity: 'id',
  },
  {
    name: 'dkim_keys',
    columns: ['id', 'space_id', 'domain', 'selector', 'algorithm', 'state', 'public_txt', 'wrapped_private_key', 'created_at', 'activated_at', 'retire_after'],
    identity: 'id',
  },
  { name: 'delivery_cursors', columns: ['node', 'path', 'dev', 'ino', 'offset', 'following_since', 'saved_at'] },
  {
    name: 'report_days',
    columns: ['space_id', 'day', 'from_key', 'tags', 'reason', 'domain', 'sends', 'delivered', 'deferred', 'bounced_hard', 'bounced_soft', 'blocked',
      'suppressed_bounce', 'suppressed_unsubscribe', 'opened_unique', 'opened_total', 'opened_machine', 'clicked_unique', 'clicked_total',
      'clicked_machine', 'complained'],
  },
  {
    name: 'space_sending',
    columns: ['space_id', 'per_minute', 'per_hour', 'per_day', 'paused_at', 'pause_reason', 'pause_auto', 'resumed_at'],
    booleans: ['pause_auto'],
  },
  { name: 'space_usage', columns: ['space_id', 'minute', 'sent', 'hard_bounced', 'complained'] },
];

/** Rows per batch read and written. */
export const COPY_BATCH_ROWS = 500;

export interface CopySource {
  count(table: CopyTable): Promise<number>;
  /** The table's rows in batches of at most COPY_BATCH_ROWS, raw (SQLite values). */
  batches(table: CopyTable): Iterable<CopyRow[]> | AsyncIterable<CopyRow[]>;
}

export interface CopySinkSession {
  /** Rows in each table now. */
  counts(tables: readonly CopyTable[]): Promise<Map<string, number>>;
  /** Empties every table (ids restart). */
  clear(tables: readonly CopyTable[]): Promise<void>;
  insert(table: CopyTable, rows: readonly CopyRow[]): Promise<void>;
  /** Sequences continue after the copied ids. */
  finish(tables: readonly CopyTable[]): Promise<void>;
}

export interface CopySink {
  /** Runs `fn` in one transaction of the target. */
  transaction<T>(fn: (session: CopySinkSession) => Promise<T>): Promise<T>;
}

export interface CopiedTable {
  readonly table: string;
  readonly source: number;
  readonly target: number;
}

/** A source row as the target takes it. */
export function normaliseRow(table: CopyTable, raw: CopyRow): CopyRow {
  const row: CopyRow = {};
  for (const c of table.columns) {
    const v = raw[c];
    if (v === undefined) throw new InvariantError(`copy: ${table.name}.${c} missing from the source row`);
    if (table.booleans?.includes(c) === true && v !== null) row[c] = v === 1 || v === true;
    else if (table.json?.includes(c) === true && typeof v === 'string') row[c] = JSON.parse(v) as CopyJson;
    else row[c] = v;
  }
  if (table.name === 'events') {
    const recipient = raw['recipient'];
    if (typeof recipient !== 'string') throw new InvariantError('copy: an event without recipient');
    row['recipient_key'] = looseAddressKey(recipient);
  }
  return row;
}

/**
 * Copies every table of `source` into `sink` in one transaction; refuses a target holding any
 * row unless `replace` (then empties it first). The counts per table, checked equal.
 */
export async function copyStore(source: CopySource, sink: CopySink, opts: { replace: boolean }): Promise<CopiedTable[]> {
  return await sink.transaction(async (session) => {
    const before = await session.counts(COPY_TABLES);
    const busy = [...before].filter(([, n]) => n > 0);
    if (busy.length > 0) {
      if (!opts.replace) {
        const what = busy.map(([t, n]) => `${t}: ${n}`).join(', ');
        throw new UsageError(`the target store is not empty (${what}); give --replace to empty it first`);
      }
      await session.clear(COPY_TABLES);
    }
    const expected = new Map<string, number>();
    for (const table of COPY_TABLES) {
      expected.set(table.name, await source.count(table));
      for await (const batch of source.batches(table)) {
        await session.insert(table, batch.map((r) => normaliseRow(table, r)));
      }
    }
    await session.finish(COPY_TABLES);
    const after = await session.counts(COPY_TABLES);
    const result = COPY_TABLES.map((t) => ({ table: t.name, source: expected.get(t.name) ?? 0, target: after.get(t.name) ?? 0 }));
    const wrong = result.filter((r) => r.source !== r.target);
    if (wrong.length > 0) {
      throw new InvariantError(`copy: counts differ (${wrong.map((r) => `${r.table}: ${r.source} read, ${r.target} written`).join(', ')}); nothing was committed`);
    }
    return result;
  });
}
