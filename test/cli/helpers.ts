/**
 * The one in-process runner of the CLI for tests: the real runCli (src/cli/program.ts) with
 * captured stdout/stderr, a given stdin, an empty environment and a chosen working directory.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { runCli } from '../../src/cli/program.js';

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** A fresh working directory; with no trxmail.yaml the data dir is <dir>/trxmail-data. */
export function tempWorkDir(): string {
  return mkdtempSync(path.join(tmpdir(), 'trx-cli-'));
}

/** Run the CLI in-process with captured output and the given standard input. */
export async function cli(cwd: string, argv: string[], stdin = ''): Promise<CliResult> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  stdout.on('data', (c: Buffer) => out.push(c));
  stderr.on('data', (c: Buffer) => err.push(c));
  const code = await runCli(argv, { stdout, stderr, stdin: Readable.from([Buffer.from(stdin)]), env: {}, cwd });
  return { code, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() };
}
