/**
 * The trxmail policy decision (SMTP access policy delegation at RCPT): cheap, early
 * refusals before the client sends DATA, with the same check and the same replies as the
 * milter (checkLogin, src/accept/account.ts; replies from core's table):
 *
 *  no SASL login, plain-text session       → `530 5.7.0 Must issue a STARTTLS command first`
 *  no SASL login, TLS session              → `530 5.7.0 Authentication required`
 *  login unknown to the store             → `530 5.7.0 Authentication required`
 *  sender not in the login's space domains → core's reply (553 5.1.7 / 553 5.7.1)
 *  the space is paused                     → core's `space-paused` (451 4.7.1 + the reason)
 *  one more recipient would pass a limit   → core's `sending-limit` (451 4.7.0, the limit named)
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
 * The limit check reads the space's recorded usage (recipients of accepted messages, minute
 * buckets in the store, shared by the nodes: the sending state checkLogin read for the pause,
 * and one usage read when the space has limits) and asks core whether one more recipient
 * fits. The count itself is taken at end of message (accept step, reserveSending), where a
 * concurrent burst that passed RCPT is refused with the same reply.
 *
 * Store trouble throws TransientError: the session drops the connection without a reply,
 * Postfix retries and then applies the configured default action (a 451).
 */
import { checkLogin } from '../accept/account.js';
import { rejection as coreRejection } from '../core/replies.js';
import { LIMIT_WINDOWS, sendingRejection, sendingVerdict } from '../core/sending-limits.js';
import { smtpPathFromPostfixInternal } from '../core/envelope-address.js';
import type { Store } from '../store/store.js';
import type { PolicyDecider } from './session.js';

export function createRulesDecider(
  store: Pick<Store, 'getAccount' | 'getSendingState' | 'sendingUsage'>,
  clock: () => Date = () => new Date(),
): PolicyDecider {
  return async (request) => {
    const login = request['sasl_username'] ?? null;
    if ((login === null || login === '') && (request['encryption_protocol'] ?? '') === '') {
      const r = coreRejection('starttls-required');
      return `${r.code} ${r.enhanced} ${r.text}`;
    }
    const checked = await checkLogin(store, login, smtpPathFromPostfixInternal(request['sender'] ?? ''));
    if (checked.rejection) return `${checked.rejection.code} ${checked.rejection.enhanced} ${checked.rejection.text}`;
    const { account, sending: { limits } } = checked;
    if (LIMIT_WINDOWS.every((w) => limits[w] === null)) return 'DUNNO';
    const verdict = sendingVerdict(null, limits, await store.sendingUsage(account.space.id, clock()), 1);
    if (verdict === null) return 'DUNNO';
    const r = sendingRejection(verdict);
    return `${r.code} ${r.enhanced} ${r.text}`;
  };
}
