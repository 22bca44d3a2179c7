/**
 * `trxmail bounce` (Postfix pipe(8) intake: one message for the bounce domain on stdin,
 * recorded; exit 0 once stored or ignored, 75 to have Postfix retry) and `trxmail bounce parse
 * FILE|-` (what trxmail makes of a message, read-only: the analysis, then per failed recipient
 * its bounce reason, the rule that decided it, and whether the intake would list the address).
 *
 * Reads at most 2 × MAX_BOUNCE_BYTES from stdin for `parse -`. Throws: TransientError when
 * the intake asks for a retry, UsageError for an unreadable file or an oversized message.
 */
import { readFileSync } from 'node:fs';
import { analyseMessage } from '../../bounce/analysis/analyse.js';
import { formatAnalysis } from '../../bounce/analysis/analysis-format.js';
import type { MessageAnalysis } from '../../bounce/analysis/analyse.js';
import { BounceIntake, resultOfReport } from '../../bounce/intake.js';
import { listingVerdict, type ListingVerdict, type MailboxFullThreshold } from '../../core/bounce-listing.js';
import { runBounceCommand } from '../../bounce/pipe.js';
import { hmacKeysIfAny, hmacKeysInForce } from '../../config/secrets.js';
import { TransientError, UsageError } from '../../lib/errors.js';
import { MAX_BOUNCE_BYTES } from '../../lib/limits.js';
import { silentLogger } from '../../lib/logger.js';
import { formatJson } from '../../lib/table.js';
import { EXIT_OK, type CliContext } from '../context.js';

async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of stream) {
    const b = typeof c === 'string' ? Buffer.from(c) : c;
    size += b.length;
    if (size > MAX_BOUNCE_BYTES * 2) throw new UsageError(`message larger than ${MAX_BOUNCE_BYTES * 2} bytes`);
    chunks.push(b);
  }
  return Buffer.concat(chunks);
}

function readFileOrFail(file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err: unknown) {
    throw new UsageError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

/** What the intake's listing rule (core/bounce-listing.ts) says of a verdict, in words. */
const LISTING_TEXT: Readonly<Record<ListingVerdict['why'], string>> = {
  'address-level': 'lists the address (address-level permanent failure)',
  'mailbox-full-persists': 'lists the address',
  'mailbox-full-below-threshold': 'not listed: mailbox full, listed only when it persists',
  'sender-side': 'not listed: a cause on the sending side, recorded on the send as blocked',
  'not-address-level': 'not listed: not about the address',
  'not-a-failure': 'not listed: not a failure (yet)',
};

/**
 * `bounce parse` lines after the analysis: per failed or delayed recipient, the bounce reason,
 * the classifier's rule that decided it and what the intake would do with the address.
 * Untrusted values are shown with control characters as '?'.
 */
export function formatReasons(a: MessageAnalysis, threshold: MailboxFullThreshold): string {
  const safe = (t: string): string => t.replace(/[\x00-\x1f\x7f-\x9f]/g, '?');
  const out: string[] = [];
  for (const r of a.recipients) {
    if (r.reason === null) continue;
    const result = resultOfReport(r);
    const verdict = listingVerdict({ result, kind: r.kind, reason: r.reason }, null, threshold, new Date(0));
    const how = verdict.why === 'mailbox-full-below-threshold' && result === 'bounced'
      ? `not listed now: mailbox full, listed after ${threshold.count} bounces over ${threshold.days} days`
      : LISTING_TEXT[verdict.why];
    out.push(`${'reason:'.padEnd(12)}${safe(r.recipient)}  ${r.reason} (rule ${safe(r.reasonRule ?? 'none')})`);
    out.push(`${''.padEnd(12)}${how}`);
  }
  return out.length === 0 ? '' : out.join('\n') + '\n';
}

export function registerBounceCommands(ctx: CliContext): void {
  const bounce = ctx.program
    .command('bounce')
    .description('read one message for the bounce domain from stdin and record it (Postfix pipe(8)); exit 0 once stored or ignored, 75 to retry')
    .option('--sender <address>', 'envelope sender (pipe(8) ${sender})')
    .option('--recipient <address>', 'the bounce address (pipe(8) ${original_recipient})')
    .action(async (o: { sender?: string; recipient?: string }) => {
      const result = await runBounceCommand(ctx.io.stdin, o, async () => {
        const config = ctx.getConfig();
        return new BounceIntake({
          store: await ctx.getStore(),
          keys: hmacKeysInForce(config),
          bounceDomain: config.bounceDomain,
          logger: silentLogger,
          recorderOptions: { mailboxFullListAfter: config.bounces.mailboxFullListAfter },
        });
      });
      if (result.exitCode !== EXIT_OK) throw new TransientError('EBOUNCE_TEMPFAIL', result.line.replace(/^trxmail: /, ''));
      ctx.out(`${result.line}\n`);
    });
  bounce
    .command('parse <file>')
    .description('print what trxmail makes of a message (bounce, complaint or neither) without changing anything; "-" reads stdin')
    .option('--recipient <address>', 'the envelope recipient it was delivered to')
    .option('--json', 'print the analysis as JSON')
    .action(async (file: string, o: { recipient?: string; json?: boolean }) => {
      const config = ctx.getConfig();
      const raw = file === '-' ? await readAll(ctx.io.stdin) : readFileOrFail(file);
      const a = analyseMessage(raw, { envelopeRecipient: o.recipient, keys: hmacKeysIfAny(config), bounceDomain: config.bounceDomain });
      ctx.out(o.json ? formatJson(a) : formatAnalysis(a) + formatReasons(a, config.bounces.mailboxFullListAfter));
    });
}
