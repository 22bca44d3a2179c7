/**
 * What every part of the Store contract shares: a fresh store per test (from the backend's
 * factory) holding two spaces, alpha and beta, with one user each; fixed times; builders for
 * sends and recipients. Backend-agnostic: only the Store interface is used.
 */
import { afterEach, beforeEach } from 'vitest';
import type { NewSend, SendRecipient, Space, Store, User } from '../../../src/store/store.js';

export const T0 = Date.UTC(2025, 0, 15, 12, 0, 0);
export const at = (offsetMs: number): Date => new Date(T0 + offsetMs);

/** A space id no fixture creates. */
export const unknownSpace = 987654;

export function recipient(address: string, role: SendRecipient['role'], over: Partial<SendRecipient> = {}): SendRecipient {
  return {
    address,
    role,
    status: role === 'discarded' ? 'discarded' : 'queued',
    suppressedBy: null,
    detail: null,
    ...over,
  };
}

export interface Fixture {
  readonly store: Store;
  /** Space "alpha" and its user user@alpha.example. */
  readonly a: Space;
  readonly userA: User;
  /** Space "beta" and its user user@beta.example. */
  readonly b: Space;
  readonly userB: User;
  /** A valid send of alpha's user to rcpt@example.net (or `over.to`), overridden by `over`. */
  readonly send: (over: Partial<NewSend> & { id: string }) => NewSend;
}

/** The current test's fixture; valid inside tests and beforeEach hooks registered after it. */
export type CurrentFixture = () => Fixture;

/** Registers the hooks that make a fresh fixture before each test and close its store after. */
export function useFixture(makeStore: () => Promise<Store>): CurrentFixture {
  let current: Fixture | undefined;

  beforeEach(async () => {
    const store = await makeStore();
    const a = await store.createSpace({ name: 'alpha' });
    const b = await store.createSpace({ name: 'beta' });
    const userA = await store.createUser({ spaceId: a.id, email: 'user@alpha.example', passwordHash: 'scrypt$hash-a' });
    const userB = await store.createUser({ spaceId: b.id, email: 'user@beta.example', passwordHash: 'scrypt$hash-b' });
    const send = (over: Partial<NewSend> & { id: string }): NewSend => {
      const to = over.to ?? 'rcpt@example.net';
      return {
        spaceId: a.id,
        userId: userA.id,
        mailFrom: 'news@shop.example',
        envelopeSender: `trx-${a.id}-${over.id}-abc@bounce.example`,
        from: 'news@shop.example',
        to,
        bcc: null,
        discarded: [],
        tags: [],
        flags: 3,
        flagsSource: 'default',
        receivedAt: at(0),
        recipients: [recipient(to, 'to')],
        ...over,
      };
    };
    current = { store, a, b, userA, userB, send };
  });

  afterEach(async () => {
    await current?.store.close();
    current = undefined;
  });

  return () => {
    if (current === undefined) throw new Error('the store contract fixture is used outside a test');
    return current;
  };
}
