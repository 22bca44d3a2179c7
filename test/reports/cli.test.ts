/**
 * `trxmail report` through the real runCli over the seeded store (seed.ts): table, CSV and
 * JSON, the same filters as `sends list`, errors as one line with runCli's exit codes.
 * Also: `sends list --csv` carries the id, the tags and the To recipient's final state.
 */
import { rmSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore } from '../../src/store/open-store.js';
import { cli, tempWorkDir, type CliResult } from '../cli/helpers.js';
import { seedReports } from './seed.js';

let cwd: string;

function report(argv: string[]): Promise<CliResult> {
  return cli(cwd, ['report', ...argv]);
}

beforeAll(async () => {
  cwd = tempWorkDir();
  const store = await openStore({ driver: 'sqlite', path: path.join(cwd, 'trxmail-data', 'trxmail.db') });
  try {
    await seedReports(store);
  } finally {
    await store.close();
  }
});
afterAll(() => {
  rmSync(cwd, { recursive: true, force: true });
});

describe('trxmail report', () => {
  it('table by day: a row per day then the total (hand counts in report.test.ts)', async () => {
    const r = await report(['--space', 'alpha', '--since', '2026-03-01', '--until', '2026-03-03', '--by', 'day']);
    expect(r.stderr).toBe('');
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]?.split(/\s+/)).toEqual([
      'DAY', 'SENDS', 'DELIVERED', 'DEFERRED', 'BOUNCED_HARD', 'BOUNCED_SOFT', 'BLOCKED', 'SUPPRESSED_BOUNCE', 'SUPPRESSED_UNSUB',
      'OPENED', 'OPENS', 'OPENS_MACHINE', 'CLICKED', 'CLICKS', 'CLICKS_MACHINE', 'COMPLAINED',
    ]);
    expect(lines.slice(1).map((l) => l.split(/\s+/))).toEqual([
      ['2026-03-01', '3', '1', '0', '1', '0', '0', '0', '1', '1', '4', '3', '1', '1', '7', '1'],
      ['2026-03-02', '3', '0', '1', '0', '1', '0', '1', '1', '0', '0', '2', '0', '0', '0', '0'],
      ['2026-03-03', '3', '2', '0', '0', '2', '0', '0', '0', '3', '2', '0', '1', '3', '2', '1'],
      ['total', '9', '3', '1', '1', '3', '0', '1', '2', '4', '6', '5', '2', '4', '9', '2'],
    ]);
  });

  it('CSV by tag: untagged row, total last', async () => {
    const r = await report(['--space', 'alpha', '--since', '2026-03-01', '--until', '2026-03-04T00:00:00Z', '--by', 'tag', '--csv']);
    const lines = r.stdout.split('\r\n');
    expect(lines[0]).toBe(
      'TAG,SENDS,DELIVERED,DEFERRED,BOUNCED_HARD,BOUNCED_SOFT,BLOCKED,SUPPRESSED_BOUNCE,SUPPRESSED_UNSUB,OPENED,OPENS,OPENS_MACHINE,CLICKED,CLICKS,CLICKS_MACHINE,COMPLAINED',
    );
    expect(lines.slice(1, -1)).toEqual([
      'promo,4,2,0,1,1,0,0,1,2,4,3,2,4,9,2',
      'spring,4,3,1,0,3,0,0,0,3,5,5,2,4,9,2',
      'vip,2,1,0,0,1,0,0,0,2,1,0,1,3,2,1',
      '(no tag),2,0,0,0,0,0,1,1,0,0,0,0,0,0,0',
      'total,9,3,1,1,3,0,1,2,4,6,5,2,4,9,2',
    ]);
  });

  it('JSON with from (case-insensitive) and two tags', async () => {
    const r = await report(['--space', 'alpha', '--from', 'NEWS@shop.example', '--tag', 'promo', '--tag', 'spring', '--json']);
    expect(JSON.parse(r.stdout)).toEqual([
      {
        group: 'total', key: null, sends: 2, delivered: 2, deferred: 0, bouncedHard: 0, bouncedSoft: 1, blocked: 0, suppressedBounce: 0,
        suppressedUnsubscribe: 0, openedUnique: 2, openedTotal: 4, openedMachine: 3, clickedUnique: 2, clickedTotal: 4,
        clickedMachine: 9, complained: 2,
      },
    ]);
  });

  it('by from, another space', async () => {
    const r = await report(['--space', 'beta', '--by', 'from', '--json']);
    expect((JSON.parse(r.stdout) as { key: string | null; sends: number }[]).map((x) => [x.key, x.sends])).toEqual([
      ['news@shop.example', 2],
      [null, 2],
    ]);
  });

  it('refuses bad options with one line', async () => {
    const bad: [string[], RegExp][] = [
      [['--space', 'nope'], /^trxmail: no space named "nope"/],
      [['--space', 'alpha', '--since', '2026-13-01'], /^trxmail: --since: expected a date/],
      [['--space', 'alpha', '--since', '2026-03-02', '--until', '2026-03-01'], /^trxmail: --since must be before --until/],
      [['--space', 'alpha', '--json', '--csv'], /^trxmail: choose one of --json and --csv/],
      [['--space', 'alpha', '--by', 'week'], /^trxmail: --by: expected one of day, from, tag, reason, domain, got "week"/],
    ];
    for (const [argv, message] of bad) {
      const r = await report(argv);
      expect(r.code, argv.join(' ')).toBe(1);
      expect(r.stderr).toMatch(message);
    }
    expect((await report([])).code).toBe(2); // --space is required
  });
});

describe('sends list --csv (per-send export)', () => {
  it("carries the 250 reply's id, the tags and the To recipient's final state", async () => {
    const r = await cli(cwd, ['sends', 'list', '--space', 'alpha', '--csv']);
    const [header, ...rows] = r.stdout.trimEnd().split('\r\n');
    const cols = header!.split(',');
    const at = (name: string): number => cols.indexOf(name);
    const byId = new Map(rows.map((l) => l.split(',')).map((c) => [c[at('ID')], c]));
    expect(byId.size).toBe(11);
    expect(byId.get('a4')?.[at('TO_STATE')]).toBe('suppressed:bounce');
    expect(byId.get('a10')?.[at('TO_STATE')]).toBe('suppressed:unsubscribe');
    expect(byId.get('a2')?.[at('TO_STATE')]).toBe('bounced');
    expect(byId.get('a3')?.[at('TO_STATE')]).toBe('deferred');
    expect(byId.get('a6')?.[at('BCC_STATE')]).toBe('bounced');
    expect(byId.get('a8')?.[at('TAGS')]).toBe('vip');
  });
});
