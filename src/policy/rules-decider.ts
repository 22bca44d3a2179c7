/**
 * The trxmail policy decision (SMTP access policy delegation at RCPT): cheap, early
 * refusals before the client sends DATA.
 *
 *  no SASL login                          → `530 5.7.0 Authentication required`
 *  login unknown to the store             → `530 5.7.0 Authentication required`
 *  sender not in the login's space domains → core's reply (553 5.1.7 / 553 5.7.1)
 *  otherwise                               → DUNNO (never OK: the policy cannot open the relay)
 *
 * Store trouble throws TransientError: the session drops the connection without a reply,
 * Postfix retries and then applies the configured default action (a 451).
 */
import { checkSender } from '../core/evaluate.js';
import { loadAccount } from '../accept/account.js';
import type { Store } from '../store/store.js';
import type { PolicyDecider } from './session.js';

export const POLICY_AUTH_REQUIRED = '530 5.7.0 Authentication required';

export function createRulesDecider(store: Store): PolicyDecider {
  return async (request) => {
    const login = request['sasl_username'] ?? '';
    if (login === '') return POLICY_AUTH_REQUIRED;
    const account = await loadAccount(store, login);
    if (!account) return POLICY_AUTH_REQUIRED;
    const refused = checkSender(account.facts, request['sender'] ?? '');
    if (refused) return `${refused.code} ${refused.enhanced} ${refused.text}`;
    return 'DUNNO';
  };
}
