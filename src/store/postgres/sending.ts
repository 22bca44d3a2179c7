/**
 * PostgreSQL backend of the sending aggregate (SendingBackend in ../backend.ts): the
 * space_sending and space_usage tables (migration 3), shared by every node. Only SQL: values
 * arrive checked and the admission is decided by the neutral layer (../neutral/sending.ts)
 * inside reserve's transaction. reserve, bumpOutcome and setPause first lock the space's row
 * (FOR NO KEY UPDATE: it does not block the sends that reference the space), so nodes counting
 * for one space take turns and a limit holds across them.
 *
 * Throws: what PgDatabase maps (TransientError, InvariantError).
 */
import type { LimitWindow, OutcomeCounts } from '../../core/sending-limits.js';
import type { DeliveryRecord, PauseRecord, SendingBackend, SentCount } from '../backend.js';
import type { SendingState } from '../sending-store.js';
import type { PgDatabase, PgRunner } from './database.js';
import type { PgOutbox } from './outbox.js';

interface Row {
  per_minute: string | number | null;
  per_hour: string | number | null;
  per_day: string | number | null;
  paused_at: string | number | null;
  pause_reason: string | null;
  pause_auto: boolean;
  resumed_at: string | number | null;
}

const num = (v: string | number | null): number | null => (v === null ? null : Number(v));

function stateOf(spaceId: number, r: Row | undefined): SendingState {
  if (!r) return { spaceId, limits: { minute: null, hour: null, day: null }, pause: null, resumedAt: null };
  const pausedAt = num(r.paused_at);
  const resumedAt = num(r.resumed_at);
  return {
    spaceId,
    limits: { minute: num(r.per_minute), hour: num(r.per_hour), day: num(r.per_day) },
    pause: pausedAt !== null && r.pause_reason !== null ? { reason: r.pause_reason, since: new Date(pausedAt), auto: r.pause_auto } : null,
    resumedAt: resumedAt === null ? null : new Date(resumedAt),
  };
}

async function readState(sql: PgRunner, spaceId: number): Promise<SendingState> {
  const [row] = await sql<Row[]>`
    SELECT per_minute, per_hour, per_day, paused_at, pause_reason, pause_auto, resumed_at FROM space_sending WHERE space_id = ${spaceId}`;
  return stateOf(spaceId, row);
}

async function sumsSince(sql: PgRunner, spaceId: number, sinceMs: number): Promise<OutcomeCounts> {
  const [r] = await sql<{ sent: string | null; hard: string | null; complained: string | null }[]>`
    SELECT sum(sent) AS sent, sum(hard_bounced) AS hard, sum(complained) AS complained
    FROM space_usage WHERE space_id = ${spaceId} AND minute >= ${sinceMs}`;
  return { sent: Number(r?.sent ?? 0), hardBounced: Number(r?.hard ?? 0), complained: Number(r?.complained ?? 0) };
}

async function lockSpace(tx: PgRunner, spaceId: number): Promise<void> {
  await tx`SELECT 1 AS one FROM spaces WHERE id = ${spaceId} FOR NO KEY UPDATE`;
}

/** addSent's statement, on `runner` (insertSends counts a send's recipients in its own transaction). */
export async function countSentIn(runner: PgRunner, spaceId: number, c: SentCount): Promise<void> {
  await runner`
    WITH expired AS (DELETE FROM space_usage WHERE space_id = ${spaceId} AND minute < ${c.expireBeforeMs})
    INSERT INTO space_usage (space_id, minute, sent) VALUES (${spaceId}, ${c.bucketMs}, ${c.count})
    ON CONFLICT (space_id, minute) DO UPDATE SET sent = space_usage.sent + EXCLUDED.sent`;
}

export class PgSending implements SendingBackend {
  constructor(
    private readonly db: PgDatabase,
    private readonly outbox: PgOutbox,
  ) {}

  getState(spaceId: number): Promise<SendingState> {
    return this.db.run((sql) => readState(sql, spaceId));
  }

