/**
 * SQLite backend of the sending aggregate (SendingBackend in ../backend.ts): the space_sending
 * and space_usage tables (migration 8). Only SQL: values arrive checked and the admission is
 * decided by the neutral layer (../neutral/sending.ts) inside reserve's transaction; the
 * 'space' webhook delivery is queued with the outbox module in setPause's transaction.
 *
 * Throws: what SqliteDatabase.run maps (TransientError, InvariantError).
 */
import type Database from 'better-sqlite3';
import type { LimitWindow, OutcomeCounts } from '../../core/sending-limits.js';
import type { DeliveryRecord, PauseRecord, SendingBackend, SentCount } from '../backend.js';
import type { SendingState } from '../sending-store.js';
import type { SqliteDatabase } from './database.js';
import type { SqliteOutbox } from './outbox.js';

interface Row {
  space_id: number;
  per_minute: number | null;
  per_hour: number | null;
  per_day: number | null;
  paused_at: number | null;
  pause_reason: string | null;
  pause_auto: number;
  resumed_at: number | null;
}

const COLUMN: Readonly<Record<LimitWindow, string>> = { minute: 'per_minute', hour: 'per_hour', day: 'per_day' };

function stateOf(spaceId: number, r: Row | undefined): SendingState {
  if (!r) return { spaceId, limits: { minute: null, hour: null, day: null }, pause: null, resumedAt: null };
  return {
    spaceId,
    limits: { minute: r.per_minute, hour: r.per_hour, day: r.per_day },
    pause: r.paused_at !== null && r.pause_reason !== null ? { reason: r.pause_reason, since: new Date(r.paused_at), auto: r.pause_auto === 1 } : null,
    resumedAt: r.resumed_at === null ? null : new Date(r.resumed_at),
  };
}

function prepare(db: Database.Database) {
  return {
    get: db.prepare<[number], Row>('SELECT * FROM space_sending WHERE space_id = ?'),
    ensure: db.prepare<[number]>('INSERT INTO space_sending (space_id) VALUES (?) ON CONFLICT (space_id) DO NOTHING'),
    setLimit: Object.fromEntries(
      Object.entries(COLUMN).map(([w, c]) => [w, db.prepare<[number | null, number]>(`UPDATE space_sending SET ${c} = ? WHERE space_id = ?`)]),
    ) as Record<LimitWindow, Database.Statement<[number | null, number]>>,
    sums: db.prepare<[number, number], { sent: number | null; hard: number | null; complained: number | null }>(
      'SELECT sum(sent) AS sent, sum(hard_bounced) AS hard, sum(complained) AS complained FROM space_usage WHERE space_id = ? AND minute >= ?',
    ),
    addSent: db.prepare<[number, number, number]>(
      'INSERT INTO space_usage (space_id, minute, sent) VALUES (?, ?, ?) ON CONFLICT (space_id, minute) DO UPDATE SET sent = sent + excluded.sent',
    ),
    addHard: db.prepare<[number, number]>(
      'INSERT INTO space_usage (space_id, minute, hard_bounced) VALUES (?, ?, 1) ON CONFLICT (space_id, minute) DO UPDATE SET hard_bounced = hard_bounced + 1',
    ),
    addComplained: db.prepare<[number, number]>(
      'INSERT INTO space_usage (space_id, minute, complained) VALUES (?, ?, 1) ON CONFLICT (space_id, minute) DO UPDATE SET complained = complained + 1',
    ),
    expire: db.prepare<[number, number]>('DELETE FROM space_usage WHERE space_id = ? AND minute < ?'),
    pause: db.prepare<[number, string, number, number]>('UPDATE space_sending SET paused_at = ?, pause_reason = ?, pause_auto = ? WHERE space_id = ?'),
    resume: db.prepare<[number, number]>('UPDATE space_sending SET paused_at = NULL, pause_reason = NULL, pause_auto = 0, resumed_at = ? WHERE space_id = ?'),
  };
}

