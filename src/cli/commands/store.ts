/**
 * `trxmail store migrate` (and `store copy`, store-copy.ts): migrate brings the configured store's schema to this version of trxmail
 * and says what it did, for admins who migrate before rolling a new version out to several
 * nodes (`serve` migrates at start too; on PostgreSQL, under an advisory lock, so nodes
 * starting together migrate once). Works for both drivers.
 *
 * Output: `store (postgres): schema migrated from version 0 to 1` or
 * `store (sqlite): schema at version 5, nothing to do`.
 *
 * Throws: ConfigError (bad configuration, a schema newer than this trxmail or not trxmail's:
 * exit 1), TransientError (database unreachable: exit 75); runCli prints one line.
 */
import { openMigratedStore } from '../../store/open-store.js';
import type { CliContext } from '../context.js';
import { registerStoreCopyCommand } from './store-copy.js';

export function registerStoreCommands(ctx: CliContext): void {
  const store = ctx.program.command('store').description('the database: migrate its schema, copy it to PostgreSQL');
  store
    .command('migrate')
    .description("bring the configured store's schema to this trxmail's version (serve does it at start too)")
    .action(async () => {
      const cfg = ctx.getConfig().store;
      const { store: opened, migrated } = await openMigratedStore(cfg);
      await opened.close();
      ctx.out(
        migrated.from === migrated.to
          ? `store (${cfg.driver}): schema at version ${migrated.to}, nothing to do\n`
          : `store (${cfg.driver}): schema migrated from version ${migrated.from} to ${migrated.to}\n`,
      );
    });
  registerStoreCopyCommand(ctx, store);
}
