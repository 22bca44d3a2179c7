/**
 * Query parameters of the reports API (src/http/reports-api.ts), parsed and validated with
 * zod. Pure: a URL query string in, a typed value or ONE error naming the parameter out.
 *
 *   GET /api/v1/report  since, until, from, tag (repeatable: every tag must be on the send), by
 *   GET /api/v1/sends   since, until, from, tag, limit, cursor, and the search terms
 *                       recipient, messageId, status, reason, q (the search box: the send id,
 *                       a Message-ID or a recipient address; SendFilter in send-store.ts)
 *   GET /api/v1/sends/:id  no parameters
 *
 * Dates (since, until): the grammar of src/reports/date-bound.ts, shared with `trxmail sends
 * list`: `2026-03-01` (a whole UTC day) or a date-time with `Z` or an offset,
 * `2026-03-01T10:00:00Z` ("T" only: no space); since is inclusive; until is exclusive for a
 * date-time and covers the whole day for a plain date. since must be before until. `from` is
 * compared case-insensitively. `by` is day | from | tag (absent: total only).
 * `limit` is 1..MAX_API_PAGE_SIZE (default DEFAULT_API_PAGE_SIZE). `cursor` is what the
 * previous page returned as `nextCursor` (opaque: base64url of {"t": ms, "id": send id}).
 *
 * Refused, each with the parameter's name: unknown parameters, a parameter given twice (tag
 * excepted), empty values, malformed dates, since >= until, limit not a decimal integer in
 * range, more than MAX_TAGS tags or a tag longer than MAX_TAG_LENGTH, a from longer than
 * MAX_ADDRESS_LENGTH, control characters, a cursor that does not decode, a status or reason
 * not in its list, a recipient longer than MAX_ADDRESS_LENGTH, a messageId or q longer than
 * MAX_MESSAGE_ID_LENGTH. Never throws.
 */
import { z } from 'zod';
import { BOUNCE_REASONS, type BounceReason } from '../core/bounce-reason.js';
import { normalizeMessageId } from '../core/message-id.js';
import { MAX_ADDRESS_LENGTH, MAX_API_PAGE_SIZE, MAX_MESSAGE_ID_LENGTH, MAX_TAG_LENGTH, MAX_TAGS } from '../lib/limits.js';
import type { ReportGroupBy, SendStatus } from '../store/store.js';
import { parseDateBound } from './date-bound.js';
import { merged } from '../lib/merged.js';

/** Sends per page when `limit` is not given. */
export const DEFAULT_API_PAGE_SIZE = 50;
/** Longest cursor text looked at (a send id up to MAX_CURSOR_SEND_ID in base64url JSON fits). */
export const MAX_CURSOR_LENGTH = 512;
/** Longest send id a cursor may carry. */
export const MAX_CURSOR_SEND_ID = 255;
/** Longest query string looked at (characters); longer: 400 without parsing. */
export const MAX_QUERY_LENGTH = 8192;

export interface ApiError {
  readonly ok: false;
  readonly error: string;
  /** The offending parameter, or null when the query as a whole is wrong. */
  readonly parameter: string | null;
}

export interface Cursor {
  readonly receivedAt: Date;
  readonly id: string;
}

export interface ReportQuery {
  readonly since?: Date;
  readonly until?: Date;
  readonly from?: string;
  readonly tags: string[];
  readonly by: ReportGroupBy | null;
}

export interface SendsQuery {
  readonly since?: Date;
  readonly until?: Date;
  readonly from?: string;
  readonly tags: string[];
  readonly limit: number;
  readonly cursor?: Cursor;
  readonly search: SendsSearch;
}

/** The search terms of `GET /api/v1/sends` (absent: no condition). */
export interface SendsSearch {
  recipient?: string;
  messageId?: string;
  status?: SendStatus;
  reason?: BounceReason;
  /** The `q` parameter: the store's SendFilter.text. */
  text?: string;
}

type Result<T> = { readonly ok: true; readonly value: T } | ApiError;

const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

/**
 * An API date (the grammar of src/reports/date-bound.ts, "T" between date and time); `endOfDay`
 * moves a plain date to the next midnight (UTC). Null if invalid.
 */
export function parseApiDate(value: string, endOfDay: boolean): Date | null {
  return parseDateBound(value, { endOfDay, allowSpace: false });
}

