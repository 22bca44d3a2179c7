/**
 * `trxmail bounce [--sender S] [--recipient R]`: the bounce intake as a command for Postfix's
 * pipe(8) delivery agent (docs/protocols.md §3.5), for sites that prefer a process per
 * bounce to the LMTP listener. Reads one message from stdin, runs BounceIntake, and says what
 * to exit with and one line to print (pipe(8) puts the output in its log line and DSNs):
 *
 *   exit 0   (EX_OK)        the outcome is stored, or the message was deliberately ignored
 *                           (not a bounce, forged address, unknown send): never a 5xx-class
 *                           exit for those, which would bounce the bounce to the postmaster
 *   exit 75  (EX_TEMPFAIL)  temporary trouble — the store is unavailable, the configuration
 *                           or keys cannot be loaded, stdin failed, a bug: Postfix defers the
 *                           message (4.3.0) and retries, so nothing is lost
 *
 * The printed line never starts with a status code (pipe(8) would let a leading "5.X.Y"
 * override the exit status).
 *
 * Limits: the first MAX_BOUNCE_BYTES of stdin are analysed; the rest is read and
 * dropped (pipe(8) would otherwise see a broken pipe).
 *
 * Throws nothing: every failure becomes exit 75 and a line.
 */
import type { Readable } from 'node:stream';
import { MAX_BOUNCE_BYTES } from '../lib/limits.js';
import { errorForLog } from '../lib/logger.js';
import { summariseIntake, type BounceIntake } from './intake.js';
import { cutText } from '../delivery/recorder.js';

/** sysexits.h */
export const EX_OK = 0;
export const EX_TEMPFAIL = 75;

export interface BounceCommandOptions {
  /** pipe(8) ${sender}: the envelope sender ('' or MAILER-DAEMON for a bounce). */
  readonly sender?: string | undefined;
  /** pipe(8) ${original_recipient}: the bounce address the message was sent to. */
  readonly recipient?: string | undefined;
}

export interface BounceCommandResult {
  readonly exitCode: typeof EX_OK | typeof EX_TEMPFAIL;
  /** One line, no line break. */
  readonly line: string;
}

/** Reads the first `max` + 1 bytes of `input` and drains the rest. */
export async function readBounded(input: Readable, max: number = MAX_BOUNCE_BYTES): Promise<Buffer> {
  const parts: Buffer[] = [];
  let size = 0;
  for await (const chunk of input as AsyncIterable<Buffer | string>) {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk, 'latin1') : chunk;
    const room = max + 1 - size;
    if (room <= 0) continue;
    const piece = buf.length > room ? buf.subarray(0, room) : buf;
    parts.push(piece);
    size += piece.length;
  }
  return Buffer.concat(parts, size);
}

/**
 * Runs the pipe command. `openIntake` builds the intake (loads the configuration, opens the
 * store); its failures are temporary too (exit 75), as the message must stay queued until
 * the operator fixes them.
 */
export async function runBounceCommand(
  input: Readable,
  opts: BounceCommandOptions,
  openIntake: () => Promise<Pick<BounceIntake, 'process'>>,
): Promise<BounceCommandResult> {
  try {
    const raw = await readBounded(input);
    const intake = await openIntake();
    const result = await intake.process(raw, { mailFrom: opts.sender ?? null, rcptTo: opts.recipient ?? null });
    return { exitCode: EX_OK, line: `trxmail: ${summariseIntake(result)}` };
  } catch (err: unknown) {
    const e = errorForLog(err, false);
    const code = typeof e['code'] === 'string' ? `${e['code']}: ` : '';
    return { exitCode: EX_TEMPFAIL, line: cutText(`trxmail: try again later: ${code}${String(e['message'])}`, 300) };
  }
}
