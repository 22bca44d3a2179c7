/**
 * Store contract, phantom sends (SendStore.noteSendInLog / markNotQueued): a send whose
 * message never appeared in Postfix's log is marked not-queued — only in the window asked,
 * only while still 'queued', never when noted in the log, at most `limit`, oldest first —
 * carries why on getSend/listSends, and is left out of report counts.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { UsageError } from '../../../src/lib/errors.js';
import { MAX_NOT_QUEUED_BATCH } from '../../../src/lib/limits.js';
import type { Space, Store } from '../../../src/store/store.js';
import { T0, at } from './fixture.js';
import type { CurrentFixture, Fixture } from './fixture.js';

export function notQueuedContract(fixture: CurrentFixture): void {
  let store: Store;
  let a: Space;
  let send: Fixture['send'];
  beforeEach(() => {
    ({ store, a, send } = fixture());
  });
  const check = (over: Partial<Parameters<Store['markNotQueued']>[0]> = {}): Parameters<Store['markNotQueued']>[0] => ({
    node: 'n1',
    receivedSince: at(0),
    receivedBefore: at(10_000),
    at: at(3_600_000),
    reason: 'never in the log',
    limit: MAX_NOT_QUEUED_BATCH,
    ...over,
  });

  describe('not-queued sends', () => {
    it('marks the sends of the window never noted in the log and still queued, oldest first, and says why', async () => {
      await store.recordSend(send({ id: 'before', receivedAt: at(-1) }));
      await store.recordSend(send({ id: 'phantom2', receivedAt: at(2000) }));
      await store.recordSend(send({ id: 'phantom1', receivedAt: at(1000) }));
      await store.recordSend(send({ id: 'logged', receivedAt: at(1500) }));
      await store.recordSend(send({ id: 'delivered', receivedAt: at(1600) }));
      await store.recordSend(send({ id: 'after', receivedAt: at(10_000) }));
      expect(await store.noteSendInLog('logged', at(1501))).toBe(true);
      expect(await store.noteSendInLog('logged', at(9999))).toBe(false);
      expect(await store.noteSendInLog('nosuch', at(1))).toBe(false);
      await store.updateRecipientStatus('delivered', 'rcpt@example.net', 'delivered', '250');

      expect(await store.markNotQueued(check())).toEqual(['phantom1', 'phantom2']);
      expect(await store.markNotQueued(check({ at: at(9_999_999) }))).toEqual([]);
      expect((await store.getSend('phantom1', a.id))?.notQueued).toEqual({ at: new Date(T0 + 3_600_000), reason: 'never in the log' });
      expect((await store.getSend('phantom1', a.id))?.status).toBe('queued');
      for (const id of ['before', 'logged', 'delivered', 'after']) expect((await store.getSend(id, a.id))?.notQueued).toBeUndefined();
      // The first time noted is kept; a send never noted has no loggedAt.
      expect((await store.getSend('logged', a.id))?.loggedAt).toEqual(at(1501));
      expect((await store.getSend('phantom1', a.id))?.loggedAt).toBeUndefined();
      const listed = await store.listSends({ spaceId: a.id });
      expect(listed.filter((s) => s.notQueued !== undefined).map((s) => s.id).sort()).toEqual(['phantom1', 'phantom2']);
    });

    it("marks only its own node's sends (and those recorded without a node): another node's Postfix logs the others", async () => {
      await store.recordSend(send({ id: 'mine', receivedAt: at(100), node: 'n1' }));
      await store.recordSend(send({ id: 'theirs', receivedAt: at(200), node: 'n2' }));
      await store.recordSend(send({ id: 'old', receivedAt: at(300) }));
      expect(await store.markNotQueued(check())).toEqual(['mine', 'old']);
      expect((await store.getSend('theirs', a.id))?.notQueued).toBeUndefined();
      expect((await store.getSend('theirs', a.id))?.node).toBe('n2');
      expect((await store.getSend('old', a.id))?.node).toBeUndefined();
      expect(await store.markNotQueued(check({ node: 'n2' }))).toEqual(['theirs']);
      await expect(store.recordSend(send({ id: 'bad', node: 'no spaces allowed' }))).rejects.toThrow(UsageError);
      await expect(store.markNotQueued(check({ node: '' }))).rejects.toThrow(UsageError);
    });

    it('marks at most `limit`, the oldest first', async () => {
      for (let i = 0; i < 3; i++) await store.recordSend(send({ id: `p${i}`, receivedAt: at(100 * (3 - i)) }));
      expect(await store.markNotQueued(check({ limit: 2 }))).toEqual(['p2', 'p1']);
      expect(await store.markNotQueued(check({ limit: 2 }))).toEqual(['p0']);
    });

    it('leaves not-queued sends out of report counts', async () => {
      await store.recordSend(send({ id: 'real', receivedAt: at(1000) }));
      await store.recordSend(send({ id: 'phantom', receivedAt: at(2000) }));
      await store.noteSendInLog('real', at(1001));
      await store.markNotQueued(check());
      const [total] = await store.report({ spaceId: a.id }, null);
      expect(total?.sends).toBe(1);
    });

    it('refuses invalid dates and limits with a UsageError', async () => {
      for (const bad of [check({ limit: 0 }), check({ limit: MAX_NOT_QUEUED_BATCH + 1 }), check({ receivedSince: new Date(Number.NaN) }), check({ at: new Date(Number.NaN) })]) {
        await expect(store.markNotQueued(bad)).rejects.toThrow(UsageError);
      }
      await expect(store.noteSendInLog('x', new Date(Number.NaN))).rejects.toThrow(UsageError);
    });
  });
}
