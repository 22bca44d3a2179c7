/**
 * Delivery status from Postfix's own log: the follower (MaillogFollower) reads the log file as
 * Postfix writes it, parses each line (maillog-line.ts) and records each trxmail send's
 * delivered / deferred / bounced outcomes (recorder.ts).
 *
 * Why the log: "delivered" exists nowhere else — the recipient's MX said 250 to Postfix's
 * smtp(8), which logs `status=sent` and tells nobody (success DSNs are sent only on request).
 * Deferrals are likewise only in the log. Bounces are in both: the log line `status=bounced`
 * and the DSN Postfix then mails to the bounce address (src/bounce/intake.ts). A remote server that
 * accepted the message and bounces it later shows up only as a DSN; a client that asked for
 * NOTIFY=NEVER gets no DSN, so its bounces show up only in the log. Both sources therefore
 * record a bounce (status 'bounced' with its bounce reason, classified from the line's text
 * like the DSN's; the Bounce list entry only when core/bounce-listing.ts says so)
 * and the first one adds the event (DeliveryRecorder in recorder.ts: one 'bounced' event per
 * recipient and send).
 *
 * Lines used (Postfix 3.x, traditional syslog or RFC 3339 time stamps, any syslog_name):
 *
 *   Nov 23 00:02:50 relay postfix/qmgr[28472]: 4jXmNV6dYBzJ9Hy: from=<trx-1-…@bounces.example>, size=721, nrcpt=1 (queue active)
 *   Nov 23 00:02:51 relay postfix/smtp[28526]: 4jXmNV6dYBzJ9Hy: to=<someone@example.org>, relay=127.0.0.1[127.0.0.1]:2526, delay=0.21, delays=0.08/0.01/0.11/0, dsn=2.0.0, status=sent (250 Ok: captured as 1)
 *   Nov 23 00:02:51 relay postfix/qmgr[28472]: 4jXmNV6dYBzJ9Hy: removed
 *   … postfix/qmgr[…]: QID: from=<…>, status=expired, returned to sender
 *
 * The queue id keys everything: the qmgr `from=` line names the envelope sender, which for a
 * trxmail send is its HMAC-checked bounce address (the queue id of the main message IS the
 * send id; the untracked BCC copy, re-injected as its own message, has its own queue id and
 * the bounce address of `<send id>_b`). Queue ids whose sender is not a valid bounce address
 * are ignored. Delivery lines come from smtp, lmtp, local, virtual, pipe, error, discard.
 * `status=expired` (given up after maximal_queue_lifetime) turns the recipients that were
 * still deferred into 'bounced' with kind 'soft' (no Bounce list entry).
 *
 * The follower polls (every MAILLOG_POLL_MS): stat, read what was appended since the last
 * offset, split into lines. A file that shrank was truncated (copytruncate: read again from
 * 0); a new file under the path (rotation by rename + create) is read from 0 after the rest of
 * the old one, which is still open (read by its descriptor, so by its inode).
 *
 * The read position is remembered in the store (DeliveryCursorStore): the file's identity
 * (st_dev, st_ino) and the offset just past the last line fully processed, saved after each
 * batch (one read of up to READ_CHUNK bytes, and when another file is opened) — not per line,
 * so the writes are bounded by the bytes read, not the lines. At start it resumes there:
 *  - the same file is at the path: from the saved offset (from 0 when the file is now shorter:
 *    truncated while trxmail was down);
 *  - another file is at the path (rotated while down): the saved file is looked for as
 *    `<path>.0` and `<path>.1` (logrotate, newsyslog and savelog names) by its dev + inode;
 *    found, its rest is read, then the new file from 0; not found (rotated more than twice,
 *    or compressed), a warning, and the new file from 0.
 * A line cut by a stop is read again whole (the offset is that of its start).
 * Without a saved position (first start) it starts at the end of the file, as before the
 * position was kept: a log that predates trxmail holds no trxmail sends, and a replay of a
 * large old log at the first start would only cost time (`fromStart` reads from 0).
 * Queue ids are remembered in memory; a delivery line whose qmgr `from=` line was read
 * before a restart is matched through the store: the send with that id whose `from=` line was
 * noted (Send.loggedAt). The untracked BCC copy (its own queue id) is not: its delivery line
 * is then ignored ('unknown-queue-id'); Postfix logs `from=` again at each delivery attempt,
 * so only the attempt in progress at the restart is concerned.
 *
 * Phantom sends: a send is recorded at end of message, before Postfix queues it; when the milter
 * link drops right then, Postfix refuses the message and its queue id never appears in the
 * log. The follower notes each send whose qmgr `from=` line it reads (store.noteSendInLog), and,
 * when it has read the log to its end, at most every NOT_QUEUED_CHECK_MS, marks not-queued the
 * sends received more than NOT_QUEUED_AFTER_MS ago that were never noted and are still
 * 'queued' (store.markNotQueued; left out of report counts, visible in `sends show` and the
 * API). Only sends received since `followingSince` are considered: the time since which the log
 * has been read without a gap (kept in the cursor across restarts; reset to now at a first
 * start, a copytruncate, or a saved file that could not be found), taken after the start offset
 * was fixed, so every line about such a send lies after that offset. Only a node that runs the
 * follower decides (a node without `maillog:` never marks anything). This assumes one Postfix
 * per store (SQLite today): several nodes sharing a store would each see only their own
 * Postfix's log, so a send would need its receiving node recorded and each follower would
 * check only its node's sends — not done yet.
 *
 * Limits: MAX_MAILLOG_QUEUE_IDS remembered queue ids (an lru-cache; the one whose `from=` line
 * came longest ago is forgotten first; a queue id is forgotten at `removed`),
 * MAX_MAILLOG_LINE_BYTES per line (longer: skipped).
 *
 * Throws: parseMaillogLine never throws. The follower never throws from its loop: a store
 * TransientError is logged and the same line is retried after a pause; anything else is
 * logged and the line skipped.
 */
