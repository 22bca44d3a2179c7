import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_MESSAGE_SIZE_LIMIT } from '../../src/lib/limits.js';
import { verifyPassword } from '../../src/lib/password.js';
import { openStore } from '../../src/store/open-store.js';
import type { NewSend } from '../../src/store/store.js';
import { cli, tempWorkDir } from './helpers.js';

const dbPath = (cwd: string): string => path.join(cwd, 'trxmail-data', 'trxmail.db');

describe('trxmail CLI administration', () => {
  let cwd: string;
  beforeAll(async () => {
    cwd = tempWorkDir();
    expect((await cli(cwd, ['space', 'add', 'acme', '--flags', '7'])).code).toBe(0);
    expect((await cli(cwd, ['domain', 'add', '--space', 'acme', 'Acme.Example', 'bücher.example'])).code).toBe(0);
  });

  it('lists spaces with their domains and flags', async () => {
    const r = await cli(cwd, ['space', 'list', '--json']);
    expect(r.code).toBe(0);
    const spaces = JSON.parse(r.stdout);
    expect(spaces).toHaveLength(1);
    expect(spaces[0]).toMatchObject({ name: 'acme', defaultFlags: 7, allowSubdomains: false, allowUnsigned: false });
    expect([...spaces[0].domains].sort()).toEqual(['acme.example', 'xn--bcher-kva.example']);
    const table = await cli(cwd, ['space', 'list']);
    expect(table.stdout.split('\n')[0]).toMatch(/^NAME\s+FLAGS\s+UNSUBSCRIBE\s+SUBDOMAINS\s+UNSIGNED\s+DOMAINS\s+SENT\/LIMIT\s+PAUSED\s+CREATED$/);
    expect(table.stdout).toContain('bücher.example');
  });

  it('changes a space and refuses an empty change', async () => {
    expect((await cli(cwd, ['space', 'set', 'acme', '--flags', 'default', '--allow-subdomains'])).stdout).toBe(
      'space acme: flags default, unsubscribe default, subdomains allowed\n',
    );
    expect((await cli(cwd, ['space', 'set', 'acme', '--no-allow-subdomains'])).stdout).toContain('subdomains not allowed');
    const r = await cli(cwd, ['space', 'set', 'acme']);
    expect(r).toMatchObject({ code: 1, stderr: 'trxmail: nothing to change: give --flags, --unsubscribe, --[no-]allow-subdomains, --[no-]allow-unsigned or --limit\n' });
    expect((await cli(cwd, ['space', 'set', 'acme', '--allow-unsigned'])).stdout).toContain(', unsigned mail allowed');
    expect(JSON.parse((await cli(cwd, ['space', 'list', '--json'])).stdout)[0]).toMatchObject({ allowUnsigned: true });
    expect((await cli(cwd, ['space', 'set', 'acme', '--no-allow-unsigned'])).stdout).not.toContain('unsigned');
  });

  it('sets, shows and removes the space\'s one-click unsubscribe default', async () => {
    expect((await cli(cwd, ['space', 'set', 'acme', '--unsubscribe', 'one-click'])).stdout).toBe(
      'space acme: flags default, unsubscribe one-click, subdomains not allowed\n',
    );
    expect(JSON.parse((await cli(cwd, ['space', 'list', '--json'])).stdout)[0]).toMatchObject({ name: 'acme', unsubscribe: 'one-click' });
    expect((await cli(cwd, ['space', 'list'])).stdout.split('\n')[1]).toMatch(/^acme\s+default\s+one-click\s+no\s/);
    expect((await cli(cwd, ['space', 'set', 'acme', '--unsubscribe', 'None'])).stdout).toContain('unsubscribe none,');
    expect((await cli(cwd, ['space', 'set', 'acme', '--unsubscribe', 'default'])).stdout).toContain('unsubscribe default,');
    expect(JSON.parse((await cli(cwd, ['space', 'list', '--json'])).stdout)[0]).toMatchObject({ unsubscribe: null });
    const bad = await cli(cwd, ['space', 'set', 'acme', '--unsubscribe', 'yes']);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(bad.stderr).toContain('--unsubscribe must be "one-click", "none" or "default", got "yes"');
    expect((await cli(cwd, ['space', 'add', 'letters', '--unsubscribe', 'one-click'])).code).toBe(0);
    expect(JSON.parse((await cli(cwd, ['space', 'list', '--json'])).stdout)[1]).toMatchObject({ name: 'letters', unsubscribe: 'one-click' });
  });

  it('adds a user with the password from stdin and stores only a scrypt hash', async () => {
    const r = await cli(cwd, ['user', 'add', 'app@acme.example', '--space', 'acme'], 'correct horse battery\n');
    expect(r).toMatchObject({ code: 0, stdout: 'user app@acme.example added to acme\n' });
    const store = await openStore({ driver: 'sqlite', path: dbPath(cwd) });
    try {
      const u = await store.getUserByEmail('app@acme.example');
      expect(u?.passwordHash).toMatch(/^scrypt\$/);
      expect(u?.passwordHash).not.toContain('correct horse');
      expect(await verifyPassword('correct horse battery', u!.passwordHash)).toBe(true);
    } finally {
      await store.close();
    }
    const again = await cli(cwd, ['user', 'add', 'APP@acme.example', '--space', 'acme'], 'another password\n');
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/^trxmail: user .* exists already\n$/);
  });

  it('changes a password from stdin', async () => {
    await cli(cwd, ['user', 'add', 'pw@acme.example', '--space', 'acme'], 'first password\n');
    expect((await cli(cwd, ['user', 'passwd', 'pw@acme.example'], 'second password\r\n')).code).toBe(0);
    const store = await openStore({ driver: 'sqlite', path: dbPath(cwd) });
    try {
      const u = await store.getUserByEmail('pw@acme.example');
      expect(await verifyPassword('second password', u!.passwordHash)).toBe(true);
      expect(await verifyPassword('first password', u!.passwordHash)).toBe(false);
    } finally {
      await store.close();
    }
    expect((await cli(cwd, ['user', 'remove', 'pw@acme.example'])).code).toBe(0);
    expect((await cli(cwd, ['user', 'list', '--json'])).stdout).not.toContain('pw@acme.example');
  });

  it('manages per-from defaults and both suppression lists', async () => {
    expect((await cli(cwd, ['from', 'set', '--space', 'acme', 'News@Acme.Example', '5'])).code).toBe(0);
    expect(JSON.parse((await cli(cwd, ['from', 'list', '--space', 'acme', '--json'])).stdout)).toEqual([{ address: 'News@Acme.Example', flags: 5, unsubscribe: null }]);
    expect((await cli(cwd, ['from', 'set', '--space', 'acme', 'news@acme.example', 'default'])).code).toBe(0);
    expect(JSON.parse((await cli(cwd, ['from', 'list', '--space', 'acme', '--json'])).stdout)).toEqual([]);
    // the one-click unsubscribe default: alone, beside flags, each removed on its own
    expect(await cli(cwd, ['from', 'set', '--space', 'acme', 'news@acme.example', '--unsubscribe', 'one-click'])).toEqual({
      code: 0,
      stdout: 'unsubscribe default for news@acme.example: one-click\n',
      stderr: '',
    });
    expect((await cli(cwd, ['from', 'set', '--space', 'acme', 'news@acme.example', '3', '--unsubscribe', 'none'])).stdout).toBe(
      'default flags for news@acme.example: 3\nunsubscribe default for news@acme.example: none\n',
    );
    const table = (await cli(cwd, ['from', 'list', '--space', 'acme'])).stdout.split('\n');
    expect(table[0]).toMatch(/^ADDRESS\s+FLAGS\s+UNSUBSCRIBE$/);
    expect(table[1]).toMatch(/^news@acme\.example\s+3\s+none$/);
    expect((await cli(cwd, ['from', 'set', '--space', 'acme', 'news@acme.example', 'default'])).code).toBe(0);
    expect(JSON.parse((await cli(cwd, ['from', 'list', '--space', 'acme', '--json'])).stdout)).toEqual([
      { address: 'news@acme.example', flags: null, unsubscribe: 'none' },
    ]);
    expect((await cli(cwd, ['from', 'set', '--space', 'acme', 'news@acme.example', '--unsubscribe', 'default'])).stdout).toBe(
      'unsubscribe default for news@acme.example removed\n',
    );
    expect(JSON.parse((await cli(cwd, ['from', 'list', '--space', 'acme', '--json'])).stdout)).toEqual([]);
    const nothing = await cli(cwd, ['from', 'set', '--space', 'acme', 'news@acme.example']);
    expect(nothing).toMatchObject({ code: 1, stdout: '', stderr: 'trxmail: nothing to set: give flags, --unsubscribe or both\n' });
    const bad = await cli(cwd, ['from', 'set', '--space', 'acme', 'news@acme.example', '--unsubscribe', 'on']);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr.trimEnd().split('\n')).toHaveLength(1);

    expect((await cli(cwd, ['unsubscribe', 'add', '--space', 'acme', 'Bob@Example.org', '--reason', 'asked by phone'])).code).toBe(0);
    const unsub = JSON.parse((await cli(cwd, ['unsubscribe', 'list', '--space', 'acme', '--json'])).stdout);
    expect(unsub).toHaveLength(1);
    expect(unsub[0]).toMatchObject({ reason: 'asked by phone' });
    expect(Number.isNaN(Date.parse(unsub[0].addedAt))).toBe(false);
    expect(JSON.parse((await cli(cwd, ['bounces', 'list', '--space', 'acme', '--json'])).stdout)).toEqual([]);
    expect((await cli(cwd, ['bounces', 'add', '--space', 'acme', 'gone@example.org'])).code).toBe(0);
    expect((await cli(cwd, ['bounces', 'list', '--space', 'acme'])).stdout).toMatch(/gone@example\.org\s+\d{4}-\d\d-\d\dT.*added by operator/);
    expect((await cli(cwd, ['unsubscribe', 'remove', '--space', 'acme', 'bob@example.org'])).code).toBe(0);
    const gone = await cli(cwd, ['unsubscribe', 'remove', '--space', 'acme', 'bob@example.org']);
    expect(gone).toMatchObject({ code: 1, stderr: 'trxmail: bob@example.org is not on the unsubscribe list of acme\n' });
  });

  const bad: Array<[string[], RegExp, number]> = [
    [['space', 'add', 'bad name'], /^trxmail: space name must be/, 1],
    [['space', 'add', 'acme'], /^trxmail: space "acme" exists already\n$/, 1],
    [['space', 'add', 'x', '--flags', '16'], /^trxmail: flags must be an integer from 0 to 15 or "default", got "16"\n$/, 1],
    [['space', 'add', 'x', '--flags', 'abc'], /got "abc"/, 1],
    [['domain', 'add', '--space', 'nope', 'a.example'], /^trxmail: no space named "nope" \(see: trxmail space list\)\n$/, 1],
    [['domain', 'add', '--space', 'acme', 'not a domain'], /^trxmail: not a domain name: "not a domain"\n$/, 1],
    [['domain', 'remove', '--space', 'acme', 'other.example'], /^trxmail: domain other\.example is not allowed for acme\n$/, 1],
    [['user', 'add', 'not-an-email', '--space', 'acme'], /^trxmail: not an e-mail address: "not-an-email"\n$/, 1],
    [['user', 'add', 'short@acme.example', '--space', 'acme'], /^trxmail: password must have at least 8 characters/, 1],
    [['user', 'add', 'x@acme.example'], /required option '-s, --space <name>' not specified/, 2],
    [['user', 'passwd', 'nobody@acme.example'], /^trxmail: no user nobody@acme\.example\n$/, 1],
    [['sends', 'show', 'NOPE'], /^trxmail: no send with id "NOPE"\n$/, 1],
    [['sends', 'list', '--since', 'yesterday'], /^trxmail: --since: expected a date like 2026-11-22/, 1],
    [['sends', 'list', '--until', '2026-02-30'], /^trxmail: --until: expected a date/, 1],
    [['sends', 'list', '--since', '2026-11-02', '--until', '2026-11-01'], /^trxmail: --since must be before --until\n$/, 1],
    [['sends', 'list', '--json', '--csv'], /^trxmail: choose one of --json and --csv\n$/, 1],
    [['sends', 'list', '--limit', '0'], /^trxmail: --limit: expected an integer/, 1],
    [['frobnicate'], /unknown command 'frobnicate'/, 2],
    [['space', 'list', '--bogus'], /unknown option '--bogus'/, 2],
  ];
  it.each(bad)('refuses %j with a one-line error', async (argv, re, code) => {
    const r = await cli(cwd, argv, 'short\n');
    expect(r.code).toBe(code);
    expect(r.stderr).toMatch(re);
    expect(r.stderr.split('\n')[0]).toMatch(/^trxmail: /);
  });

  it('names the key and the file for a bad configuration', async () => {
    const dir = tempWorkDir();
    const { writeFileSync } = await import('node:fs');
    writeFileSync(path.join(dir, 'trxmail.yaml'), 'store:\n  drvier: sqlite\n');
    const r = await cli(dir, ['space', 'list']);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`trxmail: ${path.join(dir, 'trxmail.yaml')}: store.drvier: unknown key\n`);
  });

  it('prints help for every command', async () => {
    for (const argv of [['--help'], ['space', '--help'], ['sends', 'list', '--help'], ['user', 'add', '--help']]) {
      const r = await cli(cwd, argv);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/^Usage: trxmail/);
    }
  });
});

