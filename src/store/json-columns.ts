/**
 * The JSON text columns of the SQL schemas (SQLite, PostgreSQL) read back: event and delivery details (a JSON
 * object), a send's tags and discarded recipients (a JSON array of strings). The schema
 * checks json_valid on write; the shape is checked here on read.
 *
 * Pure. Throws: InvariantError when a stored value has the wrong shape (a bug or a damaged
 * database).
 */
import { InvariantError } from '../lib/errors.js';

/** A stored detail as an object. */
export function parseDetail(json: string): Record<string, unknown> {
  const v: unknown = JSON.parse(json);
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new InvariantError('stored event detail is not a JSON object');
  return v as Record<string, unknown>;
}

/** A stored list of strings; `what` names it in the error. */
export function parseStringArray(json: string, what: string): string[] {
  const v: unknown = JSON.parse(json);
  if (!Array.isArray(v) || !v.every((x): x is string => typeof x === 'string')) {
    throw new InvariantError(`stored ${what} is not a JSON array of strings`);
  }
  return v;
}
