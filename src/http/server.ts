/**
 * The HTTP service: open pixel, click redirect, health (docs/architecture.md, "The tree of src/"). Fastify.
 *
 *   GET|HEAD /o/<token>   200, the 43-byte transparent 1×1 GIF, `Cache-Control: no-store,
 *                         max-age=0` (every open reaches us); records `opened`.
 *   GET|HEAD /c/<token>   302, `Location:` the URL the token carries (token.ts
 *                         redirectLocation: an ASCII URL byte for byte, a non-ASCII one in
 *                         the ASCII form a browser requests), `Referrer-Policy: no-referrer`
 *                         (the target never sees the tracking URL); records `clicked`.
 *   GET|HEAD|POST /u/<token>   one-click unsubscribe (RFC 8058): the confirmation page on GET,
 *                         the unsubscribe on POST (unsubscribe.ts).
 *   GET|HEAD /health      200 {"status":"ok"} when the store can take a write now
 *                         (Store.health: no waiting for a lock); 503 {"status":"unavailable"}
 *                         when it cannot (locked by another process, closed, unreachable) or
 *                         does not say within HEALTH_TIMEOUT_MS.
 *   GET /api/v1/...       the reports API (reports-api.ts), when `reports` is given.
 *   GET /report[/...]     the report page over that API (report-page.ts), with it; its
 *                         responses carry report-page.ts's CSP ('self' only) instead.
 *   anything else         404 with one fixed body: a bad, forged, edited, truncated, too
 *                         long, other-key or wrong-kind token (an open token on /c/ or the
 *                         reverse), an unknown path or method, a malformed URL all look the same.
 *
 * The routes also answer under `basePath` (the path of http.baseUrl, e.g. /mail) when one is
 * given, so the service works behind a proxy that keeps the prefix and one that strips it.
 *
 * Events: `{ sendId, recipient }` from the token; detail `{ userAgent, machine, machineReason }`
 * (machine-traffic.ts; User-Agent cut at MAX_USER_AGENT_LENGTH), plus `{ url }` for a click.
 * The client IP address is not recorded: reports do not need it and it is personal data.
 * The token is valid, so a person never sees an error for our sake: when recording fails
 * (store down, send no longer known) or takes longer than `storeTimeoutMs`, the GIF or the
 * redirect is served anyway and the failure logged (error; warn for an unknown send).
 *
 * Hardening: fastify's own logger off (ours gets one line per failure, no tokens, no
 * addresses, no user agents); no stack traces or error messages to clients (500 has a fixed
 * body); tokens longer than MAX_TRACKING_TOKEN_LENGTH are not routed (404); Node's 16 KiB
 * header limit bounds the request line; requests must arrive within HTTP_REQUEST_TIMEOUT_MS;
 * every response carries `X-Content-Type-Options: nosniff`, `Referrer-Policy: no-referrer`,
 * a `Content-Security-Policy` allowing nothing and `X-Robots-Tag: noindex, nofollow`.
 *
 * Throws: listen() rejects with ConfigError when the address cannot be bound.
 */
import type { AddressInfo } from 'node:net';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { formatHostPort } from '../lib/endpoint.js';
import { ConfigError, UsageError } from '../lib/errors.js';
import type { HmacKey } from '../lib/hmac-keys.js';
import { MAX_TRACKING_TOKEN_LENGTH } from '../lib/limits.js';
import type { NewSendEvent, Store } from '../store/store.js';
import { registerReportsApi, type ReportsApiOptions } from './reports-api.js';
import { registerReportPage } from './report-page.js';
import { registerUnsubscribe } from './unsubscribe.js';
import { CLICK_PATH, OPEN_PATH } from '../tracking/links.js';
import { classifyRequest, truncateUserAgent } from '../tracking/machine-traffic.js';
import { redirectLocation, verifyTrackingToken } from '../tracking/token.js';
import { metrics } from '../metrics/metrics.js';
import { merged } from '../lib/merged.js';

/**
 * The transparent 1×1 GIF89a, 43 bytes: header, screen 1×1 with a 2-colour table, graphic
 * control extension (transparent colour index 0), image 1×1, LZW (min code size 2) data
 * clear-0-end in two bytes, trailer.
 */
export const TRANSPARENT_GIF: Buffer = Buffer.from(
  '474946383961' + '0100010080' + '0000' + '000000ffffff' + '21f90401000000' + '00' + '2c000000000100010000' + '0202440100' + '3b',
  'hex',
);
/** How long a request may take to arrive completely (ms); slower: Node answers 408. */
export const HTTP_REQUEST_TIMEOUT_MS = 10_000;
/** How long a request waits for the store (recording an event, the health read), ms. */
export const STORE_TIMEOUT_MS = 2_000;
/** How long /health waits for the store's answer before saying unavailable (ms): a monitor gets an answer within a second. */
export const HEALTH_TIMEOUT_MS = 800;
/** The one body of every 404. */
export const NOT_FOUND_BODY = 'Not Found\n';

