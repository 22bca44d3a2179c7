/**
 * One-click unsubscribe (RFC 8058) on the HTTP service (server.ts registers it):
 *
 *   GET|HEAD /u/<token>   200, a plain HTML confirmation page with one button (a form that
 *                         POSTs to the same URL). Changes nothing: link scanners and mail
 *                         previews that follow links cannot unsubscribe anybody.
 *   POST /u/<token>       puts the token's recipient on the token's space's Unsubscribe list
 *                         (source 'unsubscribe-link'), then 200 with a plain HTML page. The
 *                         body is what RFC 8058 section 3.2 says a mail receiver sends
 *                         (`List-Unsubscribe=One-Click`, application/x-www-form-urlencoded or
 *                         multipart/form-data), the page's button, or nothing: the signed token
 *                         is the authority, no login, no cookie. At most MAX_UNSUBSCRIBE_BODY_BYTES
 *                         (larger: 413).
 *
 * Idempotent: an address already on the list is left as it is (reason, source, time), and only
 * the POST that put it there records the send's `unsubscribed` event (detail: `via` 'one-click'
 * for the RFC 8058 body, 'page' for the button, 'post' for anything else; `userAgent`), which
 * queues the `unsubscribed` webhook like every send event. When the event cannot be recorded
 * (the send is gone) the unsubscribe still holds and the failure is logged.
 *
 * Refusals: a bad, forged, edited, other-key or other-kind token (an open or click token, see
 * tracking/unsubscribe-token.ts) → the service's one 404. An unknown space → 404. The store
 * unavailable or slower than the store timeout → 503 + Retry-After: the unsubscribe did not
 * happen and the receiver retries; nothing claims success that is not stored.
 *
 * Responses carry the service's security headers, with a CSP that allows nothing but
 * submitting the form to this origin. Logs: no token, no address.
 *
 * Throws nothing to fastify.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { TransientError, UsageError } from '../lib/errors.js';
import type { HmacKey } from '../lib/hmac-keys.js';
import { MAX_UNSUBSCRIBE_BODY_BYTES } from '../lib/limits.js';
import type { Store } from '../store/store.js';
import { truncateUserAgent } from '../tracking/machine-traffic.js';
import { UNSUBSCRIBE_PATH, verifyUnsubscribeToken, type UnsubscribeClaims } from '../tracking/unsubscribe-token.js';
import { merged } from '../lib/merged.js';

/** Retry-After (seconds) when the store cannot take the unsubscribe now. */
export const UNSUBSCRIBE_RETRY_AFTER_S = 60;
/** The CSP of the unsubscribe pages: nothing loads; the one form posts to this origin. */
export const UNSUBSCRIBE_CSP = "default-src 'none'; form-action 'self'; frame-ancestors 'none'";
/** The RFC 8058 body a mail receiver POSTs. */
const ONE_CLICK_BODY_RE = /(^|&|\r\n\r\n|")List-Unsubscribe(=|"\r\n\r\n)One-Click/;

export interface UnsubscribeOptions {
  readonly store: Pick<Store, 'addListEntry' | 'addEvent'>;
  readonly keys: readonly HmacKey[];
  readonly clock: () => Date;
  readonly storeTimeoutMs: number;
  readonly logger: { warn(obj: Record<string, unknown>, msg: string): void; error(obj: Record<string, unknown>, msg: string): void };
  /** Answers the service's one 404. */
  readonly notFound: (reply: FastifyReply) => void;
  /** Settles with the outcome of `work`, or 'timeout' (server.ts within). */
  readonly within: <T>(work: Promise<T>, ms: number) => Promise<{ ok: true; value: T } | { ok: false; error: unknown } | 'timeout'>;
}

type TokenRequest = FastifyRequest<{ Params: { token: string } }>;

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function page(title: string, body: string): string {
  return (
    '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">' +
    `<meta name="robots" content="noindex, nofollow"><title>${escapeHtml(title)}</title></head>\n<body>\n<h1>${escapeHtml(title)}</h1>\n${body}\n</body></html>\n`
  );
}

/** The confirmation page: a form posting to this same URL (no action attribute). */
export function confirmationPage(recipient: string): string {
  return page(
    'Unsubscribe',
    `<p>Stop this sender's mail to <strong>${escapeHtml(recipient)}</strong>?</p>\n` +
      '<form method="post"><input type="hidden" name="confirm" value="page"><button type="submit">Unsubscribe</button></form>',
  );
}

