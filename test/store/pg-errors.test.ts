/**
 * The PostgreSQL error mapping (src/store/postgres/pg-errors.ts): what the client throws when
 * the database is unavailable, slow or busy becomes TransientError (a 4xx); any other server
 * error InvariantError; the client's error kept as cause. Errors are built like the client
 * builds them (PostgresError carries the SQLSTATE; connection errors a code on a plain Error).
 */
import { describe, expect, it } from 'vitest';
import { InvariantError, TransientError, UsageError } from '../../src/lib/errors.js';
import { isTerminatedSession, isUniqueViolation, mapPgError } from '../../src/store/postgres/pg-errors.js';

function serverError(code: string, message = 'server said no'): Error {
  const e = new Error(message);
  e.name = 'PostgresError';
  return Object.assign(e, { code });
}

function clientError(code: string): Error {
  return Object.assign(new Error(`write ${code} 127.0.0.1:5432`), { code });
}

describe('mapPgError', () => {
  const transient: Error[] = [
    ...['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENOTFOUND', 'CONNECT_TIMEOUT', 'CONNECTION_CLOSED', 'CONNECTION_ENDED', 'CONNECTION_DESTROYED'].map(clientError),
    // connection exception, serialization failure, deadlock, too many connections, disk full,
    // admin shutdown (pg_terminate_backend), statement timeout, cannot connect now, I/O error,
    // lock not available, read-only transaction (a standby after a failover)
    ...['08006', '08001', '40001', '40P01', '53300', '53100', '57P01', '57014', '57P03', '58030', '55P03', '25006'].map((c) => serverError(c)),
  ];
  it.each(transient.map((e) => [(e as Error & { code: string }).code, e] as const))('%s is a TransientError with the cause kept', (_code, err) => {
    const mapped = mapPgError(err);
    expect(mapped).toBeInstanceOf(TransientError);
    expect(mapped.cause).toBe(err);
  });

  const invariant: Error[] = ['23505', '23503', '23514', '42P01', '42601', '22P02', '22023'].map((c) => serverError(c));
  it.each(invariant.map((e) => [(e as Error & { code: string }).code, e] as const))('%s is an InvariantError', (_code, err) => {
    expect(mapPgError(err)).toBeInstanceOf(InvariantError);
  });

  it('passes trxmail errors through, wraps non-Errors, and treats an unknown client code as a bug', () => {
    const usage = new UsageError('mine');
    expect(mapPgError(usage)).toBe(usage);
    expect(mapPgError('a string')).toBeInstanceOf(InvariantError);
    expect(mapPgError(clientError('UNSAFE_TRANSACTION'))).toBeInstanceOf(InvariantError);
    // A client error with a SQLSTATE-looking code is not a server error.
    expect(mapPgError(clientError('57P01'))).toBeInstanceOf(InvariantError);
  });

  it('tells a unique violation from the server apart', () => {
    expect(isUniqueViolation(serverError('23505'))).toBe(true);
    expect(isUniqueViolation(serverError('23503'))).toBe(false);
    expect(isUniqueViolation(clientError('23505'))).toBe(false);
  });

  it('tells a session the server ended (tried once more) from other failures', () => {
    for (const c of ['57P01', '57P02', '57P03']) expect(isTerminatedSession(serverError(c)), c).toBe(true);
    // A statement timeout, a lost connection (the statement may have committed), a bug: not tried again.
    for (const c of ['57014', '08006', '40001', '23505']) expect(isTerminatedSession(serverError(c)), c).toBe(false);
    for (const c of ['CONNECTION_CLOSED', 'ECONNRESET', '57P01']) expect(isTerminatedSession(clientError(c)), c).toBe(false);
  });
});
