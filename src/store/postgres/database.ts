/**
 * The connection pool the PostgreSQL backend modules (accounts.ts, lists.ts, sends.ts,
 * outbox.ts, domain-auth.ts, delivery-cursors.ts, auth-failures.ts) share: open (connect,
 * migrate), the call wrapper with error mapping and a deadline, the transaction helper, the
 * health probe, close. porsager/postgres:
 * pipelining, prepared statements, multi-host URLs with target_session_attrs.
 *
 * Settings (store.* in trxmail.yaml, src/config/config.ts):
 *  - url: `postgres://user:pass@host[:port][,host2[:port]]/db[?target_session_attrs=read-write]`;
 *    the client tries the hosts in order and keeps the one that is writable, so a
 *    primary/standby pair works through a failover without a proxy;
 *  - poolSize: connections at most (the pool opens them on demand and reconnects by itself:
 *    after a restart or failover of the server, the next call gets a fresh connection);
 *  - statementTimeoutMs: sent as the session's statement_timeout, so a statement stuck on a
 *    lock or a slow plan is cancelled by the server (57014 → TransientError);
 *  - connectTimeoutMs: how long opening one connection may take (CONNECT_TIMEOUT →
 *    TransientError). After a failed connection the pool tries again within
 *    RECONNECT_DELAY_CAP_MS: a stopped server is a 4xx at once, a server back is used at once.
 * A call whose server session was ended before it could commit (57P01/57P02/57P03) is made
 * once more on another connection (see bounded()).
 * Every call is also bounded on the client: a call that has not settled after
 * connectTimeoutMs + statementTimeoutMs + CALL_GRACE_MS (a server that stopped answering
 * mid-query, which only TCP keepalive would notice, minutes later) rejects with
 * TransientError; a transaction whose caller was told so rolls back instead of committing
 * when its statements come back (see transaction()).
 *
 * Types: int8 (ids, millisecond times, counts) and numeric are parsed as JS numbers (all of
 * trxmail's values fit a double exactly: times are ms since the epoch, counts are rows).
 *
 * Throws: from run(): TransientError (unavailable, timeout, closed), InvariantError for any
 * other server error (pg-errors.ts).
 */
import postgres from 'postgres';
import { TransientError } from '../../lib/errors.js';
import { isTerminatedSession, mapPgError } from './pg-errors.js';

/** Added to connect + statement timeout for the client-side deadline of one call (ms). */
export const CALL_GRACE_MS = 2000;

/**
 * The longest a pool connection waits before it tries to connect again after a failed
 * connection (ms). The client's own backoff grows to 10-20 s after a few failures (shared by
 * the whole pool), so once the server was down for a moment every call waited that long for
 * its connection — past the call deadline: the server back, trxmail still answered 4xx for
 * up to 20 s, and a server still down made each call wait the whole deadline instead of
 * failing at once (refused). Reconnects are made only for calls that wait, and once the cap is
 * reached each pool connection tries at most once per RECONNECT_DELAY_CAP_MS / 2.
 */
export const RECONNECT_DELAY_CAP_MS = 500;

/** The pause before the `retries`-th reconnect, in seconds (the client's unit): 10 ms doubling, capped, with jitter. */
export function reconnectDelaySeconds(retries: number): number {
  return (0.5 + Math.random() / 2) * Math.min(10 * 2 ** retries, RECONNECT_DELAY_CAP_MS) / 1000;
}

export interface PgOptions {
  readonly url: string;
  readonly poolSize: number;
  readonly statementTimeoutMs: number;
  readonly connectTimeoutMs: number;
}

/** What the store's health probe found (Store.health). */
export type PgHealth = { readonly ok: true } | { readonly ok: false; readonly reason: string };

export type PgSql = postgres.Sql<Record<string, never>>;
export type PgTx = postgres.TransactionSql<Record<string, never>>;
/** What a backend statement runs on: the pool or a transaction. */
export type PgRunner = PgSql | PgTx;

const asNumber = { serialize: (x: unknown) => String(x), parse: (x: string) => Number(x) };

export class PgDatabase {
  private closed = false;

  private constructor(
    /** The pool, for the modules' statements. */
    readonly sql: PgSql,
    private readonly deadlineMs: number,
    /** The bound of the health probe: connect + statement timeout (ms). */
    private readonly probeDeadlineMs: number,
  ) {}