import { EventEmitter } from 'node:events';
import { open, stat, type FileHandle } from 'node:fs/promises';
import type { BigIntStats } from 'node:fs';
import type { BounceDomains } from '../bounce/bounce-address.js';
import { TransientError } from '../lib/errors.js';
import type { HmacKey } from '../lib/hmac-keys.js';
import { MAX_MAILLOG_LINE_BYTES, MAX_NOT_QUEUED_BATCH } from '../lib/limits.js';
import { errorForLog, escapeLogValue, type Logger } from '../lib/logger.js';
import type { Store } from '../store/store.js';
import { DeliveryRecorder, type Clock } from './recorder.js';
import { MaillogLines, type ProcessedLine } from './maillog-lines.js';
import { merged } from '../lib/merged.js';

/** How often the follower looks for new lines (ms). */
export const MAILLOG_POLL_MS = 1000;
/** Longest pause between retries of a line while the store is down (ms). */
export const MAILLOG_MAX_RETRY_MS = 30_000;
/** A send whose queue id has not appeared in the log this long after it was received was never queued (ms). */
export const NOT_QUEUED_AFTER_MS = 60 * 60_000;
/** Least time between two not-queued checks (ms). */
export const NOT_QUEUED_CHECK_MS = 60_000;
/** Bytes read from the log per read call. */
const READ_CHUNK = 64 * 1024;

export interface MaillogFollowerOptions {
  /** The log file Postfix writes (maillog_file, or the syslog file with mail lines). */
  readonly path: string;
  /** This node's name (config `node.name`): its read position, and only its own sends are checked for never having been queued. */
  readonly node: string;
  readonly store: Store;
  readonly keys: readonly HmacKey[];
  readonly bounceDomain: string | BounceDomains;
  readonly logger: Logger;
  readonly clock?: Clock;
  /** Share the intake's recorder so both serialise per send. */
  readonly recorder?: DeliveryRecorder;
  readonly pollMs?: number;
  /** Read the file from its beginning instead of the saved position or its current end (tests, replays). */
  readonly fromStart?: boolean;
  /** Default MAX_MAILLOG_QUEUE_IDS; a positive integer (lru-cache throws a TypeError otherwise). */
  readonly maxQueueIds?: number;
  /** Default NOT_QUEUED_AFTER_MS (not a trxmail.yaml key: tests). */
  readonly notQueuedAfterMs?: number;
  /** Default NOT_QUEUED_CHECK_MS. */
  readonly notQueuedCheckMs?: number;
}

export type { ProcessedLine } from './maillog-lines.js';

/** Emitted ('position') after the read position was saved in the store. */
export interface SavedPosition {
  readonly dev: string;
  readonly ino: string;
  readonly offset: number;
}

