/**
 * Maps errors from the PostgreSQL client (porsager/postgres) to trxmail's error classes
 * (PgDatabase.run applies it to every backend call; unique violations the backend expects are
 * told apart first, or avoided with ON CONFLICT).
 *
 *  - The server or the path to it is unavailable, slow or busy — connection errors of the
 *    client and the socket (ECONNREFUSED, CONNECT_TIMEOUT, CONNECTION_CLOSED, ECONNRESET, ...),
 *    SQLSTATE classes 08 (connection exception), 53 (insufficient resources), 57 (operator
 *    intervention: admin shutdown, pg_terminate_backend, statement_timeout's query_canceled,
 *    cannot connect now), 58 (system/I-O error), 40 (serialization failure, deadlock),
 *    55P03 (lock not available), 25006 (read-only transaction: a standby after a failover) —
 *    becomes TransientError: the SMTP client gets a 4xx and retries; nothing was decided.
 *  - Any other server error (a constraint the store did not translate, a malformed statement)
 *    is a bug in trxmail: InvariantError.
 *  - Errors that are already TrxErrors pass through unchanged; anything thrown that is not an
 *    Error becomes an InvariantError.
 * The client's error is always kept as `cause`. Messages carry no password: the client's own
 * messages name host and port only.
 */
import { InvariantError, TransientError, TrxError } from '../../lib/errors.js';

/** Codes the client (or Node's socket) gives when it has no usable connection. */
const CONNECTION_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'ENETDOWN',
  'ENOTFOUND',
  'EAI_AGAIN',
  'CONNECT_TIMEOUT',
  'CONNECTION_CLOSED',
  'CONNECTION_ENDED',
  'CONNECTION_DESTROYED',
]);

/** SQLSTATE classes (first two characters) that mean "try again later". */
const TRANSIENT_CLASSES = new Set(['08', '40', '53', '57', '58']);
/** Single SQLSTATEs that mean "try again later". */
const TRANSIENT_STATES = new Set(['55P03', '25006']);

/** The SQLSTATE (five characters) of a server error, the client's code of another error, or null. */
export function pgCode(err: unknown): string | null {
  if (typeof err !== 'object' || err === null || !('code' in err)) return null;
  const code = (err).code;
  return typeof code === 'string' ? code : null;
}

/** A server error (it carries a SQLSTATE) rather than a client or socket error. */
function isServerError(err: unknown): boolean {
  return err instanceof Error && err.name === 'PostgresError';
}

/**
 * SQLSTATEs of a server process that was terminated (admin shutdown: a fast stop or
 * pg_terminate_backend; crash shutdown) or of a server not accepting connections yet (cannot
 * connect now). The statement that gets one did not commit: the server ends the session at an
 * interrupt check, never between a commit and its CommandComplete (a statement that committed
 * answers first; the error then goes to the next one, or to none).
 */
const TERMINATED_STATES = new Set(['57P01', '57P02', '57P03']);

/** The server ended the session before the statement could commit (TERMINATED_STATES): trying it again on another connection is safe. */
export function isTerminatedSession(err: unknown): boolean {
  const code = pgCode(err);
  return isServerError(err) && code !== null && TERMINATED_STATES.has(code);
}

/** A UNIQUE or PRIMARY KEY violation (23505). */
export function isUniqueViolation(err: unknown): boolean {
  return isServerError(err) && pgCode(err) === '23505';
}

/** Whether an error of the client means the database is unavailable (TransientError). */
export function isTransientPgError(err: unknown): boolean {
  const code = pgCode(err);
  if (code === null) return false;
  if (isServerError(err)) return TRANSIENT_CLASSES.has(code.slice(0, 2)) || TRANSIENT_STATES.has(code);
  return CONNECTION_CODES.has(code);
}

export function mapPgError(err: unknown): Error {
  if (err instanceof TrxError) return err;
  if (!(err instanceof Error)) return new InvariantError(`non-Error thrown: ${String(err)}`);
  const code = pgCode(err) ?? 'no code';
  if (isTransientPgError(err)) {
    return new TransientError('ESTORE_UNAVAILABLE', `database unavailable: ${err.message} (${code})`, { cause: err });
  }
  return new InvariantError(`database refused an operation: ${err.message} (${code})`, { cause: err });
}