export class SqliteSending implements SendingBackend {
  private readonly sql: ReturnType<typeof prepare>;

  constructor(
    private readonly db: SqliteDatabase,
    private readonly outbox: SqliteOutbox,
  ) {
    this.sql = prepare(db.db);
  }

  private sumsSince(spaceId: number, sinceMs: number): OutcomeCounts {
    const r = this.sql.sums.get(spaceId, sinceMs);
    return { sent: r?.sent ?? 0, hardBounced: r?.hard ?? 0, complained: r?.complained ?? 0 };
  }

  getState(spaceId: number): Promise<SendingState> {
    return this.db.run(() => stateOf(spaceId, this.sql.get.get(spaceId)));
  }

  setLimits(spaceId: number, patch: Partial<Record<LimitWindow, number | null>>): Promise<SendingState> {
    return this.db.run(() =>
      this.db.immediate(() => {
        this.sql.ensure.run(spaceId);
        for (const [w, v] of Object.entries(patch) as [LimitWindow, number | null][]) this.sql.setLimit[w].run(v, spaceId);
        return stateOf(spaceId, this.sql.get.get(spaceId));
      }),
    );
  }

  sums(spaceId: number, sinceMs: readonly number[]): Promise<OutcomeCounts[]> {
    return this.db.run(() => sinceMs.map((s) => this.sumsSince(spaceId, s)));
  }

  reserve(
    spaceId: number,
    count: number,
    bucketMs: number,
    sinceMs: readonly number[],
    expireBeforeMs: number,
    admit: (state: SendingState, sent: readonly number[]) => boolean,
  ): Promise<{ readonly state: SendingState; readonly sent: readonly number[]; readonly admitted: boolean }> {
    return this.db.run(() =>
      this.db.immediate(() => {
        const state = stateOf(spaceId, this.sql.get.get(spaceId));
        const sent = sinceMs.map((s) => this.sumsSince(spaceId, s).sent);
        const admitted = admit(state, sent);
        if (admitted && count > 0) {
          this.sql.addSent.run(spaceId, bucketMs, count);
          this.sql.expire.run(spaceId, expireBeforeMs);
        }
        return { state, sent, admitted };
      }),
    );
  }

  addSent(spaceId: number, count: number, bucketMs: number, expireBeforeMs: number): Promise<void> {
    return this.db.run(() => this.db.immediate(() => this.countSent(spaceId, { count, bucketMs, expireBeforeMs })));
  }

  /** addSent's statements, inside the caller's transaction (insertSends counts a send's recipients with it). */
  countSent(spaceId: number, c: SentCount): void {
    this.sql.addSent.run(spaceId, c.bucketMs, c.count);
    this.sql.expire.run(spaceId, c.expireBeforeMs);
  }

  bumpOutcome(spaceId: number, column: 'hard_bounced' | 'complained', bucketMs: number, sinceMs: number, expireBeforeMs: number): Promise<OutcomeCounts> {
    return this.db.run(() =>
      this.db.immediate(() => {
        (column === 'hard_bounced' ? this.sql.addHard : this.sql.addComplained).run(spaceId, bucketMs);
        this.sql.expire.run(spaceId, expireBeforeMs);
        return this.sumsSince(spaceId, sinceMs);
      }),
    );
  }

  setPause(spaceId: number, pause: PauseRecord | null, atMs: number, delivery: DeliveryRecord): Promise<boolean> {
    return this.db.run(() =>
      this.db.immediate(() => {
        this.sql.ensure.run(spaceId);
        const paused = this.sql.get.get(spaceId)?.paused_at != null;
        if (pause !== null && !paused) this.sql.pause.run(atMs, pause.reason, pause.auto ? 1 : 0, spaceId);
        else if (pause === null && paused) this.sql.resume.run(atMs, spaceId);
        else return false;
        this.outbox.queue(spaceId, [delivery]);
        return true;
      }),
    );
  }
}
