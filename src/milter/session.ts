/**
 * Milter session: the per-connection state machine between decoded MTA commands and a
 * MilterHandler. No I/O of its own: it gets commands one at a time from the server and
 * hands response frames to a sink the server provides (which may apply backpressure).
 *
 * Protocol: Sendmail milter v2..6 as Postfix speaks it (docs/protocols.md §1). Which
 * command may arrive in which state is the declarative table MILTER_TRANSITIONS (after
 * libmilter engine.c / rspamd milter.c), widened where Postfix legitimately goes off the
 * textbook path: A may come at any time after negotiation (Postfix sends it after every
 * message and on every HELO reset), HELO or MAIL in the middle of a message abort that
 * message implicitly, and RCPT/DATA may repeat after DATA was refused.
 *
 * What the session does for the handler:
 * - negotiation (negotiate.ts): version, actions, NO* and NR_* bits from the handler's methods
 *   (and its `replyLater` and `needsConnectInfo`), SETSYMLIST macro lists;
 * - macros per stage (macros.ts), message stages cleared when a message ends;
 * - envelope, recipients and header fields collected for eom() (message.ts); body chunks
 *   streamed;
 * - a refusal decided while the MTA expects no reply (NR_*) is given at the next event that
 *   expects one;
 * - handler errors and invalid handler replies become smtpReplyFor(err) (451 4.3.0 unless a
 *   RejectError), never a crash; end-of-message edits are checked (edits.ts) before any is
 *   sent, and go out with the final reply in one write (frame-batch.ts).
 *
 * Limits: those of message.ts (MAX_HEADER_BLOCK_BYTES, MAX_RECIPIENTS) and edits.ts.
 *
 * Throws: ProtocolError (EMILTER_STATE for a command out of order, EMILTER_VERSION for a
 * version below 2) — the connection must then be dropped; errors of the frame sink are
 * passed through; ConfigError from the constructor (bad options); InvariantError when
 * handle() is called while a command is in flight or after close().
 */

import { InvariantError, ProtocolError, RejectError } from '../lib/errors.js';
import { errorForLog, escapeLogValue, silentLogger, type Logger } from '../lib/logger.js';
import { MAX_HEADER_BLOCK_BYTES, MAX_RECIPIENTS } from '../lib/limits.js';
import { SMFIC_HELO, SMFIC_MAIL, SMFIP_HDR_LEADSPC } from './constants.js';
import { COMMAND_LETTERS, type MilterCommand, type MilterCommandType } from './decode.js';
import { encodeEdits } from './edits.js';
import { encodeOptneg, encodeReply } from './encode.js';
import { FrameBatch, type MilterFrameSink } from './frame-batch.js';
import type { MilterEdit, MilterHandler, MilterHandlerResult, MilterMessageContext, MilterReply } from './handler.js';
import { MacroStages } from './macros.js';
import { envelopeAddress, headerValueFromMta, MilterMessage, TOO_MANY_RCPTS_MSG, TOO_MANY_RCPTS_NOW } from './message.js';
import { expectsReply, negotiate, validateNegotiationOptions, type NegotiationOptions, type ReplyEvent } from './negotiate.js';
import { checkEomResult, checkReply, CONTINUE, errorAsReply } from './replies.js';
import { merged } from '../lib/merged.js';

/* ------------------------------------------------------------------------------------ */
/* State table                                                                           */
/* ------------------------------------------------------------------------------------ */

export type MilterSessionState =
  | 'init' // waiting for O
  | 'negotiated' // O answered, waiting for C (or H/M when the MTA skips them)
  | 'idle' // connected, between messages
  | 'mail' // MAIL accepted
  | 'rcpt' // at least one RCPT seen
  | 'data' // DATA accepted
  | 'header' // in the header fields
  | 'eoh' // end of headers seen
  | 'body' // in the body
  | 'decided' // the message got a final reply before E: only A/MAIL/HELO/U/Q may follow
  | 'closed'; // Q seen

