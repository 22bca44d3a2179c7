/**
 * The delivery-cursor aggregate of the Store: where the maillog follower
 * (src/delivery/maillog-follower.ts) stopped reading Postfix's log, so that a restart resumes
 * there instead of at the end of the file (outcomes logged while trxmail was down are then
 * still recorded). One row per log path: the file's identity (device and inode, as decimal
 * strings: inode numbers may exceed 2^53) and the byte offset just past the last line that
 * was fully processed.
 *
 * Limits: a path is 1..MAX_CURSOR_PATH_LENGTH characters; an offset is a non-negative safe
 * integer; dev and ino are 1..20 decimal digits.
 *
 * Throws: UsageError for a value outside those limits or an invalid date, TransientError
 * when the backend is unavailable.
 */

export interface DeliveryCursor {
  /** The node (config `node.name`) whose Postfix writes this log: each node reads its own. */
  readonly node: string;
  /** The log path as configured (absolute). */
  readonly path: string;
  /** st_dev of the file read, decimal. */
  readonly dev: string;
  /** st_ino of the file read, decimal. */
  readonly ino: string;
  /** Bytes of that file fully processed (the start of the next line to read). */
  readonly offset: number;
  /**
   * Since when the log has been read without a gap (the position found at start was that of
   * the previous run, or the first start's end of file): sends received since then have
   * every Postfix line about them read.
   */
  readonly followingSince: Date;
  readonly savedAt: Date;
}

export interface DeliveryCursorStore {
  /**
   * The position this node saved for this log path, or null (never saved). A position saved
   * before nodes were named (node '') is this node's when it has none of its own.
   */
  getDeliveryCursor(node: string, path: string): Promise<DeliveryCursor | null>;
  /** Inserts or replaces the position of (`cursor.node`, `cursor.path`). */
  saveDeliveryCursor(cursor: DeliveryCursor): Promise<void>;
}