export function donePage(recipient: string): string {
  return page('Unsubscribed', `<p><strong>${escapeHtml(recipient)}</strong> will not get this sender's mail any more.</p>`);
}

function errorText(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).slice(0, 300);
}

export function registerUnsubscribe(app: FastifyInstance, opts: UnsubscribeOptions, prefixes: readonly string[]): void {
  const claimsOf = (req: TokenRequest, reply: FastifyReply): UnsubscribeClaims | null => {
    const claims = verifyUnsubscribeToken(req.params.token, opts.keys);
    if (claims === null) opts.notFound(reply);
    return claims;
  };
  const html = (reply: FastifyReply, status: number, body: string): void => {
    void reply.code(status).header('content-security-policy', UNSUBSCRIBE_CSP).type('text/html; charset=utf-8').send(body);
  };

  const show = (req: TokenRequest, reply: FastifyReply): void => {
    const claims = claimsOf(req, reply);
    if (claims !== null) html(reply, 200, confirmationPage(claims.recipient));
  };

  const unsubscribe = async (req: TokenRequest, reply: FastifyReply): Promise<void> => {
    const claims = claimsOf(req, reply);
    if (claims === null) return;
    const body = Buffer.isBuffer(req.body) ? req.body.toString('latin1') : '';
    const via = ONE_CLICK_BODY_RE.test(body) ? 'one-click' : /(^|&)confirm=page(&|$)/.test(body) ? 'page' : 'post';
    const at = opts.clock();
    const where = { spaceId: claims.spaceId, sendId: claims.sendId };
    const added = await opts.within(
      Promise.resolve().then(() =>
        opts.store.addListEntry({
          spaceId: claims.spaceId,
          list: 'unsubscribe',
          address: claims.recipient,
          reason: `one-click unsubscribe (send ${claims.sendId})`,
          source: 'unsubscribe-link',
          ifAbsent: true,
          addedAt: at,
        }),
      ),
      opts.storeTimeoutMs,
    );
    if (added === 'timeout' || (!added.ok && !(added.error instanceof UsageError))) {
      const err = added === 'timeout' ? 'store too slow' : errorText(added.error);
      opts.logger.error(merged(where, { err }), 'http: unsubscribe not recorded, store unavailable (503)');
      void reply.code(503).header('retry-after', String(UNSUBSCRIBE_RETRY_AFTER_S)).type('text/plain; charset=utf-8').send('Service Unavailable, try again later\n');
      return;
    }
    if (!added.ok) {
      opts.logger.warn(merged(where, { err: errorText(added.error) }), 'http: unsubscribe refused (unknown space)');
      opts.notFound(reply);
      return;
    }
    if (added.value) {
      const event = await opts.within(
        Promise.resolve().then(() =>
          opts.store.addEvent({
            sendId: claims.sendId,
            recipient: claims.recipient,
            type: 'unsubscribed',
            at,
            detail: { via, userAgent: truncateUserAgent(req.headers['user-agent']) },
          }),
        ),
        opts.storeTimeoutMs,
      );
      if (event === 'timeout' || !event.ok) {
        const err = event === 'timeout' ? 'store too slow' : errorText(event.error);
        const level = event !== 'timeout' && event.error instanceof TransientError ? 'error' : 'warn';
        opts.logger[level](merged(where, { err }), 'http: unsubscribed, but the event was not recorded');
      }
    }
    html(reply, 200, donePage(claims.recipient));
  };

  // Scoped: this body parser (any content type, as bytes, bounded) applies to these routes only.
  void app.register((child, _o, done) => {
    child.removeAllContentTypeParsers();
    child.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: MAX_UNSUBSCRIBE_BODY_BYTES }, (_req, payload, next) => {
      next(null, payload);
    });
    child.setErrorHandler((err, _req, reply) => {
      const status = (err as { statusCode?: unknown }).statusCode;
      if (status === 413) {
        void reply.code(413).type('text/plain; charset=utf-8').send('Payload Too Large\n');
        return;
      }
      if (typeof status === 'number' && status >= 400 && status < 500) {
        opts.notFound(reply);
        return;
      }
      opts.logger.error({ err: errorText(err) }, 'http: unsubscribe request failed');
      void reply.code(500).type('text/plain; charset=utf-8').send('Internal Server Error\n');
    });
    for (const prefix of prefixes) {
      const route = `${prefix}/${UNSUBSCRIBE_PATH}/:token`;
      child.get(route, show);
      child.post(route, { bodyLimit: MAX_UNSUBSCRIBE_BODY_BYTES }, unsubscribe);
    }
    done();
  });
}
