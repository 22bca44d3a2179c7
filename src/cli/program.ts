/**
 * The `trxmail` command line: administration of spaces, sender domains, users, per-from
 * defaults, the Unsubscribe and Bounce lists, webhooks, send reports, Postfix pieces, the
 * bounce intake, the store's schema and copy, the daemon and the demo. Each command group is a module in commands/ that
 * registers on the shared CliContext (context.ts); this file lists them and runs one line.
 *
 * `runCli(argv, io)` runs one command in-process and resolves to the exit code; only
 * src/cli/main.ts turns that into the process's exit status. Every error ends in ONE line on
 * stderr:
 *   trxmail: <what is wrong>
 * with exit code 1 (operator or configuration error), 2 (command-line syntax) or 75
 * (temporary: store unavailable — try again). A command that ran may still set a non-zero
 * code through ctx.exitCode (a check that found something missing). Never throws.
 */
import { Command, CommanderError } from 'commander';
import { TransientError } from '../lib/errors.js';
import { registerBounceCommands } from './commands/bounce.js';
import { registerDemoCommand } from './commands/demo.js';
import { registerDomainCommands } from './commands/domain.js';
import { registerFromCommands } from './commands/from.js';
import { registerListCommands } from './commands/lists.js';
import { registerPostfixCheckCommand, registerPostfixConfigCommand } from './commands/postfix.js';
import { registerPurgeCommand } from './commands/purge.js';
import { registerReportCommand } from './commands/report.js';
import { registerSendCommands } from './commands/sends.js';
import { registerServeCommand } from './commands/serve.js';
import { registerSpaceCommands } from './commands/space.js';
import { registerStoreCommands } from './commands/store.js';
import { registerUserCommands } from './commands/user.js';
import { registerWebhookCommands } from './commands/webhook.js';
import { CliContext, EXIT_ERROR, EXIT_OK, EXIT_TEMPFAIL, EXIT_USAGE, type CliIo } from './context.js';

/** The command groups, in the order `trxmail --help` lists them. */
const COMMAND_GROUPS: readonly ((ctx: CliContext) => void)[] = [
  registerSpaceCommands,
  registerDomainCommands,
  registerUserCommands,
  registerFromCommands,
  registerListCommands,
  registerSendCommands,
  registerReportCommand,
  registerPurgeCommand,
  registerWebhookCommands,
  registerPostfixCheckCommand,
  registerServeCommand,
  registerPostfixConfigCommand,
  registerBounceCommands,
  registerStoreCommands,
  registerDemoCommand,
];

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
  for (const register of COMMAND_GROUPS) register(ctx);
  return { program, ctx };
}

/** Run one command line (argv without node and script). Resolves to the exit code. */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  const { program, ctx } = buildProgram(io);
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return ctx.exitCode;
  } catch (err: unknown) {
    if (err instanceof CommanderError) {
      // Help and version end here with code 0; syntax errors were printed by commander.
      return err.exitCode === 0 ? EXIT_OK : EXIT_USAGE;
    }
    io.stderr.write(`trxmail: ${oneLine(err)}\n`);
    // UsageError, ConfigError and anything unexpected alike: the operator reads the line.
    return err instanceof TransientError ? EXIT_TEMPFAIL : EXIT_ERROR;
  } finally {
    await ctx.close().catch(() => undefined);
  }
}

function oneLine(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  return msg.replace(/\s*[\r\n]+\s*/g, ' ').trim();
}