  setLimits(spaceId: number, patch: Partial<Record<LimitWindow, number | null>>): Promise<SendingState> {
    return this.db.transaction(async (tx) => {
      await tx`INSERT INTO space_sending (space_id) VALUES (${spaceId}) ON CONFLICT (space_id) DO NOTHING`;
      if (patch.minute !== undefined) await tx`UPDATE space_sending SET per_minute = ${patch.minute} WHERE space_id = ${spaceId}`;
      if (patch.hour !== undefined) await tx`UPDATE space_sending SET per_hour = ${patch.hour} WHERE space_id = ${spaceId}`;
      if (patch.day !== undefined) await tx`UPDATE space_sending SET per_day = ${patch.day} WHERE space_id = ${spaceId}`;
      return readState(tx, spaceId);
    });
  }

  sums(spaceId: number, sinceMs: readonly number[]): Promise<OutcomeCounts[]> {
    return this.db.run(async (sql) => {
      const out: OutcomeCounts[] = [];
      for (const s of sinceMs) out.push(await sumsSince(sql, spaceId, s));
      return out;
    });
  }

  reserve(
    spaceId: number,
    count: number,
    bucketMs: number,
    sinceMs: readonly number[],
    expireBeforeMs: number,
    admit: (state: SendingState, sent: readonly number[]) => boolean,
  ): Promise<{ readonly state: SendingState; readonly sent: readonly number[]; readonly admitted: boolean }> {
    return this.db.transaction(async (tx) => {
      await lockSpace(tx, spaceId);
      const state = await readState(tx, spaceId);
      const sent: number[] = [];
      for (const s of sinceMs) sent.push((await sumsSince(tx, spaceId, s)).sent);
      const admitted = admit(state, sent);
      if (admitted && count > 0) {
        await tx`
          INSERT INTO space_usage (space_id, minute, sent) VALUES (${spaceId}, ${bucketMs}, ${count})
          ON CONFLICT (space_id, minute) DO UPDATE SET sent = space_usage.sent + EXCLUDED.sent`;
        await tx`DELETE FROM space_usage WHERE space_id = ${spaceId} AND minute < ${expireBeforeMs}`;
      }
      return { state, sent, admitted };
    });
  }

  async addSent(spaceId: number, count: number, bucketMs: number, expireBeforeMs: number): Promise<void> {
    await this.db.run((sql) => countSentIn(sql, spaceId, { count, bucketMs, expireBeforeMs }));
  }

  bumpOutcome(spaceId: number, column: 'hard_bounced' | 'complained', bucketMs: number, sinceMs: number, expireBeforeMs: number): Promise<OutcomeCounts> {
    return this.db.transaction(async (tx) => {
      await lockSpace(tx, spaceId);
      if (column === 'hard_bounced') {
        await tx`
          INSERT INTO space_usage (space_id, minute, hard_bounced) VALUES (${spaceId}, ${bucketMs}, 1)
          ON CONFLICT (space_id, minute) DO UPDATE SET hard_bounced = space_usage.hard_bounced + 1`;
      } else {
        await tx`
          INSERT INTO space_usage (space_id, minute, complained) VALUES (${spaceId}, ${bucketMs}, 1)
          ON CONFLICT (space_id, minute) DO UPDATE SET complained = space_usage.complained + 1`;
      }
      await tx`DELETE FROM space_usage WHERE space_id = ${spaceId} AND minute < ${expireBeforeMs}`;
      return sumsSince(tx, spaceId, sinceMs);
    });
  }

  setPause(spaceId: number, pause: PauseRecord | null, atMs: number, delivery: DeliveryRecord): Promise<boolean> {
    return this.db.transaction(async (tx) => {
      await lockSpace(tx, spaceId);
      await tx`INSERT INTO space_sending (space_id) VALUES (${spaceId}) ON CONFLICT (space_id) DO NOTHING`;
      const paused = (await readState(tx, spaceId)).pause !== null;
      if (pause !== null && !paused) {
        await tx`UPDATE space_sending SET paused_at = ${atMs}, pause_reason = ${pause.reason}, pause_auto = ${pause.auto} WHERE space_id = ${spaceId}`;
      } else if (pause === null && paused) {
        await tx`UPDATE space_sending SET paused_at = NULL, pause_reason = NULL, pause_auto = false, resumed_at = ${atMs} WHERE space_id = ${spaceId}`;
      } else {
        return false;
      }
      await this.outbox.queue(tx, spaceId, [delivery]);
      return true;
    });
  }
}