  /** A pool on `opts` (no connection is made until the first call). */
  static connect(opts: PgOptions): PgDatabase {
    const sql = postgres(opts.url, {
      max: opts.poolSize,
      connect_timeout: opts.connectTimeoutMs / 1000,
      idle_timeout: 60,
      backoff: reconnectDelaySeconds,
      // No array or custom types are used: skip the type query on every new connection.
      fetch_types: false,
      onnotice: () => undefined,
      connection: { application_name: 'trxmail', statement_timeout: opts.statementTimeoutMs },
      types: {
        int8: { to: 20, from: [20], ...asNumber },
        numeric: { to: 1700, from: [1700], ...asNumber },
      },
    }) as unknown as PgSql;
    return new PgDatabase(sql, opts.connectTimeoutMs + opts.statementTimeoutMs + CALL_GRACE_MS, opts.connectTimeoutMs + opts.statementTimeoutMs);
  }

  /** Runs `fn` on the pool, its error mapped, bounded by the call deadline (or `deadlineMs`: migrations). */
  run<T>(fn: (sql: PgSql) => Promise<T>, deadlineMs: number = this.deadlineMs): Promise<T> {
    if (this.closed) return Promise.reject(new TransientError('ESTORE_CLOSED', 'the store is closed'));
    return this.bounded(() => fn(this.sql), () => undefined, deadlineMs);
  }

  /**
   * Store.health: a `SELECT 1` on the pool (a connection is opened if none is idle), bounded
   * by the connect and statement timeouts. Never rejects: a failure is {ok: false, reason}.
   */
  async probe(): Promise<PgHealth> {
    if (this.closed) return { ok: false, reason: 'the store is closed' };
    try {
      await this.run((sql) => sql`SELECT 1 AS one`, this.probeDeadlineMs);
      return { ok: true };
    } catch (err: unknown) {
      return { ok: false, reason: err instanceof Error ? err.message : String(err) };
    }
  }

  /**
   * Runs `fn` in one transaction (READ COMMITTED; the statements lock what they must hold,
   * FOR UPDATE / FOR SHARE): all or nothing. When the call's deadline passed while it ran,
   * it rolls back rather than commit a change its caller was told had failed.
   */
  transaction<T>(fn: (tx: PgTx) => Promise<T>, deadlineMs: number | null = this.deadlineMs): Promise<T> {
    if (this.closed) return Promise.reject(new TransientError('ESTORE_CLOSED', 'the store is closed'));
    let abandoned = false;
    return this.bounded(
      () =>
        this.sql.begin(async (tx) => {
          const result = await fn(tx);
          if (abandoned) throw new TransientError('ESTORE_TIMEOUT', 'transaction rolled back: its caller gave up');
          return result;
        }) as Promise<T>,
      () => {
        abandoned = true;
      },
      deadlineMs,
    );
  }

  /**
   * `call` bounded by `deadlineMs` (null: only by the statement timeout, for `store copy`).
   * A call the server's session ended under (isTerminatedSession: nothing was committed) is
   * made once more, within the same deadline, on another connection. Besides a session
   * terminated on purpose, this covers a flaw of the client (postgres 3.4.9): when the server
   * ends a session while a statement runs (a fast stop), the connection keeps that error and
   * hands it to its first statement after it has reconnected — which never ran — so without
   * the second try the first call on each such connection failed once the server was back.
   */
  private bounded<T>(call: () => Promise<T>, onDeadline: () => void, deadlineMs: number | null): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      let settled = false;
      const timer =
        deadlineMs === null
          ? undefined
          : setTimeout(() => {
              if (settled) return;
              settled = true;
              onDeadline();
              reject(new TransientError('ESTORE_TIMEOUT', `database did not answer within ${deadlineMs} ms`));
            }, deadlineMs);
      timer?.unref();
      const attempt = (retried: boolean): void => {
        let pending: Promise<T>;
        try {
          pending = call();
        } catch (err: unknown) {
          pending = Promise.reject(err instanceof Error ? err : new Error(String(err)));
        }
        pending.then(
          (value) => {
            clearTimeout(timer);
            if (settled) return;
            settled = true;
            resolve(value);
          },
          (err: unknown) => {
            if (!settled && !retried && !this.closed && isTerminatedSession(err)) {
              attempt(true);
              return;
            }
            clearTimeout(timer);
            if (settled) return;
            settled = true;
            reject(mapPgError(err));
          },
        );
      };
      attempt(false);
    });
  }

  /** Ends the pool: waits for running queries up to 5 s, then closes the connections. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.sql.end({ timeout: 5 });
  }
}
