/**
 * The one way a command names the space it acts on: `--space NAME` (`-s NAME`), as `report`,
 * `sends list`, `user add` and `webhook queue` always did.
 *
 * The older form — the space as the first positional argument (`domain add SPACE DOMAIN…`,
 * `bounces list SPACE`) — is kept as an alias for one release: without `--space`, the first
 * positional argument is taken as the space, the command runs as before and one line on
 * stderr names the new form. With `--space`, every positional argument is the command's own.
 * Too few or too many positional arguments are command-line syntax errors (exit 2).
 */
import type { Command } from 'commander';
import type { CliContext } from './context.js';

/** The positional arguments a command takes besides the space: at least `min`, at most `max`. */
export interface Arity {
  readonly min: number;
  readonly max: number;
}

/**
 * Adds `-s, --space <name>` to `cmd` and runs `run(space, args, opts)` with the space from
 * the option or, deprecated, from the first positional argument. `cmd` declares its
 * positional arguments without the space (they show in --help as the new form).
 */
export function spaceAction<O extends object>(
  ctx: CliContext,
  cmd: Command,
  arity: Arity,
  run: (space: string, args: string[], opts: O) => Promise<void>,
): Command {
  return cmd
    .option('-s, --space <name>', 'the space (required)')
    .allowExcessArguments(true)
    .action(async (...params: unknown[]) => {
      const command = params[params.length - 1] as Command;
      const opts = command.opts<O & { space?: string }>();
      let positional = [...command.args];
      let space = opts.space;
      if (space === undefined) {
        const legacy = positional[0];
        if (legacy === undefined || positional.length - 1 < arity.min) {
          command.error(`trxmail: ${commandPath(command)}: --space NAME is required`, { exitCode: 2, code: 'trxmail.missingSpace' });
          return;
        }
        space = legacy;
        positional = positional.slice(1);
        ctx.io.stderr.write(
          `trxmail: notice: "${commandPath(command)} SPACE …" is deprecated and goes in the next release; use "${commandPath(command)} --space SPACE …"\n`,
        );
      }
      if (positional.length > arity.max) {
        command.error(`trxmail: ${commandPath(command)}: too many arguments (${positional.join(' ')})`, { exitCode: 2, code: 'trxmail.excessArguments' });
      }
      await run(space, positional, opts);
    });
}

/** `domain dkim rotate`: the command's names from below the program down to it. */
function commandPath(cmd: Command): string {
  const names: string[] = [];
  for (let c: Command | null = cmd; c?.parent; c = c.parent) names.unshift(c.name());
  return names.join(' ');
}
