/**
 * The trxmail policy decision (SMTP access policy delegation at RCPT): cheap, early
 * refusals before the client sends DATA, with the same check and the same replies as the
 * milter (checkLogin, src/accept/account.ts; replies from core's table):
 *
 *  no SASL login, plain-text session       → `530 5.7.0 Must issue a STARTTLS command first`
 *  no SASL login, TLS session              → `530 5.7.0 Authentication required`
 *  login unknown to the store             → `530 5.7.0 Authentication required`
 *  sender not in the login's space domains → core's reply (553 5.1.7 / 553 5.7.1)
 *  otherwise                               → DUNNO (never OK: the policy cannot open the relay)
 *
 * The session is plain text when Postfix sends no `encryption_protocol` (docs/protocols.md §0).
 * The first line matters on port 25, where STARTTLS is offered, not required, so that other
 * mail servers can deliver bounces to the bounce domains (postfix/master.cf, `smtp`): every
 * other recipient of a client without TLS gets Postfix's own words for "TLS required".
 * Postfix sends `sender=` in its internal form, the local part unquoted (`john smith@d` for
 * `"john smith"@d`); it is turned back into the RFC 5321 form the milter sees
 * (smtpPathFromPostfixInternal) before the check, so both give the same answer.
 *
 * Store trouble throws TransientError: the session drops the connection without a reply,
 * Postfix retries and then applies the configured default action (a 451).
 */
import { checkLogin } from '../accept/account.js';
import { rejection as coreRejection } from '../core/replies.js';
import { smtpPathFromPostfixInternal } from '../core/envelope-address.js';
import type { Store } from '../store/store.js';
import type { PolicyDecider } from './session.js';

export function createRulesDecider(store: Pick<Store, 'getUserByEmail' | 'getSpace' | 'listDomains'>): PolicyDecider {
  return async (request) => {
    const login = request['sasl_username'] ?? null;
    if ((login === null || login === '') && (request['encryption_protocol'] ?? '') === '') {
      const r = coreRejection('starttls-required');
      return `${r.code} ${r.enhanced} ${r.text}`;
    }
    const { rejection } = await checkLogin(store, login, smtpPathFromPostfixInternal(request['sender'] ?? ''));
    return rejection ? `${rejection.code} ${rejection.enhanced} ${rejection.text}` : 'DUNNO';
  };
}
