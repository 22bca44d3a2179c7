/**
 * The reports API: JSON over the HTTP service (server.ts registers it), under /api/v1/.
 *
 *   GET /api/v1/report?since&until&from&tag&tag&by   aggregate report (src/reports/report.ts
 *       defines the numbers): {"filter": {...}, "rows": [{group, key, sends, delivered, ...}]}
 *   GET /api/v1/sends?since&until&from&tag&limit&cursor   newest first, one page:
 *       {"sends": [...], "nextCursor": "..." | null}; pass nextCursor as `cursor` for the next
 *       page (keyset paging: no send skipped or repeated while new ones arrive).
 *       Search terms (recipient, messageId, status, reason, q) narrow the page, in the space
 *       of the login only.
 *   GET /api/v1/sends/:id   {"send": {...}, "events": [...], "timeline": [...]} the send, its
 *       events oldest first, and its timeline (src/reports/timeline.ts: the record's entries
 *       and the events, with the remote reply, reason, list, person or machine).
 *   GET /api/v1/domains   {"domains": [{domain, unicode, returnPath, checkStatus, checkedAt,
 *       keys: [{selector, algorithm, state, createdAt, activatedAt, retireAfter}]}]} the
 *       space's sender domains, sorted (src/reports/domain-json.ts; never a private key).
 *   GET /api/v1/sending   {"limits": {minute, hour, day}, "usage": {minute, hour, day},
 *       "paused": {reason, since, auto} | null} the space's sending limits (null: none), the
 *       recipients counted in each rolling window now, and its pause (core/sending-limits.ts).
 *   GET|POST /api/v1/lists/:list, DELETE /api/v1/lists/:list/:address, GET
 *       /api/v1/lists/:list/changes   the space's Bounce and Unsubscribe lists (lists-api.ts).
 * Parameters: src/reports/api-query.ts. Every malformed or unknown parameter → 400
 * {"error": "...", "parameter": "..."}; never a 500 for anything a client sends.
 * JSON dates are ISO 8601 (UTC, milliseconds).
 *
 * Authentication: HTTP Basic with a customer user's e-mail and password, checked by the SAME
 * CredentialVerifier as SMTP AUTH (cache, dummy scrypt for unknown users, the throttle per
 * (login, client address) and per client address shared with it). The space is the user's:
 * no parameter can name another one; another space's send id is a 404 exactly like an
 * unknown id.
 *   no or malformed Authorization, wrong login/password → 401 + WWW-Authenticate: Basic realm="trxmail"
 *   throttled (MAX_AUTH_FAILURES_PER_LOGIN_ADDRESS failures of this login from this client
 *     address, or MAX_AUTH_FAILURES_PER_ADDRESS from it, in AUTH_FAILURE_WINDOW_MS) → 429 +
 *     Retry-After (the window, in seconds), after about as long as a password check takes
 *   store unavailable → 503 + Retry-After
 * The client address the throttle counts is clientAddress(): behind a trusted TLS proxy
 * (`trustTlsProxy`) the last X-Forwarded-For entry — the one the proxy itself appended, so a
 * client cannot choose it — else the socket's peer. Without it every client of the proxy
 * would share the proxy's address, and twenty failures by anyone would lock out everyone.
 *
 * Transport: the service itself speaks plain HTTP, so a password must only reach it over TLS
 * or over loopback. A request is served only when the connection's LOCAL address is loopback
 * (the service listens on 127.0.0.1/::1, or the request came through a local TLS proxy), or
 * the operator says a TLS-terminating proxy is in front (`trustTlsProxy`). Only the LAST
 * `X-Forwarded-Proto` value counts: a proxy appends its own (or replaces the header), so the
 * values before it are whatever the client sent. With `trustTlsProxy` every request must
 * carry it and the last value must be https (missing: the request did not come through the
 * proxy); without, a request that carries it is refused unless the last value is https.
 * Refused: 403 {"error": "..."}, before any password check. In production put the API behind
 * HTTPS (e.g. nginx/caddy with `proxy_set_header X-Forwarded-Proto $scheme`).
 *
 * Throws nothing to fastify: every handler answers itself (UsageError from the store → 400,
 * TransientError → 503, anything else → logged, 500 with a fixed body).
 */
