/**
 * The result types of bounce and complaint analysis (analyse.ts re-exports them; the intake
 * and the CLI import them from there). Plain data, JSON-serialisable, no methods.
 *
 * `kind` of a recipient, from its Action and RFC 3463 Status:
 *  - 'success': Action delivered / relayed / expanded;
 *  - 'hard':    Action failed and a status of class 5 (5.x.x);
 *  - 'soft':    everything else: Action delayed, failed with 4.x.x (Postfix gives up on a
 *               temporary error at maximal_queue_lifetime and still says 4.x.x), or failed
 *               without any status we could read. Never hard without evidence of a 5.
 */

import type { BounceReason } from '../../core/bounce-reason.js';

export type RecipientAction = 'failed' | 'delayed' | 'delivered' | 'relayed' | 'expanded';

export interface RecipientReport {
  /** Final-Recipient address (type prefix removed), or the heuristic's. */
  readonly recipient: string;
  readonly originalRecipient: string | null;
  readonly action: RecipientAction;
  /** RFC 3463 "5.1.1". */
  readonly status: string | null;
  /** 5.x.x failed → hard; 4.x.x / delayed → soft; 2.x.x → success. */
  readonly kind: 'hard' | 'soft' | 'success';
  /** Diagnostic-Code text (type prefix removed), one line, ≤ MAX_BOUNCE_DIAGNOSTIC_LENGTH chars. */
  readonly diagnostic: string | null;
  readonly remoteMta: string | null;
  /** Why it failed (classifyBounce of action, status, diagnostic); null for a success. */
  readonly reason: BounceReason | null;
  /** The classifier's rule that decided `reason` ('status:5.1.1', 'text:blocklisted'); null for a success. */
  readonly reasonRule: string | null;
}

/** A recipient block as the parsers (dsn.ts, heuristics.ts) read it, before classification (analyse.ts). */
export type ParsedRecipient = Omit<RecipientReport, 'reason' | 'reasonRule'>;

export type DecodedBounceAddress =
  | { readonly address: string; readonly ok: true; readonly spaceId: number; readonly sendId: string; readonly bccCopy: boolean }
  | { readonly address: string; readonly ok: false; readonly reason: string };

export interface ComplaintReport {
  /** Lower-cased Feedback-Type (abuse, fraud, ...). */
  readonly feedbackType: string;
  readonly userAgent: string | null;
  /**
   * The complained-about recipients: the report's Original-Rcpt-To addresses; when it has
   * none, the To addresses of the returned original message (note 'rcpt-from-original-to').
   * Redacted addresses are left out.
   */
  readonly originalRcptTo: readonly string[];
  readonly originalMailFrom: string | null;
  /** Arrival-Date (or the older Received-Date), as written. */
  readonly arrivalDate: string | null;
}

export interface MessageAnalysis {
  /** 'bounce' = a delivery report (failure, delay or success); 'complaint' = ARF abuse/fraud. */
  readonly kind: 'bounce' | 'complaint' | 'other';
  readonly format: 'dsn' | 'arf' | 'heuristic' | null;
  /** The bounce address the message was sent to (envelope recipient, else To/Delivered-To/X-Original-To), decoded. */
  readonly bounceAddress: DecodedBounceAddress | null;
  /** X-Trxmail-Ref found in the returned original message (DSN part 3 / ARF part 3), decoded likewise. */
  readonly ref: DecodedBounceAddress | null;
  readonly recipients: readonly RecipientReport[];
  /** For kind 'complaint' (ARF): the report's fields. */
  readonly complaint: ComplaintReport | null;
  /** Why it is 'other' or why a field is missing: short machine-readable notes, e.g. 'auto-reply', 'no-delivery-status'. */
  readonly notes: readonly string[];
}
