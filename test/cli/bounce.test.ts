/**
 * `trxmail bounce parse` and `trxmail bounce` (the pipe(8) intake) as an operator and Postfix
 * run them: real SQLite store, a fixture DSN written out with a real signed bounce address.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { encodeBounceAddress } from '../../src/bounce/bounce-address.js';
import { openStore } from '../../src/store/open-store.js';
import { cli, tempWorkDir } from './helpers.js';

const KEY = [{ id: 'k1', secret: 'cli-bounce-secret-0123456789' }];
const DOMAIN = 'bounces.example.com';
const SEND = '4jXQZB3dVKzJ9Ft';

describe('trxmail bounce', () => {
  let cwd = '';
  let dsnFile = '';
  let address = '';

  beforeAll(async () => {
    cwd = tempWorkDir();
    writeFileSync(
      path.join(cwd, 'trxmail.yaml'),
      `bounceDomain: ${DOMAIN}\nsecrets:\n  keys:\n    - id: ${KEY[0]!.id}\n      secret: "${KEY[0]!.secret}"\n`,
    );
    await cli(cwd, ['space', 'add', 'shop']);
    await cli(cwd, ['user', 'add', 'app@shop.example', '--space', 'shop'], 'a long password\n');
    const store = await openStore({ driver: 'sqlite', path: path.join(cwd, 'trxmail-data', 'trxmail.db') });
    try {
      const space = (await store.getSpaceByName('shop'))!;
      const user = (await store.getUserByEmail('app@shop.example'))!;
      address = encodeBounceAddress({ spaceId: space.id, sendId: SEND }, KEY, DOMAIN);
      await store.recordSend({
        id: SEND,
        spaceId: space.id,
        userId: user.id,
        mailFrom: 'news@shop.example',
        envelopeSender: address,
        from: 'news@shop.example',
        to: 'nobody@example.net',
        bcc: null,
        discarded: [],
        tags: [],
        flags: 3,
        flagsSource: 'default',
        receivedAt: new Date(),
        recipients: [{ address: 'nobody@example.net', role: 'to', status: 'queued', suppressedBy: null, detail: null }],
      });
    } finally {
      await store.close();
    }
    const fixture = readFileSync(path.join(import.meta.dirname, '..', 'fixtures', 'bounces', 'postfix-hard-550.eml'), 'utf8');
    dsnFile = path.join(cwd, 'dsn.eml');
    writeFileSync(dsnFile, fixture.replace(/\{\{BOUNCE:1:4jXQZB3dVKzJ9Ft\}\}/g, address).replace(/\{\{REF:1:4jXQZB3dVKzJ9Ft\}\}/g, address.split('@')[0]!));
  });

  it('parse prints the analysis as JSON and changes nothing', async () => {
    const r = await cli(cwd, ['bounce', 'parse', dsnFile, '--json']);
    expect(r.code).toBe(0);
    const a = JSON.parse(r.stdout);
    expect(a).toMatchObject({ kind: 'bounce', format: 'dsn', bounceAddress: { ok: true, sendId: SEND } });
    expect(a.recipients).toMatchObject([{ recipient: 'nobody@example.net', kind: 'hard', status: '5.1.1' }]);
    expect(JSON.parse((await cli(cwd, ['bounces', 'list', '--space', 'shop', '--json'])).stdout)).toEqual([]);
  });

  it('parse prints, per failed recipient, the bounce reason, the rule that decided it and what the intake would do', async () => {
    const r = await cli(cwd, ['bounce', 'parse', dsnFile]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^reason: {5}nobody@example\.net {2}user-unknown \(rule text:user-unknown\)\n {12}lists the address \(address-level permanent failure\)$/m);
    const json = JSON.parse((await cli(cwd, ['bounce', 'parse', dsnFile, '--json'])).stdout);
    expect(json.recipients).toMatchObject([{ reason: 'user-unknown', reasonRule: 'text:user-unknown' }]);
    expect(JSON.parse((await cli(cwd, ['bounces', 'list', 'shop', '--json'])).stdout)).toEqual([]);
  });

  it('parse says a sender-side cause does not list the address', async () => {
    const blocked = path.join(cwd, 'blocked.eml');
    writeFileSync(blocked, readFileSync(dsnFile, 'utf8').replace(/Diagnostic-Code: .*(\r?\n[ \t].*)*/, 'Diagnostic-Code: smtp; 554 5.7.1 Client host [203.0.113.9] blocked using zen.spamhaus.org').replace(/Status: 5\.1\.1/, 'Status: 5.7.1'));
    const r = await cli(cwd, ['bounce', 'parse', blocked]);
    expect(r.stdout).toMatch(/^reason: {5}nobody@example\.net {2}blocked \(rule text:blocklisted\)\n {12}not listed: a cause on the sending side, recorded on the send as blocked$/m);
  });

  it('parse refuses a missing file in one line', async () => {
    const r = await cli(cwd, ['bounce', 'parse', path.join(cwd, 'nope.eml')]);
    expect(r).toMatchObject({ code: 1, stderr: expect.stringMatching(/^trxmail: cannot read .*nope\.eml: ENOENT\n$/) });
  });

  it('the pipe(8) command stores the bounce: recipient bounced, address on the Bounce list, exit 0', async () => {
    const r = await cli(cwd, ['bounce', '--sender', '', '--recipient', address], readFileSync(dsnFile, 'utf8'));
    expect(r.code).toBe(0);
    const list = JSON.parse((await cli(cwd, ['bounces', 'list', '--space', 'shop', '--json'])).stdout);
    expect(list).toMatchObject([{ address: 'nobody@example.net', reason: expect.stringMatching(/5\.1\.1/), source: 'bounce', bounceReason: 'user-unknown', rule: 'text:user-unknown' }]);
    const table = (await cli(cwd, ['bounces', 'list', '--space', 'shop'])).stdout.split('\n');
    expect(table[0]?.split(/\s+/).slice(0, 5)).toEqual(['ADDRESS', 'ADDED', 'CAUSE', 'SOURCE', 'REASON']);
    expect(table[1]).toMatch(/^nobody@example\.net\s+\S+\s+user-unknown\s+bounce\s+hard bounce 5\.1\.1/);
    const send = JSON.parse((await cli(cwd, ['sends', 'show', SEND, '--json'])).stdout);
    expect(send.recipients[0]).toMatchObject({ status: 'bounced', reason: 'user-unknown' });
    expect((await cli(cwd, ['sends', 'show', SEND])).stdout).toMatch(/^ {2}to {8}nobody@example\.net {2}bounced \[user-unknown\]/m);
    expect(send.events.map((e: { type: string }) => e.type)).toContain('bounced');
  });
});