import { isIP, isIPv4, isIPv6 } from 'node:net';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { CredentialResult, CredentialVerifier } from '../auth/credentials.js';
import { TransientError, UsageError } from '../lib/errors.js';
import { MAX_EVENT_COUNT_SENDS } from '../lib/limits.js';
import { encodeCursor, parseNoQuery, parseReportQuery, parseSendsQuery, type ApiError } from '../reports/api-query.js';
import { domainJson } from '../reports/domain-json.js';
import { reportRowJson } from '../reports/report.js';
import { NO_EVENT_COUNTS, sendJson } from '../reports/send-json.js';
import { buildTimeline, timelineEntryJson } from '../reports/timeline.js';
import type { SendEvent, Store } from '../store/store.js';
import { listsApiRoutes, type ListsApiStore } from './lists-api.js';

export const API_PREFIX = '/api/v1';
export const API_REALM = 'trxmail';
/** Retry-After (seconds) when the store is unavailable. */
export const API_RETRY_AFTER_S = 5;

/** The logger the API writes to (pino-compatible; the HttpService's). */
export interface ApiLogger {
  info(obj: Record<string, unknown>, msg: string): void;
  warn(obj: Record<string, unknown>, msg: string): void;
  error(obj: Record<string, unknown>, msg: string): void;
}

export interface ReportsApiOptions {
  readonly store: Pick<Store, 'report' | 'listSends' | 'getSend' | 'listEvents' | 'eventCounts' | 'listDomains' | 'getDomainAuth' | 'listDkimKeys' | 'getSendingState' | 'sendingUsage'> & ListsApiStore;
  /** Share the runtime's instance with the auth server: one throttle for SMTP AUTH and the API. */
  readonly credentials: Pick<CredentialVerifier, 'verify'>;
  /** A TLS-terminating proxy is in front: serve requests from non-loopback peers too. */
  readonly trustTlsProxy?: boolean;
}

/** The facts of a request the transport rule looks at. */
export interface TransportFacts {
  readonly localAddress: string | undefined;
  readonly forwardedProto: string | undefined;
  readonly trustTlsProxy: boolean;
}

/** True when the address is a loopback address (127/8, ::1, IPv4-mapped 127/8). */
export function isLoopback(address: string | undefined): boolean {
  if (address === undefined) return false;
  const a = address.toLowerCase();
  const v4 = a.startsWith('::ffff:') ? a.slice(7) : a;
  if (isIPv4(v4)) return v4.startsWith('127.');
  return isIPv6(a) && (a === '::1' || a === '0:0:0:0:0:0:0:1');
}

/** Null when the request may carry a password, else why not (the 403 text). */
export function transportRefusal(f: TransportFacts): string | null {
  // The proxy's value is the last one; earlier values are the client's own.
  const proto = f.forwardedProto?.split(',').at(-1)?.trim().toLowerCase();
  if (proto === undefined || proto === '') {
    if (f.trustTlsProxy) return 'the reports API needs HTTPS: this request did not come through the TLS proxy (no X-Forwarded-Proto)';
  } else if (proto !== 'https') {
    return 'the reports API needs HTTPS (the proxy received this request over plain HTTP)';
  }
  if (f.trustTlsProxy || isLoopback(f.localAddress)) return null;
  return 'the reports API needs HTTPS: serve it through a TLS proxy (http.trustTlsProxy) or on loopback';
}

/** The facts of a request the throttle's client address comes from. */
export interface ClientAddressFacts {
  readonly remoteAddress: string | undefined;
  /** X-Forwarded-For as received (several fields: joined with ", " by Node, or an array). */
  readonly forwardedFor: string | readonly string[] | undefined;
  readonly trustTlsProxy: boolean;
}

/**
 * The client address a request is throttled by. Behind a trusted proxy: the LAST
 * X-Forwarded-For entry, which the proxy appended (entries before it are whatever the
 * client sent and prove nothing), when it is an IP address; otherwise — no proxy trusted, no
 * header, or a last entry that is not an address — the socket's peer address ('' if unknown).
 */
