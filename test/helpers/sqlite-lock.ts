/**
 * Another process holding a SQLite database's write lock, as an operator's `sqlite3` shell
 * inside a transaction (or a backup tool) would: a child Node process opens the file with
 * better-sqlite3 and runs BEGIN IMMEDIATE; release() rolls back and waits for it to exit.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';

const HOLDER = [
  "const D = require('better-sqlite3');",
  'const db = new D(process.argv[1]);',
  "db.exec('BEGIN IMMEDIATE');",
  "process.stdout.write('locked\\n');",
  "process.stdin.on('end', () => { db.exec('ROLLBACK'); db.close(); process.exit(0); });",
  'process.stdin.resume();',
].join('\n');

export interface HeldLock {
  /** Lets the lock go and waits until the holder has exited. */
  release(): Promise<void>;
}

/** Resolves once the other process holds the write lock of the database at `dbPath`. */
export async function holdSqliteWriteLock(dbPath: string): Promise<HeldLock> {
  const child = spawn(process.execPath, ['-e', HOLDER, dbPath], { cwd: process.cwd(), stdio: ['pipe', 'pipe', 'inherit'] });
  const exited = once(child, 'exit');
  const lines = createInterface({ input: child.stdout });
  await new Promise<void>((resolve, reject) => {
    lines.on('line', (l) => l === 'locked' && resolve());
    child.on('exit', (code) => reject(new Error(`lock holder exited (${String(code)}) before taking the lock`)));
  });
  return {
    async release() {
      child.stdin.end();
      await exited;
    },
  };
}
