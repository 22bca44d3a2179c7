/**
 * `trxmail purge`: with the configured retention or --before, per space or all, --dry-run,
 * JSON; the report of the purged days is what it was; one-line errors with exit 1. The CLI runs
 * in-process (runCli) with an injected clock on a real SQLite file.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { beforeEach, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/program.js';
import { openStore } from '../../src/store/open-store.js';
import { tempWorkDir, type CliResult } from './helpers.js';

const NOW = new Date('2026-03-31T10:00:00Z');
const daysAgo = (d: number): Date => new Date(NOW.getTime() - d * 86_400_000);

async function run(cwd: string, argv: string[]): Promise<CliResult> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  stdout.on('data', (c: Buffer) => out.push(c));
  stderr.on('data', (c: Buffer) => err.push(c));
  const code = await runCli(argv, { stdout, stderr, stdin: Readable.from([]), env: {}, cwd, clock: () => NOW });
  return { code, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() };
}

let cwd: string;

async function seed(dir: string): Promise<void> {
  const store = await openStore({ driver: 'sqlite', path: path.join(dir, 'data', 'trxmail.db') });
  try {
    for (const name of ['alpha', 'beta']) {
      const space = await store.createSpace({ name });
      const user = await store.createUser({ spaceId: space.id, email: `u@${name}.example`, passwordHash: 'scrypt$x' });
      for (const [i, d] of [40, 35, 31, 20, 1].entries()) {
        const id = `${name}-${i}`;
        await store.recordSend({
          id, spaceId: space.id, userId: user.id, mailFrom: `news@${name}.example`, envelopeSender: `trx-${id}@b.example`,
          from: `news@${name}.example`, to: `r${i}@example.net`, bcc: null, discarded: [], tags: i % 2 === 0 ? ['t'] : [], flags: 3,
          flagsSource: 'default', receivedAt: daysAgo(d), recipients: [{ address: `r${i}@example.net`, role: 'to', status: 'queued', suppressedBy: null, detail: null }],
        });
        await store.addEvent({ sendId: id, recipient: `r${i}@example.net`, type: 'opened', at: daysAgo(d), detail: {} });
        if (i === 0) await store.updateRecipientStatus(id, `r${i}@example.net`, 'delivered', '250 ok');
      }
    }
  } finally {
    await store.close();
  }
}

function config(dir: string, retention: string): void {
  writeFileSync(path.join(dir, 'trxmail.yaml'), `dataDir: data\nlog:\n  level: silent\n${retention}`);
}

beforeEach(async () => {
  cwd = tempWorkDir();
  config(cwd, 'retention:\n  sendsDays: 30\n');
  await seed(cwd);
});

describe('trxmail purge', () => {
  it('--dry-run counts what the configured retention would purge and changes nothing', async () => {
    const r = await run(cwd, ['purge', '--dry-run']);
    expect(r).toEqual({ code: 0, stdout: 'would purge 6 sends (6 events) received before 2026-03-01 (days 2026-02-19 to 2026-02-28); nothing changed\n', stderr: '' });
    const j = await run(cwd, ['purge', '--dry-run', '--json', '--space', 'beta']);
    expect(JSON.parse(j.stdout)).toEqual({ dryRun: true, before: '2026-03-01', sends: 3, events: 3, firstDay: '2026-02-19', lastDay: '2026-02-28' });
    expect((await run(cwd, ['purge', '--dry-run'])).stdout).toMatch(/^would purge 6 sends/);
  });

  it('purges sends older than retention.sendsDays; the report by day is the same as before', async () => {
    const report = async (): Promise<string> => (await run(cwd, ['report', '--space', 'alpha', '--by', 'day', '--json'])).stdout;
    const before = await report();
    const r = await run(cwd, ['purge']);
    expect(r).toEqual({ code: 0, stdout: 'purged 6 sends (6 events) received before 2026-03-01: 6 daily aggregate rows written, in 1 batches\n', stderr: '' });
    expect(await report()).toEqual(before);
    expect(JSON.parse((await run(cwd, ['sends', 'list', '--space', 'alpha', '--json'])).stdout).map((s: { id: string }) => s.id)).toEqual(['alpha-4', 'alpha-3']);
    expect(JSON.parse((await run(cwd, ['purge', '--json'])).stdout)).toEqual({ before: '2026-03-01', sends: 0, events: 0, aggregateRows: 0, batches: 1, webhookDeliveries: null });
  });

  it('--before and --space: that space only, up to that day', async () => {
    const r = await run(cwd, ['purge', '--before', '2026-02-25', '--space', 'beta']);
    expect(r.stdout).toBe('purged 2 sends (2 events) received before 2026-02-25: 2 daily aggregate rows written, in 1 batches\n');
    expect(JSON.parse((await run(cwd, ['sends', 'list', '--space', 'beta', '--json'])).stdout)).toHaveLength(3);
    expect(JSON.parse((await run(cwd, ['sends', 'list', '--space', 'alpha', '--json'])).stdout)).toHaveLength(5);
  });

  it('also purges finished webhook deliveries when retention.webhookDays is set', async () => {
    config(cwd, 'retention:\n  sendsDays: 30\n  webhookDays: 7\n');
    expect((await run(cwd, ['purge'])).stdout).toMatch(/\npurged 0 finished webhook deliveries done before 2026-03-24\n$/);
    expect((await run(cwd, ['purge', '--dry-run'])).stdout).toMatch(/\nwould purge finished webhook deliveries done before 2026-03-24\n$/);
  });

  it.each([
    [['purge', '--before', '2026-03-25'], /^trxmail: --before: at most 2026-03-24 \(the last 7 days are always kept\), got 2026-03-25\n$/],
    [['purge', '--before', '2026-02-30'], /^trxmail: --before: expected a date YYYY-MM-DD \(whole UTC days are purged\), got "2026-02-30"\n$/],
    [['purge', '--before', '2026-02-01T00:00Z'], /^trxmail: --before: expected a date YYYY-MM-DD/],
    [['purge', '--space', 'nosuch'], /^trxmail: no space named "nosuch"/],
  ])('%j fails with one line and exit 1', async (argv, re) => {
    const r = await run(cwd, argv);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(re);
    expect(r.stdout).toBe('');
  });

  it('without a retention and without --before there is nothing to purge: one line naming the key', async () => {
    config(cwd, '');
    const r = await run(cwd, ['purge']);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`trxmail: nothing to purge: retention.sendsDays is 0 (keep forever) in ${path.join(cwd, 'trxmail.yaml')}; give --before YYYY-MM-DD\n`);
    expect((await run(cwd, ['purge', '--before', '2026-03-24'])).stdout).toMatch(/^purged 8 sends/);
  });
});