const OPEN: readonly MilterSessionState[] = ['negotiated', 'idle', 'mail', 'rcpt', 'data', 'header', 'eoh', 'body', 'decided'];
const CONTENT: readonly MilterSessionState[] = ['mail', 'rcpt', 'data', 'header', 'eoh', 'body'];

/** Command -> states in which it may arrive. Anything else is a ProtocolError. */
export const MILTER_TRANSITIONS: Readonly<Record<MilterCommandType, readonly MilterSessionState[]>> = {
  optneg: ['init'],
  macro: OPEN,
  connect: ['negotiated'],
  helo: ['negotiated', 'idle', 'mail', 'rcpt', 'decided'],
  mail: ['negotiated', 'idle', 'mail', 'rcpt', 'data', 'decided'],
  rcpt: ['mail', 'rcpt'],
  data: ['mail', 'rcpt'],
  header: ['mail', 'rcpt', 'data', 'header'],
  eoh: ['mail', 'rcpt', 'data', 'header'],
  body: CONTENT,
  eom: CONTENT,
  abort: OPEN,
  quit: ['init', ...OPEN],
  unknown: ['negotiated', 'idle', 'mail', 'rcpt', 'decided'],
};

const MESSAGE_STATES: ReadonlySet<MilterSessionState> = new Set(['mail', 'rcpt', 'data', 'header', 'eoh', 'body', 'decided']);


/* ------------------------------------------------------------------------------------ */
/* Session                                                                               */
/* ------------------------------------------------------------------------------------ */

export interface MilterSessionOptions extends NegotiationOptions {
  readonly logger?: Logger;
  /** Fields added to every log line (e.g. the connection id). */
  readonly logContext?: Readonly<Record<string, unknown>>;
}

export type { MilterFrameSink } from './frame-batch.js';

interface Negotiated {
  readonly version: number;
  readonly actions: number;
  readonly protocol: number;
}

/** An error of the frame sink (I/O), kept apart from handler errors while sending edits. */
class SinkFailure extends Error {
  constructor(readonly error: unknown) {
    super('milter frame sink failed', { cause: error });
  }
}

export class MilterSession {
  private st: MilterSessionState = 'init';
  private busy = false;
  private failed: ProtocolError | null = null;
  private closed = false;
  private neg: Negotiated = { version: 0, actions: 0, protocol: 0 };
  private readonly macros = new MacroStages();
  private connectInfo: MilterMessageContext['connect'] = null;
  private heloName: string | null = null;
  private msg: MilterMessage | null = null;
  private readonly options: NegotiationOptions;
  private readonly log: Logger;
  private readonly logCtx: Readonly<Record<string, unknown>>;

  constructor(
    private readonly handler: MilterHandler,
    options: MilterSessionOptions = {},
  ) {
    validateNegotiationOptions(options);
    this.options = options;
    this.log = options.logger ?? silentLogger;
    this.logCtx = options.logContext ?? {};
  }

  get state(): MilterSessionState {
    return this.st;
  }

  /** True between MAIL and the end of that message (E answered, or A). */
  get inMessage(): boolean {
    return MESSAGE_STATES.has(this.st);
  }

  /** What negotiation settled on (all zero before O). */
  get negotiated(): Readonly<Negotiated> {
    return this.neg;
  }

  /**
   * Processes one command and writes its response frames (if any) to `write`.
   * Returns 'close' after Q (the caller closes the connection), else 'continue'.
   */
  async handle(cmd: MilterCommand, write: MilterFrameSink): Promise<'continue' | 'close'> {
    if (this.busy) throw new InvariantError('MilterSession.handle() called while a command is in flight');
    if (this.failed) throw this.failed;
    if (this.closed) throw new InvariantError('MilterSession.handle() called after close()');
    if (!MILTER_TRANSITIONS[cmd.type].includes(this.st)) {
      this.failed = new ProtocolError('EMILTER_STATE', `milter command '${COMMAND_LETTERS[cmd.type]}' is not allowed in session state ${this.st}`);
      throw this.failed;
    }
    this.busy = true;
    try {
      return await this.dispatch(cmd, write);
    } catch (err: unknown) {
      if (err instanceof ProtocolError) this.failed = err;
      throw err;
    } finally {
      this.busy = false;
    }
  }

