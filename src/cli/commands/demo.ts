/**
 * `trxmail demo`: trxmail with a private Postfix instance and a capture directory
 * (src/server/demo.ts; needs root and Postfix) until SIGTERM/SIGINT. What to try is printed
 * on stderr. Throws whatever start-up throws.
 */
import { startDemo } from '../../server/demo.js';
import type { CliContext } from '../context.js';
import { runUntilSignal } from '../run-until-signal.js';

export function registerDemoCommand(ctx: CliContext): void {
  ctx.program
    .command('demo')
    .description('run trxmail with a private Postfix instance and a capture directory (needs root and Postfix)')
    .action(() => runUntilSignal(ctx, (config, logger) => startDemo(config, logger, (text) => ctx.io.stderr.write(text))));
}
