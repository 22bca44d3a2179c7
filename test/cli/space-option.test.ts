/**
 * One convention for naming the space (issue 12 item 7): `--space NAME` on every command that
 * acts on one space; the old positional form still works for one release and prints one
 * notice line on stderr; `serve --help` lists everything `serve` runs.
 *
 * On old main: `domain list --space acme` and friends were refused (the space was positional),
 * the command tree had `<space>` arguments, and `serve --help` named only three listeners.
 */
import { PassThrough, Readable } from 'node:stream';
import type { Command } from 'commander';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildProgram } from '../../src/cli/program.js';
import { loadConfig } from '../../src/config/config.js';
import { cli, tempWorkDir } from './helpers.js';

/** Every command of the real program, with its path (`domain dkim rotate`). */
function allCommands(): Array<{ path: string; cmd: Command }> {
  const { program } = buildProgram({ stdout: new PassThrough(), stderr: new PassThrough(), stdin: Readable.from([]), env: {}, cwd: '/' });
  const out: Array<{ path: string; cmd: Command }> = [];
  const walk = (c: Command, prefix: string): void => {
    for (const sub of c.commands) {
      const p = prefix === '' ? sub.name() : `${prefix} ${sub.name()}`;
      out.push({ path: p, cmd: sub });
      walk(sub, p);
    }
  };
  walk(program, '');
  return out;
}

describe('the command tree', () => {
  it('no command takes the space as a positional argument; the space is --space wherever a space is named', () => {
    const commands = allCommands();
    expect(commands.length).toBeGreaterThan(30);
    for (const { path, cmd } of commands) {
      const args = cmd.registeredArguments.map((a) => a.name());
      // `space add NAME` / `space set NAME` name the space they create or change: that is their object.
      if (path.startsWith('space ')) continue;
      expect(args, path).not.toContain('space');
      const spaceOption = cmd.options.find((o) => o.attributeName() === 'space');
      if (spaceOption) expect(spaceOption.flags, path).toBe('-s, --space <name>');
    }
    const withSpace = commands.filter(({ cmd }) => cmd.options.some((o) => o.attributeName() === 'space')).map((c) => c.path);
    for (const p of [
      'domain add', 'domain remove', 'domain list', 'domain dns', 'domain set', 'domain check', 'domain dkim rotate',
      'user add', 'user list', 'from set', 'from list', 'unsubscribe add', 'unsubscribe remove', 'unsubscribe list',
      'bounces add', 'bounces remove', 'bounces list', 'sends list', 'report', 'webhook set', 'webhook remove', 'webhook queue',
    ]) {
      expect(withSpace, p).toContain(p);
    }
  });
});

describe('--space NAME, and the positional form kept for one release', () => {
  let cwd: string;
  beforeAll(async () => {
    cwd = tempWorkDir();
    expect((await cli(cwd, ['space', 'add', 'acme'])).code).toBe(0);
  });

  it('the same command both ways: the same output; the old form adds one notice line on stderr', async () => {
    const added = await cli(cwd, ['bounces', 'add', '--space', 'acme', 'a@x.example', '--reason', 'test']);
    expect(added).toEqual({ code: 0, stdout: 'a@x.example added to the bounce list of acme\n', stderr: '' });
    const legacyAdd = await cli(cwd, ['bounces', 'add', 'acme', 'b@x.example']);
    expect(legacyAdd.stdout).toBe('b@x.example added to the bounce list of acme\n');
    expect(legacyAdd.stderr).toBe(
      'trxmail: notice: "bounces add SPACE …" is deprecated and goes in the next release; use "bounces add --space SPACE …"\n',
    );
    const now = await cli(cwd, ['bounces', 'list', '--space', 'acme', '--json']);
    const old = await cli(cwd, ['bounces', 'list', 'acme', '--json']);
    expect(now.stderr).toBe('');
    expect(old.stdout).toBe(now.stdout);
    expect(old.stderr.split('\n')).toHaveLength(2); // one line
    expect((JSON.parse(now.stdout) as Array<{ address: string }>).map((r) => r.address).sort()).toEqual(['a@x.example', 'b@x.example']);
    // -s, and the option anywhere on the line
    expect(await cli(cwd, ['from', 'set', '-s', 'acme', 'news@acme.example', '5'])).toMatchObject({ code: 0, stderr: '' });
    expect(await cli(cwd, ['from', 'list', '--json', '--space', 'acme'])).toMatchObject({ code: 0, stderr: '' });
    const legacyFrom = await cli(cwd, ['from', 'list', 'acme']);
    expect(legacyFrom).toMatchObject({ code: 0, stdout: expect.stringContaining('news@acme.example') });
    expect(legacyFrom.stderr).toContain('use "from list --space SPACE …"');
  });

  it('without --space and without the old positional space: exit 2, one line; too many arguments: exit 2', async () => {
    const missing = await cli(cwd, ['domain', 'list']);
    expect(missing.code).toBe(2);
    expect(missing.stdout).toBe('');
    expect(missing.stderr.split('\n')[0]).toBe('trxmail: domain list: --space NAME is required');
    const missingArg = await cli(cwd, ['bounces', 'remove', 'a@x.example']);
    expect(missingArg.code).toBe(2);
    expect(missingArg.stderr.split('\n')[0]).toBe('trxmail: bounces remove: --space NAME is required');
    const tooMany = await cli(cwd, ['bounces', 'remove', '--space', 'acme', 'a@x.example', 'b@x.example']);
    expect(tooMany.code).toBe(2);
    expect(tooMany.stderr.split('\n')[0]).toBe('trxmail: bounces remove: too many arguments (a@x.example b@x.example)');
    // nothing was removed
    expect(JSON.parse((await cli(cwd, ['bounces', 'list', '--space', 'acme', '--json'])).stdout)).toHaveLength(2);
  });
});

describe('serve --help', () => {
  it('lists every listener of the configuration and every background task serve runs', async () => {
    const r = await cli(tempWorkDir(), ['serve', '--help']);
    expect(r.code).toBe(0);
    const config = loadConfig({ configPath: undefined, env: {}, cwd: tempWorkDir() });
    const keys = [...Object.keys(config.listen).filter((k) => k !== 'socketGroup').map((k) => `listen.${k}`), 'http.listen', 'metrics.listen', 'maillog', 'dns.checkIntervalMinutes', 'retention.sendsDays', 'reinject'];
    for (const key of keys) expect(r.stdout, key).toMatch(new RegExp(`^ {2}${key.replace(/\./g, '\\.')} +\\S`, 'm'));
    for (const what of ['milter', 'policy', 'SASL', 'LMTP', 'socketmap', 'HTTP', 'metrics', "Postfix's log", 'webhook dispatcher', 'DNS check', 'retention purge']) {
      expect(r.stdout, what).toContain(what);
    }
  });
});
