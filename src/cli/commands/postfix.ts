/**
 * `trxmail postfix-config` (the main.cf and master.cf pieces, filled in from trxmail.yaml) and
 * `trxmail postfix-check` (read a Postfix's configuration with postconf and say what is
 * missing or wrong for trxmail). Two registrations: `--help` lists them apart (check after
 * webhook, config after serve), and program.ts keeps that order.
 *
 *   postfix-config [--tls-cert F] [--tls-key F] [--smtp-listen L] [--submission-listen L]
 *                  [--smtps-listen L] [--reinject E] [--bounce-transport T:N]
 *                  [--bounce-mx A:P] [--trxmail-command C] [--pipe-user U]
 *                  [--main | --master] [--apply DIR]
 *   postfix-check [--config-dir DIR]   findings, one a line; exit 1 when any is an error
 *
 * trxmail's endpoints are printed as Postfix must name them (src/postfix/endpoints.ts): a socket
 * below postfix.queueDirectory relative to it (`unix:private/trxmail-milter`, chroot-safe).
 *
 * Throws UsageError: bad option values; postfix-check with errors in the configuration.
 * ConfigError: a unix `reinject` outside the queue directory's private/ or public/.
 */
import { UsageError } from '../../lib/errors.js';
import { applyPostfixConfig } from '../../postfix/apply.js';
import { checkTargetFromConfig, formatFindings, runPostfixCheck } from '../../postfix/check.js';
import { parseReinject } from '../../config/config.js';
import { postfixEndpoint, postfixSaslPath, reinjectService } from '../../postfix/endpoints.js';
import { renderPostfixConfig } from '../../postfix/templates.js';
import type { CliContext } from '../context.js';

/** Debian's snakeoil pair (package ssl-cert): present on most Debian/Ubuntu systems. */
const DEFAULT_TLS_CERT = '/etc/ssl/certs/ssl-cert-snakeoil.pem';
const DEFAULT_TLS_KEY = '/etc/ssl/private/ssl-cert-snakeoil.key';

/** A master.cf inet service name: `[host:]port`, the port a number or a services(5) name. */
const LISTEN_RE = /^(?:(?:\[[0-9A-Fa-f:.]+\]|[0-9.]+|[A-Za-z0-9][A-Za-z0-9.-]*):)?(?:\d{1,5}|[A-Za-z][A-Za-z0-9-]*)$/;
/** An address and port (or `smtp`) of its own, for the bounce MX or the re-injection listener. */
const ADDRESS_PORT_RE = /^(\[[0-9a-fA-F:.]+\]|[0-9.]+):(\d{1,5}|smtp)$/;

interface PostfixConfigOptions {
  tlsCert: string;
  tlsKey: string;
  smtpListen: string;
  submissionListen: string;
  smtpsListen: string;
  reinject?: string;
  bounceTransport?: string;
  bounceMx?: string;
  trxmailCommand?: string;
  pipeUser: string;
  main?: boolean;
  master?: boolean;
  apply?: string;
}

