/**
 * SQLite backend of the domain-authentication aggregate (DomainAuthBackend in ../backend.ts):
 * DKIM keys (table dkim_keys) and the per-domain return-path host and DNS check (columns of
 * sender_domains, migration 3). Only SQL: values arrive validated from the neutral layer
 * (../neutral/domain-auth.ts), which also decides whether a check queues a 'domain' webhook
 * delivery; recordDomainCheck writes it with the outbox module (outbox.ts) in its transaction.
 *
 * Throws: what SqliteDatabase.run maps (TransientError, InvariantError); a taken selector or
 * return-path host is a result ('duplicate', 'taken'), not an error.
 */
import type Database from 'better-sqlite3';
import { InvariantError } from '../../lib/errors.js';
import type { DeliveryRecord, DkimKeyRecord, DomainAuthBackend } from '../backend.js';
import type { DkimAlgorithm, DkimKey, DkimKeyState, DomainAuth, DomainCheckStatus } from '../domain-auth-store.js';
import type { SqliteDatabase } from './database.js';
import { parseDetail } from '../json-columns.js';
import type { SqliteOutbox } from './outbox.js';
import { isUniqueViolation } from './sqlite-errors.js';

interface KeyRow {
  id: number;
  space_id: number;
  domain: string;
  selector: string;
  algorithm: string;
  state: string;
  public_txt: string;
  wrapped_private_key: string;
  created_at: number;
  activated_at: number | null;
  retire_after: number | null;
}
interface DomainRow {
  space_id: number;
  domain: string;
  return_path: string | null;
  check_status: string;
  checked_at: number | null;
  check_detail: string | null;
}

const KEY_COLS = 'id, space_id, domain, selector, algorithm, state, public_txt, wrapped_private_key, created_at, activated_at, retire_after';
const DOMAIN_COLS = 'space_id, domain, return_path, check_status, checked_at, check_detail';

function keyFrom(r: KeyRow): DkimKey {
  return {
    id: r.id,
    spaceId: r.space_id,
    domain: r.domain,
    selector: r.selector,
    algorithm: r.algorithm as DkimAlgorithm,
    state: r.state as DkimKeyState,
    publicTxt: r.public_txt,
    wrappedPrivateKey: r.wrapped_private_key,
    createdAt: new Date(r.created_at),
    activatedAt: r.activated_at === null ? null : new Date(r.activated_at),
    retireAfter: r.retire_after === null ? null : new Date(r.retire_after),
  };
}

function domainFrom(r: DomainRow): DomainAuth {
  return {
    spaceId: r.space_id,
    domain: r.domain,
    returnPath: r.return_path,
    checkStatus: r.check_status as DomainCheckStatus,
    checkedAt: r.checked_at === null ? null : new Date(r.checked_at),
    checkDetail: r.check_detail === null ? null : parseDetail(r.check_detail),
  };
}

function prepare(db: Database.Database) {
  return {
    domainExists: db.prepare<[number, string], { one: number }>('SELECT 1 AS one FROM sender_domains WHERE space_id = ? AND domain = ?'),
    insertKey: db.prepare<[number, string, string, string, string, string, string, number, number | null]>(
      'INSERT INTO dkim_keys (space_id, domain, selector, algorithm, state, public_txt, wrapped_private_key, created_at, activated_at) ' +
        'VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
    ),
    getKey: db.prepare<[number], KeyRow>(`SELECT ${KEY_COLS} FROM dkim_keys WHERE id = ?`),
    listKeys: db.prepare<[number, string], KeyRow>(`SELECT ${KEY_COLS} FROM dkim_keys WHERE space_id = ? AND domain = ? ORDER BY id`),
    activate: db.prepare<[number, number, number, string]>(
      "UPDATE dkim_keys SET state = 'active', activated_at = ? WHERE id = ? AND space_id = ? AND domain = ? AND state = 'pending'",
    ),
    retireActive: db.prepare<[number, number, string]>(
      "UPDATE dkim_keys SET state = 'retiring', retire_after = ? WHERE space_id = ? AND domain = ? AND state = 'active'",
    ),
    retireDue: db.prepare<[number]>("UPDATE dkim_keys SET state = 'retired' WHERE state = 'retiring' AND retire_after <= ?"),
    getDomain: db.prepare<[number, string], DomainRow>(`SELECT ${DOMAIN_COLS} FROM sender_domains WHERE space_id = ? AND domain = ?`),
    listDomains: db.prepare<[], DomainRow>(`SELECT ${DOMAIN_COLS} FROM sender_domains ORDER BY space_id, domain`),
    setReturnPath: db.prepare<[string | null, number, string]>('UPDATE sender_domains SET return_path = ? WHERE space_id = ? AND domain = ?'),
    listReturnPaths: db.prepare<[], { return_path: string }>(
      'SELECT return_path FROM sender_domains WHERE return_path IS NOT NULL ORDER BY return_path',
    ),
    recordCheck: db.prepare<[string, number, string, number, string]>(
      'UPDATE sender_domains SET check_status = ?, checked_at = ?, check_detail = ? WHERE space_id = ? AND domain = ?',
    ),
  };
}