describe('trxmail sends', () => {
  let cwd: string;
  const base = Date.parse('2026-11-10T12:00:00Z');
  beforeAll(async () => {
    cwd = tempWorkDir();
    await cli(cwd, ['space', 'add', 'one']);
    await cli(cwd, ['space', 'add', 'two']);
    await cli(cwd, ['user', 'add', 'u1@one.example', '--space', 'one'], 'password one\n');
    await cli(cwd, ['user', 'add', 'u2@two.example', '--space', 'two'], 'password two\n');
    const store = await openStore({ driver: 'sqlite', path: dbPath(cwd) });
    try {
      const one = (await store.getSpaceByName('one'))!;
      const two = (await store.getSpaceByName('two'))!;
      const u1 = (await store.getUserByEmail('u1@one.example'))!;
      const u2 = (await store.getUserByEmail('u2@two.example'))!;
      const send = (id: string, spaceId: number, userId: number, day: number, from: string, tags: string[]): NewSend => ({
        id,
        spaceId,
        userId,
        mailFrom: from,
        envelopeSender: `trx-${spaceId}-${id}-x@bounces.example`,
        from,
        to: 'rcpt@example.org',
        bcc: day === 0 ? 'copy@example.org' : null,
        discarded: day === 0 ? ['x@example.org'] : [],
        tags,
        flags: 3,
        flagsSource: 'default',
        receivedAt: new Date(base + day * 86_400_000),
        recipients: [
          { address: 'rcpt@example.org', role: 'to', status: 'queued', suppressedBy: null, detail: null },
          ...(day === 0
            ? [
                { address: 'copy@example.org', role: 'bcc' as const, status: 'suppressed' as const, suppressedBy: 'bounce' as const, detail: null },
                { address: 'x@example.org', role: 'discarded' as const, status: 'discarded' as const, suppressedBy: null, detail: null },
              ]
            : []),
        ],
      });
      await store.recordSend(send('4aaaaaaaaaaaaA1', one.id, u1.id, 0, 'news@one.example', ['welcome', 'march']));
      await store.recordSend(send('4aaaaaaaaaaaaA2', one.id, u1.id, 1, 'billing@one.example', ['invoice']));
      await store.recordSend(send('4aaaaaaaaaaaaA3', one.id, u1.id, 2, 'news@one.example', ['welcome']));
      await store.recordSend(send('4bbbbbbbbbbbbB1', two.id, u2.id, 1, 'news@two.example', ['welcome', 'march']));
      await store.addEvent({ sendId: '4aaaaaaaaaaaaA1', recipient: 'rcpt@example.org', type: 'delivered', at: new Date(base + 5000), detail: { dsn: '2.0.0' } });
    } finally {
      await store.close();
    }
  });

  const ids = async (argv: string[]): Promise<string[]> => {
    const r = await cli(cwd, ['sends', 'list', '--json', ...argv]);
    expect(r.stderr).toBe('');
    return (JSON.parse(r.stdout) as Array<{ id: string }>).map((s) => s.id);
  };

  it('filters by space, tags (all must match), from and dates', async () => {
    expect((await ids([])).sort()).toEqual(['4aaaaaaaaaaaaA1', '4aaaaaaaaaaaaA2', '4aaaaaaaaaaaaA3', '4bbbbbbbbbbbbB1']);
    expect(await ids(['--space', 'one'])).toEqual(['4aaaaaaaaaaaaA3', '4aaaaaaaaaaaaA2', '4aaaaaaaaaaaaA1']);
    expect(await ids(['--space', 'one', '--tag', 'welcome'])).toEqual(['4aaaaaaaaaaaaA3', '4aaaaaaaaaaaaA1']);
    expect(await ids(['--space', 'one', '--tag', 'welcome', '--tag', 'march'])).toEqual(['4aaaaaaaaaaaaA1']);
    expect(await ids(['--tag', 'march'])).toEqual(['4bbbbbbbbbbbbB1', '4aaaaaaaaaaaaA1']); // B1 is a day newer
    expect(await ids(['--from', 'NEWS@one.example'])).toEqual(['4aaaaaaaaaaaaA3', '4aaaaaaaaaaaaA1']);
    expect(await ids(['--space', 'one', '--since', '2026-11-11', '--until', '2026-11-11'])).toEqual(['4aaaaaaaaaaaaA2']);
    expect(await ids(['--space', 'one', '--since', '2026-11-11T12:00:00Z'])).toEqual(['4aaaaaaaaaaaaA3', '4aaaaaaaaaaaaA2']);
    expect(await ids(['--space', 'one', '--until', '2026-11-11T12:00:00Z'])).toEqual(['4aaaaaaaaaaaaA1']);
  });

  it('searches by recipient, status, reason and the --search text (id or address), within --space', async () => {
    expect(await ids(['--space', 'one', '--recipient', 'COPY@example.org'])).toEqual(['4aaaaaaaaaaaaA1']);
    expect(await ids(['--recipient', 'rcpt@example.org', '--tag', 'march'])).toEqual(['4bbbbbbbbbbbbB1', '4aaaaaaaaaaaaA1']);
    expect(await ids(['--space', 'two', '--search', '4aaaaaaaaaaaaA2'])).toEqual([]);
    expect(await ids(['--space', 'one', '--search', '4aaaaaaaaaaaaA2'])).toEqual(['4aaaaaaaaaaaaA2']);
    expect(await ids(['--space', 'one', '--search', 'x@example.org'])).toEqual(['4aaaaaaaaaaaaA1']);
    expect(await ids(['--status', 'queued', '--space', 'two'])).toEqual(['4bbbbbbbbbbbbB1']);
    expect(await ids(['--reason', 'user-unknown'])).toEqual([]);
    expect(await ids(['--message-id', '<none@one.example>'])).toEqual([]);
    for (const [argv, message] of [
      [['--status', 'lost'], /^trxmail: --status: expected one of queued, suppressed, delivered, deferred, bounced, got "lost"\n$/],
      [['--reason', 'bad'], /^trxmail: --reason: expected one of .*, got "bad"\n$/],
      [['--message-id', 'a b'], /^trxmail: message id must be an id like <abc@host\.example>.*\n$/],
      [['--recipient', ' '], /^trxmail: recipient must not be empty\n$/],
    ] as const) {
      const r = await cli(cwd, ['sends', 'list', ...argv]);
      expect(r).toMatchObject({ code: 1, stdout: '' });
      expect(r.stderr).toMatch(message);
    }
  });

  // Issue 12 item 7: on old main a list cut at --limit said nothing, and there was no --before.
  it('says on stderr when it stopped at the limit, with the next page command; the pages cover every send once', async () => {
    const page = async (argv: string[]): Promise<{ ids: string[]; stderr: string }> => {
      const r = await cli(cwd, ['sends', 'list', '--json', ...argv]);
      expect(r.code).toBe(0);
      return { ids: (JSON.parse(r.stdout) as Array<{ id: string }>).map((s) => s.id), stderr: r.stderr };
    };
    const first = await page(['--space', 'one', '--limit', '2']);
    expect(first.ids).toEqual(['4aaaaaaaaaaaaA3', '4aaaaaaaaaaaaA2']);
    expect(first.stderr).toBe(
      'trxmail: stopped at the limit of 2 sends; more match. Next page: trxmail sends list --space one --limit 2 --json --before 4aaaaaaaaaaaaA2\n',
    );
    const next = first.stderr.slice(first.stderr.indexOf('trxmail sends list ') + 'trxmail sends list '.length).trim().split(' ');
    const second = await page(next.filter((a) => a !== '--json'));
    expect(second).toEqual({ ids: ['4aaaaaaaaaaaaA1'], stderr: '' }); // the last page says nothing
    // exactly the limit: nothing more matches, nothing said
    expect(await page(['--space', 'one', '--limit', '3'])).toEqual({ ids: ['4aaaaaaaaaaaaA3', '4aaaaaaaaaaaaA2', '4aaaaaaaaaaaaA1'], stderr: '' });
    const bad = await cli(cwd, ['sends', 'list', '--before', 'nosuchid']);
    expect(bad).toMatchObject({ code: 1, stdout: '', stderr: 'trxmail: --before: no send with id "nosuchid"\n' });
  });

  it('prints CSV with the id, tags and the recipients state', async () => {
    const r = await cli(cwd, ['sends', 'list', '--space', 'one', '--tag', 'march', '--csv']);
    const lines = r.stdout.trimEnd().split('\r\n');
    expect(lines[0]).toBe('ID,RECEIVED,SPACE,FROM,TO,TO_STATE,BCC,BCC_STATE,DISCARDED,FLAGS,TAGS,OPENS,OPENS_MACHINE,CLICKS,CLICKS_MACHINE');
    expect(lines[1]).toBe(
      '4aaaaaaaaaaaaA1,2026-11-10T12:00:00.000Z,one,news@one.example,rcpt@example.org,queued,copy@example.org,suppressed:bounce,x@example.org,3,"welcome,march",0,0,0,0',
    );
    expect(lines).toHaveLength(2);
  });

  it('shows one send with recipients and events', async () => {
    const r = await cli(cwd, ['sends', 'show', '4aaaaaaaaaaaaA1']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('tags:        welcome, march');
    expect(r.stdout).toMatch(/bcc\s+copy@example\.org {2}suppressed \(bounce list\)/);
    expect(r.stdout).toMatch(/2026-11-10T12:00:05\.000Z {2}delivered +rcpt@example\.org \(to\) {2}delivered: 2\.0\.0/);
    // The suppressed BCC is an event of the timeline, with its list.
    expect(r.stdout).toMatch(/2026-11-10T12:00:00\.000Z {2}suppressed +copy@example\.org \(bcc\) {2}suppressed by the bounce list/);
    const j = JSON.parse((await cli(cwd, ['sends', 'show', '4aaaaaaaaaaaaA1', '--json'])).stdout);
    expect(j.events.map((e: { type: string }) => e.type)).toEqual(['suppressed', 'delivered']);
    expect(j.timeline.map((e: { type: string }) => e.type)).toEqual(['accepted', 'discarded', 'suppressed', 'delivered']);
    expect(j.flagsSource).toBe('default');
  });
});

describe('trxmail postfix-config', () => {
  it('prints the shipped pieces filled in from trxmail.yaml, with no placeholder left', async () => {
    const dir = tempWorkDir();
    const { writeFileSync } = await import('node:fs');
    writeFileSync(
      path.join(dir, 'trxmail.yaml'),
      'bounceDomain: Bounces.Example.COM\nlisten:\n  milter: unix:/var/spool/postfix/trxmail/milter\n  policy: inet:127.0.0.1:9992\n',
    );
    const r = await cli(dir, ['postfix-config']);
    expect(r.code).toBe(0);
    expect(r.stdout).not.toMatch(/\{\{\w+\}\}/);
    // Sockets below the queue directory are named relative to it (chroot-safe); the defaults
    // are unix sockets in private/, the re-injection smtpd a unix service there.
    expect(r.stdout).toContain('smtpd_milters = unix:trxmail/milter\n');
    expect(r.stdout).toContain('check_policy_service { inet:127.0.0.1:9992,');
    expect(r.stdout).toContain('smtpd_sasl_path = private/trxmail-auth\n');
    expect(r.stdout).toContain('milter_default_action = tempfail\n');
    expect(r.stdout).toContain('enable_long_queue_ids = yes\n');
    expect(r.stdout).toContain('relay_domains = bounces.example.com, socketmap:unix:private/trxmail-socketmap:relay\n');
    expect(r.stdout).toContain(
      'transport_maps = inline:{ bounces.example.com=lmtp:unix:private/trxmail-lmtp }, socketmap:unix:private/trxmail-socketmap:transport\n',
    );
    expect(r.stdout).toContain('disable_mime_output_conversion = yes\n');
    // One address: no separate bounce MX unless asked for (a loopback one would lose remote bounces).
    expect(r.stdout).not.toContain('postfix/bounce-mx');
    expect(r.stdout).toMatch(/^smtp +inet[^\n]*\n  -o smtpd_tls_security_level=may\n/m);
    expect(r.stdout).toContain(`message_size_limit = ${DEFAULT_MESSAGE_SIZE_LIMIT}\n`);
    expect(r.stdout).toMatch(/^submission +inet/m);
    expect(r.stdout).toMatch(/^smtps +inet[^\n]*\n(  -o [^\n]*\n)*  -o smtpd_tls_wrappermode=yes/m);
    expect(r.stdout).toMatch(/^trxmail-reinject +unix +- +- +n +- +- +smtpd\n(  -o [^\n]*\n)*  -o smtpd_milters=\n/m);
    expect(r.stdout).not.toMatch(/^127\.0\.0\.1:10026 /m);
    const master = await cli(dir, ['postfix-config', '--master']);
    expect(master.stdout).not.toContain('---------- main.cf');
    expect(master.stdout).toContain('---------- master.cf');
    const main = await cli(dir, ['postfix-config', '--main']);
    expect(main.stdout).toContain('---------- main.cf');
    expect(main.stdout).not.toContain('---------- master.cf');
    expect((await cli(dir, ['postfix-config', '--main', '--master'])).stderr).toBe('trxmail: --main and --master: give at most one\n');
  });

  it('takes the listen addresses of smtp/submission/smtps, an optional bounce MX and messageSizeLimit from trxmail.yaml', async () => {
    const dir = tempWorkDir();
    const { writeFileSync } = await import('node:fs');
    writeFileSync(path.join(dir, 'trxmail.yaml'), 'messageSizeLimit: 10485760\n');
    const r = await cli(dir, [
      'postfix-config', '--master', '--smtp-listen', '198.51.100.5:smtp', '--submission-listen', '198.51.100.5:submission',
      '--smtps-listen', '198.51.100.5:465', '--bounce-mx', '203.0.113.7:smtp',
    ]);
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/^198\.51\.100\.5:smtp +inet/m);
    expect(r.stdout).toMatch(/^198\.51\.100\.5:submission +inet/m);
    expect(r.stdout).toMatch(/^198\.51\.100\.5:465 +inet/m);
    expect(r.stdout).toMatch(/^203\.0\.113\.7:smtp +inet[^\n]*\n  -o syslog_name=postfix\/bounce-mx\n/m);
    expect((await cli(dir, ['postfix-config', '--main'])).stdout).toContain('message_size_limit = 10485760\n');
    expect((await cli(dir, ['postfix-config', '--smtp-listen', 'a b'])).stderr).toBe('trxmail: --smtp-listen: expected [address:]port (e.g. smtp or 198.51.100.5:smtp), got "a b"\n');
    expect((await cli(dir, ['postfix-config', '--bounce-mx', '127.0.0.1'])).stderr).toBe('trxmail: --bounce-mx: expected address:port, got "127.0.0.1"\n');
    writeFileSync(path.join(dir, 'trxmail.yaml'), 'messageSizeLimit: 1048575\n');
    expect((await cli(dir, ['postfix-config'])).stderr).toMatch(/messageSizeLimit/);
  });

  it('prints a TCP re-injection listener only when asked for, and refuses a socket master.cf cannot create', async () => {
    const dir = tempWorkDir();
    const tcp = await cli(dir, ['postfix-config', '--reinject', '127.0.0.1:10026', '--master']);
    expect(tcp.stdout).toMatch(/^127\.0\.0\.1:10026 +inet +n +- +n +- +- +smtpd$/m);
    const { writeFileSync } = await import('node:fs');
    writeFileSync(path.join(dir, 'trxmail.yaml'), 'reinject: unix:/run/trxmail/reinject\n');
    const bad = await cli(dir, ['postfix-config']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^trxmail: reinject: \/run\/trxmail\/reinject is not in \/var\/spool\/postfix\/private\/ or \/var\/spool\/postfix\/public\//);
  });
});