const DATE_MESSAGE = 'expected an ISO 8601 date like 2026-03-01 or 2026-03-01T10:00:00Z';

const since = z.string().transform((v, ctx) => {
  const d = parseApiDate(v, false);
  if (d === null) ctx.addIssue({ code: 'custom', message: DATE_MESSAGE });
  return d ?? new Date(NaN);
});
const until = z.string().transform((v, ctx) => {
  const d = parseApiDate(v, true);
  if (d === null) ctx.addIssue({ code: 'custom', message: DATE_MESSAGE });
  return d ?? new Date(NaN);
});
const from = z
  .string()
  .max(MAX_ADDRESS_LENGTH, `longer than ${MAX_ADDRESS_LENGTH} characters`)
  .refine((v) => !CONTROL.test(v), 'contains control characters');
const tag = z
  .string()
  .refine((v) => [...v].length <= MAX_TAG_LENGTH, `a tag is at most ${MAX_TAG_LENGTH} characters`)
  .refine((v) => !CONTROL.test(v), 'contains control characters');
const tags = z.array(tag).max(MAX_TAGS, `at most ${MAX_TAGS} tags`);
const by = z.enum(['day', 'from', 'tag', 'reason', 'domain'], { message: 'expected one of day, from, tag, reason, domain' });
const limit = z
  .string()
  .regex(/^\d{1,9}$/, `expected an integer from 1 to ${MAX_API_PAGE_SIZE}`)
  .transform(Number)
  .pipe(z.number().int().min(1, `expected an integer from 1 to ${MAX_API_PAGE_SIZE}`).max(MAX_API_PAGE_SIZE, `expected an integer from 1 to ${MAX_API_PAGE_SIZE}`));

const recipient = z
  .string()
  .max(MAX_ADDRESS_LENGTH, `longer than ${MAX_ADDRESS_LENGTH} characters`)
  .refine((v) => !CONTROL.test(v), 'contains control characters');
const searchText = z
  .string()
  .refine((v) => [...v].length <= MAX_MESSAGE_ID_LENGTH, `longer than ${MAX_MESSAGE_ID_LENGTH} characters`)
  .refine((v) => !CONTROL.test(v), 'contains control characters');
const messageId = searchText.refine((v) => normalizeMessageId(v) !== null, 'expected a Message-ID like <abc@host.example> (no spaces)');
const statuses = ['queued', 'suppressed', 'delivered', 'deferred', 'bounced'] as const satisfies readonly SendStatus[];
const status = z.enum(statuses, { message: `expected one of ${statuses.join(', ')}` });
const reason = z.enum(BOUNCE_REASONS as unknown as [BounceReason, ...BounceReason[]], { message: `expected one of ${BOUNCE_REASONS.join(', ')}` });

const cursorJson = z.strictObject({
  t: z.number().int().min(0).max(8.64e15),
  id: z.string().min(1).max(MAX_CURSOR_SEND_ID),
});

/** The cursor that continues after `send` (the last of a page). */
export function encodeCursor(c: Cursor): string {
  return Buffer.from(JSON.stringify({ t: c.receivedAt.getTime(), id: c.id }), 'utf8').toString('base64url');
}

/** The position a cursor names, or null when it is not one of ours. */
export function decodeCursor(text: string): Cursor | null {
  if (text.length === 0 || text.length > MAX_CURSOR_LENGTH || !/^[A-Za-z0-9_-]+$/.test(text)) return null;
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
  } catch {
    return null;
  }
  const parsed = cursorJson.safeParse(json);
  return parsed.success ? { receivedAt: new Date(parsed.data.t), id: parsed.data.id } : null;
}

function fail(parameter: string | null, error: string): ApiError {
  return { ok: false, error, parameter };
}

/**
 * Splits a query string into name → values, refusing unknown names, repeats of names not in
 * `repeatable` and empty values.
 */
function collect(query: string, allowed: readonly string[], repeatable: readonly string[]): Result<Map<string, string[]>> {
  if (query.length > MAX_QUERY_LENGTH) return fail(null, `query string longer than ${MAX_QUERY_LENGTH} characters`);
  const out = new Map<string, string[]>();
  // URLSearchParams never throws: malformed percent-escapes are kept as they are.
  for (const [name, value] of new URLSearchParams(query)) {
    const shown = name.length > 64 ? name.slice(0, 64) + '…' : name;
    if (!allowed.includes(name)) return fail(shown, `unknown parameter (allowed: ${allowed.join(', ') || 'none'})`);
    const list = out.get(name) ?? [];
    if (list.length > 0 && !repeatable.includes(name)) return fail(name, 'given more than once');
    if (value === '') return fail(name, 'empty value');
    list.push(value);
    out.set(name, list);
  }
  return { ok: true, value: out };
}