export function clientAddress(f: ClientAddressFacts): string {
  const socket = f.remoteAddress ?? '';
  if (!f.trustTlsProxy || f.forwardedFor === undefined) return socket;
  const joined = typeof f.forwardedFor === 'string' ? f.forwardedFor : f.forwardedFor.join(',');
  const last = joined.split(',').pop()?.trim() ?? '';
  return isIP(last) !== 0 ? last : socket;
}

/** Every X-Forwarded-Proto value in order, one string (several header lines joined), or undefined. */
function forwardedProtoOf(header: string | string[] | undefined): string | undefined {
  if (header === undefined) return undefined;
  return typeof header === 'string' ? header : header.join(', ');
}

/** login and password of a Basic Authorization header (RFC 7617), or null. */
export function parseBasicAuth(header: string | undefined): { login: string; password: string } | null {
  if (header === undefined || header.length > 4096) return null;
  const m = /^Basic +([A-Za-z0-9+/]+={0,2}) *$/i.exec(header);
  if (!m?.[1]) return null;
  const text = Buffer.from(m[1], 'base64').toString('utf8');
  const colon = text.indexOf(':');
  if (colon <= 0) return null;
  return { login: text.slice(0, colon), password: text.slice(colon + 1) };
}

function eventJson(e: SendEvent): Record<string, unknown> {
  return { at: e.at.toISOString(), type: e.type, recipient: e.recipient, detail: e.detail };
}

function queryOf(req: FastifyRequest): string {
  const url = req.raw.url ?? '';
  const q = url.indexOf('?');
  return q < 0 ? '' : url.slice(q + 1);
}

function errorText(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).slice(0, 300);
}

type Handler = (req: FastifyRequest, spaceId: number) => Promise<{ status: number; body: unknown }>;

