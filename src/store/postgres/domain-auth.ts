/**
 * PostgreSQL backend of the domain-authentication aggregate (DomainAuthBackend in
 * ../backend.ts): DKIM keys (table dkim_keys) and the per-domain return-path host and DNS
 * check (columns of sender_domains). Only SQL: values arrive validated from the neutral layer
 * (../neutral/domain-auth.ts), which also decides whether a check queues a 'domain' webhook
 * delivery; recordDomainCheck writes it with the outbox module (outbox.ts) in its
 * transaction. activateDkimKeys and recordDomainCheck lock the domain's row (FOR UPDATE)
 * first, so two nodes doing either for one domain take turns.
 *
 * Throws: what PgDatabase.run maps (TransientError, InvariantError); a taken selector or
 * return-path host is a result ('duplicate', 'taken'), not an error.
 */
import type postgres from 'postgres';
import type { DeliveryRecord, DkimKeyRecord, DomainAuthBackend } from '../backend.js';
import type { DkimAlgorithm, DkimKey, DkimKeyState, DomainAuth, DomainCheckStatus } from '../domain-auth-store.js';
import { parseDetail } from '../json-columns.js';
import type { PgDatabase, PgRunner } from './database.js';
import type { PgOutbox } from './outbox.js';
import { isUniqueViolation } from './pg-errors.js';

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

function keyCols(sql: PgRunner): postgres.Fragment {
  return sql`id, space_id, domain, selector, algorithm, state, public_txt, wrapped_private_key, created_at, activated_at, retire_after`;
}

function domainCols(sql: PgRunner): postgres.Fragment {
  return sql`space_id, domain, return_path, check_status, checked_at, check_detail::text AS check_detail`;
}

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

export class PgDomainAuth implements DomainAuthBackend {
  constructor(
    private readonly db: PgDatabase,
    private readonly outbox: PgOutbox,
  ) {}

  domainExists(spaceId: number, domain: string): Promise<boolean> {
    return this.db.run(async (sql) => (await sql`SELECT 1 AS one FROM sender_domains WHERE space_id = ${spaceId} AND domain = ${domain}`).length > 0);
  }

  insertDkimKey(k: DkimKeyRecord): Promise<DkimKey | 'duplicate'> {
    return this.db.run(async (sql) => {
      const [row] = await sql<KeyRow[]>`
        INSERT INTO dkim_keys (space_id, domain, selector, algorithm, state, public_txt, wrapped_private_key, created_at, activated_at)
        VALUES (${k.spaceId}, ${k.domain}, ${k.selector}, ${k.algorithm}, ${k.state}, ${k.publicTxt}, ${k.wrappedPrivateKey},
          ${k.createdAtMs}, ${k.state === 'active' ? k.createdAtMs : null})
        ON CONFLICT (domain, selector) DO NOTHING
        RETURNING ${keyCols(sql)}`;
      return row === undefined ? 'duplicate' : keyFrom(row);
    });
  }

  listDkimKeys(spaceId: number, domain: string): Promise<DkimKey[]> {
    return this.db.run(async (sql) =>
      (await sql<KeyRow[]>`SELECT ${keyCols(sql)} FROM dkim_keys WHERE space_id = ${spaceId} AND domain = ${domain} ORDER BY id`).map(keyFrom),
    );
  }

