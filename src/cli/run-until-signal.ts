/**
 * The life of a long-running command (`serve`, `demo`): start it with the configuration and a
 * logger at the configured level, wait for the first SIGTERM or SIGINT, stop it (letting work
 * in flight finish), log "stopped". Throws whatever starting or stopping throws.
 */
import type { Config } from '../config/config.js';
import { createLogger } from '../lib/logger.js';
import type { CliContext } from './context.js';

type CliLogger = ReturnType<typeof createLogger>;

/** Something running that can be stopped. */
export interface Stoppable {
  stop(): Promise<void>;
}

/** Resolves on the first SIGTERM or SIGINT. */
function untilSignal(logger: CliLogger): Promise<void> {
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

export async function runUntilSignal(ctx: CliContext, start: (config: Config, logger: CliLogger) => Promise<Stoppable>): Promise<void> {
  const config = ctx.getConfig();
  const logger = createLogger(config.log.level);
  const running = await start(config, logger);
  await untilSignal(logger);
  await running.stop();
  logger.info({}, 'stopped');
}
