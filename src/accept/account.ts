/**
 * The authenticated account behind an SMTP login: the user and its space, with the space's
 * facts as core/ needs them; and the check every adapter makes before a message is sent
 * (checkLogin: a login, known to the store, whose space allows the sender). Shared by the
 * milter (at MAIL) and the policy service (at RCPT), so both give the same answer.
 *
 * Throws TransientError when the store is unavailable (callers turn that into a 4xx).
 */
import { checkSender } from '../core/evaluate.js';
import { rejection } from '../core/replies.js';
import { sendingRejection } from '../core/sending-limits.js';
import type { Rejection, SpaceFacts } from '../core/types.js';
import type { SendingState, Space, Store, User } from '../store/store.js';

export interface Account {
  readonly user: User;
  readonly space: Space;
  readonly facts: SpaceFacts;
}

/** Null when there is no such user (any more): a login the store does not know. */
export async function loadAccount(store: Pick<Store, 'getAccount'>, login: string): Promise<Account | null> {
  // One store call (one statement on PostgreSQL): this runs at MAIL and again at RCPT.
  const found = await store.getAccount(login);
  if (!found) return null;
  const { user, space, domains } = found;
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

/**
 * The account of `login` when it may send as `mailFrom`, else core's rejection: no login or
 * a login the store does not know (a removed user) → auth-required; a sender outside the
 * space's domains → core's sender reply; a paused space → core's `space-paused` (451 4.7.1,
 * with the pause's reason; AUTH itself still works). Accepted: the space's sending state read
 * for that check comes along (the policy service checks the limits with it).
 */
export async function checkLogin(
  store: Pick<Store, 'getAccount' | 'getSendingState'>,
  login: string | null,
  mailFrom: string,
): Promise<
  { readonly account: Account; readonly rejection: null; readonly sending: SendingState } | { readonly account: Account | null; readonly rejection: Rejection }
> {
  if (login === null || login === '') return { account: null, rejection: rejection('auth-required') };
  const account = await loadAccount(store, login);
  if (!account) return { account: null, rejection: rejection('auth-required') };
  const refused = checkSender(account.facts, mailFrom);
  if (refused) return { account, rejection: refused };
  const sending = await store.getSendingState(account.space.id);
  const { pause } = sending;
  return pause ? { account, rejection: sendingRejection({ kind: 'paused', reason: pause.reason }) } : { account, rejection: null, sending };
}
