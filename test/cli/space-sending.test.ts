/**
 * `trxmail space set --limit`, `space pause|resume` and the limits, usage and pause in
 * `space list` (issue 16 items 1–2), on a real SQLite store.
 */
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { openStore } from '../../src/store/open-store.js';
import { cli, tempWorkDir } from './helpers.js';

describe('trxmail space: sending limits and pause', () => {
  let cwd: string;
  beforeAll(async () => {
    cwd = tempWorkDir();
    expect((await cli(cwd, ['space', 'add', 'acme'])).code).toBe(0);
  });

  it('sets limits per window, removes one with "none", and shows them with the usage', async () => {
    expect(await cli(cwd, ['space', 'set', 'acme', '--limit', 'minute=100', '--limit', 'day=5000'])).toMatchObject({
      code: 0,
      stdout: 'space acme: sending limits 100/minute, 5000/day\n',
    });
    expect((await cli(cwd, ['space', 'set', 'acme', '--limit', 'day=none'])).stdout).toBe('space acme: sending limits 100/minute\n');
    const store = await openStore({ driver: 'sqlite', path: path.join(cwd, 'trxmail-data', 'trxmail.db') });
    try {
      const space = await store.getSpaceByName('acme');
      expect((await store.reserveSending(space!.id, 2, new Date())).admitted).toBe(true);
    } finally {
      await store.close();
    }
    const [row] = JSON.parse((await cli(cwd, ['space', 'list', '--json'])).stdout);
    expect(row).toMatchObject({ limits: { minute: 100, hour: null, day: null }, paused: null });
    expect(row.usage.day).toBe(2);
    expect((await cli(cwd, ['space', 'list'])).stdout).toMatch(/\b\d\/100 per minute, 2\/- per hour, 2\/- per day\b/);
  });

  it('refuses a bad --limit with one line naming the option', async () => {
    for (const bad of ['week=5', 'minute=-1', 'minute=', 'minute=1.5']) {
      const r = await cli(cwd, ['space', 'set', 'acme', '--limit', bad]);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/^trxmail: --limit: expected minute=N, hour=N or day=N .*\n$/);
    }
  });

  it('pauses with a reason, shows it, and resumes', async () => {
    expect((await cli(cwd, ['space', 'pause', 'acme'])).code).not.toBe(0);
    expect((await cli(cwd, ['space', 'pause', 'acme', '--reason', 'invoice overdue'])).stdout).toBe('space acme paused\n');
    expect((await cli(cwd, ['space', 'pause', 'acme', '--reason', 'again'])).stdout).toBe('space acme was paused already\n');
    const [row] = JSON.parse((await cli(cwd, ['space', 'list', '--json'])).stdout);
    expect(row.paused).toMatchObject({ reason: 'invoice overdue', auto: false });
    expect((await cli(cwd, ['space', 'list'])).stdout).toMatch(/operator since \S+: invoice overdue/);
    expect((await cli(cwd, ['space', 'resume', 'acme'])).stdout).toBe('space acme resumed\n');
    expect((await cli(cwd, ['space', 'resume', 'acme'])).stdout).toBe('space acme was not paused\n');
    expect(JSON.parse((await cli(cwd, ['space', 'list', '--json'])).stdout)[0].paused).toBeNull();
  });
});