  /** Ends the session: aborts an open message, then calls handler.close() (once). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.msg !== null || this.inMessage) await this.callAbort();
    this.msg = null;
    this.st = 'closed';
    if (this.handler.close) {
      try {
        await this.handler.close();
      } catch (err: unknown) {
        this.log.error(merged(this.logCtx, { event: 'close', err: errorForLog(err) }), 'milter handler failed');
      }
    }
  }

  /* ---------------------------------------------------------------------------------- */

  private async dispatch(cmd: MilterCommand, write: MilterFrameSink): Promise<'continue' | 'close'> {
    const h = this.handler;
    switch (cmd.type) {
      case 'optneg': {
        const reply = negotiate(cmd, this.options, h);
        this.neg = { version: reply.version, actions: reply.actions, protocol: reply.protocol };
        this.log.debug(merged(this.logCtx, { mtaVersion: cmd.version, mtaActions: cmd.actions, mtaProtocol: cmd.protocol, ...this.neg }), 'milter options negotiated');
        await write(encodeOptneg(reply));
        this.st = 'negotiated';
        return 'continue';
      }
      case 'macro':
        this.macros.set(cmd.stage, cmd.macros);
        return 'continue';

      case 'connect': {
        const info = { hostname: cmd.hostname, family: cmd.family, port: cmd.port, address: cmd.address };
        this.connectInfo = info;
        await this.respond('connect', await this.ask('connect', () => h.connect?.(info, this.macros.view())), write);
        this.st = 'idle';
        return 'continue';
      }
      case 'helo':
        if (this.inMessage) await this.implicitAbort(SMFIC_HELO, 'HELO');
        this.heloName = cmd.name;
        await this.respond('helo', await this.ask('helo', () => h.helo?.(cmd.name, this.macros.view())), write);
        this.st = 'idle';
        return 'continue';

      case 'mail': {
        if (this.inMessage) await this.implicitAbort(SMFIC_MAIL, 'MAIL');
        const macros = this.macros.view();
        const sender = envelopeAddress(cmd.sender, cmd.args);
        this.msg = new MilterMessage(sender, macros.get('auth_authen') ?? null);
        this.st = 'mail';
        const sent = await this.respond('mail', await this.ask('mail', () => h.mail?.(sender.address, sender.args, macros)), write);
        if (sent.kind !== 'continue') this.st = 'decided';
        return 'continue';
      }
      case 'rcpt': {
        const msg = this.requireMessage();
        const rcpt = envelopeAddress(cmd.recipient, cmd.args);
        const overCap = msg.recipientsFull;
        let reply: MilterReply;
        if (overCap) {
          // One line per message: a client may send thousands of RCPTs past the cap.
          if (++msg.recipientsRefused === 1) this.log.warn(merged(this.logCtx, { limit: MAX_RECIPIENTS }), 'milter: too many recipients; refusing the rest of this message');
          if (this.expectsReply('rcpt')) reply = TOO_MANY_RCPTS_NOW;
          else {
            msg.refuse(TOO_MANY_RCPTS_MSG);
            reply = CONTINUE;
          }
        } else {
          reply = await this.ask('rcpt', () => h.rcpt?.(rcpt.address, rcpt.args, this.macros.view()));
        }
        const sent = await this.respond('rcpt', reply, write);
        if (!overCap && (sent.kind === 'continue' || sent.kind === 'accept')) msg.recipients.push(rcpt);
        if (sent.kind === 'continue') this.st = 'rcpt';
        else if (sent.kind === 'accept' || sent.kind === 'discard') this.st = 'decided';
        return 'continue';
      }
      case 'data': {
        const msg = this.requireMessage();
        const reply = this.pendingFor('data', msg) ?? (await this.ask('data', () => h.data?.(this.macros.view())));
        const sent = await this.respond('data', reply, write);
        // A refused DATA leaves the SMTP transaction open: more RCPT and DATA may follow.
        if (sent.kind === 'continue') this.st = 'data';
        else if (sent.kind === 'accept' || sent.kind === 'discard') this.st = 'decided';
        return 'continue';
      }
      case 'header': {
        const msg = this.requireMessage();
        const value = headerValueFromMta(cmd.value);
        if (!msg.addHeader(cmd.name, value)) this.log.warn(merged(this.logCtx, { limit: MAX_HEADER_BLOCK_BYTES }), 'milter: header block too large');
        await this.contentEvent('header', msg, () => h.header?.(cmd.name, value), write);
        return 'continue';
      }
      case 'eoh':
        await this.contentEvent('eoh', this.requireMessage(), () => h.eoh?.(this.macros.view()), write);
        return 'continue';
      case 'body':
        await this.contentEvent('body', this.requireMessage(), () => h.body?.(cmd.chunk), write);
        return 'continue';
      case 'eom':
        await this.endOfMessage(this.requireMessage(), cmd.chunk, write);
        return 'continue';

      case 'abort':
      case 'quit':
        if (this.inMessage) {
          await this.callAbort();
          this.endMessage();
        }
        if (cmd.type === 'abort') return 'continue';
        this.st = 'closed';
        return 'close';

      case 'unknown':
        await this.respond('unknown', await this.ask('unknown', () => h.unknown?.(cmd.line, this.macros.view())), write);
        return 'continue';
    }
  }

