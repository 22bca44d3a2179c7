/**
 * The checks the neutral layer makes before any backend call: operator input (names,
 * domains, addresses, flags, dates, counts) validated and normalised, each failure a
 * UsageError that names the value (JSON-escaped, cut at 100 characters).
 *
 * Limits: space names MAX_SPACE_NAME_LENGTH, addresses MAX_ADDRESS_LENGTH, flags 0..MAX_FLAGS.
 *
 * Pure. Throws: UsageError.
 */
import { isBounceReason, type BounceReason } from '../../core/bounce-reason.js';
import { normaliseDomain } from '../../core/domain.js';
import { MAX_NODE_NAME_LENGTH, isNodeName } from '../../core/node-name.js';
import { MAX_FLAGS } from '../../core/types.js';
import { UsageError } from '../../lib/errors.js';
import { MAX_BOUNCE_RULE_LENGTH, MAX_SPACE_NAME_LENGTH } from '../../lib/limits.js';
import { addressKey } from '../address-key.js';

/** Operator input quoted for an error message: JSON-escaped, cut at 100 characters. */
export function quote(value: string): string {
  return JSON.stringify(value.length > 100 ? value.slice(0, 100) + '…' : value);
}

export function checkFlags(flags: number, what: string): number {
  if (!Number.isInteger(flags) || flags < 0 || flags > MAX_FLAGS) {
    throw new UsageError(`${what} must be an integer from 0 to ${MAX_FLAGS}, got ${String(flags)}`);
  }
  return flags;
}

export function checkSpaceName(name: string): string {
  if (name === '' || name.trim() !== name) throw new UsageError(`space name ${quote(name)} is empty or has surrounding spaces`);
  if (name.length > MAX_SPACE_NAME_LENGTH) throw new UsageError(`space name is longer than ${MAX_SPACE_NAME_LENGTH} characters`);
  if (/[\u0000-\u001f\u007f]/.test(name)) throw new UsageError(`space name ${quote(name)} contains control characters`);
  return name;
}

/** The strict key of an address (address-key.ts); UsageError naming the value when it is not one. */
export function requireAddressKey(address: string, what: string): string {
  const key = addressKey(address);
  if (key === null) throw new UsageError(`${what} ${quote(address)} is not a valid e-mail address`);
  return key;
}

export function requireDomain(domain: string): string {
  const d = normaliseDomain(domain);
  if (d === null) throw new UsageError(`${quote(domain)} is not a valid domain`);
  return d;
}

/** Milliseconds since the epoch of a valid Date, or UsageError. */
/** A node name (core/node-name.ts), else UsageError. */
export function checkNodeName(name: string): string {
  if (typeof name !== 'string' || !isNodeName(name)) {
    throw new UsageError(`node name ${quote(String(name))} must be 1..${MAX_NODE_NAME_LENGTH} characters of A-Z a-z 0-9 . _ - starting with a letter or digit`);
  }
  return name;
}

export function toMs(d: Date, what: string): number {
  const ms = d instanceof Date ? d.getTime() : NaN;
  if (!Number.isFinite(ms)) throw new UsageError(`${what} is not a valid date`);
  return ms;
}

/** A non-negative safe integer, or UsageError. */
export function checkCount(n: number, what: string): number {
  if (!Number.isSafeInteger(n) || n < 0) throw new UsageError(`${what} must be a non-negative integer, got ${String(n)}`);
  return n;
}

/** A non-empty string (password hash, webhook secret), or UsageError. */
export function requireText(value: string, what: string): string {
  if (typeof value !== 'string' || value === '') throw new UsageError(`${what} must not be empty`);
  return value;
}

/** A bounce reason of the taxonomy (core/bounce-reason.ts) or null, else UsageError. */
export function checkBounceReason(reason: BounceReason | null | undefined, what: string): BounceReason | null {
  if (reason === undefined || reason === null) return null;
  if (typeof reason !== 'string' || !isBounceReason(reason)) throw new UsageError(`${what} ${quote(String(reason))} is not a bounce reason`);
  return reason;
}

/** A classifier rule name: null, or 1..MAX_BOUNCE_RULE_LENGTH characters without control characters; else UsageError. */
export function checkBounceRule(rule: string | null | undefined): string | null {
  if (rule === undefined || rule === null) return null;
  if (typeof rule !== 'string' || rule === '' || rule.length > MAX_BOUNCE_RULE_LENGTH || /[\u0000-\u001f\u007f]/.test(rule)) {
    throw new UsageError(`bounce rule ${quote(String(rule))} must be 1..${MAX_BOUNCE_RULE_LENGTH} characters without control characters`);
  }
  return rule;
}
