/**
 * Webhook endpoint URLs: the check lives in src/lib/webhook-url.ts (pure, used by the store's
 * neutral layer and by the webhook commands); re-exported here for existing importers.
 *
 * Throws: UsageError naming what is wrong (checkWebhookUrl).
 */
export { checkWebhookUrl } from '../lib/webhook-url.js';
