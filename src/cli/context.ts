/**
 * What every `trxmail` command shares, defined once: the I/O streams (CliIo), the exit codes,
 * the lazily opened configuration and store, the space lookup, and the output formats (an
 * aligned table by default, `--json`, `--csv`; src/lib/table.ts renders them).
 *
 * Each module in src/cli/commands/ registers its commands on `ctx.program`; program.ts lists
 * the modules. Handlers throw; runCli (program.ts) turns the error into one line on stderr and
 * an exit code. Throws: ConfigError (bad trxmail.yaml), TransientError (store unavailable),
 * UsageError (unknown space; --json with --csv).
 */
import type { Readable, Writable } from 'node:stream';
import type { Command } from 'commander';
import { loadConfig, type Config } from '../config/config.js';
import { UsageError } from '../lib/errors.js';
import { formatCsv, formatJson, formatTable, type Column } from '../lib/table.js';
import { openStore } from '../store/open-store.js';
import type { Space, Store } from '../store/store.js';

export interface CliIo {
  readonly stdout: Writable;
  readonly stderr: Writable;
  readonly stdin: Readable & { isTTY?: boolean; setRawMode?: (raw: boolean) => unknown };
  readonly env: NodeJS.ProcessEnv;
  readonly cwd: string;
  /** The time now (default the system clock); tests inject one (`trxmail purge`). */
  readonly clock?: () => Date;
}

export const EXIT_OK = 0;
/** An operator or configuration error. */
export const EXIT_ERROR = 1;
/** Command-line syntax (commander's own errors). */
export const EXIT_USAGE = 2;
/** sysexits EX_TEMPFAIL: the store is unavailable, try again. */
export const EXIT_TEMPFAIL = 75;

/** Shared by the command handlers: lazily loaded config and store, output helpers. */
export class CliContext {
  private config: Config | null = null;
  private store: Store | null = null;
  /**
   * The exit code when the command returns without throwing: EXIT_OK unless the command says
   * otherwise (e.g. `domain check` → EXIT_ERROR for a domain that is not complete).
   */
  exitCode: number = EXIT_OK;
  constructor(
    readonly io: CliIo,
    /** The root command; command modules add theirs to it. */
    readonly program: Command,
  ) {}

  /** trxmail.yaml as chosen by --config, $TRXMAIL_CONFIG or ./trxmail.yaml (loaded once). */
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

  /** The space named `name`; UsageError when there is none. */
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

export type OutputFormat = 'table' | 'json' | 'csv';

/** The format --json / --csv ask for (neither: a table). */
export function outputFormat(opts: { json?: boolean; csv?: boolean }): OutputFormat {
  if (opts.json && opts.csv) throw new UsageError('choose one of --json and --csv');
  return opts.json ? 'json' : opts.csv ? 'csv' : 'table';
}

/** Rows as a table or CSV (through `columns`), or as a JSON array (through `json`). */
export function render<T>(fmt: OutputFormat, columns: readonly Column<T>[], rows: readonly T[], json: (r: T) => unknown): string {
  if (fmt === 'json') return formatJson(rows.map(json));
  if (fmt === 'csv') return formatCsv(columns, rows);
  return formatTable(columns, rows);
}

/** Adds --json and --csv to a listing command. */
export function withFormat(cmd: Command): Command {
  return cmd.option('--json', 'print JSON').option('--csv', 'print CSV');
}