export class SqliteDomainAuth implements DomainAuthBackend {
  private readonly sql: ReturnType<typeof prepare>;

  constructor(
    private readonly db: SqliteDatabase,
    private readonly outbox: SqliteOutbox,
  ) {
    this.sql = prepare(db.db);
  }

  domainExists(spaceId: number, domain: string): Promise<boolean> {
    return this.db.run(() => this.sql.domainExists.get(spaceId, domain) !== undefined);
  }

  insertDkimKey(k: DkimKeyRecord): Promise<DkimKey | 'duplicate'> {
    return this.db.run(() => {
      try {
        const info = this.sql.insertKey.run(
          k.spaceId,
          k.domain,
          k.selector,
          k.algorithm,
          k.state,
          k.publicTxt,
          k.wrappedPrivateKey,
          k.createdAtMs,
          k.state === 'active' ? k.createdAtMs : null,
        );
        const row = this.sql.getKey.get(Number(info.lastInsertRowid));
        if (!row) throw new InvariantError('DKIM key vanished after insert');
        return keyFrom(row);
      } catch (err: unknown) {
        if (isUniqueViolation(err)) return 'duplicate';
        throw err;
      }
    });
  }

  listDkimKeys(spaceId: number, domain: string): Promise<DkimKey[]> {
    return this.db.run(() => this.sql.listKeys.all(spaceId, domain).map(keyFrom));
  }

  activateDkimKeys(spaceId: number, domain: string, ids: readonly number[], nowMs: number, retireAfterMs: number): Promise<DkimKey[] | 'not-pending'> {
    return this.db.run(() =>
      this.db.immediate(() => {
        const keys = this.sql.listKeys.all(spaceId, domain);
        const pending = new Set(keys.filter((k) => k.state === 'pending').map((k) => k.id));
        if (ids.length === 0 || ids.some((id) => !pending.has(id))) return 'not-pending' as const;
        this.sql.retireActive.run(retireAfterMs, spaceId, domain);
        for (const id of ids) this.sql.activate.run(nowMs, id, spaceId, domain);
        return this.sql.listKeys.all(spaceId, domain).map(keyFrom);
      }),
    );
  }

  retireDkimKeys(nowMs: number): Promise<number> {
    return this.db.run(() => this.sql.retireDue.run(nowMs).changes);
  }

  getDomainAuth(spaceId: number, domain: string): Promise<DomainAuth | null> {
    return this.db.run(() => {
      const row = this.sql.getDomain.get(spaceId, domain);
      return row ? domainFrom(row) : null;
    });
  }

  listDomainAuth(): Promise<DomainAuth[]> {
    return this.db.run(() => this.sql.listDomains.all().map(domainFrom));
  }

  setReturnPath(spaceId: number, domain: string, host: string | null): Promise<DomainAuth | 'taken' | null> {
    return this.db.run(() => {
      try {
        if (this.sql.setReturnPath.run(host, spaceId, domain).changes === 0) return null;
      } catch (err: unknown) {
        if (isUniqueViolation(err)) return 'taken' as const;
        throw err;
      }
      const row = this.sql.getDomain.get(spaceId, domain);
      return row ? domainFrom(row) : null;
    });
  }

  listReturnPathHosts(): Promise<string[]> {
    return this.db.run(() => this.sql.listReturnPaths.all().map((r) => r.return_path));
  }

  recordDomainCheck(
    spaceId: number,
    domain: string,
    status: Exclude<DomainCheckStatus, 'unchecked'>,
    atMs: number,
    detailJson: string,
    deliveryFor: (previous: DomainCheckStatus) => DeliveryRecord | null,
  ): Promise<DomainCheckStatus | null> {
    return this.db.run(() =>
      this.db.immediate(() => {
        const row = this.sql.getDomain.get(spaceId, domain);
        if (!row) return null;
        const previous = row.check_status as DomainCheckStatus;
        this.sql.recordCheck.run(status, atMs, detailJson, spaceId, domain);
        const delivery = deliveryFor(previous);
        if (delivery !== null) this.outbox.queue(spaceId, [delivery]);
        return previous;
      }),
    );
  }
}