export function registerPostfixConfigCommand(ctx: CliContext): void {
  ctx.program
    .command('postfix-config')
    .description('print the main.cf and master.cf pieces for Postfix, filled in from trxmail.yaml, or apply them to a configuration directory')
    .option('--tls-cert <file>', 'certificate for smtpd', DEFAULT_TLS_CERT)
    .option('--tls-key <file>', 'private key for smtpd', DEFAULT_TLS_KEY)
    .option('--smtp-listen <[address:]port>', 'master.cf service of port 25 (clients with STARTTLS and AUTH, bounces from other servers)', 'smtp')
    .option('--submission-listen <[address:]port>', 'master.cf service of port 587', 'submission')
    .option('--smtps-listen <[address:]port>', 'master.cf service of port 465', 'smtps')
    .option('--reinject <endpoint>', 'the re-injection listener: unix:/path in the queue directory, or address:port (default: trxmail.yaml reinject)')
    .option('--bounce-transport <transport:nexthop>', 'where mail for the bounce domain goes (default: lmtp to listen.lmtp)')
    .option('--bounce-mx <address:port>', 'a separate MX listener for the bounce domains, on an address of its own (default: none, port 25 takes them)')
    .option('--trxmail-command <command>', 'the trxmail command for the pipe(8) variant (default: trxmail [--config FILE])')
    .option('--pipe-user <user>', 'the user pipe(8) runs trxmail as (the one serve runs as)', 'trxmail')
    .option('--main', 'print main.cf only')
    .option('--master', 'print master.cf only')
    .option('--apply <dir>', 'apply the pieces to the Postfix configuration directory DIR (postconf -c DIR -e / -M; backups first; idempotent)')
    .action(async (o: PostfixConfigOptions) => {
      const config = ctx.getConfig();
      if (o.main === true && o.master === true) throw new UsageError('--main and --master: give at most one');
      for (const [flag, value] of [['--smtp-listen', o.smtpListen], ['--submission-listen', o.submissionListen], ['--smtps-listen', o.smtpsListen]] as const) {
        if (!LISTEN_RE.test(value)) throw new UsageError(`${flag}: expected [address:]port (e.g. smtp or 198.51.100.5:smtp), got "${value}"`);
      }
      const reinject = o.reinject ?? config.reinject;
      const tcpReinject = /^(?:inet:)?(\[[0-9a-fA-F:.]+\]|[0-9.]+):\d{1,5}$/.test(reinject);
      if (o.reinject !== undefined && !(tcpReinject || (reinject.startsWith('unix:') && parseReinject(reinject) !== null))) {
        throw new UsageError(`--reinject: expected unix:/absolute/path or address:port, got "${reinject}"`);
      }
      if (o.bounceMx !== undefined && !ADDRESS_PORT_RE.test(o.bounceMx)) throw new UsageError(`--bounce-mx: expected address:port, got "${o.bounceMx}"`);
      const queueDir = config.postfix.queueDirectory;
      const { mainCf, masterCf } = renderPostfixConfig({
        tls_cert_file: o.tlsCert,
        tls_key_file: o.tlsKey,
        auth_endpoint: postfixSaslPath(config.listen.auth, queueDir),
        policy_endpoint: postfixEndpoint(config.listen.policy, queueDir),
        milter_endpoint: postfixEndpoint(config.listen.milter, queueDir),
        socketmap_endpoint: postfixEndpoint(config.listen.socketmap, queueDir),
        bounce_domain: config.bounceDomain,
        bounce_transport: o.bounceTransport ?? `lmtp:${postfixEndpoint(config.listen.lmtp, queueDir)}`,
        smtp_listen: o.smtpListen,
        submission_listen: o.submissionListen,
        smtps_listen: o.smtpsListen,
        reinject_service: reinjectService(reinject, queueDir),
        ...(o.bounceMx !== undefined ? { bounce_mx_listen: o.bounceMx } : {}),
        message_size_limit: String(config.messageSizeLimit),
        trxmail_command: o.trxmailCommand ?? (config.file !== null ? `trxmail --config ${config.file}` : 'trxmail'),
        pipe_user: o.pipeUser,
      });
      if (o.apply !== undefined) {
        const result = await applyPostfixConfig(o.apply, { mainCf: o.master === true ? '' : mainCf, masterCf: o.main === true ? '' : masterCf });
        if (result.changes.length === 0) {
          ctx.out(`nothing to change: ${o.apply} already has trxmail's settings\n`);
          return;
        }
        ctx.out(`backups: ${result.backups.join(', ')}\n${result.changes.join('\n')}\n`);
        ctx.out(`${result.changes.length} change(s); \`postfix -c ${o.apply} check\`, then \`postfix -c ${o.apply} reload\` to use them\n`);
        return;
      }
      if (o.master !== true) ctx.out(`# ---------- main.cf ----------\n${mainCf}`);
      if (o.main !== true && o.master !== true) ctx.out('\n');
      if (o.main !== true) ctx.out(`# ---------- master.cf ----------\n${masterCf}`);
    });
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
