/**
 * Webhook endpoint URLs: https, or http only to a loopback host (tests, a local relay agent).
 * Pure; the store's neutral layer checks every URL it keeps with it. A URL with user:password, a fragment, or over MAX_WEBHOOK_URL_LENGTH
 * characters is refused: credentials in a URL end up in logs, and the secret signs every
 * request anyway.
 *
 * Throws: UsageError naming what is wrong (checkWebhookUrl).
 */
import { UsageError } from './errors.js';
import { MAX_WEBHOOK_URL_LENGTH } from './limits.js';

function isLoopbackHost(hostname: string): boolean {
  const h = hostname.toLowerCase();
  return h === 'localhost' || h.endsWith('.localhost') || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h) || h === '[::1]';
}

/** The URL in WHATWG normal form, or UsageError. */
export function checkWebhookUrl(spec: string): string {
  const shown = JSON.stringify(spec.length > 100 ? spec.slice(0, 100) + '…' : spec);
  if (spec.length > MAX_WEBHOOK_URL_LENGTH) throw new UsageError(`webhook URL is longer than ${MAX_WEBHOOK_URL_LENGTH} characters`);
  if (/\s/.test(spec)) throw new UsageError(`webhook URL ${shown} contains white space`);
  let u: URL;
  try {
    u = new URL(spec);
  } catch {
    throw new UsageError(`webhook URL ${shown} is not an absolute URL`);
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') throw new UsageError(`webhook URL ${shown} must be https://`);
  if (u.protocol === 'http:' && !isLoopbackHost(u.hostname)) {
    throw new UsageError(`webhook URL ${shown} must be https:// (plain http only to a loopback host)`);
  }
  if (u.hostname === '') throw new UsageError(`webhook URL ${shown} has no host`);
  if (u.username !== '' || u.password !== '') throw new UsageError(`webhook URL ${shown} must not carry a user or password`);
  if (u.hash !== '' || spec.includes('#')) throw new UsageError(`webhook URL ${shown} must not have a fragment`);
  return u.href;
}
