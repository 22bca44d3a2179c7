/**
 * Store contract, bounce reasons (migration 6 of the SQLite backend; the PostgreSQL backend
 * must pass the same): the reason and rule of a Bounce list entry, the recipient's bounce
 * reason, the mailbox-full streaks, and the report's `blocked` number and its `reason` and
 * `domain` groupings.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { UsageError } from '../../../src/lib/errors.js';
import { MAX_BOUNCE_RULE_LENGTH } from '../../../src/lib/limits.js';
import type { BounceReason } from '../../../src/core/bounce-reason.js';
import type { NewSend, Space, Store } from '../../../src/store/store.js';
import { T0, at, recipient, unknownSpace } from './fixture.js';
import type { CurrentFixture } from './fixture.js';

export function bounceReasonsContract(fixture: CurrentFixture): void {
  let store: Store;
  let a: Space;
  let b: Space;
  let send: (over: Partial<NewSend> & { id: string }) => NewSend;
  beforeEach(() => {
    ({ store, a, b, send } = fixture());
  });

  describe('Bounce list entries: bounce reason and rule', () => {
    it('stores them, defaults them to null, and replaces them on a re-add', async () => {
      await store.addListEntry({ spaceId: a.id, list: 'bounce', address: 'gone@example.net', reason: 'hard bounce 5.1.1', bounceReason: 'user-unknown', rule: 'status:5.1.1', addedAt: at(0) });
      await store.addListEntry({ spaceId: a.id, list: 'bounce', address: 'hand@example.net', reason: 'added by operator', addedAt: at(0) });
      expect((await store.listEntries(a.id, 'bounce')).map((e) => [e.address, e.bounceReason, e.rule])).toEqual([
        ['gone@example.net', 'user-unknown', 'status:5.1.1'],
        ['hand@example.net', null, null],
      ]);
      // Listed again for another cause (a complaint: no bounce reason): the entry says the latest.
      await store.addListEntry({ spaceId: a.id, list: 'bounce', address: 'Gone@Example.NET', reason: 'complaint (abuse)', bounceReason: null, addedAt: at(1) });
      expect((await store.listEntries(a.id, 'bounce')).map((e) => [e.reason, e.bounceReason, e.rule])[0]).toEqual(['complaint (abuse)', null, null]);
      await store.addListEntry({ spaceId: a.id, list: 'bounce', address: 'hand@example.net', reason: 'full', bounceReason: 'mailbox-full', rule: 'text:mailbox-full', addedAt: at(2) });
      expect((await store.listEntries(a.id, 'bounce'))[1]).toMatchObject({ bounceReason: 'mailbox-full', rule: 'text:mailbox-full', addedAt: at(2) });
    });

    it('refuses a bounce reason outside the taxonomy and a rule that is empty, too long or has control characters', async () => {
      const base = { spaceId: a.id, list: 'bounce' as const, address: 'x@example.net', reason: 'r', addedAt: at(0) };
      await expect(store.addListEntry({ ...base, bounceReason: 'hard' as BounceReason })).rejects.toThrow(UsageError);
      for (const rule of ['', 'x'.repeat(MAX_BOUNCE_RULE_LENGTH + 1), 'text:\nx']) {
        await expect(store.addListEntry({ ...base, rule })).rejects.toThrow(UsageError);
      }
      await store.addListEntry({ ...base, rule: 'x'.repeat(MAX_BOUNCE_RULE_LENGTH) });
      expect((await store.listEntries(a.id, 'bounce'))[0]?.rule).toHaveLength(MAX_BOUNCE_RULE_LENGTH);
    });
  });

  describe('bounce streaks', () => {
    it('counts per space, address (case-insensitive) and reason, keeping the first time', async () => {
      const note = (spaceId: number, address: string, reason: BounceReason, ms: number) => store.noteBounceStreak({ spaceId, address, reason, at: at(ms) });
      expect(await note(a.id, 'full@example.net', 'mailbox-full', 0)).toEqual({ count: 1, firstAt: at(0), lastAt: at(0) });
      expect(await note(a.id, 'FULL@Example.NET', 'mailbox-full', 5000)).toEqual({ count: 2, firstAt: at(0), lastAt: at(5000) });
      expect(await note(b.id, 'full@example.net', 'mailbox-full', 6000)).toEqual({ count: 1, firstAt: at(6000), lastAt: at(6000) });
      expect(await note(a.id, 'full@example.net', 'expired', 7000)).toEqual({ count: 1, firstAt: at(7000), lastAt: at(7000) });
      expect(await note(a.id, 'full@example.net', 'mailbox-full', 9000)).toEqual({ count: 3, firstAt: at(0), lastAt: at(9000) });
    });

    it('clears every streak of the address in that space only', async () => {
      await store.noteBounceStreak({ spaceId: a.id, address: 'full@example.net', reason: 'mailbox-full', at: at(0) });
      await store.noteBounceStreak({ spaceId: a.id, address: 'full@example.net', reason: 'mailbox-full', at: at(1) });
      await store.noteBounceStreak({ spaceId: b.id, address: 'full@example.net', reason: 'mailbox-full', at: at(1) });
      await store.clearBounceStreaks(a.id, 'Full@Example.net');
      await store.clearBounceStreaks(a.id, 'never@example.net');
      expect(await store.noteBounceStreak({ spaceId: a.id, address: 'full@example.net', reason: 'mailbox-full', at: at(2) })).toEqual({ count: 1, firstAt: at(2), lastAt: at(2) });
      expect((await store.noteBounceStreak({ spaceId: b.id, address: 'full@example.net', reason: 'mailbox-full', at: at(3) })).count).toBe(2);
    });

    it('refuses an unknown space, a non-address, an unknown reason and a bad date', async () => {
      const ok = { spaceId: a.id, address: 'full@example.net', reason: 'mailbox-full' as const, at: at(0) };
      await expect(store.noteBounceStreak({ ...ok, spaceId: unknownSpace })).rejects.toThrow(UsageError);
      await expect(store.noteBounceStreak({ ...ok, address: 'nobody' })).rejects.toThrow(UsageError);
      await expect(store.noteBounceStreak({ ...ok, reason: 'full' as BounceReason })).rejects.toThrow(UsageError);
      await expect(store.noteBounceStreak({ ...ok, at: new Date(Number.NaN) })).rejects.toThrow(UsageError);
      await expect(store.clearBounceStreaks(unknownSpace, 'full@example.net')).rejects.toThrow(UsageError);
      await expect(store.clearBounceStreaks(a.id, 'nobody')).rejects.toThrow(UsageError);
    });
  });

  describe("the recipient's bounce reason", () => {
    it('is kept with a bounced or deferred status, absent otherwise, and cleared by a delivery', async () => {
      await store.recordSend(send({ id: 'r1', bcc: 'copy@example.net', recipients: [recipient('rcpt@example.net', 'to'), recipient('copy@example.net', 'bcc')] }));
      const rcpt = async (role: 'to' | 'bcc') => (await store.getSend('r1', a.id))?.recipients.find((r) => r.role === role);
      expect(await rcpt('to')).not.toHaveProperty('reason');
      expect(await store.updateRecipientStatus('r1', 'RCPT@example.net', 'deferred', '451 4.7.1 slow down', 'rate-limited')).toBe(true);
      expect(await rcpt('to')).toMatchObject({ status: 'deferred', reason: 'rate-limited' });
      expect(await rcpt('bcc')).not.toHaveProperty('reason');
      expect(await store.updateRecipientStatus('r1', 'rcpt@example.net', 'bounced', '554 5.7.1 blocked', 'blocked')).toBe(true);
      expect(await rcpt('to')).toMatchObject({ status: 'bounced', reason: 'blocked' });
      expect((await store.listSends({ spaceId: a.id }))[0]?.recipients[0]).toMatchObject({ reason: 'blocked' });
      // 'delivered' never keeps a reason, even when one is passed.
      await store.updateRecipientStatus('r1', 'rcpt@example.net', 'delivered', '250 ok', 'blocked');
      expect(await rcpt('to')).not.toHaveProperty('reason');
      await store.updateRecipientStatus('r1', 'copy@example.net', 'bounced', '550 5.1.1', 'user-unknown');
      await store.updateRecipientStatus('r1', 'copy@example.net', 'queued', 'again');
      expect(await rcpt('bcc')).not.toHaveProperty('reason');
    });

    it('refuses a reason outside the taxonomy', async () => {
      await store.recordSend(send({ id: 'r2' }));
      await expect(store.updateRecipientStatus('r2', 'rcpt@example.net', 'bounced', 'x', 'spam' as BounceReason)).rejects.toThrow(UsageError);
      expect((await store.getSend('r2', a.id))?.status).toBe('queued');
    });
  });

  describe('report: blocked, by reason, by receiving domain', () => {
    beforeEach(async () => {
      const day = 24 * 60 * 60 * 1000;
      // Received on two days; To recipients at three domains (one IDN, given as U-label).
      const mk = async (id: string, to: string, dayN: number, status: 'bounced' | 'deferred' | 'delivered' | null, reason: BounceReason | null, bcc?: BounceReason) => {
        await store.recordSend(
          send({
            id,
            to,
            receivedAt: new Date(T0 + dayN * day),
            ...(bcc ? { bcc: 'copy@example.org', recipients: [recipient(to, 'to'), recipient('copy@example.org', 'bcc')] } : { recipients: [recipient(to, 'to')] }),
          }),
        );
        if (status !== null) await store.updateRecipientStatus(id, to, status, 'd', reason);
        if (bcc) await store.updateRecipientStatus(id, 'copy@example.org', 'bounced', 'd', bcc);
      };
      await mk('s1', 'a@gmail.example', 0, 'bounced', 'blocked');
      await mk('s2', 'b@gmail.example', 0, 'bounced', 'auth-failure');
      await mk('s3', 'c@Bücher.example', 0, 'bounced', 'user-unknown');
      await mk('s4', 'd@gmail.example', 1, 'deferred', 'rate-limited'); // not final: not blocked
      await mk('s5', 'e@other.example', 1, 'delivered', null, 'blocked'); // the BCC's block does not count
      await mk('s6', '"x@y"@other.example', 1, 'bounced', 'content-rejected');
      await mk('s7', 'g@other.example', 1, null, null);
    });

    it('counts as blocked the sends whose To bounced for a sender-side reason', async () => {
      const [total] = await store.report({ spaceId: a.id }, null);
      expect(total).toMatchObject({ group: 'total', sends: 7, blocked: 3 });
      expect((await store.report({ spaceId: b.id }, null))[0]).toMatchObject({ sends: 0, blocked: 0 });
    });

    it('blocked per day', async () => {
      expect((await store.report({ spaceId: a.id }, 'day')).map((r) => [r.key, r.sends, r.blocked])).toEqual([
        ['2025-01-15', 3, 2],
        ['2025-01-16', 4, 1],
        [null, 7, 3],
      ]);
    });

    it('groups by the To recipient\'s domain (normalised; after the last "@")', async () => {
      expect((await store.report({ spaceId: a.id }, 'domain')).map((r) => [r.group, r.key, r.sends, r.blocked])).toEqual([
        ['domain', 'gmail.example', 3, 2],
        ['domain', 'other.example', 3, 1],
        ['domain', 'xn--bcher-kva.example', 1, 0],
        ['total', null, 7, 3],
      ]);
    });

    it('counts by reason (null: the To has none)', async () => {
      expect((await store.report({ spaceId: a.id }, 'reason')).map((r) => [r.key, r.sends, r.blocked, r.deferred])).toEqual([
        ['auth-failure', 1, 1, 0],
        ['blocked', 1, 1, 0],
        ['content-rejected', 1, 1, 0],
        ['rate-limited', 1, 0, 1],
        ['user-unknown', 1, 0, 0],
        [null, 2, 0, 0],
        [null, 7, 3, 1],
      ]);
      // Filters apply as to every report.
      expect((await store.report({ spaceId: a.id, since: at(24 * 60 * 60 * 1000) }, 'reason')).map((r) => [r.key, r.sends])).toEqual([
        ['content-rejected', 1],
        ['rate-limited', 1],
        [null, 2],
        [null, 4],
      ]);
    });
  });
}