/** The logger the service writes to (pino-compatible). */
export interface HttpLogger {
  debug(obj: Record<string, unknown>, msg: string): void;
  info(obj: Record<string, unknown>, msg: string): void;
  warn(obj: Record<string, unknown>, msg: string): void;
  error(obj: Record<string, unknown>, msg: string): void;
}

export interface HttpServiceOptions {
  /** Only addEvent (recording), addListEntry (one-click unsubscribe) and health are used. */
  readonly store: Pick<Store, 'addEvent' | 'addListEntry' | 'health'>;
  /** Keys that verify tokens (Config hmacKeysInForce): all of them, the first one signs elsewhere. */
  readonly keys: readonly HmacKey[];
  readonly logger: HttpLogger;
  /** Time of an event; default the system clock. */
  readonly clock?: () => Date;
  /** Path prefix of http.baseUrl (e.g. "/mail"); the routes answer under it and at the root. */
  readonly basePath?: string;
  /** Default STORE_TIMEOUT_MS. */
  readonly storeTimeoutMs?: number;
  /** Serve the reports API (reports-api.ts) under /api/v1/ too. */
  readonly reports?: ReportsApiOptions;
}

type Kind = 'open' | 'click';
type TokenRequest = FastifyRequest<{ Params: { token: string } }>;

const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'content-security-policy': "default-src 'none'; frame-ancestors 'none'",
  'x-robots-tag': 'noindex, nofollow',
  'cache-control': 'no-store',
};

function errorText(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).slice(0, 300);
}

