/**
 * `trxmail postfix-config` (the main.cf and master.cf pieces, filled in from trxmail.yaml) and
 * `trxmail postfix-check` (read a Postfix's configuration with postconf and say what is
 * missing or wrong for trxmail). Two registrations: `--help` lists them apart (check after
 * webhook, config after serve), and program.ts keeps that order.
 *
 *   postfix-config [--tls-cert F] [--tls-key F] [--reinject E] [--bounce-transport T:N]
 *                  [--bounce-mx A:P] [--trxmail-command C] [--pipe-user U] [--only main.cf|master.cf]
 *   postfix-check [--config-dir DIR]   findings, one a line; exit 1 when any is an error
 *
 * trxmail's endpoints are printed as Postfix must name them (src/postfix/endpoints.ts): a socket
 * below postfix.queueDirectory relative to it (`unix:private/trxmail-milter`, chroot-safe).
 *
 * Throws UsageError: bad option values; postfix-check with errors in the configuration.
 * ConfigError: a unix `reinject` outside the queue directory's private/ or public/.
 */
import { UsageError } from '../../lib/errors.js';
import { checkTargetFromConfig, formatFindings, runPostfixCheck } from '../../postfix/check.js';
import { parseReinject } from '../../config/config.js';
import { postfixEndpoint, postfixSaslPath, reinjectService } from '../../postfix/endpoints.js';
import { renderPostfixConfig } from '../../postfix/templates.js';
import type { CliContext } from '../context.js';

/** Debian's snakeoil pair (package ssl-cert): present on most Debian/Ubuntu systems. */
const DEFAULT_TLS_CERT = '/etc/ssl/certs/ssl-cert-snakeoil.pem';
const DEFAULT_TLS_KEY = '/etc/ssl/private/ssl-cert-snakeoil.key';

export function registerPostfixConfigCommand(ctx: CliContext): void {
  ctx.program
    .command('postfix-config')
    .description('print the main.cf and master.cf pieces for Postfix, filled in from trxmail.yaml')
    .option('--tls-cert <file>', 'certificate for smtpd', DEFAULT_TLS_CERT)
    .option('--tls-key <file>', 'private key for smtpd', DEFAULT_TLS_KEY)
    .option('--reinject <endpoint>', 'the re-injection listener: unix:/path in the queue directory, or address:port (default: trxmail.yaml reinject)')
    .option('--bounce-transport <transport:nexthop>', 'where mail for the bounce domain goes (default: lmtp to listen.lmtp)')
    .option('--bounce-mx <address:port>', "the bounce domain's MX listener (its own address; plain SMTP allowed, no AUTH)", '127.0.0.1:10027')
    .option('--trxmail-command <command>', 'the trxmail command for the pipe(8) variant (default: trxmail [--config FILE])')
    .option('--pipe-user <user>', 'the user pipe(8) runs trxmail as (the one serve runs as)', 'trxmail')
    .option('--only <file>', 'print only main.cf or master.cf')
    .action(
      (o: {
        tlsCert: string;
        tlsKey: string;
        reinject?: string;
        bounceTransport?: string;
        bounceMx: string;
        trxmailCommand?: string;
        pipeUser: string;
        only?: string;
      }) => {
        const config = ctx.getConfig();
        if (o.only !== undefined && o.only !== 'main.cf' && o.only !== 'master.cf') throw new UsageError('--only: expected main.cf or master.cf');
        const reinject = o.reinject ?? config.reinject;
        const tcpReinject = /^(?:inet:)?(\[[0-9a-fA-F:.]+\]|[0-9.]+):\d{1,5}$/.test(reinject);
        if (o.reinject !== undefined && !(tcpReinject || (reinject.startsWith('unix:') && parseReinject(reinject) !== null))) {
          throw new UsageError(`--reinject: expected unix:/absolute/path or address:port, got "${reinject}"`);
        }
        const queueDir = config.postfix.queueDirectory;
        if (!/^(\[[0-9a-fA-F:.]+\]|[0-9.]+):(\d{1,5}|smtp)$/.test(o.bounceMx)) throw new UsageError(`--bounce-mx: expected address:port, got "${o.bounceMx}"`);
        const { mainCf, masterCf } = renderPostfixConfig({
          tls_cert_file: o.tlsCert,
          tls_key_file: o.tlsKey,
          auth_endpoint: postfixSaslPath(config.listen.auth, queueDir),
          policy_endpoint: postfixEndpoint(config.listen.policy, queueDir),
          milter_endpoint: postfixEndpoint(config.listen.milter, queueDir),
          socketmap_endpoint: postfixEndpoint(config.listen.socketmap, queueDir),
          bounce_domain: config.bounceDomain,
          bounce_transport: o.bounceTransport ?? `lmtp:${postfixEndpoint(config.listen.lmtp, queueDir)}`,
          smtp_listen: 'smtp',
          submission_listen: 'submission',
          smtps_listen: 'smtps',
          reinject_service: reinjectService(reinject, queueDir),
          bounce_mx_listen: o.bounceMx,
          trxmail_command: o.trxmailCommand ?? (config.file !== null ? `trxmail --config ${config.file}` : 'trxmail'),
          pipe_user: o.pipeUser,
        });
        if (o.only !== 'master.cf') ctx.out(`# ---------- main.cf ----------\n${mainCf}`);
        if (o.only === undefined) ctx.out('\n');
        if (o.only !== 'main.cf') ctx.out(`# ---------- master.cf ----------\n${masterCf}`);
      },
    );
}

export function registerPostfixCheckCommand(ctx: CliContext): void {
  ctx.program
    .command('postfix-check')
    .description("read Postfix's configuration (postconf) and say what is missing or wrong for trxmail")
    .option('--config-dir <dir>', 'check this Postfix configuration directory (postconf -c DIR)')
    .action(async (o: { configDir?: string }) => {
      const findings = await runPostfixCheck(checkTargetFromConfig(ctx.getConfig()), o.configDir === undefined ? {} : { configDir: o.configDir });
      ctx.out(formatFindings(findings));
      const errors = findings.filter((f) => f.severity === 'error').length;
      if (errors > 0) throw new UsageError(`${errors} problem(s) in the Postfix configuration`);
    });
}
