/**
 * `trxmail webhook set|remove|list|queue`: a space's webhook endpoint and its delivery queue
 * (the feature itself — outbox, signing, retries — is src/webhooks/).
 *
 *   webhook set --space S <url> [--secret S] sets/replaces the endpoint; prints the secret
 *                                            ONCE (generated: 32 random bytes, base64url,
 *                                            prefixed whsec_); it is stored as is (it signs).
 *   webhook remove --space S                 its pending deliveries expire
 *   webhook list                             space, URL, created (never the secret)
 *   webhook queue [--space S] [--status pending|delivered|expired] [--limit N] [--json|--csv]
 *                                            id, space, type, send, recipient, status,
 *                                            attempts, next attempt, last error
 *
 * Throws: UsageError for bad arguments (exit 1), TransientError from the store (exit 75).
 */
import { randomBytes } from 'node:crypto';
import { UsageError } from '../../lib/errors.js';
import type { Column } from '../../lib/table.js';
import type { WebhookDelivery, WebhookDeliveryStatus } from '../../store/store.js';
import { outputFormat, render, type CliContext } from '../context.js';
import { spaceAction } from '../space-option.js';

/** A new webhook secret: `whsec_` + 32 random bytes in base64url. */
export function generateWebhookSecret(): string {
  return `whsec_${randomBytes(32).toString('base64url')}`;
}

const STATUSES: readonly WebhookDeliveryStatus[] = ['pending', 'delivered', 'expired'];
/** Rows `webhook queue` shows by default. */
export const WEBHOOK_QUEUE_DEFAULT_LIMIT = 100;

function nextText(d: WebhookDelivery): string {
  return d.status === 'pending' ? d.nextAttemptAt.toISOString() : '';
}

export function registerWebhookCommands(ctx: CliContext): void {
  const webhook = ctx.program.command('webhook').description("a space's webhook (events POSTed to the customer's endpoint)");
  spaceAction<{ secret?: string }>(
    ctx,
    webhook
      .command('set <url>')
      .description('set or replace the endpoint (https; http only to loopback); prints the signing secret once')
      .option('--secret <secret>', 'use this secret instead of a generated one'),
    { min: 1, max: 1 },
    async (spaceName, [url = ''], o) => {
      const s = await ctx.space(spaceName);
      const secret = o.secret ?? generateWebhookSecret();
      const w = await (await ctx.getStore()).setWebhook({ spaceId: s.id, url, secret });
      ctx.out(`webhook for ${s.name}: ${w.url}\nsigning secret (shown once, keep it): ${secret}\n`);
    },
  );
  spaceAction(ctx, webhook.command('remove').description('remove the endpoint; its pending deliveries expire'), { min: 0, max: 0 }, async (spaceName) => {
      const s = await ctx.space(spaceName);
      if (!(await (await ctx.getStore()).removeWebhook(s.id))) throw new UsageError(`space ${s.name} has no webhook`);
      ctx.out(`webhook of ${s.name} removed\n`);
    });
  webhook
    .command('list')
    .description('list webhooks (never their secrets)')
    .option('--json', 'print JSON')
    .option('--csv', 'print CSV')
    .action(async (o: { json?: boolean; csv?: boolean }) => {
      const store = await ctx.getStore();
      const names = new Map((await store.listSpaces()).map((s) => [s.id, s.name]));
      const rows = await store.listWebhooks();
      const cols: Column<(typeof rows)[number]>[] = [
        { header: 'SPACE', value: (w) => names.get(w.spaceId) ?? String(w.spaceId) },
        { header: 'URL', value: (w) => w.url },
        { header: 'CREATED', value: (w) => w.createdAt.toISOString() },
      ];
      ctx.out(render(outputFormat(o), cols, rows, (w) => ({ space: names.get(w.spaceId) ?? null, url: w.url, createdAt: w.createdAt.toISOString() })));
    });
  webhook
    .command('queue')
    .description('webhook deliveries, newest first: pending (next attempt, attempts, last error), delivered, expired')
    .option('-s, --space <name>', 'only this space')
    .option('--status <status>', 'pending, delivered or expired')
    .option('--limit <n>', `most rows (default ${WEBHOOK_QUEUE_DEFAULT_LIMIT})`)
    .option('--json', 'print JSON')
    .option('--csv', 'print CSV')
    .action(async (o: { space?: string; status?: string; limit?: string; json?: boolean; csv?: boolean }) => {
      const fmt = outputFormat(o);
      if (o.status !== undefined && !STATUSES.includes(o.status as WebhookDeliveryStatus)) {
        throw new UsageError(`--status: expected pending, delivered or expired, got "${o.status}"`);
      }
      if (o.limit !== undefined && !/^\d{1,7}$/.test(o.limit)) throw new UsageError(`--limit: expected a number, got "${o.limit}"`);
      const spaceId = o.space === undefined ? undefined : (await ctx.space(o.space)).id;
      const store = await ctx.getStore();
      const rows = await store.listWebhookDeliveries({
        limit: o.limit === undefined ? WEBHOOK_QUEUE_DEFAULT_LIMIT : Number(o.limit),
        ...(spaceId === undefined ? {} : { spaceId }),
        ...(o.status === undefined ? {} : { status: o.status as WebhookDeliveryStatus }),
      });
      const cols: Column<WebhookDelivery>[] = [
        { header: 'ID', value: (d) => String(d.id) },
        { header: 'SPACE', value: (d) => d.spaceName },
        { header: 'TYPE', value: (d) => d.type },
        { header: 'SEND', value: (d) => d.sendId },
        { header: 'RECIPIENT', value: (d) => d.recipient },
        { header: 'STATUS', value: (d) => d.status },
        { header: 'ATTEMPTS', value: (d) => String(d.attempts) },
        { header: 'NEXT ATTEMPT', value: nextText },
        { header: 'LAST ERROR', value: (d) => d.lastError ?? '' },
      ];
      ctx.out(
        render(fmt, cols, rows, (d) => ({
          id: d.id,
          space: d.spaceName,
          type: d.type,
          sendId: d.sendId,
          recipient: d.recipient,
          at: d.at.toISOString(),
          status: d.status,
          attempts: d.attempts,
          createdAt: d.createdAt.toISOString(),
          nextAttemptAt: d.status === 'pending' ? d.nextAttemptAt.toISOString() : null,
          lastError: d.lastError,
          doneAt: d.doneAt?.toISOString() ?? null,
        })),
      );
      if (fmt === 'table') {
        const b = await store.webhookBacklog();
        ctx.out(`pending ${b.pending}, expired ${b.expired}${b.oldestPendingAt ? `, oldest pending since ${b.oldestPendingAt.toISOString()}` : ''}\n`);
      }
    });
}
