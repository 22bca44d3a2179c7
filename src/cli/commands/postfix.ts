/**
 * `trxmail postfix-config` (the main.cf and master.cf pieces, filled in from trxmail.yaml) and
 * `trxmail postfix-check` (read a Postfix's configuration with postconf and say what is
 * missing or wrong for trxmail). Two registrations: `--help` lists them apart (check after
 * webhook, config after serve), and program.ts keeps that order.
 *
 *   postfix-config [--tls-cert F] [--tls-key F] [--reinject A:P] [--bounce-transport T:N]
 *                  [--bounce-mx A:P] [--trxmail-command C] [--pipe-user U] [--only main.cf|master.cf]
 *   postfix-check [--config-dir DIR]   findings, one a line; exit 1 when any is an error
 *
 * Throws UsageError: bad option values; postfix-check with errors in the configuration.
 */
import { UsageError } from '../../lib/errors.js';
import { checkTargetFromConfig, formatFindings, runPostfixCheck } from '../../postfix/check.js';
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
    .option('--reinject <addr:port>', 'the re-injection listener', '127.0.0.1:10026')
    .option('--bounce-transport <transport:nexthop>', 'where mail for the bounce domain goes (default: lmtp to listen.lmtp)')
    .option('--bounce-mx <address:port>', "the bounce domain's MX listener (its own address; plain SMTP allowed, no AUTH)", '127.0.0.1:10027')
    .option('--trxmail-command <command>', 'the trxmail command for the pipe(8) variant (default: trxmail [--config FILE])')
    .option('--pipe-user <user>', 'the user pipe(8) runs trxmail as (the one serve runs as)', 'trxmail')
    .option('--only <file>', 'print only main.cf or master.cf')
    .action(
      (o: {
        tlsCert: string;
        tlsKey: string;
        reinject: string;
        bounceTransport?: string;
        bounceMx: string;
        trxmailCommand?: string;
        pipeUser: string;
        only?: string;
      }) => {
        const config = ctx.getConfig();
        if (o.only !== undefined && o.only !== 'main.cf' && o.only !== 'master.cf') throw new UsageError('--only: expected main.cf or master.cf');
        if (!/^(\[[0-9a-fA-F:.]+\]|[0-9.]+):\d{1,5}$/.test(o.reinject)) throw new UsageError(`--reinject: expected address:port, got "${o.reinject}"`);
        if (!/^(\[[0-9a-fA-F:.]+\]|[0-9.]+):(\d{1,5}|smtp)$/.test(o.bounceMx)) throw new UsageError(`--bounce-mx: expected address:port, got "${o.bounceMx}"`);
        const { mainCf, masterCf } = renderPostfixConfig({
          tls_cert_file: o.tlsCert,
          tls_key_file: o.tlsKey,
          auth_endpoint: config.listen.auth,
          policy_endpoint: config.listen.policy,
          milter_endpoint: config.listen.milter,
          socketmap_endpoint: config.listen.socketmap,
          bounce_domain: config.bounceDomain,
          bounce_transport: o.bounceTransport ?? `lmtp:${config.listen.lmtp}`,
          smtp_listen: 'smtp',
          submission_listen: 'submission',
          smtps_listen: 'smtps',
          reinject_listen: o.reinject,
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
