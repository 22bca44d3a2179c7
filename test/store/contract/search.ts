/**
 * Store contract, message search (SendFilter.recipient, messageId, status, reason, text) and
 * what it finds: the Message-ID kept with a send, suppressed recipients recorded as events.
 * Search is always combined with the space: another space's sends are never found.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import type { BounceReason } from '../../../src/core/bounce-reason.js';
import { UsageError } from '../../../src/lib/errors.js';
import { MAX_MESSAGE_ID_LENGTH } from '../../../src/lib/limits.js';
import type { SendFilter, SendStatus, Space, Store, User } from '../../../src/store/store.js';
import { at, recipient } from './fixture.js';
import type { CurrentFixture, Fixture } from './fixture.js';

export function searchContract(fixture: CurrentFixture): void {
  let store: Store;
  let a: Space;
  let b: Space;
  let userB: User;
  let send: Fixture['send'];
  beforeEach(() => {
    ({ store, a, b, userB, send } = fixture());
  });

  describe('message search', () => {
    beforeEach(async () => {
      // alpha: m1 to ann (bcc bob), m2 to bob (delivered), m3 to Ann with another case (bounced,
      // user-unknown), m4 to carl (discarded ann), tagged; beta: x1 to ann with m1's Message-ID.
      await store.recordSend(
        send({
          id: 'm1',
          to: 'ann@example.net',
          bcc: 'bob@example.org',
          messageId: 'one@shop.example',
          receivedAt: at(1000),
          recipients: [recipient('ann@example.net', 'to'), recipient('bob@example.org', 'bcc')],
        }),
      );
      await store.recordSend(send({ id: 'm2', to: 'bob@example.org', messageId: 'two@shop.example', receivedAt: at(2000) }));
      await store.updateRecipientStatus('m2', 'bob@example.org', 'delivered', '250 2.0.0 Ok');
      await store.recordSend(send({ id: 'm3', to: 'ANN@Example.NET', receivedAt: at(3000) }));
      await store.updateRecipientStatus('m3', 'ann@example.net', 'bounced', '550 5.1.1 unknown', 'user-unknown');
      await store.recordSend(
        send({
          id: 'm4',
          to: 'carl@example.com',
          tags: ['vip'],
          discarded: ['ann@example.net'],
          receivedAt: at(4000),
          recipients: [recipient('carl@example.com', 'to'), recipient('ann@example.net', 'discarded')],
        }),
      );
      await store.recordSend(
        send({ id: 'x1', spaceId: b.id, userId: userB.id, to: 'ann@example.net', messageId: 'one@shop.example', receivedAt: at(2500) }),
      );
    });
    const ids = async (f: Omit<SendFilter, 'spaceId'>, spaceId: number = a.id): Promise<string[]> =>
      (await store.listSends({ spaceId, ...f })).map((s) => s.id);

    it('keeps the Message-ID with the send (absent when it had none)', async () => {
      expect((await store.getSend('m1', a.id))?.messageId).toBe('one@shop.example');
      expect((await store.listSends({ spaceId: a.id, messageId: 'two@shop.example' }))[0]?.messageId).toBe('two@shop.example');
      const m3 = await store.getSend('m3', a.id);
      expect(m3).not.toBeNull();
      expect(m3 && 'messageId' in m3).toBe(false);
    });

    it('refuses a Message-ID that is not normalised (brackets, spaces)', async () => {
      await expect(store.recordSend(send({ id: 'bad1', messageId: '<x@y>' }))).rejects.toThrow(UsageError);
      await expect(store.recordSend(send({ id: 'bad2', messageId: 'a b@y' }))).rejects.toThrow(UsageError);
      expect(await store.getSend('bad1', null)).toBeNull();
    });

    it('finds sends by any recipient (To, BCC, discarded), matched like list keys, in the space only', async () => {
      expect(await ids({ recipient: 'ann@example.net' })).toEqual(['m4', 'm3', 'm1']);
      expect(await ids({ recipient: 'Ann@EXAMPLE.net' })).toEqual(['m4', 'm3', 'm1']);
      expect(await ids({ recipient: 'bob@example.org' })).toEqual(['m2', 'm1']);
      expect(await ids({ recipient: 'nobody@example.net' })).toEqual([]);
      expect(await ids({ recipient: 'ann@example.net' }, b.id)).toEqual(['x1']);
    });

    it('finds sends by Message-ID, with or without angle brackets, in the space only', async () => {
      expect(await ids({ messageId: 'one@shop.example' })).toEqual(['m1']);
      expect(await ids({ messageId: '<one@shop.example>' })).toEqual(['m1']);
      expect(await ids({ messageId: 'ONE@shop.example' })).toEqual([]);
      expect(await ids({ messageId: 'one@shop.example' }, b.id)).toEqual(['x1']);
    });

    it('finds sends by status and by the To recipient\'s bounce reason', async () => {
      expect(await ids({ status: 'delivered' })).toEqual(['m2']);
      expect(await ids({ status: 'queued' })).toEqual(['m4', 'm1']);
      expect(await ids({ reason: 'user-unknown' })).toEqual(['m3']);
      expect(await ids({ reason: 'mailbox-full' })).toEqual([]);
    });

    it('finds by the search box text: the send id, the Message-ID or a recipient', async () => {
      expect(await ids({ text: 'm2' })).toEqual(['m2']);
      expect(await ids({ text: '<two@shop.example>' })).toEqual(['m2']);
      expect(await ids({ text: ' BOB@example.org ' })).toEqual(['m2', 'm1']);
      expect(await ids({ text: 'x1' })).toEqual([]);
      expect(await ids({ text: 'x1' }, b.id)).toEqual(['x1']);
    });

    it('combines search terms with each other, tags, dates and the keyset cursor', async () => {
      expect(await ids({ recipient: 'ann@example.net', tags: ['vip'] })).toEqual(['m4']);
      expect(await ids({ recipient: 'ann@example.net', until: at(3500) })).toEqual(['m3', 'm1']);
      expect(await ids({ recipient: 'ann@example.net', status: 'bounced', reason: 'user-unknown' })).toEqual(['m3']);
      expect(await ids({ recipient: 'ann@example.net', limit: 1 })).toEqual(['m4']);
      expect(await ids({ recipient: 'ann@example.net', limit: 1, before: { receivedAt: at(4000), id: 'm4' } })).toEqual(['m3']);
      expect(await ids({ recipient: 'ann@example.net', limit: 5, before: { receivedAt: at(3000), id: 'm3' } })).toEqual(['m1']);
    });

    it('refuses bad search terms with a UsageError naming them', async () => {
      const bad: [Omit<SendFilter, 'spaceId'>, RegExp][] = [
        [{ recipient: ' ' }, /recipient must not be empty/],
        [{ recipient: `${'a'.repeat(300)}@example.net` }, /recipient is longer/],
        [{ messageId: 'a b' }, /message id/],
        [{ messageId: `${'x'.repeat(MAX_MESSAGE_ID_LENGTH)}@y` }, /longer than 500/],
        [{ text: 'a\u0000b' }, /control characters/],
        [{ status: 'lost' as SendStatus }, /status must be one of/],
        [{ reason: 'cosmic-rays' as BounceReason }, /reason/],
      ];
      for (const [f, message] of bad) await expect(ids(f)).rejects.toThrow(message);
    });
  });

  describe('suppressed recipients are events', () => {
    it('records one suppressed event per suppressed recipient, at the send\'s time, with the list and reason', async () => {
      await store.recordSend(
        send({
          id: 'sup',
          bcc: 'b@example.org',
          receivedAt: at(5000),
          recipients: [
            recipient('rcpt@example.net', 'to', { status: 'suppressed', suppressedBy: 'bounce', detail: 'hard bounce' }),
            recipient('b@example.org', 'bcc'),
          ],
        }),
      );
      const events = await store.listEvents('sup');
      expect(events.map((e) => [e.type, e.recipient, e.at.getTime(), e.detail])).toEqual([
        ['suppressed', 'rcpt@example.net', at(5000).getTime(), { list: 'bounce', reason: 'hard bounce' }],
      ]);
      expect(await store.listEvents('m-none')).toEqual([]);
    });
  });
}