function field<T>(schema: z.ZodType<T>, name: string, value: unknown): Result<T> {
  const r = schema.safeParse(value);
  if (r.success) return { ok: true, value: r.data };
  return fail(name, r.error.issues[0]?.message ?? 'invalid value');
}

interface Common {
  since?: Date;
  until?: Date;
  from?: string;
  tags: string[];
}

function common(params: Map<string, string[]>): Result<Common> {
  const out: Common = { tags: [] };
  const s = params.get('since')?.[0];
  if (s !== undefined) {
    const r = field(since, 'since', s);
    if (!r.ok) return r;
    out.since = r.value;
  }
  const u = params.get('until')?.[0];
  if (u !== undefined) {
    const r = field(until, 'until', u);
    if (!r.ok) return r;
    out.until = r.value;
  }
  if (out.since && out.until && out.since.getTime() >= out.until.getTime()) return fail('until', 'until must be after since');
  const f = params.get('from')?.[0];
  if (f !== undefined) {
    const r = field(from, 'from', f);
    if (!r.ok) return r;
    out.from = r.value;
  }
  const r = field(tags, 'tag', params.get('tag') ?? []);
  if (!r.ok) return r;
  out.tags = r.value;
  return { ok: true, value: out };
}

/** `GET /api/v1/report` parameters. */
export function parseReportQuery(query: string): Result<ReportQuery> {
  const params = collect(query, ['since', 'until', 'from', 'tag', 'by'], ['tag']);
  if (!params.ok) return params;
  const c = common(params.value);
  if (!c.ok) return c;
  const b = params.value.get('by')?.[0];
  if (b === undefined) return { ok: true, value: merged(c.value, { by: null }) };
  const r = field(by, 'by', b);
  return r.ok ? { ok: true, value: merged(c.value, { by: r.value }) } : r;
}

/** The search terms of `GET /api/v1/sends`. */
function search(params: Map<string, string[]>): Result<SendsSearch> {
  const out: SendsSearch = {};
  const terms: [string, keyof SendsSearch, z.ZodType<string>][] = [
    ['recipient', 'recipient', recipient],
    ['messageId', 'messageId', messageId],
    ['status', 'status', status],
    ['reason', 'reason', reason],
    ['q', 'text', searchText],
  ];
  for (const [name, key, schema] of terms) {
    const v = params.get(name)?.[0];
    if (v === undefined) continue;
    const r = field(schema, name, v.trim());
    if (!r.ok) return r;
    if (r.value === '') return fail(name, 'empty value');
    (out as Record<string, string>)[key] = r.value;
  }
  return { ok: true, value: out };
}

/** `GET /api/v1/sends` parameters. */
export function parseSendsQuery(query: string): Result<SendsQuery> {
  const params = collect(query, ['since', 'until', 'from', 'tag', 'limit', 'cursor', 'recipient', 'messageId', 'status', 'reason', 'q'], ['tag']);
  if (!params.ok) return params;
  const c = common(params.value);
  if (!c.ok) return c;
  const found = search(params.value);
  if (!found.ok) return found;
  let n = DEFAULT_API_PAGE_SIZE;
  const l = params.value.get('limit')?.[0];
  if (l !== undefined) {
    const r = field(limit, 'limit', l);
    if (!r.ok) return r;
    n = r.value;
  }
  const cur = params.value.get('cursor')?.[0];
  if (cur === undefined) return { ok: true, value: merged(c.value, { limit: n, search: found.value }) };
  const decoded = decodeCursor(cur);
  if (decoded === null) return fail('cursor', 'not a cursor this API returned');
  return { ok: true, value: merged(c.value, { limit: n, cursor: decoded, search: found.value }) };
}

/** Parameters of a path without any (`GET /api/v1/sends/:id`). */
export function parseNoQuery(query: string): Result<null> {
  const params = collect(query, [], []);
  return params.ok ? { ok: true, value: null } : params;
}