  /** L, N or B: the state moves on; a pending refusal goes first; any final reply decides the message. */
  private async contentEvent(
    event: 'header' | 'eoh' | 'body',
    msg: MilterMessage,
    call: () => MilterHandlerResult,
    write: MilterFrameSink,
  ): Promise<void> {
    this.st = event;
    // Refused while the MTA was not waiting (NR_BODY): the rest of the body is not needed.
    if (event === 'body' && msg.pending !== null && !this.expectsReply(event)) return;
    const sent = await this.respond(event, this.pendingFor(event, msg) ?? (await this.ask(event, call)), write);
    if (sent.kind !== 'continue') this.st = 'decided';
  }

  /** HDR_LEADSPC negotiated: header values keep their leading space both ways. */
  private get leadingSpace(): boolean {
    return (this.neg.protocol & SMFIP_HDR_LEADSPC) !== 0;
  }

  private expectsReply(event: ReplyEvent): boolean {
    return expectsReply(this.neg.protocol, event);
  }

  /* ---------------------------------------------------------------------------------- */
  /* Replies                                                                             */
  /* ---------------------------------------------------------------------------------- */

  /** Calls a handler method (absent: continue); errors and invalid replies become a tempfail. */
  private async ask(event: ReplyEvent, fn: () => MilterHandlerResult): Promise<MilterReply> {
    try {
      return checkReply(await fn());
    } catch (err: unknown) {
      return this.errorReply(event, err);
    }
  }

  private errorReply(event: string, err: unknown): MilterReply {
    // A refusal of the client's message (e.g. 552 5.3.4 past a MIME limit) is the client's
    // doing, not our fault: a warning without a stack. Anything else is ours.
    if (err instanceof RejectError) this.log.warn(merged(this.logCtx, { event, err: errorForLog(err, false) }), 'milter: message refused');
    else this.log.error(merged(this.logCtx, { event, err: errorForLog(err) }), 'milter handler failed');
    return errorAsReply(err);
  }

