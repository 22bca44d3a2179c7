/**
 * The suppression API: a space's Bounce and Unsubscribe lists over the reports API
 * (reports-api.ts registers these routes behind its authentication; the space is the user's,
 * no parameter can name another one). Parameters: src/reports/list-query.ts.
 *
 *   GET    /api/v1/lists/:list?q&limit&cursor   {"entries": [entry...], "nextCursor": "..." | null}
 *          by address (lower-cased, IDN domains as A-labels); `q`: only addresses containing it.
 *   POST   /api/v1/lists/:list  {"address", "reason"?}   201 {"entry", "added": true} when new,
 *          200 {"entry", "added": false} when it was there (reason and time updated, source
 *          'api'; the list keeps the address as first added, the answer shows it as given).
 *   DELETE /api/v1/lists/:list/:address?reason   200 {"removed": true}; 404 when not on the list.
 *   GET    /api/v1/lists/:list/changes?limit&cursor   {"changes": [change...], "nextCursor"}
 *          the list's history, newest first: every address that was new on it and every removal.
 *
 * entry:  {address, list, reason, source, bounceReason, rule, addedAt}
 * change: {id, address, action: added|removed, source, reason, at}
 * source: bounce | complaint | unsubscribe-link | api | operator.
 *
 * A removal is recorded as a list change (source 'api', the given reason or "removed by api")
 * in the same transaction as the removal, not as a send event: it belongs to no send.
 */
import type { FastifyRequest } from 'fastify';
import { encodeListCursor, parseAddBody, parseChangesQuery, parseEntriesQuery, parseListName, parseRemoveQuery } from '../reports/list-query.js';
import type { ApiError } from '../reports/api-query.js';
import type { ListChange, ListEntry, Store } from '../store/store.js';

export type ListsApiStore = Pick<Store, 'searchListEntries' | 'addListEntry' | 'removeListEntry' | 'listChanges'>;
type Answer = { status: number; body: unknown };
type Handler = (req: FastifyRequest, spaceId: number) => Promise<Answer>;

export function entryJson(e: ListEntry): Record<string, unknown> {
  return { address: e.address, list: e.list, reason: e.reason, source: e.source, bounceReason: e.bounceReason, rule: e.rule, addedAt: e.addedAt.toISOString() };
}

export function changeJson(c: ListChange): Record<string, unknown> {
  return { id: c.id, address: c.address, action: c.action, source: c.source, reason: c.reason, at: c.at.toISOString() };
}

const badRequest = (e: ApiError): Answer => ({ status: 400, body: { error: e.error, parameter: e.parameter } });

function queryOf(req: FastifyRequest): string {
  const url = req.raw.url ?? '';
  const q = url.indexOf('?');
  return q < 0 ? '' : url.slice(q + 1);
}

/** The routes (method, path below the API prefix, handler) for the reports API to register. */
export function listsApiRoutes(store: ListsApiStore, clock: () => Date = () => new Date()): Array<{ method: 'GET' | 'POST' | 'DELETE'; path: string; handler: Handler }> {
  const listOf = (req: FastifyRequest) => parseListName((req.params as { list: string }).list);

  const entries: Handler = async (req, spaceId) => {
    const list = listOf(req);
    if (!list.ok) return badRequest(list);
    const q = parseEntriesQuery(queryOf(req));
    if (!q.ok) return badRequest(q);
    const found = await store.searchListEntries({ spaceId, list: list.value, search: q.value.search, after: q.value.after, limit: q.value.limit + 1 });
    const page = found.slice(0, q.value.limit);
    const last = page[page.length - 1];
    return { status: 200, body: { entries: page.map(entryJson), nextCursor: found.length > q.value.limit && last ? encodeListCursor(last.address) : null } };
  };

  const add: Handler = async (req, spaceId) => {
    const list = listOf(req);
    if (!list.ok) return badRequest(list);
    const body = parseAddBody(req.body);
    if (!body.ok) return badRequest(body);
    const at = clock();
    const entry: ListEntry = { spaceId, list: list.value, address: body.value.address, reason: body.value.reason ?? 'added via the API', bounceReason: null, rule: null, source: 'api', addedAt: at };
    const added = await store.addListEntry({ ...entry });
    return { status: added ? 201 : 200, body: { entry: entryJson(entry), added } };
  };

  const remove: Handler = async (req, spaceId) => {
    const list = listOf(req);
    if (!list.ok) return badRequest(list);
    const reason = parseRemoveQuery(queryOf(req));
    if (!reason.ok) return badRequest(reason);
    const address = (req.params as { address: string }).address;
    const removed = await store.removeListEntry(spaceId, list.value, address, { source: 'api', ...(reason.value === null ? {} : { reason: reason.value }), at: clock() });
    return removed ? { status: 200, body: { removed: true } } : { status: 404, body: { error: `${address.slice(0, 300)} is not on the ${list.value} list` } };
  };

  const changes: Handler = async (req, spaceId) => {
    const list = listOf(req);
    if (!list.ok) return badRequest(list);
    const q = parseChangesQuery(queryOf(req));
    if (!q.ok) return badRequest(q);
    const found = await store.listChanges(spaceId, list.value, q.value.before, q.value.limit + 1);
    const page = found.slice(0, q.value.limit);
    const last = page[page.length - 1];
    return { status: 200, body: { changes: page.map(changeJson), nextCursor: found.length > q.value.limit && last ? encodeListCursor(last.id) : null } };
  };

  return [
    { method: 'GET', path: '/lists/:list', handler: entries },
    { method: 'POST', path: '/lists/:list', handler: add },
    { method: 'GET', path: '/lists/:list/changes', handler: changes },
    { method: 'DELETE', path: '/lists/:list/:address', handler: remove },
  ];
}