/** Settles with the outcome of `work`, or 'timeout' after `ms` (work goes on in the background). */
async function within<T>(work: Promise<T>, ms: number): Promise<{ ok: true; value: T } | { ok: false; error: unknown } | 'timeout'> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), ms);
  });
  try {
    return await Promise.race([
      work.then(
        (value) => ({ ok: true as const, value }),
        (error: unknown) => ({ ok: false as const, error }),
      ),
      timeout,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

export class HttpService {
  private readonly app: FastifyInstance;
  private readonly store: HttpServiceOptions['store'];
  private readonly keys: readonly HmacKey[];
  private readonly logger: HttpLogger;
  private readonly clock: () => Date;
  private readonly storeTimeoutMs: number;
  private closed = false;

  constructor(opts: HttpServiceOptions) {
    this.store = opts.store;
    this.keys = opts.keys;
    this.logger = opts.logger;
    this.clock = opts.clock ?? (() => new Date());
    this.storeTimeoutMs = opts.storeTimeoutMs ?? STORE_TIMEOUT_MS;
    const basePath = (opts.basePath ?? '').replace(/\/+$/, '');
    if (basePath !== '' && !/^\/[A-Za-z0-9._~!$&'()*+,;=:@%/-]*$/.test(basePath)) {
      throw new ConfigError(`http: base path ${JSON.stringify(basePath.slice(0, 100))} is not a URL path`);
    }

    this.app = Fastify({
      logger: false,
      requestTimeout: HTTP_REQUEST_TIMEOUT_MS,
      return503OnClosing: true,
      routerOptions: { maxParamLength: MAX_TRACKING_TOKEN_LENGTH },
      // Malformed percent-encoding and the like: the same 404 as any bad token.
      frameworkErrors: (_err, _req, reply) => {
        this.notFound(reply);
      },
    });
    this.app.addHook('onRequest', (_req, reply, done) => {
      reply.headers(SECURITY_HEADERS);
      done();
    });
    this.app.setNotFoundHandler((_req, reply) => {
      this.notFound(reply);
    });
    this.app.setErrorHandler((err, req, reply) => {
      const status = typeof (err as { statusCode?: unknown }).statusCode === 'number' ? (err as { statusCode: number }).statusCode : 500;
      if (status >= 400 && status < 500) {
        this.notFound(reply);
        return;
      }
      this.logger.error({ err: errorText(err), method: req.method }, 'http: request failed');
      void reply.code(500).type('text/plain; charset=utf-8').send('Internal Server Error\n');
    });

    for (const prefix of basePath === '' ? [''] : ['', basePath]) {
      this.app.get(`${prefix}/${OPEN_PATH}/:token`, (req: TokenRequest, reply) => this.track('open', req, reply));
      this.app.get(`${prefix}/${CLICK_PATH}/:token`, (req: TokenRequest, reply) => this.track('click', req, reply));
      this.app.get(`${prefix}/health`, (_req, reply) => this.health(reply));
    }
    registerUnsubscribe(
      this.app,
      { store: this.store, keys: this.keys, clock: this.clock, storeTimeoutMs: this.storeTimeoutMs, logger: this.logger, notFound: (r) => this.notFound(r), within },
      basePath === '' ? [''] : ['', basePath],
    );
    if (opts.reports) {
      registerReportsApi(this.app, opts.reports, this.logger, basePath === '' ? [''] : ['', basePath]);
      registerReportPage(this.app, basePath === '' ? [''] : ['', basePath]);
    }
  }

  /** Starts listening; resolves with the bound address (the real port when 0 was asked). */
  async listen(host: string, port: number): Promise<{ host: string; port: number }> {
    try {
      await this.app.listen({ host, port });
    } catch (err: unknown) {
      throw new ConfigError(`http: cannot listen on ${formatHostPort(host, port)}: ${errorText(err)}`, { cause: err });
    }
    const addr = this.app.server.address() as AddressInfo;
    return { host: addr.address, port: addr.port };
  }

  /** Stops accepting, lets requests in flight finish, closes idle keep-alive connections. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.app.close();
  }

  private notFound(reply: FastifyReply): void {
    void reply.code(404).headers(SECURITY_HEADERS).type('text/plain; charset=utf-8').send(NOT_FOUND_BODY);
  }

  private async track(kind: Kind, req: TokenRequest, reply: FastifyReply): Promise<void> {
    const claims = verifyTrackingToken(req.params.token, this.keys);
    if (claims === null || claims.kind !== kind) {
      this.logger.debug({ kind, tokenLength: req.params.token.length }, 'http: tracking token refused');
      this.notFound(reply);
      return;
    }
    const location = claims.kind === 'click' ? redirectLocation(claims.url) : null;
    if (claims.kind === 'click' && location === null) {
      this.notFound(reply);
      return;
    }
    const userAgent = req.headers['user-agent'];
    const verdict = classifyRequest({ method: req.method, userAgent, headers: req.headers });
    metrics.tracking.inc({ type: kind, traffic: verdict.machine ? 'machine' : 'human' });
    const detail: Record<string, unknown> = claims.kind === 'click' ? { url: claims.url } : {};
    detail['userAgent'] = truncateUserAgent(userAgent);
    detail['machine'] = verdict.machine;
    detail['machineReason'] = verdict.reason;
    await this.record({
      sendId: claims.sendId,
      recipient: claims.recipient,
      type: kind === 'open' ? 'opened' : 'clicked',
      at: this.clock(),
      detail,
    });
    if (location === null) {
      void reply.code(200).header('cache-control', 'no-store, max-age=0').type('image/gif').send(TRANSPARENT_GIF);
    } else {
      void reply.code(302).header('location', location).send();
    }
  }

  /** Records the event; never throws (failures are logged, the person still gets the answer). */
  private async record(event: NewSendEvent): Promise<void> {
    const outcome = await within(
      Promise.resolve().then(() => this.store.addEvent(event)),
      this.storeTimeoutMs,
    );
    const where = { sendId: event.sendId, type: event.type };
    if (outcome === 'timeout') {
      this.logger.error(merged(where, { timeoutMs: this.storeTimeoutMs }), 'http: store too slow, answered without waiting for the event');
    } else if (!outcome.ok) {
      if (outcome.error instanceof UsageError) this.logger.warn(merged(where, { err: errorText(outcome.error) }), 'http: event not recorded');
      else this.logger.error(merged(where, { err: errorText(outcome.error) }), 'http: event not recorded, store failed');
    } else {
      this.logger.debug(merged(where, { machine: event.detail['machine'] }), 'http: event recorded');
    }
  }

  private async health(reply: FastifyReply): Promise<void> {
    const outcome = await within(
      Promise.resolve().then(() => this.store.health()),
      Math.min(this.storeTimeoutMs, HEALTH_TIMEOUT_MS),
    );
    if (outcome !== 'timeout' && outcome.ok && outcome.value.ok) {
      void reply.code(200).type('application/json').send('{"status":"ok"}');
      return;
    }
    const why = outcome === 'timeout' ? 'no answer in time' : !outcome.ok ? errorText(outcome.error) : outcome.value.ok ? '' : outcome.value.reason;
    this.logger.warn({ err: why }, 'http: health check: store unavailable');
    void reply.code(503).type('application/json').send('{"status":"unavailable"}');
  }
}