export function registerReportsApi(app: FastifyInstance, opts: ReportsApiOptions, logger: ApiLogger, prefixes: readonly string[]): void {
  const { store, credentials } = opts;
  const trustTlsProxy = opts.trustTlsProxy === true;

  const json = (reply: FastifyReply, status: number, body: unknown): void => {
    void reply.code(status).type('application/json; charset=utf-8').send(JSON.stringify(body));
  };
  const badRequest = (e: ApiError) => ({ status: 400, body: { error: e.error, parameter: e.parameter } });

  /** Authenticates, then runs the handler; answers every outcome itself. */
  const guarded =
    (handler: Handler) =>
    async (req: FastifyRequest, reply: FastifyReply): Promise<void> => {
      const refusal = transportRefusal({
        localAddress: req.socket.localAddress,
        forwardedProto: forwardedProtoOf(req.headers['x-forwarded-proto']),
        trustTlsProxy,
      });
      if (refusal !== null) {
        json(reply, 403, { error: refusal });
        return;
      }
      const basic = parseBasicAuth(req.headers.authorization);
      const challenge = (error: string): void => {
        void reply.header('www-authenticate', `Basic realm="${API_REALM}", charset="UTF-8"`);
        json(reply, 401, { error });
      };
      if (basic === null) {
        challenge('authentication required (HTTP Basic with your user e-mail and password)');
        return;
      }
      const result: CredentialResult = await credentials.verify(basic.login, basic.password, {
        service: 'reports-api',
        rip: clientAddress({ remoteAddress: req.socket.remoteAddress, forwardedFor: req.headers['x-forwarded-for'], trustTlsProxy }),
        secured: true,
      });
      if (result.result === 'tempfail') {
        void reply.header('retry-after', String(API_RETRY_AFTER_S));
        json(reply, 503, { error: 'temporarily unavailable, try again later' });
        return;
      }
      if (result.result === 'throttled') {
        void reply.header('retry-after', String(Math.ceil(result.retryAfterMs / 1000)));
        json(reply, 429, { error: 'too many failed attempts from your address, try again later' });
        return;
      }
      if (result.result === 'fail') {
        challenge('wrong e-mail or password');
        return;
      }
      try {
        const out = await handler(req, result.user.spaceId);
        json(reply, out.status, out.body);
      } catch (err: unknown) {
        if (err instanceof UsageError) {
          json(reply, 400, { error: err.message, parameter: null });
        } else if (err instanceof TransientError) {
          logger.warn({ err: errorText(err), path: req.routeOptions.url }, 'reports api: store unavailable');
          void reply.header('retry-after', String(API_RETRY_AFTER_S));
          json(reply, 503, { error: 'temporarily unavailable, try again later' });
        } else {
          logger.error({ err: errorText(err), path: req.routeOptions.url }, 'reports api: request failed');
          json(reply, 500, { error: 'internal error' });
        }
      }
    };

  const report: Handler = async (req, spaceId) => {
    const q = parseReportQuery(queryOf(req));
    if (!q.ok) return badRequest(q);
    const { by, tags, ...range } = q.value;
    const rows = await store.report({ spaceId, ...range, tags }, by);
    return {
      status: 200,
      body: {
        filter: {
          since: range.since?.toISOString() ?? null,
          until: range.until?.toISOString() ?? null,
          from: range.from ?? null,
          tags,
          by,
        },
        rows: rows.map(reportRowJson),
      },
    };
  };

  const sends: Handler = async (req, spaceId) => {
    const q = parseSendsQuery(queryOf(req));
    if (!q.ok) return badRequest(q);
    const { limit, cursor, tags, search, ...range } = q.value;
    // One more than asked: tells whether there is a next page.
    const found = await store.listSends({ spaceId, ...range, ...search, tags, limit: limit + 1, ...(cursor ? { before: cursor } : {}) });
    const page = found.slice(0, limit);
    const last = page[page.length - 1];
    const counts = page.length > 0 && page.length <= MAX_EVENT_COUNT_SENDS ? await store.eventCounts(page.map((s) => s.id)) : {};
    return {
      status: 200,
      body: {
        sends: page.map((s) => sendJson(s, { view: 'api', counts: counts[s.id] ?? NO_EVENT_COUNTS })),
        nextCursor: found.length > limit && last ? encodeCursor({ receivedAt: last.receivedAt, id: last.id }) : null,
      },
    };
  };

  const oneSend: Handler = async (req, spaceId) => {
    const q = parseNoQuery(queryOf(req));
    if (!q.ok) return badRequest(q);
    const id = (req.params as { id: string }).id;
    const s = await store.getSend(id, spaceId);
    if (s === null) return { status: 404, body: { error: 'no such send' } };
    const [events, counts] = await Promise.all([store.listEvents(s.id), store.eventCounts([s.id])]);
    return {
      status: 200,
      body: {
        send: sendJson(s, { view: 'api', counts: counts[s.id] ?? NO_EVENT_COUNTS }),
        events: events.map(eventJson),
        timeline: buildTimeline(s, events).map(timelineEntryJson),
      },
    };
  };

  const domains: Handler = async (req, spaceId) => {
    const q = parseNoQuery(queryOf(req));
    if (!q.ok) return badRequest(q);
    const rows: Record<string, unknown>[] = [];
    for (const d of await store.listDomains(spaceId)) {
      try {
        const [auth, keys] = await Promise.all([store.getDomainAuth(spaceId, d), store.listDkimKeys(spaceId, d)]);
        rows.push(domainJson(auth, keys));
      } catch (err: unknown) {
        // Removed since listDomains: not one of the space's domains any more.
        if (!(err instanceof UsageError)) throw err;
      }
    }
    return { status: 200, body: { domains: rows } };
  };

  const sending: Handler = async (req, spaceId) => {
    const q = parseNoQuery(queryOf(req));
    if (!q.ok) return badRequest(q);
    const [state, usage] = await Promise.all([store.getSendingState(spaceId), store.sendingUsage(spaceId, new Date())]);
    const paused = state.pause === null ? null : { reason: state.pause.reason, since: state.pause.since.toISOString(), auto: state.pause.auto };
    return { status: 200, body: { limits: state.limits, usage, paused } };
  };

  for (const prefix of prefixes) {
    app.get(`${prefix}${API_PREFIX}/sending`, guarded(sending));
    app.get(`${prefix}${API_PREFIX}/domains`, guarded(domains));
    app.get(`${prefix}${API_PREFIX}/report`, guarded(report));
    app.get(`${prefix}${API_PREFIX}/sends`, guarded(sends));
    app.get(`${prefix}${API_PREFIX}/sends/:id`, guarded(oneSend));
    for (const r of listsApiRoutes(store)) app.route({ method: r.method, url: `${prefix}${API_PREFIX}${r.path}`, handler: guarded(r.handler) });
  }
}
