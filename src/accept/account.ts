/**
 * The authenticated account behind an SMTP login: the user and its space, with the space's
 * facts as core/ needs them. Shared by the milter and the policy adapters.
 *
 * Throws TransientError when the store is unavailable (callers turn that into a 4xx).
 */
import type { SpaceFacts } from '../core/types.js';
import type { Space, Store, User } from '../store/store.js';

export interface Account {
  readonly user: User;
  readonly space: Space;
  readonly facts: SpaceFacts;
}

/** Null when there is no such user (any more): a login the store does not know. */
export async function loadAccount(store: Store, login: string): Promise<Account | null> {
  const user = await store.getUserByEmail(login);
  if (!user) return null;
  const space = await store.getSpace(user.spaceId);
  if (!space) return null;
  const domains = await store.listDomains(space.id);
  return {
    user,
    space,
    facts: {
      id: space.id,
      name: space.name,
      domains,
      allowSubdomains: space.allowSubdomains,
      defaultFlags: space.defaultFlags,
    },
  };
}
