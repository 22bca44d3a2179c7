/**
 * The `trxmail` command line: administration of spaces, sender domains, users, per-from
 * defaults, the Unsubscribe and Bounce lists, and send reports.
 *
 * `runCli(argv, io)` runs one command in-process and resolves to the exit code; only
 * src/cli/main.ts turns that into process.exit. Every error ends in ONE line on stderr:
 *   trxmail: <what is wrong>
 * with exit code 1 (operator or configuration error), 2 (command-line syntax) or 75
 * (temporary: store unavailable — try again).
 */
import type { Readable, Writable } from 'node:stream';
import { readFileSync } from 'node:fs';
import { Command, CommanderError, Option } from 'commander';
import { analyseMessage } from '../bounce/analysis/analyse.js';
import { formatAnalysis } from '../bounce/analysis/analysis-format.js';
import { BounceIntake } from '../bounce/intake.js';
import { runBounceCommand } from '../bounce/pipe.js';
import { hmacKeysIfAny, hmacKeysInForce } from '../config/secrets.js';
import { MAX_BOUNCE_BYTES } from '../lib/limits.js';
import { silentLogger } from '../lib/logger.js';
import { loadConfig, type Config } from '../config/config.js';
import { displayDomain, normaliseDomain } from '../core/domain.js';
import { MAX_FLAGS } from '../core/types.js';
import { ConfigError, TransientError, TrxError, UsageError } from '../lib/errors.js';
import { createLogger } from '../lib/logger.js';
import { hashPassword } from '../lib/password.js';
import { renderPostfixConfig } from '../postfix/templates.js';
import { startDemo } from '../server/demo.js';
import { Runtime } from '../server/runtime.js';
import { openStore } from '../store/open-store.js';
import type { Space, Store } from '../store/store.js';
import { readNewPassword } from './password-input.js';
import { registerReportCommand } from './report.js';
import { registerSendCommands } from './sends.js';
import { registerWebhookCommands } from '../webhooks/cli-commands.js';
import { formatCsv, formatJson, formatTable, type Column } from '../lib/table.js';

export interface CliIo {
  readonly stdout: Writable;
  readonly stderr: Writable;
  readonly stdin: Readable & { isTTY?: boolean; setRawMode?: (raw: boolean) => unknown };
  readonly env: NodeJS.ProcessEnv;
  readonly cwd: string;
}

export const EXIT_OK = 0;
export const EXIT_ERROR = 1;
export const EXIT_USAGE = 2;
/** sysexits EX_TEMPFAIL */
export const EXIT_TEMPFAIL = 75;

/** Shared by the command handlers: lazily loaded config and store, output helpers. */
export class CliContext {
  private config: Config | null = null;
  private store: Store | null = null;
  constructor(
    readonly io: CliIo,
    private readonly program: Command,
  ) {}

  getConfig(): Config {
    if (!this.config) {
      const opts = this.program.opts<{ config?: string }>();
      this.config = loadConfig({ configPath: opts.config, env: this.io.env, cwd: this.io.cwd });
    }
    return this.config;
  }

  async getStore(): Promise<Store> {
    if (!this.store) this.store = await openStore(this.getConfig().store);
    return this.store;
  }

  async space(name: string): Promise<Space> {
    const s = await (await this.getStore()).getSpaceByName(name);
    if (!s) throw new UsageError(`no space named "${name}" (see: trxmail space list)`);
    return s;
  }

  out(text: string): void {
    this.io.stdout.write(text);
  }

  async close(): Promise<void> {
    if (this.store) await this.store.close();
    this.store = null;
  }
}

/**
 * `--flags` value: an integer 0-15, or `default` (= not configured). Returns the string
 * 'default' rather than null: commander turns a null from a parser into ''.
 */
export function parseFlagsOption(value: string): number | 'default' {
  if (value === 'default') return 'default';
  if (!/^\d{1,2}$/.test(value) || Number(value) > MAX_FLAGS) {
    throw new UsageError(`flags must be an integer from 0 to ${MAX_FLAGS} or "default", got "${value}"`);
  }
  return Number(value);
}

function flagsValue(f: number | 'default' | undefined): number | null {
  return f === undefined || f === 'default' ? null : f;
}

