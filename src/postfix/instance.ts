/**
 * A private Postfix instance: its own configuration, queue, data and log directories under
 * one base directory, loopback only, unprivileged ports — used by the demo (`trxmail demo`),
 * the end-to-end tests and bench/postfix. It runs Debian's stock Postfix binaries with the
 * configuration shipped in `postfix/` (templates.ts) on top of a minimal base.
 *
 * Needs root (`postfix start` does). Facts it relies on were verified on Postfix 3.7.11
 * (docs/protocols.md §0): the data directory must be owned by `postfix`, every service
 * runs with chroot = n, logging goes to a file through postlogd.
 *
 * Throws ConfigError when Postfix is missing (with the command that installs it) and
 * TrxError('EPOSTFIX') when `postfix` itself fails (its output included).
 */
import { execFile } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { ConfigError, TrxError } from '../lib/errors.js';
import { DEFAULT_MESSAGE_SIZE_LIMIT } from '../lib/limits.js';
import { postfixEndpoint, postfixSaslPath, reinjectService } from './endpoints.js';
import { renderPostfixConfig, type PostfixTemplateValues } from './templates.js';

const run = promisify(execFile);

export const POSTFIX_BIN = '/usr/sbin/postfix';
export const POSTFIX_INSTALL_HINT =
  "Postfix is not installed. Install Debian's package without configuring a system instance:\n" +
  "  echo 'postfix postfix/main_mailer_type select No configuration' | sudo debconf-set-selections\n" +
  '  sudo DEBIAN_FRONTEND=noninteractive apt-get install -y postfix swaks';

export function postfixInstalled(): boolean {
  return existsSync(POSTFIX_BIN);
}

/** Placeholder socketmap endpoint, removed again by withoutSocketmap. */
const NO_SOCKETMAP = 'inet:127.0.0.1:1';

/** The rendered configuration without its socketmap lookups (an instance that runs no trxmail). */
function withoutSocketmap(text: string): string {
  return text.split(`, socketmap:${NO_SOCKETMAP}:relay`).join('').split(`, socketmap:${NO_SOCKETMAP}:transport`).join('').split(`, check_recipient_access socketmap:${NO_SOCKETMAP}:access`).join('');
}

export interface PrivatePostfixOptions {
  /** Base directory; conf/, queue/, data/, log/ and tls/ are created below it. */
  readonly dir: string;
  readonly hostname: string;
  /**
   * Loopback ports standing for 25, 587, 465, the re-injection listener (unless `reinject` is
   * given) and (optional) the bounce domain's MX listener (plain SMTP, bounce domain only);
   * without `bounceMx` that service is left out.
   */
  readonly ports: { readonly smtp: number; readonly submission: number; readonly smtps: number; readonly reinject?: number; readonly bounceMx?: number };
  /**
   * The re-injection listener as trxmail.yaml's `reinject` names it, e.g.
   * `unix:<queueDir>/private/trxmail-reinject` (a master.cf unix service); wins over ports.reinject.
   */
  readonly reinject?: string;
  /**
   * trxmail's endpoints as trxmail listens on them (inet:host:port or unix:/path; a socket below
   * this instance's queue directory is given to Postfix relative to it, as postfix-config
   * does). Without `socketmap` the instance knows the bounce domain alone (relay_domains and
   * transport_maps without the socketmap, for tests that run no trxmail).
   */
  readonly endpoints: { readonly milter: string; readonly policy: string; readonly auth: string; readonly socketmap?: string };
  readonly bounceDomain: string;
  /**
   * transport:nexthop for the bounce domain: `lmtp:` + trxmail's LMTP listener (a unix path
   * below the queue directory is made relative) or `trxmail-bounce:` (with bounceCommand).
   */
  readonly bounceTransport: string;
  /**
   * Enables the pipe(8) service `trxmail-bounce` (commented out in the shipped master.cf):
   * `argv=<command> bounce --sender ${sender} --recipient ${original_recipient}` run as `user`
   * (not root, not postfix). Route the bounce domain to it with bounceTransport `trxmail-bounce:`.
   */
  readonly bounceCommand?: { readonly user: string; readonly command: string };
  /** Where every outgoing message goes, e.g. `[127.0.0.1]:2526` (a capturing sink). */
  readonly relayhost: string;
  /** message_size_limit (and so the EHLO SIZE) in bytes; default DEFAULT_MESSAGE_SIZE_LIMIT. */
  readonly messageSizeLimit?: number;
  /** Extra main.cf settings, written last (they win). */
  readonly extraMain?: Readonly<Record<string, string>>;
  /** Leave the trxmail milter out (bench baseline). */
  readonly withoutMilter?: boolean;
  /**
   * Extra master.cf service entries (complete lines, e.g. a bench-only listener), appended
   * after the shipped services.
   */
  readonly extraMaster?: string;
}

/** Standard internal services, chroot off (a private instance has no chroot jail set up). */
export const BASE_MASTER_CF = `# Internal services (private instance: no chroot).
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
lmtp      unix  -       -       n       -       -       lmtp
virtual   unix  -       n       n       -       -       virtual
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
`;