  activateDkimKeys(spaceId: number, domain: string, ids: readonly number[], nowMs: number, retireAfterMs: number): Promise<DkimKey[] | 'not-pending'> {
    return this.db.transaction(async (tx) => {
      await tx`SELECT 1 AS one FROM sender_domains WHERE space_id = ${spaceId} AND domain = ${domain} FOR UPDATE`;
      const keys = await tx<KeyRow[]>`SELECT ${keyCols(tx)} FROM dkim_keys WHERE space_id = ${spaceId} AND domain = ${domain} ORDER BY id FOR UPDATE`;
      const pending = new Set(keys.filter((k) => k.state === 'pending').map((k) => k.id));
      if (ids.length === 0 || ids.some((id) => !pending.has(id))) return 'not-pending' as const;
      await tx`
        UPDATE dkim_keys SET state = 'retiring', retire_after = ${retireAfterMs}
        WHERE space_id = ${spaceId} AND domain = ${domain} AND state = 'active'`;
      await tx`
        UPDATE dkim_keys SET state = 'active', activated_at = ${nowMs}
        WHERE id IN (SELECT json_array_elements_text(${JSON.stringify(ids)}::text::json)::bigint)
          AND space_id = ${spaceId} AND domain = ${domain} AND state = 'pending'`;
      return (await tx<KeyRow[]>`SELECT ${keyCols(tx)} FROM dkim_keys WHERE space_id = ${spaceId} AND domain = ${domain} ORDER BY id`).map(keyFrom);
    });
  }

  retireDkimKeys(nowMs: number): Promise<number> {
    return this.db.run(async (sql) => (await sql`UPDATE dkim_keys SET state = 'retired' WHERE state = 'retiring' AND retire_after <= ${nowMs}`).count);
  }

  getDomainAuth(spaceId: number, domain: string): Promise<DomainAuth | null> {
    return this.db.run(async (sql) => {
      const [row] = await sql<DomainRow[]>`SELECT ${domainCols(sql)} FROM sender_domains WHERE space_id = ${spaceId} AND domain = ${domain}`;
      return row ? domainFrom(row) : null;
    });
  }

  listDomainAuth(): Promise<DomainAuth[]> {
    return this.db.run(async (sql) =>
      (await sql<DomainRow[]>`SELECT ${domainCols(sql)} FROM sender_domains ORDER BY space_id, domain COLLATE "C"`).map(domainFrom),
    );
  }

  setReturnPath(spaceId: number, domain: string, host: string | null): Promise<DomainAuth | 'taken' | null> {
    return this.db.run(async (sql) => {
      let rows: DomainRow[];
      try {
        rows = await sql<DomainRow[]>`
          UPDATE sender_domains SET return_path = ${host} WHERE space_id = ${spaceId} AND domain = ${domain}
          RETURNING ${domainCols(sql)}`;
      } catch (err: unknown) {
        // One statement outside a transaction: the violation aborts nothing else.
        if (isUniqueViolation(err)) return 'taken' as const;
        throw err;
      }
      const [row] = rows;
      return row ? domainFrom(row) : null;
    });
  }

  listReturnPathHosts(): Promise<string[]> {
    return this.db.run(async (sql) =>
      (
        await sql<{ return_path: string }[]>`
          SELECT return_path FROM sender_domains WHERE return_path IS NOT NULL ORDER BY return_path COLLATE "C"`
      ).map((r) => r.return_path),
    );
  }

  recordDomainCheck(
    spaceId: number,
    domain: string,
    status: Exclude<DomainCheckStatus, 'unchecked'>,
    atMs: number,
    detailJson: string,
    deliveryFor: (previous: DomainCheckStatus) => DeliveryRecord | null,
  ): Promise<DomainCheckStatus | null> {
    return this.db.transaction(async (tx) => {
      const [row] = await tx<{ check_status: string }[]>`
        SELECT check_status FROM sender_domains WHERE space_id = ${spaceId} AND domain = ${domain} FOR UPDATE`;
      if (!row) return null;
      const previous = row.check_status as DomainCheckStatus;
      await tx`
        UPDATE sender_domains SET check_status = ${status}, checked_at = ${atMs}, check_detail = ${detailJson}::text::json
        WHERE space_id = ${spaceId} AND domain = ${domain}`;
      const delivery = deliveryFor(previous);
      if (delivery !== null) await this.outbox.queue(tx, spaceId, [delivery]);
      return previous;
    });
  }
}
