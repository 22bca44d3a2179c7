/**
 * `trxmail serve`: the daemon — milter, policy, SASL, LMTP and HTTP listeners (src/server/
 * runtime.ts) until SIGTERM/SIGINT, then a graceful stop. Throws whatever start-up throws
 * (ConfigError, a listener that cannot bind).
 */
import { Runtime } from '../../server/runtime.js';
import type { CliContext } from '../context.js';
import { runUntilSignal } from '../run-until-signal.js';

export function registerServeCommand(ctx: CliContext): void {
  ctx.program
    .command('serve')
    .description('run the milter, policy and SASL listeners (stops on SIGTERM/SIGINT after in-flight work)')
    .action(() =>
      runUntilSignal(ctx, async (config, logger) => {
        const runtime = new Runtime(config, logger);
        await runtime.start();
        return runtime;
      }),
    );
}