export { dropService } from './templates.js';

/** Uncomments main.cf's `trxmail-bounce_destination_recipient_limit` (it goes with the pipe(8) service). */
export function enablePipeLimit(mainCf: string): string {
  return mainCf.replace(/^#(trxmail-bounce_destination_recipient_limit = )/m, '$1');
}

/** Uncomments the shipped `trxmail-bounce` pipe(8) service (its lines start with `#trxmail-bounce` and `#  `). */
export function enablePipeService(masterCf: string): string {
  const lines = masterCf.split('\n');
  const start = lines.findIndex((l) => l.startsWith('#trxmail-bounce '));
  if (start < 0) return masterCf;
  lines[start] = (lines[start] ?? '').slice(1);
  for (let i = start + 1; i < lines.length && (lines[i] ?? '').startsWith('#  '); i++) lines[i] = (lines[i] ?? '').slice(1);
  return lines.join('\n');
}

export class PrivatePostfix {
  readonly confDir: string;
  readonly queueDir: string;
  readonly dataDir: string;
  readonly logFile: string;
  readonly tlsDir: string;

  constructor(readonly opts: PrivatePostfixOptions) {
    this.confDir = path.join(opts.dir, 'conf');
    this.queueDir = path.join(opts.dir, 'queue');
    this.dataDir = path.join(opts.dir, 'data');
    this.tlsDir = path.join(opts.dir, 'tls');
    this.logFile = path.join(opts.dir, 'log', 'maillog');
  }

  get certFile(): string {
    return path.join(this.tlsDir, 'cert.pem');
  }

  get keyFile(): string {
    return path.join(this.tlsDir, 'key.pem');
  }

  /** Writes conf/main.cf and conf/master.cf (and a self-signed certificate when missing). */
  async configure(): Promise<void> {
    if (!postfixInstalled()) throw new ConfigError(POSTFIX_INSTALL_HINT);
    for (const d of [this.confDir, this.queueDir, this.dataDir, this.tlsDir, path.dirname(this.logFile)]) {
      mkdirSync(d, { recursive: true });
    }
    // Postfix's unprivileged daemons must reach the data and queue directories.
    chmodSync(this.opts.dir, 0o755);
    await ensureSelfSignedCert(this.certFile, this.keyFile, this.opts.hostname);
    const { mainCf, masterCf } = this.render();
    writeFileSync(path.join(this.confDir, 'main.cf'), mainCf);
    writeFileSync(path.join(this.confDir, 'master.cf'), masterCf);
    const uid = await idOf('-u', 'postfix');
    const gid = await idOf('-g', 'postfix');
    chownSync(this.dataDir, uid, gid);
  }

  render(): { mainCf: string; masterCf: string } {
    const o = this.opts;
    const values: PostfixTemplateValues = {
      tls_cert_file: this.certFile,
      tls_key_file: this.keyFile,
      auth_endpoint: postfixSaslPath(o.endpoints.auth, this.queueDir),
      policy_endpoint: postfixEndpoint(o.endpoints.policy, this.queueDir),
      milter_endpoint: postfixEndpoint(o.endpoints.milter, this.queueDir),
      socketmap_endpoint: o.endpoints.socketmap === undefined ? NO_SOCKETMAP : postfixEndpoint(o.endpoints.socketmap, this.queueDir),
      bounce_domain: o.bounceDomain,
      bounce_transport: o.bounceTransport.startsWith('lmtp:') ? `lmtp:${postfixEndpoint(o.bounceTransport.slice(5), this.queueDir)}` : o.bounceTransport,
      smtp_listen: `127.0.0.1:${o.ports.smtp}`,
      submission_listen: `127.0.0.1:${o.ports.submission}`,
      smtps_listen: `127.0.0.1:${o.ports.smtps}`,
      reinject_service: reinjectService(o.reinject ?? `127.0.0.1:${o.ports.reinject ?? 10026}`, this.queueDir),
      ...(o.ports.bounceMx !== undefined ? { bounce_mx_listen: `127.0.0.1:${o.ports.bounceMx}` } : {}),
      message_size_limit: String(o.messageSizeLimit ?? DEFAULT_MESSAGE_SIZE_LIMIT),
      trxmail_command: o.bounceCommand?.command ?? 'trxmail',
      pipe_user: o.bounceCommand?.user ?? 'nobody',
    };
    const rendered = renderPostfixConfig(values);
    let shippedMaster = rendered.masterCf;
    const shippedMain = o.bounceCommand ? enablePipeLimit(rendered.mainCf) : rendered.mainCf;
    if (o.bounceCommand) shippedMaster = enablePipeService(shippedMaster);
    const shipped =
      o.endpoints.socketmap !== undefined
        ? { mainCf: shippedMain, masterCf: shippedMaster }
        : { mainCf: withoutSocketmap(shippedMain), masterCf: withoutSocketmap(shippedMaster) };
    const mainCf =
      this.baseMainCf() +
      '\n\n' +
      shipped.mainCf +
      (o.withoutMilter ? '\n# Benchmark baseline: no milter\nsmtpd_milters =\n' : '') +
      (o.extraMain && Object.keys(o.extraMain).length
        ? '\n# Extra settings\n' +
          Object.entries(o.extraMain)
            .map(([k, v]) => `${k} = ${v}`)
            .join('\n') +
          '\n'
        : '');
    const extraMaster =
      o.extraMaster !== undefined && o.extraMaster.trim() !== ''
        ? '\n# Extra services\n' + o.extraMaster + (o.extraMaster.endsWith('\n') ? '' : '\n')
        : '';
    return { mainCf, masterCf: BASE_MASTER_CF + '\n' + shipped.masterCf + extraMaster };
  }

  /** The instance's own main.cf settings (directories, loopback, log file), without trxmail's pieces. */
  baseMainCf(): string {
    const o = this.opts;
    const base: Record<string, string> = {
      compatibility_level: '3.6',
      queue_directory: this.queueDir,
      data_directory: this.dataDir,
      command_directory: '/usr/sbin',
      daemon_directory: '/usr/lib/postfix/sbin',
      meta_directory: '/etc/postfix',
      shlib_directory: '/usr/lib/postfix',
      mail_owner: 'postfix',
      setgid_group: 'postdrop',
      myhostname: o.hostname,
      mydomain: o.hostname,
      myorigin: o.hostname,
      mydestination: '',
      local_recipient_maps: '',
      alias_maps: '',
      alias_database: '',
      inet_interfaces: '127.0.0.1',
      inet_protocols: 'ipv4',
      mynetworks: '127.0.0.0/8',
      maillog_file: this.logFile,
      maillog_file_prefixes: path.dirname(this.logFile),
      relayhost: o.relayhost,
      smtp_tls_security_level: 'none',
      smtputf8_enable: 'yes',
      biff: 'no',
      // Tests send many messages quickly from one address.
      smtpd_client_connection_rate_limit: '0',
      smtpd_client_message_rate_limit: '0',
      anvil_rate_time_unit: '60s',
    };
    return (
      '# Private instance base (generated by trxmail)\n' +
      Object.entries(base)
        .map(([k, v]) => `${k} = ${v}`)
        .join('\n')
    );
  }

  private async postfix(...args: string[]): Promise<string> {
    try {
      const { stdout, stderr } = await run(POSTFIX_BIN, ['-c', this.confDir, ...args], { timeout: 60_000 });
      return stdout + stderr;
    } catch (err: unknown) {
      const e = err as { stderr?: string; stdout?: string; message?: string };
      throw new TrxError('EPOSTFIX', `postfix -c ${this.confDir} ${args.join(' ')} failed: ${(e.stderr || e.stdout || e.message || '').trim()}`, {
        cause: err,
      });
    }
  }

  /**
   * Creates the queue directory's subdirectories (`postfix check` does), so trxmail can put its
   * sockets into `private/` before Postfix starts. Call after configure().
   */
  async createQueueDirectories(): Promise<void> {
    await this.postfix('check');
  }

  async start(): Promise<void> {
    await this.postfix('check');
    if (await this.running()) await this.postfix('stop');
    try {
      await this.postfix('start');
    } catch (err: unknown) {
      // postfix-script says only "mail system startup failed"; the reason is in the log.
      const tail = this.log().trimEnd().split('\n').slice(-5).join(' | ');
      throw new TrxError('EPOSTFIX', `postfix -c ${this.confDir} start failed; log: ${tail}`, { cause: err });
    }
  }

  async running(): Promise<boolean> {
    try {
      await run(POSTFIX_BIN, ['-c', this.confDir, 'status'], { timeout: 30_000 });
      return true;
    } catch {
      return false;
    }
  }

  /** Stops the instance (abort: `postfix stop` waits for nothing, which is what tests want). */
  async stop(): Promise<void> {
    if (await this.running()) await this.postfix('stop');
  }

  /** The maillog so far ('' when there is none yet). */
  log(): string {
    try {
      return readFileSync(this.logFile, 'utf8');
    } catch {
      return '';
    }
  }
}

async function idOf(flag: '-u' | '-g', name: string): Promise<number> {
  const { stdout } = await run('id', [flag, name]);
  return Number(stdout.trim());
}

/** Creates a self-signed certificate (P-256, 10 years, SAN = hostname and 127.0.0.1) unless one exists. */
export async function ensureSelfSignedCert(certFile: string, keyFile: string, hostname: string): Promise<void> {
  if (existsSync(certFile) && existsSync(keyFile)) return;
  mkdirSync(path.dirname(certFile), { recursive: true });
  await run(
    'openssl',
    [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
      '-keyout', keyFile, '-out', certFile, '-days', '3650', '-subj', `/CN=${hostname}`,
      '-addext', `subjectAltName=DNS:${hostname},IP:127.0.0.1`,
    ],
    { timeout: 30_000 },
  );
}