/** Names under which a rotated log is looked for when the saved file is no longer at the path. */
export const ROTATED_SUFFIXES: readonly string[] = ['.0', '.1'];

async function statOrNull(file: string): Promise<BigIntStats | null> {
  try {
    return await stat(file, { bigint: true });
  } catch (err: unknown) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

export class MaillogFollower extends EventEmitter {
  readonly #o: MaillogFollowerOptions;
  readonly #log: Logger;
  readonly #clock: Clock;
  readonly #pollMs: number;
  readonly #lines: MaillogLines;
  #fh: FileHandle | null = null;
  /** Identity of the open file (decimal st_dev, st_ino). */
  #dev = '';
  #ino = '';
  /** Next byte to read. */
  #offset = 0;
  /** Just past the last line fully processed (what is saved). */
  #done = 0;
  /** `dev:ino:done:since` last saved. */
  #savedKey = '';
  /** Since when the log has been read without a gap; null until the start position is fixed. */
  #followingSince: Date | null = null;
  /** Clock time (ms) of the last not-queued check. */
  #lastCheckMs = Number.NEGATIVE_INFINITY;
  #partial: Buffer[] = [];
  #partialBytes = 0;
  #skipping = false;
  #timer: NodeJS.Timeout | null = null;
  #running = false;
  #loop: Promise<void> | null = null;
  #wake: (() => void) | null = null;
  #first = true;

  constructor(opts: MaillogFollowerOptions) {
    super();
    this.#o = opts;
    this.#log = opts.logger;
    this.#clock = opts.clock ?? (() => new Date());
    const recorder = opts.recorder ?? new DeliveryRecorder(opts.store);
    this.#pollMs = opts.pollMs ?? MAILLOG_POLL_MS;
    this.#lines = new MaillogLines(merged(opts, { clock: this.#clock, recorder }));
  }

  /** Queue ids currently remembered (for tests and metrics). */
  get rememberedQueueIds(): number {
    return this.#lines.rememberedQueueIds;
  }

  /**
   * Starts following; resolves once the starting offset is fixed (the saved position, else
   * the end of the file; 0 with fromStart). Rejects when the store cannot be read.
   */
  async start(): Promise<void> {
    if (this.#running) return;
    this.#running = true;
    try {
      const cursor = this.#o.fromStart ? null : await this.#o.store.getDeliveryCursor(this.#o.node, this.#o.path);
      if (cursor === null) await this.#reopenIfNeeded(!this.#o.fromStart);
      else await this.#resume(cursor);
      // After the offset is fixed: a send received from now on is logged after it.
      this.#followingSince ??= this.#clock();
      await this.#savePosition();
    } catch (err: unknown) {
      this.#running = false;
      await this.#fh?.close().catch(() => undefined);
      this.#fh = null;
      throw err;
    }
    this.#loop = this.#run();
    this.#log.info({ path: escapeLogValue(this.#o.path), ino: this.#ino, offset: this.#offset }, 'maillog: following');
  }

  /** Stops after the line in hand; resolves when the loop has ended, the position is saved and the file closed. */
  async stop(): Promise<void> {
    this.#running = false;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    this.#wake?.();
    await this.#loop;
    this.#loop = null;
    await this.#savePosition();
    await this.#fh?.close().catch(() => undefined);
    this.#fh = null;
  }

  /** Opens the file of the saved position (at the path, or rotated beside it) at its offset. */
  async #resume(cursor: { dev: string; ino: string; offset: number; followingSince: Date }): Promise<void> {
    this.#first = false;
    const candidates = [this.#o.path, ...ROTATED_SUFFIXES.map((s) => this.#o.path + s)];
    for (const file of candidates) {
      const st = await statOrNull(file);
      if (st === null || String(st.dev) !== cursor.dev || String(st.ino) !== cursor.ino) continue;
      await this.#openFile(file, cursor.offset);
      if (Number(st.size) < cursor.offset) {
        this.#log.info({ path: escapeLogValue(file) }, 'maillog: file shorter than the saved position (truncated while stopped); reading from the start');
        this.#setPosition(0);
        // What was copied away before the truncation was not read: a gap.
      } else {
        this.#followingSince = cursor.followingSince;
      }
      if (file !== this.#o.path) this.#log.info({ path: escapeLogValue(file), offset: this.#offset }, 'maillog: log rotated while stopped; reading the rest of the old file first');
      else this.#log.info({ offset: this.#offset }, 'maillog: resuming at the saved position');
      return;
    }
    this.#log.warn(
      { path: escapeLogValue(this.#o.path), ino: cursor.ino },
      'maillog: the file read before is no longer at the path nor rotated beside it; reading the current one from the start (lines in between are not recorded)',
    );
    await this.#reopenIfNeeded(false);
  }

  async #openFile(file: string, offset: number): Promise<void> {
    this.#fh = await open(file, 'r');
    const fst = await this.#fh.stat({ bigint: true });
    this.#dev = String(fst.dev);
    this.#ino = String(fst.ino);
    this.#setPosition(offset);
  }

  #setPosition(offset: number): void {
    this.#offset = offset;
    this.#done = offset;
    this.#dropPartial();
  }

  /** Saves the position when it changed; a failure is logged and the next batch saves again. */
  async #savePosition(): Promise<void> {
    if (this.#fh === null || this.#followingSince === null) return;
    const position: SavedPosition = { dev: this.#dev, ino: this.#ino, offset: this.#done };
    const followingSince = this.#followingSince;
    const key = `${position.dev}:${position.ino}:${position.offset}:${followingSince.getTime()}`;
    if (key === this.#savedKey) return;
    try {
      await this.#o.store.saveDeliveryCursor({ node: this.#o.node, path: this.#o.path, ...position, followingSince, savedAt: this.#clock() });
      this.#savedKey = key;
      this.emit('position', position);
    } catch (err: unknown) {
      this.#log.warn({ err: errorForLog(err, false) }, 'maillog: cannot save the read position; saved again after the next batch');
    }
  }

  #pause(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      this.#wake = resolve;
      this.#timer = setTimeout(resolve, ms);
    }).then(() => {
      this.#wake = null;
      this.#timer = null;
    });
  }

  async #run(): Promise<void> {
    while (this.#running) {
      try {
        await this.#readAvailable();
      } catch (err: unknown) {
        this.#log.warn({ err: errorForLog(err, false), path: escapeLogValue(this.#o.path) }, 'maillog: cannot read the log file');
      }
      if (this.#running) await this.#pause(this.#pollMs);
    }
  }

  /**
   * Opens the file when none is open, or when the path now names another file (rotation:
   * the old one is read to its end first by the caller). `atEnd`: start at the current size.
   */
  async #reopenIfNeeded(atEnd: boolean): Promise<boolean> {
    const st = await statOrNull(this.#o.path);
    if (st === null) {
      this.#first = false;
      return false;
    }
    if (this.#fh !== null && String(st.ino) === this.#ino && String(st.dev) === this.#dev) {
      if (Number(st.size) < this.#offset) {
        this.#log.info({ path: escapeLogValue(this.#o.path) }, 'maillog: file truncated; reading from the start');
        this.#setPosition(0);
        // Lines written between the last read and the truncation were not read: a gap.
        if (this.#followingSince !== null) this.#followingSince = this.#clock();
      }
      return false;
    }
    if (this.#fh !== null) {
      // Lines may have been appended to the old file between the caller's drain and the stat
      // that saw the new one: read it to its end once more before letting it go.
      await this.#drain();
      if (!this.#running) return false;
      this.#log.info({ path: escapeLogValue(this.#o.path) }, 'maillog: file replaced (rotated); reading the new one from the start');
      await this.#fh.close().catch(() => undefined);
      this.#fh = null;
      this.#dropPartial();
    }
    await this.#openFile(this.#o.path, 0);
    // Only the file found at start is joined at its end; a file that appears later is new.
    if (atEnd && this.#first) this.#setPosition(Number((await this.#fh!.stat({ bigint: true })).size));
    this.#first = false;
    return true;
  }

  #dropPartial(): void {
    this.#partial = [];
    this.#partialBytes = 0;
    this.#skipping = false;
  }

  async #readAvailable(): Promise<void> {
    // Drain the open file first: after a rotation its last lines are still to be read.
    await this.#drain();
    if (await this.#reopenIfNeeded(false)) {
      await this.#savePosition();
      await this.#drain();
    }
    // Read to the end: every line about a send received before now has been seen.
    if (this.#running && this.#fh !== null) await this.#checkNotQueued();
  }

  /** Marks the phantom sends (see the header); at most every notQueuedCheckMs; emits 'not-queued' with the ids. */
  async #checkNotQueued(): Promise<void> {
    const since = this.#followingSince;
    const now = this.#clock();
    if (since === null || now.getTime() - this.#lastCheckMs < (this.#o.notQueuedCheckMs ?? NOT_QUEUED_CHECK_MS)) return;
    const afterMs = this.#o.notQueuedAfterMs ?? NOT_QUEUED_AFTER_MS;
    try {
      const ids = await this.#o.store.markNotQueued({
        node: this.#o.node,
        receivedSince: since,
        receivedBefore: new Date(now.getTime() - afterMs),
        at: now,
        reason: `not queued by Postfix: its queue id did not appear in the log within ${Math.round(afterMs / 60_000)} min of being received (refused at end of message?)`,
        limit: MAX_NOT_QUEUED_BATCH,
      });
      // A full batch: more may wait, check again at the next poll.
      if (ids.length < MAX_NOT_QUEUED_BATCH) this.#lastCheckMs = now.getTime();
      if (ids.length > 0) this.#log.warn({ sends: ids.length, first: ids[0] }, 'maillog: sends never queued by Postfix marked not-queued');
      this.emit('not-queued', ids);
    } catch (err: unknown) {
      this.#log.warn({ err: errorForLog(err, false) }, 'maillog: the not-queued check failed; tried again later');
    }
  }

  async #drain(): Promise<void> {
    const fh = this.#fh;
    if (fh === null) return;
    const buf = Buffer.alloc(READ_CHUNK);
    while (this.#running) {
      const base = this.#offset;
      const { bytesRead } = await fh.read(buf, 0, READ_CHUNK, base);
      if (bytesRead === 0) return;
      this.#offset += bytesRead;
      await this.#feed(buf.subarray(0, bytesRead), base);
      // One batch: the lines of this read.
      await this.#savePosition();
    }
  }

  /** Splits bytes (read at file offset `base`) into lines (LF), bounded by MAX_MAILLOG_LINE_BYTES, and handles each. */
  async #feed(chunk: Buffer, base: number): Promise<void> {
    let start = 0;
    while (start < chunk.length && this.#running) {
      const lf = chunk.indexOf(0x0a, start);
      const end = lf < 0 ? chunk.length : lf;
      if (!this.#skipping) {
        const piece = chunk.subarray(start, end);
        if (this.#partialBytes + piece.length > MAX_MAILLOG_LINE_BYTES) {
          this.#log.warn({ bytes: this.#partialBytes + piece.length }, 'maillog: line too long; skipped');
          this.#partial = [];
          this.#partialBytes = 0;
          this.#skipping = true;
        } else {
          this.#partial.push(Buffer.from(piece));
          this.#partialBytes += piece.length;
        }
      }
      if (lf < 0) return;
      start = lf + 1;
      if (this.#skipping) {
        this.#skipping = false;
        this.#done = base + start;
        continue;
      }
      const line = Buffer.concat(this.#partial, this.#partialBytes).toString('utf8');
      this.#partial = [];
      this.#partialBytes = 0;
      if (await this.#handleWithRetry(line)) this.#done = base + start;
    }
  }

  /** True once the line was handled (or skipped after an error); false when stopped first. */
  async #handleWithRetry(line: string): Promise<boolean> {
    let wait = this.#pollMs;
    while (this.#running) {
      try {
        const done = await this.handleLine(line);
        this.emit('processed', done);
        return true;
      } catch (err: unknown) {
        if (err instanceof TransientError) {
          this.#log.warn({ err: errorForLog(err, false), retryMs: wait }, 'maillog: store unavailable; retrying the line');
          this.emit('retry', err);
          await this.#pause(wait);
          wait = Math.min(wait * 2, MAILLOG_MAX_RETRY_MS);
          continue;
        }
        this.#log.error({ err: errorForLog(err), line: escapeLogValue(line, 200) }, 'maillog: line skipped after an error');
        this.emit('processed', { line, record: null, actions: [], ignored: 'error' } satisfies ProcessedLine);
        return true;
      }
    }
    return false;
  }

  /**
   * Handles one log line (exported for tests and replays): remembers trxmail queue ids and
   * records delivery outcomes (maillog-lines.ts). Throws the store's TransientError.
   */
  handleLine(line: string): Promise<ProcessedLine> {
    return this.#lines.handle(line);
  }
}
