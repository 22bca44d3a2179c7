/**
 * The installed command runs from dist/ under plain Node, without tsx: build it and run it.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const root = path.resolve(import.meta.dirname, '..', '..');

describe('built trxmail command', () => {
  beforeAll(async () => {
    await run('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: root, timeout: 120_000 });
  }, 150_000);

  it('runs under plain node: creates a space and lists it as JSON', async () => {
    const cwd = mkdtempSync(path.join(tmpdir(), 'trx-dist-'));
    const bin = path.join(root, 'dist', 'cli', 'main.js');
    await run(process.execPath, [bin, 'space', 'add', 'acme'], { cwd });
    await run(process.execPath, [bin, 'domain', 'add', '--space', 'acme', 'bücher.example'], { cwd });
    const { stdout } = await run(process.execPath, [bin, 'space', 'list', '--json'], { cwd });
    expect(JSON.parse(stdout)).toMatchObject([{ name: 'acme', domains: ['xn--bcher-kva.example'] }]);
  });

  it('exits non-zero with one line on stderr for bad input', async () => {
    const cwd = mkdtempSync(path.join(tmpdir(), 'trx-dist-'));
    const bin = path.join(root, 'dist', 'cli', 'main.js');
    const err = await run(process.execPath, [bin, 'domain', 'list', '--space', 'nope'], { cwd }).then(
      () => null,
      (e: { code: number; stderr: string }) => e,
    );
    expect(err?.code).toBe(1);
    expect(err?.stderr).toBe('trxmail: no space named "nope" (see: trxmail space list)\n');
  });
});
