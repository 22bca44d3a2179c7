/**
 * trxmail's metrics: one process-wide registry and its instruments, imported by the places
 * that count (milter rules handler, credential verifier, HTTP tracking, bounce intake,
 * webhook dispatcher). Label values are fixed enums or core's RejectReason: bounded.
 *
 *   trxmail_milter_messages_accepted_total                     250 at end of message
 *   trxmail_milter_messages_rejected_total{stage,reason}      5xx (stage mail|eom)
 *   trxmail_milter_messages_tempfailed_total                   4xx: the handler threw
 *   trxmail_milter_eom_duration_seconds                        end-of-message handling time
 *   trxmail_auth_attempts_total{result}                        ok|fail|throttled|tempfail (SASL, API)
 *   trxmail_tracking_events_total{type,traffic}                open|click, human|machine
 *   trxmail_bounces_total{kind}                                hard|soft|complaint
 *   trxmail_webhook_deliveries_total{result}                   delivered|failed|expired
 *   trxmail_webhook_backlog{status}                            pending|expired (from the store at scrape)
 */
import { Registry } from './registry.js';

/** Seconds; the milter's end-of-message work is usually milliseconds, tracking a big HTML part up to seconds. */
export const EOM_LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

function instruments(r: Registry) {
  return {
    registry: r,
    accepted: r.counter('trxmail_milter_messages_accepted_total', 'Messages accepted at end of message (the client got 250 and an id).'),
    rejected: r.counter('trxmail_milter_messages_rejected_total', 'Messages refused with a 5xx by the rules, by stage and reason.', ['stage', 'reason']),
    tempfailed: r.counter('trxmail_milter_messages_tempfailed_total', 'Messages answered with a 4xx because trxmail could not decide (store, timeout, error).'),
    eomLatency: r.histogram('trxmail_milter_eom_duration_seconds', 'Time the milter spends on end of message.', EOM_LATENCY_BUCKETS),
    auth: r.counter('trxmail_auth_attempts_total', 'SMTP AUTH and reports API logins checked by trxmail, by result (ok, fail, throttled, tempfail).', ['result']),
    tracking: r.counter('trxmail_tracking_events_total', 'Tracking hits with a valid token, by type (open, click) and traffic (human, machine).', ['type', 'traffic']),
    bounces: r.counter('trxmail_bounces_total', 'Bounces and complaints received, by kind (hard, soft, complaint).', ['kind']),
    webhookDeliveries: r.counter('trxmail_webhook_deliveries_total', 'Webhook POST attempts by result (delivered, failed, expired).', ['result']),
    webhookBacklog: r.gauge('trxmail_webhook_backlog', 'Webhook deliveries in the outbox by status (pending, expired), read at scrape time.', ['status']),
  };
}

export type TrxMetrics = ReturnType<typeof instruments>;

/** A fresh set of instruments on its own registry (tests). */
export function createMetrics(): TrxMetrics {
  return instruments(new Registry());
}

/** The process-wide instruments. */
export const metrics: TrxMetrics = createMetrics();
