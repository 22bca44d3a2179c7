/**
 * Parameters of the suppression API (src/http/lists-api.ts). Pure: a query string or a JSON
 * body in, a typed value or ONE error naming the parameter out. Never throws.
 *
 *   GET    /api/v1/lists/:list            q, limit, cursor
 *   GET    /api/v1/lists/:list/changes    limit, cursor
 *   POST   /api/v1/lists/:list            body {"address": "...", "reason": "..."}
 *   DELETE /api/v1/lists/:list/:address   reason
 *
 * `:list` is bounce or unsubscribe. `q`: text the address must contain (compared lower-cased),
 * 1..MAX_LIST_SEARCH_LENGTH characters. `limit`: 1..MAX_LIST_PAGE_SIZE (default
 * DEFAULT_LIST_PAGE_SIZE). `cursor`: the previous page's nextCursor (opaque: base64url of the
 * last address, or of the last change id). `reason`: 1..MAX_LIST_REASON_LENGTH characters, no
 * control characters. Refused: unknown or repeated parameters, empty values, anything else.
 */
import { MAX_ADDRESS_LENGTH, MAX_LIST_PAGE_SIZE, MAX_LIST_REASON_LENGTH, MAX_LIST_SEARCH_LENGTH } from '../lib/limits.js';
import type { SuppressionList } from '../core/types.js';
import type { ApiError } from './api-query.js';

/** Entries (or changes) per page when `limit` is not given. */
export const DEFAULT_LIST_PAGE_SIZE = 100;

type Result<T> = { readonly ok: true; readonly value: T } | ApiError;

const CONTROL_RE = /[\u0000-\u001f\u007f]/;

function fail(parameter: string | null, error: string): ApiError {
  return { ok: false, error, parameter };
}

/** The list named in the path, or an error. */
export function parseListName(name: string): Result<SuppressionList> {
  return name === 'bounce' || name === 'unsubscribe' ? { ok: true, value: name } : fail('list', 'list must be bounce or unsubscribe');
}

function params(query: string, allowed: readonly string[]): Result<Map<string, string>> {
  const out = new Map<string, string>();
  let parsed: URLSearchParams;
  try {
    parsed = new URLSearchParams(query);
  } catch {
    return fail(null, 'malformed query');
  }
  for (const [k, v] of parsed) {
    if (!allowed.includes(k)) return fail(k, `unknown parameter ${k}`);
    if (out.has(k)) return fail(k, `${k} given twice`);
    if (v === '') return fail(k, `${k} is empty`);
    if (CONTROL_RE.test(v)) return fail(k, `${k} has a control character`);
    out.set(k, v);
  }
  return { ok: true, value: out };
}

function limitOf(p: Map<string, string>): Result<number> {
  const text = p.get('limit');
  if (text === undefined) return { ok: true, value: DEFAULT_LIST_PAGE_SIZE };
  const n = /^[0-9]{1,6}$/.test(text) ? Number(text) : NaN;
  if (!(n >= 1 && n <= MAX_LIST_PAGE_SIZE)) return fail('limit', `limit must be an integer from 1 to ${MAX_LIST_PAGE_SIZE}`);
  return { ok: true, value: n };
}

export function encodeListCursor(value: string | number): string {
  return Buffer.from(String(value), 'utf8').toString('base64url');
}

function cursorText(p: Map<string, string>): Result<string | null> {
  const c = p.get('cursor');
  if (c === undefined) return { ok: true, value: null };
  if (c.length > 2 * MAX_ADDRESS_LENGTH || !/^[A-Za-z0-9_-]+$/.test(c)) return fail('cursor', 'cursor is not one this API returned');
  const text = Buffer.from(c, 'base64url').toString('utf8');
  if (encodeListCursor(text) !== c) return fail('cursor', 'cursor is not one this API returned');
  return { ok: true, value: text };
}

export interface EntriesQuery {
  readonly search: string | null;
  readonly limit: number;
  readonly after: string | null;
}

export function parseEntriesQuery(query: string): Result<EntriesQuery> {
  const p = params(query, ['q', 'limit', 'cursor']);
  if (!p.ok) return p;
  const search = p.value.get('q') ?? null;
  if (search !== null && search.length > MAX_LIST_SEARCH_LENGTH) return fail('q', `q is longer than ${MAX_LIST_SEARCH_LENGTH} characters`);
  const limit = limitOf(p.value);
  if (!limit.ok) return limit;
  const after = cursorText(p.value);
  if (!after.ok) return after;
  return { ok: true, value: { search, limit: limit.value, after: after.value } };
}

export interface ChangesQuery {
  readonly limit: number;
  readonly before: number | null;
}

export function parseChangesQuery(query: string): Result<ChangesQuery> {
  const p = params(query, ['limit', 'cursor']);
  if (!p.ok) return p;
  const limit = limitOf(p.value);
  if (!limit.ok) return limit;
  const c = cursorText(p.value);
  if (!c.ok) return c;
  if (c.value !== null && !/^[1-9][0-9]{0,14}$/.test(c.value)) return fail('cursor', 'cursor is not one this API returned');
  return { ok: true, value: { limit: limit.value, before: c.value === null ? null : Number(c.value) } };
}

function reasonOf(value: unknown, name: string): Result<string | null> {
  if (value === undefined) return { ok: true, value: null };
  if (typeof value !== 'string' || value.trim() === '') return fail(name, `${name} must be a non-empty string`);
  if (value.length > MAX_LIST_REASON_LENGTH) return fail(name, `${name} is longer than ${MAX_LIST_REASON_LENGTH} characters`);
  if (CONTROL_RE.test(value)) return fail(name, `${name} has a control character`);
  return { ok: true, value: value.trim() };
}

export interface AddBody {
  readonly address: string;
  readonly reason: string | null;
}

/** The JSON body of an add: {"address": string, "reason"?: string}, nothing else. */
export function parseAddBody(body: unknown): Result<AddBody> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return fail(null, 'the body must be a JSON object {"address": "...", "reason": "..."}');
  for (const k of Object.keys(body)) if (k !== 'address' && k !== 'reason') return fail(k, `unknown field ${k}`);
  const { address, reason } = body as { address?: unknown; reason?: unknown };
  if (typeof address !== 'string' || address.trim() === '') return fail('address', 'address must be a non-empty string');
  if (address.length > MAX_ADDRESS_LENGTH) return fail('address', `address is longer than ${MAX_ADDRESS_LENGTH} characters`);
  const r = reasonOf(reason, 'reason');
  if (!r.ok) return r;
  return { ok: true, value: { address: address.trim(), reason: r.value } };
}

/** The query of a removal: an optional reason. */
export function parseRemoveQuery(query: string): Result<string | null> {
  const p = params(query, ['reason']);
  if (!p.ok) return p;
  return reasonOf(p.value.get('reason'), 'reason');
}
