/**
 * Reads the part of a private Postfix's maillog written during one bench run and says what
 * happened to the mail: which queue ids were relayed (`status=sent`), how many deliveries
 * were deferred or bounced, and the first few rejections and warnings (so a broken setup
 * fails loudly instead of measuring refusals).
 *
 * Log line shapes (Postfix 3.7, maillog_file through postlogd):
 *   <date> <host> postfix/smtp[123]: 4jXQZB3dVKzJ9Ft: to=<a@b>, relay=…, status=sent (250 Ok)
 *   <date> <host> postfix/bench/smtpd[123]: NOQUEUE: reject: RCPT from …
 *   <date> <host> postfix/cleanup[123]: 4jXQ…: milter-reject: END-OF-MESSAGE from …
 *
 * Limits: keeps at most MAX_KEPT problem lines, each cut to MAX_LINE characters.
 */
import { openSync, readSync, closeSync, statSync } from 'node:fs';

const MAX_KEPT = 5;
const MAX_LINE = 300;

export interface MaillogSummary {
  /** Queue ids with a `status=sent` delivery. */
  readonly sentIds: ReadonlySet<string>;
  /** Number of `status=sent` lines. */
  readonly sent: number;
  readonly deferred: number;
  readonly bounced: number;
  /** `reject:` / `milter-reject:` lines (first MAX_KEPT), and their count. */
  readonly rejects: readonly string[];
  readonly rejectCount: number;
  /** `warning:`/`error:`/`fatal:`/`panic:` lines (first MAX_KEPT), and their count. */
  readonly warnings: readonly string[];
  readonly warningCount: number;
}

const SENT_RE = /: ([0-9A-Za-z]+): to=<[^>]*>,.*\bstatus=sent\b/;

/** Size of the log now (0 when it does not exist yet): the offset a run starts reading from. */
export function maillogSize(file: string): number {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
}

/** The log's bytes from `offset` to its current end ('' when there is none). */
export function readMaillogFrom(file: string, offset: number): string {
  const end = maillogSize(file);
  if (end <= offset) return '';
  const buf = Buffer.alloc(end - offset);
  const fd = openSync(file, 'r');
  try {
    let got = 0;
    // Bounded: each read makes progress or ends the loop.
    while (got < buf.length) {
      const n = readSync(fd, buf, got, buf.length - got, offset + got);
      if (n <= 0) break;
      got += n;
    }
    return buf.subarray(0, got).toString('utf8');
  } finally {
    closeSync(fd);
  }
}

export function summariseMaillog(text: string): MaillogSummary {
  const sentIds = new Set<string>();
  let sent = 0;
  let deferred = 0;
  let bounced = 0;
  const rejects: string[] = [];
  const warnings: string[] = [];
  let rejectCount = 0;
  let warningCount = 0;
  for (const line of text.split('\n')) {
    if (line.includes('status=sent')) {
      const m = SENT_RE.exec(line);
      if (m?.[1] !== undefined) {
        sent++;
        sentIds.add(m[1]);
      }
    } else if (line.includes('status=deferred')) deferred++;
    else if (line.includes('status=bounced')) bounced++;
    else if (/\b(milter-)?reject:/.test(line)) {
      rejectCount++;
      if (rejects.length < MAX_KEPT) rejects.push(line.slice(0, MAX_LINE));
    } else if (/: (warning|error|fatal|panic): /.test(line)) {
      warningCount++;
      if (warnings.length < MAX_KEPT) warnings.push(line.slice(0, MAX_LINE));
    }
  }
  return { sentIds, sent, deferred, bounced, rejects, rejectCount, warnings, warningCount };
}
