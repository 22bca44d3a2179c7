/**
 * What the SQLite store's send queries share: the address key sends and recipients are
 * stored under, date parameters, and the WHERE clauses of a send filter (space, From, date
 * range, tags — every tag must be on the send), so listSends and the report select the same
 * sends for the same filter.
 *
 * Pure. Throws UsageError for an invalid date or more than MAX_TAGS tags.
 */
import { listKey } from '../../core/domain.js';
import { UsageError } from '../../lib/errors.js';
import { MAX_TAGS } from '../../lib/limits.js';

/** The key an address is stored and compared under: listKey, or lower case when it is no address. */
export function looseAddressKey(address: string): string {
  return listKey(address) ?? address.trim().toLowerCase();
}

export function toMs(d: Date, what: string): number {
  const ms = d instanceof Date ? d.getTime() : NaN;
  if (!Number.isFinite(ms)) throw new UsageError(`${what} is not a valid date`);
  return ms;
}

export interface SendFilterFields {
  readonly spaceId?: number | undefined;
  readonly from?: string | undefined;
  readonly since?: Date | undefined;
  readonly until?: Date | undefined;
  readonly tags?: readonly string[] | undefined;
}

/** WHERE clauses over `sends s` (joined with AND by the caller) and their parameters. */
export function sendFilterClauses(filter: SendFilterFields): { where: string[]; params: (string | number)[] } {
  const where: string[] = [];
  const params: (string | number)[] = [];
  if (filter.spaceId !== undefined) {
    where.push('s.space_id = ?');
    params.push(filter.spaceId);
  }
  if (filter.from !== undefined) {
    where.push('s.from_key = ?');
    params.push(looseAddressKey(filter.from));
  }
  if (filter.since !== undefined) {
    where.push('s.received_at >= ?');
    params.push(toMs(filter.since, 'since'));
  }
  if (filter.until !== undefined) {
    where.push('s.received_at < ?');
    params.push(toMs(filter.until, 'until'));
  }
  const tags = [...new Set(filter.tags ?? [])];
  if (tags.length > MAX_TAGS) throw new UsageError(`at most ${MAX_TAGS} tags per filter`);
  for (const tag of tags) {
    where.push('s.id IN (SELECT send_id FROM send_tags WHERE tag = ?)');
    params.push(tag);
  }
  return { where, params };
}