function domainArg(value: string): string {
  const d = normaliseDomain(value);
  if (!d) throw new UsageError(`not a domain name: "${value}"`);
  return d;
}

const SPACE_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

function flagsText(flags: number | null): string {
  return flags === null ? 'default' : String(flags);
}

type Format = 'table' | 'json' | 'csv';
export function outputFormat(opts: { json?: boolean; csv?: boolean }): Format {
  if (opts.json && opts.csv) throw new UsageError('choose one of --json and --csv');
  return opts.json ? 'json' : opts.csv ? 'csv' : 'table';
}

export function render<T>(fmt: Format, columns: readonly Column<T>[], rows: readonly T[], json: (r: T) => unknown): string {
  if (fmt === 'json') return formatJson(rows.map(json));
  if (fmt === 'csv') return formatCsv(columns, rows);
  return formatTable(columns, rows);
}

function withFormat(cmd: Command): Command {
  return cmd.option('--json', 'print JSON').option('--csv', 'print CSV');
}

export function buildProgram(io: CliIo): { program: Command; ctx: CliContext } {
  const program = new Command('trxmail');
  const ctx = new CliContext(io, program);
  program
    .description('Transactional SMTP relay rules for Postfix')
    .option('-c, --config <file>', 'configuration file (default: $TRXMAIL_CONFIG or ./trxmail.yaml)')
    .showHelpAfterError('(add --help for usage)')
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
      outputError: (s, write) => write(s.replace(/^error: /, 'trxmail: ')),
    })
    .exitOverride();

  // ---- spaces
  const space = program.command('space').description('customer spaces (tenants)');
  withFormat(space.command('list').description('list spaces')).action(async (o: { json?: boolean; csv?: boolean }) => {
    const store = await ctx.getStore();
    const spaces = await store.listSpaces();
    const rows = await Promise.all(spaces.map(async (s) => ({ s, domains: await store.listDomains(s.id) })));
    const cols: Column<(typeof rows)[number]>[] = [
      { header: 'NAME', value: (r) => r.s.name },
      { header: 'FLAGS', value: (r) => flagsText(r.s.defaultFlags) },
      { header: 'SUBDOMAINS', value: (r) => (r.s.allowSubdomains ? 'yes' : 'no') },
      { header: 'DOMAINS', value: (r) => r.domains.map(displayDomain) },
      { header: 'CREATED', value: (r) => r.s.createdAt },
    ];
    ctx.out(
      render(outputFormat(o), cols, rows, (r) => ({
        name: r.s.name,
        defaultFlags: r.s.defaultFlags,
        allowSubdomains: r.s.allowSubdomains,
        domains: r.domains,
        createdAt: r.s.createdAt,
      })),
    );
  });
  space
    .command('add <name>')
    .description('create a space')
    .option('--flags <n>', 'default X-Mxm-Flags for the space (0-15, or "default")', parseFlagsOption)
    .option('--allow-subdomains', 'also allow subdomains of the sender domains')
    .action(async (name: string, o: { flags?: number | 'default'; allowSubdomains?: boolean }) => {
      if (!SPACE_NAME_RE.test(name)) throw new UsageError(`space name must be 1-63 letters, digits, ".", "_" or "-", got "${name}"`);
      const store = await ctx.getStore();
      if (await store.getSpaceByName(name)) throw new UsageError(`space "${name}" exists already`);
      await store.createSpace({ name, defaultFlags: flagsValue(o.flags), allowSubdomains: o.allowSubdomains ?? false });
      ctx.out(`space ${name} added\n`);
    });
  space
    .command('set <name>')
    .description('change a space')
    .option('--flags <n>', 'default X-Mxm-Flags (0-15, or "default")', parseFlagsOption)
    .addOption(new Option('--allow-subdomains', 'allow subdomains of the sender domains'))
    .addOption(new Option('--no-allow-subdomains', 'allow only the sender domains themselves'))
    .action(async (name: string, o: { flags?: number | 'default'; allowSubdomains?: boolean }) => {
      const s = await ctx.space(name);
      const patch: { defaultFlags?: number | null; allowSubdomains?: boolean } = {};
      if (o.flags !== undefined) patch.defaultFlags = flagsValue(o.flags);
      if (o.allowSubdomains !== undefined) patch.allowSubdomains = o.allowSubdomains;
      if (Object.keys(patch).length === 0) throw new UsageError('nothing to change: give --flags or --[no-]allow-subdomains');
      const u = await (await ctx.getStore()).updateSpace(s.id, patch);
      ctx.out(`space ${u.name}: flags ${flagsText(u.defaultFlags)}, subdomains ${u.allowSubdomains ? 'allowed' : 'not allowed'}\n`);
    });

  // ---- sender domains
  const domain = program.command('domain').description("a space's allowed sender domains");
  domain
    .command('add <space> <domain...>')
    .description('allow sender domains (U-label or A-label)')
    .action(async (spaceName: string, domains: string[]) => {
      const s = await ctx.space(spaceName);
      const normalised = domains.map(domainArg);
      const store = await ctx.getStore();
      for (const d of normalised) await store.addDomain(s.id, d);
      ctx.out(normalised.map((d) => `domain ${d} allowed for ${s.name}\n`).join(''));
    });
  domain
    .command('remove <space> <domain>')
    .description('stop allowing a sender domain')
    .action(async (spaceName: string, d: string) => {
      const s = await ctx.space(spaceName);
      const n = domainArg(d);
      if (!(await (await ctx.getStore()).removeDomain(s.id, n))) throw new UsageError(`domain ${n} is not allowed for ${s.name}`);
      ctx.out(`domain ${n} removed from ${s.name}\n`);
    });
  withFormat(domain.command('list <space>').description('list sender domains')).action(
    async (spaceName: string, o: { json?: boolean; csv?: boolean }) => {
      const s = await ctx.space(spaceName);
      const rows = await (await ctx.getStore()).listDomains(s.id);
      const cols: Column<string>[] = [
        { header: 'DOMAIN', value: (d) => d },
        { header: 'UNICODE', value: (d) => displayDomain(d) },
      ];
      ctx.out(render(outputFormat(o), cols, rows, (d) => ({ domain: d, unicode: displayDomain(d) })));
    },
  );

  // ---- users
  const user = program.command('user').description('customer users (SMTP logins)');
  user
    .command('add <email>')
    .description('add a user; the password is read from standard input or prompted for')
    .requiredOption('-s, --space <name>', 'the space the user belongs to')
    .action(async (email: string, o: { space: string }) => {
      const login = loginArg(email);
      const s = await ctx.space(o.space);
      const store = await ctx.getStore();
      if (await store.getUserByEmail(login)) throw new UsageError(`user ${login} exists already`);
      const pw = await readNewPassword(io);
      await store.createUser({ spaceId: s.id, email: login, passwordHash: await hashPassword(pw) });
      ctx.out(`user ${login} added to ${s.name}\n`);
    });
  user
    .command('passwd <email>')
    .description("change a user's password (standard input or prompt)")
    .action(async (email: string) => {
      const login = loginArg(email);
      const store = await ctx.getStore();
      if (!(await store.getUserByEmail(login))) throw new UsageError(`no user ${login}`);
      const pw = await readNewPassword(io);
      await store.setPasswordHash(login, await hashPassword(pw));
      ctx.out(`password of ${login} changed\n`);
    });
  user
    .command('remove <email>')
    .description('remove a user')
    .action(async (email: string) => {
      const login = loginArg(email);
      if (!(await (await ctx.getStore()).removeUser(login))) throw new UsageError(`no user ${login}`);
      ctx.out(`user ${login} removed\n`);
    });
  withFormat(user.command('list').description('list users').option('-s, --space <name>', 'only this space')).action(
    async (o: { space?: string; json?: boolean; csv?: boolean }) => {
      const store = await ctx.getStore();
      const only = o.space !== undefined ? await ctx.space(o.space) : null;
      const users = await store.listUsers(only?.id);
      const names = new Map((await store.listSpaces()).map((s) => [s.id, s.name]));
      const cols: Column<(typeof users)[number]>[] = [
        { header: 'EMAIL', value: (u) => u.email },
        { header: 'SPACE', value: (u) => names.get(u.spaceId) ?? String(u.spaceId) },
        { header: 'CREATED', value: (u) => u.createdAt },
      ];
      ctx.out(render(outputFormat(o), cols, users, (u) => ({ email: u.email, space: names.get(u.spaceId), createdAt: u.createdAt })));
    },
  );

  // ---- per-from-address defaults
  const from = program.command('from').description('per-from-address default flags');
  from
    .command('set <space> <address> <flags>')
    .description('set the default X-Mxm-Flags for a From address (0-15, or "default" to remove)')
    .action(async (spaceName: string, address: string, flags: string) => {
      const s = await ctx.space(spaceName);
      const f = flagsValue(parseFlagsOption(flags));
      await (await ctx.getStore()).setFromFlags(s.id, address, f);
      ctx.out(f === null ? `default flags for ${address} removed\n` : `default flags for ${address}: ${f}\n`);
    });
  withFormat(from.command('list <space>').description('list per-from-address defaults')).action(
    async (spaceName: string, o: { json?: boolean; csv?: boolean }) => {
      const s = await ctx.space(spaceName);
      const rows = await (await ctx.getStore()).listFromFlags(s.id);
      const cols: Column<(typeof rows)[number]>[] = [
        { header: 'ADDRESS', value: (r) => r.address },
        { header: 'FLAGS', value: (r) => r.flags },
      ];
      ctx.out(render(outputFormat(o), cols, rows, (r) => ({ address: r.address, flags: r.flags })));
    },
  );

  // ---- suppression lists
  for (const [cmdName, list, what] of [
    ['unsubscribe', 'unsubscribe', 'the Unsubscribe list (checked with flag 4)'],
    ['bounces', 'bounce', 'the Bounce list (checked unless flag 8)'],
  ] as const) {
    const c = program.command(cmdName).description(what);
    c.command('add <space> <address>')
      .description(`put an address on ${what}`)
      .option('-r, --reason <text>', 'why', 'added by operator')
      .action(async (spaceName: string, address: string, o: { reason: string }) => {
        const s = await ctx.space(spaceName);
        await (await ctx.getStore()).addListEntry({ spaceId: s.id, list, address, reason: o.reason, addedAt: new Date() });
        ctx.out(`${address} added to the ${list} list of ${s.name}\n`);
      });
    c.command('remove <space> <address>')
      .description(`take an address off ${what}`)
      .action(async (spaceName: string, address: string) => {
        const s = await ctx.space(spaceName);
        if (!(await (await ctx.getStore()).removeListEntry(s.id, list, address))) {
          throw new UsageError(`${address} is not on the ${list} list of ${s.name}`);
        }
        ctx.out(`${address} removed from the ${list} list of ${s.name}\n`);
      });
    withFormat(c.command('list <space>').description(`show ${what}`)).action(
      async (spaceName: string, o: { json?: boolean; csv?: boolean }) => {
        const s = await ctx.space(spaceName);
        const rows = await (await ctx.getStore()).listEntries(s.id, list);
        const cols: Column<(typeof rows)[number]>[] = [
          { header: 'ADDRESS', value: (r) => r.address },
          { header: 'ADDED', value: (r) => r.addedAt },
          { header: 'REASON', value: (r) => r.reason },
        ];
        ctx.out(render(outputFormat(o), cols, rows, (r) => ({ address: r.address, addedAt: r.addedAt, reason: r.reason })));
      },
    );
  }

  registerSendCommands(program, ctx);
  registerReportCommand(program, ctx);
  registerWebhookCommands(program, ctx);

  // ---- the daemon
  program
    .command('serve')
    .description('run the milter, policy and SASL listeners (stops on SIGTERM/SIGINT after in-flight work)')
    .action(async () => {
      const config = ctx.getConfig();
      const logger = createLogger(config.log.level);
      const runtime = new Runtime(config, logger);
      await runtime.start();
      await untilSignal(logger);
      await runtime.stop();
      logger.info({}, 'stopped');
    });
  program
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

  // ---- bounces: the pipe(8) intake and the analysis of any message
  const bounce = program
    .command('bounce')
    .description('read one message for the bounce domain from stdin and record it (Postfix pipe(8)); exit 0 once stored or ignored, 75 to retry')
    .option('--sender <address>', 'envelope sender (pipe(8) ${sender})')
    .option('--recipient <address>', 'the bounce address (pipe(8) ${original_recipient})')
    .action(async (o: { sender?: string; recipient?: string }) => {
      const result = await runBounceCommand(io.stdin, o, async () => {
        const config = ctx.getConfig();
        return new BounceIntake({ store: await ctx.getStore(), keys: hmacKeysInForce(config), bounceDomain: config.bounceDomain, logger: silentLogger });
      });
      if (result.exitCode !== EXIT_OK) throw new TransientError('EBOUNCE_TEMPFAIL', result.line.replace(/^trxmail: /, ''));
      ctx.out(`${result.line}\n`);
    });
  bounce
    .command('parse <file>')
    .description('print what trxmail makes of a message (bounce, complaint or neither) without changing anything; "-" reads stdin')
    .option('--recipient <address>', 'the envelope recipient it was delivered to')
    .option('--json', 'print the analysis as JSON')
    .action(async (file: string, o: { recipient?: string; json?: boolean }) => {
      const config = ctx.getConfig();
      const raw = file === '-' ? await readAll(io.stdin) : readFileOrFail(file);
      const a = analyseMessage(raw, { envelopeRecipient: o.recipient, keys: hmacKeysIfAny(config), bounceDomain: config.bounceDomain });
      ctx.out(o.json ? formatJson(a) : formatAnalysis(a));
    });
  program
    .command('demo')
    .description('run trxmail with a private Postfix instance and a capture directory (needs root and Postfix)')
    .action(async () => {
      const config = ctx.getConfig();
      const logger = createLogger(config.log.level);
      const demo = await startDemo(config, logger, (text) => io.stderr.write(text));
      await untilSignal(logger);
      await demo.stop();
      logger.info({}, 'stopped');
    });
  return { program, ctx };
}

