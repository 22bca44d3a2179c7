/**
 * The webhook commands (src/cli/commands/webhook.ts) through the real runCli, on a real SQLite
 * file in a temporary working directory.
 */
import { describe, expect, it } from 'vitest';
import { openStore } from '../../src/store/open-store.js';
import { cli, tempWorkDir } from './helpers.js';

/** stdout of a command that must succeed. */
async function run(cwd: string, argv: string[]): Promise<string> {
  const r = await cli(cwd, argv);
  expect(r, argv.join(' ')).toMatchObject({ code: 0, stderr: '' });
  return r.stdout;
}

describe('trxmail webhook', () => {
  it('set prints a generated secret once, list never shows it, queue shows pending and expired deliveries', async () => {
    const dir = tempWorkDir();
    expect((await cli(dir, ['space', 'add', 'shop'])).code).toBe(0);
    const set = await run(dir, ['webhook', 'set', '--space', 'shop', 'https://hooks.example/trx']);
    const secret = /signing secret \(shown once, keep it\): (whsec_[A-Za-z0-9_-]{43})\n/.exec(set)?.[1];
    expect(secret).toBeDefined();
    const list = await run(dir, ['webhook', 'list', '--json']);
    expect(JSON.parse(list)).toMatchObject([{ space: 'shop', url: 'https://hooks.example/trx' }]);
    expect(list).not.toContain(secret!);

    const store = await openStore({ driver: 'sqlite', path: `${dir}/trxmail-data/trxmail.db` });
    try {
      const space = await store.getSpaceByName('shop');
      expect((await store.getWebhook(space!.id))?.secret).toBe(secret);
      const user = await store.createUser({ spaceId: space!.id, email: 'a@shop.example', passwordHash: 'x' });
      await store.recordSend({
        id: 'Q1', spaceId: space!.id, userId: user.id, mailFrom: 'a@shop.example', envelopeSender: 'b@x.example', from: 'a@shop.example',
        to: 'r@example.org', bcc: null, discarded: [], tags: [], flags: 3, flagsSource: 'default', receivedAt: new Date(),
        recipients: [{ address: 'r@example.org', role: 'to', status: 'queued', suppressedBy: null, detail: null }],
      });
      await store.addEvent({ sendId: 'Q1', recipient: 'r@example.org', type: 'delivered', at: new Date(), detail: {} });
      const [d] = await store.claimWebhookDeliveries(new Date(Date.now() + 1000), 1, 0);
      await store.completeWebhookDelivery(d!.id, { delivered: false, at: new Date(), error: 'HTTP 502', retryAt: new Date(Date.UTC(2030, 0, 1)) });
    } finally {
      await store.close();
    }
    const table = await run(dir, ['webhook', 'queue', '--space', 'shop']);
    expect(table).toMatch(/NEXT ATTEMPT/);
    expect(table).toMatch(/delivered .*Q1 .*r@example\.org .*pending .*1 .*2030-01-01T00:00:00\.000Z .*HTTP 502/);
    expect(table).toContain('pending 1, expired 0');
    const json = JSON.parse(await run(dir, ['webhook', 'queue', '--json'])) as Array<Record<string, unknown>>;
    expect(json[0]).toMatchObject({ type: 'delivered', status: 'pending', attempts: 1, lastError: 'HTTP 502', nextAttemptAt: '2030-01-01T00:00:00.000Z' });

    await run(dir, ['webhook', 'remove', '--space', 'shop']);
    expect(JSON.parse(await run(dir, ['webhook', 'queue', '--json', '--status', 'expired']))).toMatchObject([{ lastError: 'webhook removed' }]);
    expect(await cli(dir, ['webhook', 'remove', '--space', 'shop'])).toMatchObject({ code: 1, stdout: '', stderr: 'trxmail: space shop has no webhook\n' });
  });

  it('refuses bad input, each with its one-line UsageError message and exit code 1', async () => {
    const dir = tempWorkDir();
    await cli(dir, ['space', 'add', 'shop']);
    const bad: [string[], string][] = [
      [['webhook', 'set', '--space', 'shop', 'http://hooks.example/'], 'webhook URL "http://hooks.example/" must be https:// (plain http only to a loopback host)'],
      [['webhook', 'set', '--space', 'nope', 'https://hooks.example/'], 'no space named "nope" (see: trxmail space list)'],
      [['webhook', 'set', '--space', 'shop', 'https://hooks.example/', '--secret', ''], 'webhook secret must not be empty'],
      [['webhook', 'queue', '--status', 'sent'], '--status: expected pending, delivered or expired, got "sent"'],
      [['webhook', 'queue', '--limit', 'many'], '--limit: expected a number, got "many"'],
      [['webhook', 'queue', '--json', '--csv'], 'choose one of --json and --csv'],
    ];
    for (const [argv, message] of bad) {
      expect(await cli(dir, argv), argv.join(' ')).toMatchObject({ code: 1, stdout: '', stderr: `trxmail: ${message}\n` });
    }
  });
});
