/**
 * The Store contract: one vitest suite written against the Store interface only, split by
 * aggregate like the interface (accounts.ts, lists.ts, bounce-reasons.ts, sends.ts, search.ts, outbox.ts, domain-auth.ts, delivery-cursors.ts, auth-failures.ts, not-queued.ts, retention.ts, sending.ts). Every backend
 * (sqlite.test.ts, postgres.test.ts against a real PostgreSQL) runs it from its own *.test.ts:
 *
 *     storeContract('sqlite', async () => SqliteStore.open(tempFile()));
 *
 * `makeStore` must return a fresh, empty store each time; the suite closes it. Nothing here
 * knows a backend: what a backend must do is what these tests observe through the Store.
 */
import { describe, expect, it } from 'vitest';
import { TransientError } from '../../../src/lib/errors.js';
import type { Store } from '../../../src/store/store.js';
import { accountsContract } from './accounts.js';
import { authFailuresContract } from './auth-failures.js';
import { bounceReasonsContract } from './bounce-reasons.js';
import { deliveryCursorsContract } from './delivery-cursors.js';
import { domainAuthContract, unsignedMailContract } from './domain-auth.js';
import { useFixture } from './fixture.js';
import { listChangesContract } from './list-changes.js';
import { listsContract } from './lists.js';
import { notQueuedContract } from './not-queued.js';
import { outboxContract } from './outbox.js';
import { retentionContract } from './retention.js';
import { searchContract } from './search.js';
import { forgetSendContract, sendsContract } from './sends.js';
import { sendingContract } from './sending.js';

export function storeContract(name: string, makeStore: () => Promise<Store>): void {
  describe(`Store contract: ${name}`, () => {
    const fixture = useFixture(makeStore);

    accountsContract(fixture);
    listsContract(fixture);
    listChangesContract(fixture);
    bounceReasonsContract(fixture);
    sendsContract(fixture);
    forgetSendContract(fixture);
    searchContract(fixture);
    outboxContract(fixture);
    domainAuthContract(fixture);
    unsignedMailContract(fixture);
    deliveryCursorsContract(fixture);
    authFailuresContract(fixture);
    notQueuedContract(fixture);
    retentionContract(fixture);
    sendingContract(fixture);

    describe('lifecycle', () => {
      it('refuses work after close with a TransientError, and close is idempotent', async () => {
        const { store, a } = fixture();
        await store.close();
        await expect(store.getSpace(a.id)).rejects.toThrow(TransientError);
        await expect(store.close()).resolves.toBeUndefined();
      });

      it('refuses every aggregate after close, before looking at the input', async () => {
        const { store, a, send } = fixture();
        await store.close();
        const calls: (() => Promise<unknown>)[] = [
          () => store.createSpace({ name: '' }),
          () => store.listUsers(),
          () => store.lookupSuppression(a.id, ['x@example.net']),
          () => store.addListEntry({ spaceId: a.id, list: 'bounce', address: 'no address', reason: 'r', addedAt: new Date(Number.NaN) }),
          () => store.recordSend(send({ id: '' })),
          () => store.report({ spaceId: a.id }, null),
          () => store.setWebhook({ spaceId: a.id, url: 'ftp://x', secret: '' }),
          () => store.webhookBacklog(),
          () => store.saveDeliveryCursor({ node: 'n', path: '', dev: 'x', ino: 'y', offset: -1, followingSince: new Date(Number.NaN), savedAt: new Date(Number.NaN) }),
        ];
        for (const call of calls) await expect(call()).rejects.toThrow(TransientError);
      });
    });
  });
}