  /** Writes the reply when the MTA waits for one; returns the reply that stands. */
  private async respond(event: ReplyEvent, reply: MilterReply, write: MilterFrameSink): Promise<MilterReply> {
    if (this.expectsReply(event)) {
      await write(encodeReply(reply));
      return reply;
    }
    // Cannot answer now: refuse the message at the next event the MTA waits for.
    if (reply.kind !== 'continue') this.msg?.refuse(reply);
    return CONTINUE;
  }

  /** The pending refusal, if this event can carry it. */
  private pendingFor(event: ReplyEvent, msg: MilterMessage): MilterReply | null {
    return msg.pending !== null && this.expectsReply(event) ? msg.pending : null;
  }

  /* ---------------------------------------------------------------------------------- */
  /* Message                                                                             */
  /* ---------------------------------------------------------------------------------- */

  private requireMessage(): MilterMessage {
    if (this.msg === null) throw new InvariantError('milter session: no message in a message state');
    return this.msg;
  }

  private async endOfMessage(msg: MilterMessage, lastChunk: Buffer, write: MilterFrameSink): Promise<void> {
    let final: MilterReply | null = msg.pending;
    if (final === null && lastChunk.length > 0) {
      const r = await this.ask('body', () => this.handler.body?.(lastChunk));
      if (r.kind !== 'continue') final = r;
    }
    if (final !== null) {
      // Refused before eom(): the handler hears abort() for this message.
      await write(encodeReply(final));
      await this.callAbort();
      this.endMessage();
      return;
    }
    const verdict = await this.askEom(msg);
    const edits = verdict.edits;
    let reply = verdict.reply;
    // The edits and the final reply in one write (a large replacement body in a few).
    const batch = new FrameBatch(write);
    if ((reply.kind === 'continue' || reply.kind === 'accept') && edits.length > 0) {
      try {
        await this.sendEdits(edits, batch);
      } catch (err: unknown) {
        if (err instanceof SinkFailure) throw err.error;
        reply = this.errorReply('eom', err);
      }
    }
    await batch.add(encodeReply(reply));
    await batch.flush();
    this.endMessage();
  }

  /** The handler's verdict on the message; anything malformed is an error reply without edits. */
  private async askEom(msg: MilterMessage): Promise<{ reply: MilterReply; edits: readonly MilterEdit[] }> {
    const ctx = msg.context({
      connect: this.connectInfo,
      helo: this.heloName,
      macros: this.macros.view(),
      actions: this.neg.actions,
      headerLeadingSpace: this.leadingSpace,
    });
    try {
      return checkEomResult(await this.handler.eom(ctx));
    } catch (err: unknown) {
      return { reply: this.errorReply('eom', err), edits: [] };
    }
  }

  /** Checks every edit, then sends them in order; a bad edit throws before anything is sent. */
  private async sendEdits(edits: readonly MilterEdit[], batch: FrameBatch): Promise<void> {
    const frames = encodeEdits(edits, { actions: this.neg.actions, leadingSpace: this.leadingSpace });
    for await (const frame of frames) {
      try {
        await batch.add(frame);
      } catch (err: unknown) {
        throw new SinkFailure(err);
      }
    }
  }

  private async callAbort(): Promise<void> {
    if (!this.handler.abort) return;
    try {
      await this.handler.abort();
    } catch (err: unknown) {
      this.log.error(merged(this.logCtx, { event: 'abort', err: errorForLog(err) }), 'milter handler failed');
    }
  }

  /** HELO or MAIL inside a message: the MTA abandoned it without A. */
  private async implicitAbort(keepStage: number, why: string): Promise<void> {
    this.log.debug(merged(this.logCtx, { state: this.st, command: escapeLogValue(why) }), 'milter: message abandoned');
    await this.callAbort();
    this.endMessage(keepStage);
  }

  /** Forgets the message and its macros (except those just sent for `keepStage`). */
  private endMessage(keepStage?: number): void {
    this.msg = null;
    this.macros.endMessage(keepStage);
    this.st = 'idle';
  }
}
