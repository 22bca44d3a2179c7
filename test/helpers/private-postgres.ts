/**
 * A PostgreSQL cluster of one test's own, so the test can really stop it (the shared server
 * on 127.0.0.1:5432, test/helpers/postgres.ts, must never be stopped): Debian's PostgreSQL 15
 * binaries, `initdb` into a temporary directory owned by the `postgres` OS user (the server
 * refuses to run as root), trust authentication, listening on 127.0.0.1 on a free port, its
 * unix socket in the temporary directory. fsync off: nothing here must survive a power cut.
 *
 *   stop('fast')       pg_ctl stop -m fast: sessions are terminated (57P01), then the server exits;
 *   stop('immediate')  pg_ctl stop -m immediate: every server process quits at once (crash recovery at the next start);
 *   start()            pg_ctl start, waits until it accepts connections;
 *   freeze() / thaw()  SIGSTOP / SIGCONT to the postmaster AND every backend (by pid): a server
 *                      that accepts TCP connections (the kernel does) and answers nothing.
 *   destroy()          stops it (immediate) and removes the directory; also run on process exit
 *                      and when start-up fails, so no cluster outlives its test.
 *
 * Needs root (runuser) and Debian's server binaries in /usr/lib/postgresql/<major>/bin (the newest
 * installed; .ci/run installs the postgresql package when there are none).
 */
import { execFile, execFileSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { freePorts } from './net.js';

const run = promisify(execFile);

/** Debian's newest installed server binaries (/usr/lib/postgresql/<major>/bin), or $TRXMAIL_TEST_PG_BIN. */
function debianPgBin(): string {
  const root = '/usr/lib/postgresql';
  const majors = existsSync(root) ? readdirSync(root).filter((v) => /^\d+$/.test(v) && existsSync(path.join(root, v, 'bin', 'initdb'))) : [];
  majors.sort((x, y) => Number(y) - Number(x));
  return path.join(root, majors[0] ?? '15', 'bin');
}

export const PG_BIN = process.env['TRXMAIL_TEST_PG_BIN'] ?? debianPgBin();

export interface PrivatePostgres {
  readonly port: number;
  /** postgres://postgres@127.0.0.1:<port>/postgres (trust). */
  readonly url: string;
  readonly dir: string;
  start(): Promise<void>;
  stop(mode: 'fast' | 'immediate'): Promise<void>;
  /** SIGSTOP to every process of the cluster; returns how many were stopped. */
  freeze(): number;
  thaw(): void;
  /** The last lines of the server's log (for a failure message). */
  logTail(lines?: number): string;
  destroy(): Promise<void>;
}

function asPostgres(args: string[]): Promise<{ stdout: string; stderr: string }> {
  return run('runuser', ['-u', 'postgres', '--', ...args], { timeout: 60_000 });
}

/** The pids of the postmaster and its children (backends, background workers), or [] when it is not running. */
function clusterPids(dataDir: string): number[] {
  const pidFile = path.join(dataDir, 'postmaster.pid');
  if (!existsSync(pidFile)) return [];
  const postmaster = Number(readFileSync(pidFile, 'utf8').split('\n')[0]);
  if (!Number.isInteger(postmaster) || postmaster <= 0) return [];
  let children: number[] = [];
  try {
    children = execFileSync('pgrep', ['-P', String(postmaster)], { encoding: 'utf8' })
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map(Number);
  } catch {
    // pgrep exits 1 when there is none
  }
  return [postmaster, ...children];
}

export async function startPrivatePostgres(): Promise<PrivatePostgres> {
  if (!existsSync(path.join(PG_BIN, 'initdb'))) throw new Error(`no PostgreSQL binaries in ${PG_BIN}: apt-get install postgresql`);
  const dir = mkdtempSync(path.join(tmpdir(), 'trx-pg-'));
  const ids = { uid: Number((await run('id', ['-u', 'postgres'])).stdout.trim()), gid: Number((await run('id', ['-g', 'postgres'])).stdout.trim()) };
  chownSync(dir, ids.uid, ids.gid);
  chmodSync(dir, 0o700);
  const dataDir = path.join(dir, 'data');
  const logFile = path.join(dir, 'server.log');
  const [port] = (await freePorts(1)) as [number];
  const options = [`-p ${port}`, `-k ${dir}`, '-c listen_addresses=127.0.0.1', '-c fsync=off', '-c full_page_writes=off'].join(' ');
  const pgCtl = (...args: string[]): Promise<unknown> => asPostgres([path.join(PG_BIN, 'pg_ctl'), '-D', dataDir, ...args]);
  let running = false;
  const stopNow = (): void => {
    // Synchronous: also runs from the process's exit handler.
    if (!running) return;
    try {
      execFileSync('runuser', ['-u', 'postgres', '--', path.join(PG_BIN, 'pg_ctl'), '-D', dataDir, '-m', 'immediate', '-w', 'stop'], { stdio: 'ignore', timeout: 30_000 });
    } catch {
      // already gone
    }
    running = false;
  };
  const onExit = (): void => {
    for (const pid of clusterPids(dataDir)) {
      try {
        process.kill(pid, 'SIGCONT');
      } catch {
        // gone
      }
    }
    stopNow();
    rmSync(dir, { recursive: true, force: true });
  };
  process.once('exit', onExit);

  const pg: PrivatePostgres = {
    port,
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    dir,
    async start() {
      running = true; // from the first try on: destroy() stops whatever got started
      await pgCtl('-l', logFile, '-o', options, '-w', '-t', '30', 'start');
    },
    async stop(mode) {
      await pgCtl('-m', mode, '-w', '-t', '30', 'stop');
      running = false;
    },
    freeze() {
      const pids = clusterPids(dataDir);
      for (const pid of pids) process.kill(pid, 'SIGSTOP');
      return pids.length;
    },
    thaw() {
      for (const pid of clusterPids(dataDir)) {
        try {
          process.kill(pid, 'SIGCONT');
        } catch {
          // a backend that ended meanwhile
        }
      }
    },
    logTail(lines = 20) {
      return existsSync(logFile) ? readFileSync(logFile, 'utf8').split('\n').slice(-lines).join('\n') : '';
    },
    async destroy() {
      process.removeListener('exit', onExit);
      pg.thaw();
      if (running) await pgCtl('-m', 'immediate', '-w', '-t', '30', 'stop').catch(() => undefined);
      running = false;
      rmSync(dir, { recursive: true, force: true });
    },
  };
  try {
    await asPostgres([path.join(PG_BIN, 'initdb'), '-D', dataDir, '-A', 'trust', '-U', 'postgres', '-E', 'UTF8', '--locale=C.UTF-8', '--no-sync']);
    await pg.start();
  } catch (err: unknown) {
    await pg.destroy();
    throw err;
  }
  return pg;
}
