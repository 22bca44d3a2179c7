/**
 * One message as the milter session collects it between MAIL and end-of-message: envelope,
 * recipients, header fields, and a refusal decided while the MTA expected no reply. Pure.
 *
 * Protocol: Postfix sends header values with bare-LF folds (docs/protocols.md §1.6); they
 * are kept with CRLF folds, like the message itself.
 *
 * Limits: MAX_HEADER_BLOCK_BYTES of collected header fields (then the message is refused
 * with 552 5.3.4 and further fields are not kept); MAX_RECIPIENTS recipients (the session
 * answers the next RCPT with 452 4.5.3, or refuses the message with 552 5.5.3 when it cannot
 * answer RCPT).
 *
 * Throws nothing.
 */

import type { HeaderField } from '../core/types.js';
import { MAX_HEADER_BLOCK_BYTES, MAX_RECIPIENTS } from '../lib/limits.js';
import type { MilterEnvelopeAddress, MilterMessageContext, MilterReply } from './handler.js';

export const HEADER_TOO_BIG: MilterReply = { kind: 'custom', code: 552, enhanced: '5.3.4', text: 'Message header too large' };
export const TOO_MANY_RCPTS_NOW: MilterReply = { kind: 'custom', code: 452, enhanced: '4.5.3', text: 'Too many recipients' };
export const TOO_MANY_RCPTS_MSG: MilterReply = { kind: 'custom', code: 552, enhanced: '5.5.3', text: 'Too many recipients' };

/** An envelope address as typed, and without surrounding whitespace and one pair of angle brackets. */
export function envelopeAddress(raw: string, args: readonly string[]): MilterEnvelopeAddress {
  const t = raw.trim();
  const address = t.length >= 2 && t.startsWith('<') && t.endsWith('>') ? t.slice(1, -1) : t;
  return { raw, address, args };
}

/** Postfix folds header values with bare LF; header fields carry CRLF folds like the message. */
export function headerValueFromMta(value: string): string {
  return value.includes('\n') ? value.replace(/\r?\n/g, '\r\n') : value;
}

export class MilterMessage {
  readonly recipients: MilterEnvelopeAddress[] = [];
  readonly headers: HeaderField[] = [];
  /** A refusal decided while the MTA expected no reply; given at the next event that expects one. */
  pending: MilterReply | null = null;
  private headerBytes = 0;
  private headerOverflow = false;

  constructor(
    readonly sender: MilterEnvelopeAddress,
    /** {auth_authen} as it was at MAIL. */
    readonly authUser: string | null,
  ) {}

  /** What eom() gets: this message with the connection's facts. */
  context(conn: Pick<MilterMessageContext, 'connect' | 'helo' | 'macros' | 'actions' | 'headerLeadingSpace'>): MilterMessageContext {
    return {
      connect: conn.connect,
      helo: conn.helo,
      sender: this.sender,
      recipients: [...this.recipients],
      headers: [...this.headers],
      macros: conn.macros,
      queueId: conn.macros.get('i') ?? null,
      authUser: this.authUser ?? conn.macros.get('auth_authen') ?? null,
      actions: conn.actions,
      headerLeadingSpace: conn.headerLeadingSpace,
    };
  }

  /** RCPTs refused because MAX_RECIPIENTS was reached (logged once per message, at the first). */
  recipientsRefused = 0;

  /** MAX_RECIPIENTS reached: no more may be added. */
  get recipientsFull(): boolean {
    return this.recipients.length >= MAX_RECIPIENTS;
  }

  /** Keeps the first refusal only. */
  refuse(reply: MilterReply): void {
    this.pending ??= reply;
  }

  /**
   * Keeps a header field (`value` with CRLF folds). Returns false the first time the block
   * would pass MAX_HEADER_BLOCK_BYTES (the message is then refused with HEADER_TOO_BIG);
   * from then on fields are dropped silently.
   */
  addHeader(name: string, value: string): boolean {
    if (this.headerOverflow) return true;
    const bytes = Buffer.byteLength(name) + 1 + Buffer.byteLength(value) + 2;
    if (this.headerBytes + bytes > MAX_HEADER_BLOCK_BYTES) {
      this.headerOverflow = true;
      this.refuse(HEADER_TOO_BIG);
      return false;
    }
    this.headerBytes += bytes;
    this.headers.push({ name, value });
    return true;
  }
}
