/**
 * The delivery-cursor aggregate above the backends (DeliveryCursorStore): the path, the file
 * identity and the offset checked before the backend (backend.ts) writes them.
 *
 * Limits: MAX_CURSOR_PATH_LENGTH characters of path; dev and ino 1..20 decimal digits (a
 * 64-bit unsigned number); the offset a non-negative safe integer.
 *
 * Throws: UsageError (a value outside those limits, an invalid date), TransientError and
 * InvariantError from the backend.
 */
import { UsageError } from '../../lib/errors.js';
import { MAX_CURSOR_PATH_LENGTH } from '../../lib/limits.js';
import type { CursorBackend } from '../backend.js';
import type { DeliveryCursor, DeliveryCursorStore } from '../delivery-cursor-store.js';
import { checkCount, checkNodeName, quote, toMs } from './checks.js';
import { merged } from '../../lib/merged.js';

function checkPath(path: string): string {
  if (typeof path !== 'string' || path === '' || path.length > MAX_CURSOR_PATH_LENGTH || path.includes('\u0000')) {
    throw new UsageError(`delivery cursor path ${quote(String(path))} must be 1..${MAX_CURSOR_PATH_LENGTH} characters without NUL`);
  }
  return path;
}

function checkFileNumber(value: string, what: string): string {
  if (typeof value !== 'string' || !/^[0-9]{1,20}$/.test(value)) throw new UsageError(`delivery cursor ${what} ${quote(String(value))} is not a decimal number`);
  return value;
}

export class NeutralDeliveryCursors implements DeliveryCursorStore {
  constructor(private readonly backend: CursorBackend) {}

  async getDeliveryCursor(node: string, path: string): Promise<DeliveryCursor | null> {
    const key = checkPath(path);
    const own = await this.backend.getCursor(checkNodeName(node), key);
    if (own !== null) return own;
    const legacy = await this.backend.getCursor('', key);
    return legacy === null ? null : merged(legacy, { node });
  }

  async saveDeliveryCursor(cursor: DeliveryCursor): Promise<void> {
    await this.backend.upsertCursor({
      node: checkNodeName(cursor.node),
      path: checkPath(cursor.path),
      dev: checkFileNumber(cursor.dev, 'dev'),
      ino: checkFileNumber(cursor.ino, 'ino'),
      offset: checkCount(cursor.offset, 'delivery cursor offset'),
      followingSinceMs: toMs(cursor.followingSince, 'followingSince'),
      savedAtMs: toMs(cursor.savedAt, 'savedAt'),
    });
  }
}