/** Resolves on the first SIGTERM or SIGINT. */
function untilSignal(logger: { info(o: Record<string, unknown>, m: string): void }): Promise<void> {
  return new Promise((resolve) => {
    const stop = (signal: NodeJS.Signals): void => {
      process.off('SIGTERM', stop);
      process.off('SIGINT', stop);
      logger.info({ signal }, 'stopping: finishing transactions in flight');
      resolve();
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
  });
}

/** Debian's snakeoil pair (package ssl-cert): present on most Debian/Ubuntu systems. */
const DEFAULT_TLS_CERT = '/etc/ssl/certs/ssl-cert-snakeoil.pem';
const DEFAULT_TLS_KEY = '/etc/ssl/private/ssl-cert-snakeoil.key';
async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of stream) {
    const b = typeof c === 'string' ? Buffer.from(c) : (c);
    size += b.length;
    if (size > MAX_BOUNCE_BYTES * 2) throw new UsageError(`message larger than ${MAX_BOUNCE_BYTES * 2} bytes`);
    chunks.push(b);
  }
  return Buffer.concat(chunks);
}

function readFileOrFail(file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err: unknown) {
    throw new UsageError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

function loginArg(email: string): string {
  const e = email.trim();
  if (!/^[^\s@]+@[^\s@]+$/.test(e) || normaliseDomain(e.slice(e.lastIndexOf('@') + 1)) === null) {
    throw new UsageError(`not an e-mail address: "${email}"`);
  }
  return e;
}

/** Run one command line (argv without node and script). Resolves to the exit code. */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  const { program, ctx } = buildProgram(io);
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return EXIT_OK;
  } catch (err: unknown) {
    if (err instanceof CommanderError) {
      // Help and version end here with code 0; syntax errors were printed by commander.
      return err.exitCode === 0 ? EXIT_OK : EXIT_USAGE;
    }
    io.stderr.write(`trxmail: ${oneLine(err)}\n`);
    if (err instanceof TransientError) return EXIT_TEMPFAIL;
    if (err instanceof UsageError || err instanceof ConfigError || err instanceof TrxError) return EXIT_ERROR;
    return EXIT_ERROR;
  } finally {
    await ctx.close().catch(() => undefined);
  }
}

function oneLine(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  return msg.replace(/\s*[\r\n]+\s*/g, ' ').trim();
}
