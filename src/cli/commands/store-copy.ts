/**
 * `trxmail store copy --from sqlite:PATH [--to postgres://…] [--replace]`: copies a SQLite
 * store (spaces, users, domains and their DKIM keys and checks, lists, sends with recipients,
 * tags and events, webhooks and the outbox, delivery cursors) into PostgreSQL, in one
 * transaction, and prints the rows per table, read and written (checked equal). Without
 * --to, the configured store (store.driver postgres) is the target. A target holding any row
 * is refused unless --replace (which empties it first). Stop trxmail on the source first: the
 * copy is of the file as it is at the start.
 *
 * Throws: UsageError (bad --from/--to, target not empty: exit 1), ConfigError (exit 1),
 * TransientError (target unreachable: exit 75), InvariantError (counts differ: exit 1).
 */
import path from 'node:path';
import type { Command } from 'commander';
import { DEFAULT_PG_CONNECT_TIMEOUT_MS, isPostgresUrl } from '../../config/config.js';
import { UsageError } from '../../lib/errors.js';
import { formatTable } from '../../lib/table.js';
import { copySqliteToPostgres, type CopiedTable } from '../../store/copy-to-postgres.js';
import type { CliContext } from '../context.js';

/** statement_timeout of the copy's statements (ms): a batch, a TRUNCATE waiting for a lock. */
export const COPY_STATEMENT_TIMEOUT_MS = 300_000;

export function registerStoreCopyCommand(ctx: CliContext, store: Command): void {
  store
    .command('copy')
    .description('copy a SQLite store into PostgreSQL (one transaction; row counts checked per table)')
    .requiredOption('--from <sqlite:PATH>', 'the SQLite database file, as sqlite:PATH')
    .option('--to <url>', 'postgres://… (default: the configured store, with store.driver postgres)')
    .option('--replace', 'empty a target that holds rows first')
    .action(async (opts: { from: string; to?: string; replace?: boolean }) => {
      if (!opts.from.startsWith('sqlite:') || opts.from.length === 'sqlite:'.length) throw new UsageError('--from: expected sqlite:PATH');
      const from = path.resolve(ctx.io.cwd, opts.from.slice('sqlite:'.length));
      let url = opts.to;
      let connectTimeoutMs = DEFAULT_PG_CONNECT_TIMEOUT_MS;
      if (url === undefined) {
        const cfg = ctx.getConfig().store;
        if (cfg.driver !== 'postgres') throw new UsageError('--to: give a postgres:// URL (the configured store is not PostgreSQL)');
        url = cfg.url;
        connectTimeoutMs = cfg.connectTimeoutMs;
      } else if (!isPostgresUrl(url)) {
        // Never echo the URL: it may hold a password.
        throw new UsageError('--to: expected postgres://[user[:password]@]host[:port][,host2…]/database[?…]');
      }
      const copied = await copySqliteToPostgres(
        from,
        { url, poolSize: 1, statementTimeoutMs: COPY_STATEMENT_TIMEOUT_MS, connectTimeoutMs },
        { replace: opts.replace === true },
      );
      const columns = [
        { header: 'TABLE', value: (r: CopiedTable) => r.table },
        { header: 'READ', value: (r: CopiedTable) => String(r.source) },
        { header: 'WRITTEN', value: (r: CopiedTable) => String(r.target) },
      ];
      const total = copied.reduce((n, r) => n + r.target, 0);
      ctx.out(`${formatTable(columns, copied)}copied ${total} rows in ${copied.length} tables\n`);
    });
}
