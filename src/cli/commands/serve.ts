/**
 * `trxmail serve`: the daemon — every listener and background task of src/server/runtime.ts
 * until SIGTERM/SIGINT, then a graceful stop. `serve --help` lists all of them with the
 * trxmail.yaml key that places each (SERVE_PARTS; a test checks it names every listener of
 * the configuration). Throws whatever start-up throws (ConfigError, a listener that cannot
 * bind).
 */
import { Runtime } from '../../server/runtime.js';
import type { CliContext } from '../context.js';
import { runUntilSignal } from '../run-until-signal.js';

/** What `serve` runs, as `serve --help` lists it: [config key, what]. */
export const SERVE_PARTS: readonly (readonly [string, string])[] = [
  ['listen.milter', 'milter (protocol 6) for smtpd_milters: the rules, the rewrite, DKIM signing, the send record'],
  ['listen.policy', 'SMTP access policy service for check_policy_service: early refusals at RCPT'],
  ['listen.auth', 'Dovecot-protocol SASL server for smtpd_sasl_path: customer user logins'],
  ['listen.lmtp', 'LMTP bounce intake: DSNs and complaints sent to the bounce domain'],
  ['listen.socketmap', 'socketmap for relay_domains / transport_maps: the bounce domain and return-path hosts'],
  ['listen.socketUser', 'owner (user, and listen.socketGroup group) of the unix sockets above, mode 0660: only Postfix reaches them'],
  ['http.listen', 'HTTP service: open pixel, click redirects, reports API, report page, health'],
  ['metrics.listen', 'Prometheus metrics (GET /metrics)'],
  ['maillog', 'follower of Postfix\'s log: delivered / deferred / bounced (only when set)'],
  ['(always)', 'webhook dispatcher: POSTs queued events, retries with back-off'],
  ['dns.checkIntervalMinutes', 'scheduled DNS check of every sender domain (0: never); at start, DKIM keys for domains without any'],
  ['retention.sendsDays', 'retention purge (with retention.webhookDays; 0: never): old sends into daily report aggregates, in small batches, at start and every 15 min'],
  ['reinject', 'where untracked BCC copies are handed to Postfix (a client, not a listener)'],
];

export function registerServeCommand(ctx: CliContext): void {
  const width = Math.max(...SERVE_PARTS.map(([key]) => key.length));
  ctx.program
    .command('serve')
    .description('run every trxmail listener and background task on one store (stops on SIGTERM/SIGINT after in-flight work)')
    .addHelpText(
      'after',
      '\nWhat serve runs (trxmail.yaml key: what):\n' + SERVE_PARTS.map(([key, what]) => `  ${key.padEnd(width)}  ${what}\n`).join(''),
    )
    .action(() =>
      runUntilSignal(ctx, async (config, logger) => {
        const runtime = new Runtime(config, logger);
        await runtime.start();
        return runtime;
      }),
    );
}
