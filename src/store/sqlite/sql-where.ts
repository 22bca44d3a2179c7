/**
 * One builder for the dynamic WHERE clauses of the SQLite backend (send filters for listSends
 * and reports, the delivery filter of listDeliveries): conditions with `?` placeholders and
 * their parameters, in order, so a statement text depends only on which conditions are
 * present (the statement cache stays bounded) and never on a value.
 *
 * Pure. Throws nothing.
 */
import type { SqlParam } from './database.js';

export class SqlWhere {
  private readonly conditions: string[] = [];
  readonly params: SqlParam[] = [];

  /** Adds `condition` with the parameters of its placeholders. */
  and(condition: string, ...params: SqlParam[]): this {
    this.conditions.push(condition);
    this.params.push(...params);
    return this;
  }

  /** Adds `condition` (one placeholder) unless `value` is null: an absent filter field. */
  andIf(condition: string, value: SqlParam): this {
    return value === null ? this : this.and(condition, value);
  }

  /** ' WHERE a AND b', or '' without conditions. */
  clause(): string {
    return this.conditions.length === 0 ? '' : ` WHERE ${this.conditions.join(' AND ')}`;
  }
}
