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
 * - negotiation: version min(offered, 6) (2..6 accepted), actions = configured & offered,
 *   NO* bits for events the handler has no method for (HELO, DATA, EOH, body, unknown),
 *   NR_* bits for C/MAIL/RCPT/header when the handler has no method for them, HDR_LEADSPC,
 *   and SETSYMLIST macro lists (default: `i {auth_authen} {auth_type}` at end-of-message);
 * - macros per stage (`x` and `{x}` alike), message stages cleared when a message ends;
 * - envelope, recipients and header fields collected for eom(); body chunks streamed;
 * - handler errors and invalid handler replies become smtpReplyFor(err) (451 4.3.0 unless a
 *   RejectError), never a crash; end-of-message edits are checked against the granted
 *   SMFIF_* bits before any is sent.
 *
 * Limits: MAX_HEADER_BLOCK_BYTES of collected header fields (then 552 5.3.4),
 * MAX_RECIPIENTS recipients per message (then 452 4.5.3 at RCPT), MAX_MILTER_HEADER_LINE
 * per header line we send, MAX_MILTER_REPLY_PAYLOAD per packet (body split to fit).
 *
 * Throws: ProtocolError (EMILTER_STATE for a command out of order, EMILTER_VERSION for a
 * version below 2) — the connection must then be dropped; errors of the frame sink are
 * passed through; InvariantError when handle() is called while a command is in flight.
 */

import type { HeaderField } from '../core/types.js';
import { ConfigError, InvariantError, ProtocolError, smtpReplyFor } from '../lib/errors.js';
import { MAX_HEADER_BLOCK_BYTES, MAX_MILTER_HEADER_LINE, MAX_MILTER_REPLY_PAYLOAD, MAX_RECIPIENTS } from '../lib/limits.js';
import {
  buildCustomReply,
  customReplyProblem,
  encodeAccept,
  encodeAddHeader,
  encodeAddRcpt,
  encodeAddRcptPar,
  encodeChangeFrom,
  encodeChangeHeader,
  encodeContinue,
  encodeDeleteRcpt,
  encodeDiscard,
  encodeInsertHeader,
  encodeOptneg,
  encodeReject,
  encodeReplaceBody,
  encodeReplyCode,
  encodeTempfail,
  type MilterCommand,
} from './codec.js';
import {
  DEFAULT_MILTER_ACTIONS,
  SMFIC_BODY,
  SMFIC_BODYEOB,
  SMFIC_CONNECT,
  SMFIC_DATA,
  SMFIC_EOH,
  SMFIC_HEADER,
  SMFIC_HELO,
  SMFIC_MAIL,
  SMFIC_RCPT,
  SMFIC_UNKNOWN,
  SMFIF_ADDHDRS,
  SMFIF_ADDRCPT,
  SMFIF_ADDRCPT_PAR,
  SMFIF_CHGBODY,
  SMFIF_CHGFROM,
  SMFIF_CHGHDRS,
  SMFIF_DELRCPT,
  SMFIF_SETSYMLIST,
  SMFIM_EOH,
  SMFIM_CONNECT,
  SMFIM_EOM,
  SMFIP_HDR_LEADSPC,
  SMFIP_NOBODY,
  SMFIP_NODATA,
  SMFIP_NOEOH,
  SMFIP_NOHELO,
  SMFIP_NOUNKNOWN,
  SMFIP_NR_BODY,
  SMFIP_NR_CONN,
  SMFIP_NR_DATA,
  SMFIP_NR_EOH,
  SMFIP_NR_HDR,
  SMFIP_NR_HELO,
  SMFIP_NR_MAIL,
  SMFIP_NR_RCPT,
  SMFIP_NR_UNKN,
  SMFI_MIN_VERSION,
  SMFI_VERSION,
} from './constants.js';
import type {
  MilterBodySource,
  MilterConnectInfo,
  MilterEdit,
  MilterEnvelopeAddress,
  MilterEomResult,
  MilterHandler,
  MilterHandlerResult,
  MilterMessageContext,
  MilterReply,
} from './handler.js';
import { errorForLog, escapeLogValue, silentLogger, type Logger } from '../lib/logger.js';
import { MilterMacros, normaliseMacroName } from './macros.js';

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

export type MilterCommandType = MilterCommand['type'];

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

/** Macro stages that belong to a message (cleared when it ends). */
const MESSAGE_MACRO_STAGES: readonly number[] = [SMFIC_MAIL, SMFIC_RCPT, SMFIC_DATA, SMFIC_HEADER, SMFIC_EOH, SMFIC_BODY, SMFIC_BODYEOB];
/** Order in which stage macros are merged (later stages win). */
const MACRO_VIEW_ORDER: readonly number[] = [SMFIC_CONNECT, SMFIC_HELO, SMFIC_UNKNOWN, ...MESSAGE_MACRO_STAGES];

/** Events that may expect a reply, with the bit that tells the MTA not to wait for one. */
const NO_REPLY_BIT = {
  connect: SMFIP_NR_CONN,
  helo: SMFIP_NR_HELO,
  mail: SMFIP_NR_MAIL,
  rcpt: SMFIP_NR_RCPT,
  data: SMFIP_NR_DATA,
  header: SMFIP_NR_HDR,
  eoh: SMFIP_NR_EOH,
  body: SMFIP_NR_BODY,
  unknown: SMFIP_NR_UNKN,
  eom: 0,
} as const;
type ReplyEvent = keyof typeof NO_REPLY_BIT;

/* ------------------------------------------------------------------------------------ */
/* Options                                                                               */
/* ------------------------------------------------------------------------------------ */

export interface MilterSessionOptions {
  /** SMFIF_* actions to ask for (intersected with the MTA's offer). Default DEFAULT_MILTER_ACTIONS. */
  readonly actions?: number;
  /**
   * SETSYMLIST overrides, by SMFIM_* stage: macro names as in main.cf (`i`, `{auth_authen}`).
   * A list replaces Postfix's list for that stage. Default DEFAULT_MACRO_LISTS.
   */
  readonly macroLists?: Readonly<Partial<Record<number, readonly string[]>>>;
  readonly logger?: Logger;
  /** Fields added to every log line (e.g. the connection id). */
  readonly logContext?: Readonly<Record<string, unknown>>;
}

/** The queue id and the SASL login at end-of-message too (Postfix sends only `i` there by default). */
export const DEFAULT_MACRO_LISTS: Readonly<Partial<Record<number, readonly string[]>>> = {
  [SMFIM_EOM]: ['i', '{auth_authen}', '{auth_type}'],
};

const MACRO_NAME_RE = /^(?:[A-Za-z0-9_]|\{[A-Za-z0-9_]+\})+$/;

/** Checks session options once (the server calls it at start-up). Throws ConfigError. */
export function validateSessionOptions(options: MilterSessionOptions): void {
  const actions = options.actions ?? DEFAULT_MILTER_ACTIONS;
  if (!Number.isInteger(actions) || actions < 0 || actions > 0x1ff) {
    throw new ConfigError(`milter actions ${String(actions)} is not a set of SMFIF_* bits`);
  }
  for (const [stage, names] of Object.entries(options.macroLists ?? DEFAULT_MACRO_LISTS)) {
    const n = Number(stage);
    if (!Number.isInteger(n) || n < SMFIM_CONNECT || n > SMFIM_EOH) throw new ConfigError(`milter macro stage ${stage} is not 0..6`);
    for (const name of names ?? []) {
      if (!MACRO_NAME_RE.test(name)) throw new ConfigError(`milter macro name ${JSON.stringify(name)} is not valid`);
    }
  }
}

/* ------------------------------------------------------------------------------------ */
/* Helpers                                                                               */
/* ------------------------------------------------------------------------------------ */

/** Receives response frames in order; may return a promise to apply backpressure. */
export type MilterFrameSink = (frame: Buffer) => void | Promise<void>;

const CONTINUE: MilterReply = { kind: 'continue' };
const REPLY_KINDS = new Set(['continue', 'accept', 'reject', 'tempfail', 'discard', 'custom']);
const HEADER_TOO_BIG: MilterReply = { kind: 'custom', code: 552, enhanced: '5.3.4', text: 'Message header too large' };
const TOO_MANY_RCPTS_NOW: MilterReply = { kind: 'custom', code: 452, enhanced: '4.5.3', text: 'Too many recipients' };
const TOO_MANY_RCPTS_MSG: MilterReply = { kind: 'custom', code: 552, enhanced: '5.5.3', text: 'Too many recipients' };

/** An error of the frame sink (I/O), kept apart from handler errors while streaming a body. */
class SinkFailure extends Error {
  constructor(readonly error: unknown) {
    super('milter frame sink failed', { cause: error });
  }
}

function stripAngles(raw: string): string {
  const t = raw.trim();
  return t.length >= 2 && t.startsWith('<') && t.endsWith('>') ? t.slice(1, -1) : t;
}

/** Postfix folds header values with bare LF; header fields carry CRLF folds like the message. */
function lfToCrlf(value: string): string {
  return value.includes('\n') ? value.replace(/\r?\n/g, '\r\n') : value;
}

function commandLetter(type: MilterCommandType): string {
  const letters: Record<MilterCommandType, string> = {
    optneg: 'O',
    macro: 'D',
    connect: 'C',
    helo: 'H',
    mail: 'M',
    rcpt: 'R',
    data: 'T',
    header: 'L',
    eoh: 'N',
    body: 'B',
    eom: 'E',
    abort: 'A',
    quit: 'Q',
    unknown: 'U',
  };
  return letters[type];
}

function bad(message: string): never {
  throw new InvariantError(`milter edit refused: ${message}`);
}

const HEADER_NAME_RE = /^[\x21-\x39\x3b-\x7e]+$/;
const CONTROL_RE = /[\x00-\x1f\x7f]/;
const ESMTP_ARG_RE = /^[^\s\x00-\x1f\x7f]+$/;

function checkAddress(address: string, what: string): void {
  if (typeof address !== 'string') bad(`${what} is not a string`);
  if (CONTROL_RE.test(address)) bad(`${what} contains control characters`);
}

function joinArgs(args: readonly string[] | undefined): string | undefined {
  if (args === undefined || args.length === 0) return undefined;
  for (const a of args) {
    if (typeof a !== 'string' || !ESMTP_ARG_RE.test(a)) bad('ESMTP argument is empty or contains spaces or control characters');
  }
  return args.join(' ');
}

/* ------------------------------------------------------------------------------------ */
/* Session                                                                               */
/* ------------------------------------------------------------------------------------ */

interface Negotiated {
  readonly version: number;
  readonly actions: number;
  readonly protocol: number;
}

interface MessageState {
  readonly sender: MilterEnvelopeAddress;
  readonly recipients: MilterEnvelopeAddress[];
  readonly headers: HeaderField[];
  headerBytes: number;
  headerOverflow: boolean;
  readonly authUser: string | null;
  /** A refusal decided while the MTA expected no reply; given at the next T/L/N/B/E that expects one. */
  pending: MilterReply | null;
}

type PreparedEdit = { readonly frame: Buffer } | { readonly body: MilterBodySource };

export class MilterSession {
  private st: MilterSessionState = 'init';
  private busy = false;
  private failed: ProtocolError | null = null;
  private closed = false;
  private neg: Negotiated = { version: 0, actions: 0, protocol: 0 };
  private readonly macros = new Map<number, Map<string, string>>();
  private connectInfo: MilterConnectInfo | null = null;
  private heloName: string | null = null;
  private msg: MessageState | null = null;
  private readonly actions: number;
  private readonly macroLists: Readonly<Partial<Record<number, readonly string[]>>>;
  private readonly log: Logger;
  private readonly logCtx: Readonly<Record<string, unknown>>;

  constructor(
    private readonly handler: MilterHandler,
    options: MilterSessionOptions = {},
  ) {
    validateSessionOptions(options);
    this.actions = options.actions ?? DEFAULT_MILTER_ACTIONS;
    this.macroLists = options.macroLists ?? DEFAULT_MACRO_LISTS;
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
      this.failed = new ProtocolError(
        'EMILTER_STATE',
        `milter command '${commandLetter(cmd.type)}' is not allowed in session state ${this.st}`,
      );
      throw this.failed;
    }
    this.busy = true;
    try {
      return await this.dispatch(cmd, write);
    } finally {
      this.busy = false;
    }
  }

  /** Ends the session: aborts an open message, then calls handler.close() (once). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.msg !== null || MESSAGE_STATES.has(this.st)) await this.callAbort();
    this.msg = null;
    this.st = 'closed';
    if (this.handler.close) {
      try {
        await this.handler.close();
      } catch (err: unknown) {
        this.log.error({ ...this.logCtx, event: 'close', err: errorForLog(err) }, 'milter handler failed');
      }
    }
  }

  /* ---------------------------------------------------------------------------------- */

  private async dispatch(cmd: MilterCommand, write: MilterFrameSink): Promise<'continue' | 'close'> {
    const h = this.handler;
    switch (cmd.type) {
      case 'optneg':
        await write(this.negotiate(cmd.version, cmd.actions, cmd.protocol));
        this.st = 'negotiated';
        return 'continue';

      case 'macro': {
        const m = new Map<string, string>();
        for (const [k, v] of cmd.macros) m.set(normaliseMacroName(k), v);
        this.macros.set(cmd.stage, m);
        return 'continue';
      }

      case 'connect': {
        const info: MilterConnectInfo = { hostname: cmd.hostname, family: cmd.family, port: cmd.port, address: cmd.address };
        this.connectInfo = info;
        const reply = h.connect ? await this.ask('connect', () => h.connect?.(info, this.view())) : CONTINUE;
        await this.respond('connect', reply, write);
        this.st = 'idle';
        return 'continue';
      }

      case 'helo': {
        if (this.inMessage) await this.implicitAbort(SMFIC_HELO, 'HELO');
        this.heloName = cmd.name;
        const reply = h.helo ? await this.ask('helo', () => h.helo?.(cmd.name, this.view())) : CONTINUE;
        await this.respond('helo', reply, write);
        this.st = 'idle';
        return 'continue';
      }

      case 'mail': {
        if (this.inMessage) await this.implicitAbort(SMFIC_MAIL, 'MAIL');
        const macros = this.view();
        const sender: MilterEnvelopeAddress = { raw: cmd.sender, address: stripAngles(cmd.sender), args: cmd.args };
        this.msg = {
          sender,
          recipients: [],
          headers: [],
          headerBytes: 0,
          headerOverflow: false,
          authUser: macros.get('auth_authen') ?? null,
          pending: null,
        };
        this.st = 'mail';
        const reply = h.mail ? await this.ask('mail', () => h.mail?.(sender.address, sender.args, macros)) : CONTINUE;
        const sent = await this.respond('mail', reply, write);
        if (sent.kind !== 'continue') this.st = 'decided';
        return 'continue';
      }

      case 'rcpt': {
        const msg = this.requireMessage();
        const rcpt: MilterEnvelopeAddress = { raw: cmd.recipient, address: stripAngles(cmd.recipient), args: cmd.args };
        const overCap = msg.recipients.length >= MAX_RECIPIENTS;
        let reply: MilterReply;
        if (overCap) {
          this.log.warn({ ...this.logCtx, limit: MAX_RECIPIENTS }, 'milter: too many recipients');
          if (this.expectsReply('rcpt')) reply = TOO_MANY_RCPTS_NOW;
          else {
            msg.pending ??= TOO_MANY_RCPTS_MSG;
            reply = CONTINUE;
          }
        } else {
          reply = h.rcpt ? await this.ask('rcpt', () => h.rcpt?.(rcpt.address, rcpt.args, this.view())) : CONTINUE;
        }
        const sent = await this.respond('rcpt', reply, write);
        if (!overCap && (sent.kind === 'continue' || sent.kind === 'accept')) msg.recipients.push(rcpt);
        if (sent.kind === 'continue') this.st = 'rcpt';
        else if (sent.kind === 'accept' || sent.kind === 'discard') this.st = 'decided';
        return 'continue';
      }

      case 'data': {
        const msg = this.requireMessage();
        const reply = this.pendingFor('data', msg) ?? (h.data ? await this.ask('data', () => h.data?.(this.view())) : CONTINUE);
        const sent = await this.respond('data', reply, write);
        // A refused DATA leaves the SMTP transaction open: more RCPT and DATA may follow.
        if (sent.kind === 'continue') this.st = 'data';
        else if (sent.kind === 'accept' || sent.kind === 'discard') this.st = 'decided';
        return 'continue';
      }

      case 'header': {
        const msg = this.requireMessage();
        const value = lfToCrlf(cmd.value);
        this.collectHeader(msg, cmd.name, value);
        this.st = 'header';
        const reply = this.pendingFor('header', msg) ?? (h.header ? await this.ask('header', () => h.header?.(cmd.name, value)) : CONTINUE);
        const sent = await this.respond('header', reply, write);
        if (sent.kind !== 'continue') this.st = 'decided';
        return 'continue';
      }

      case 'eoh': {
        const msg = this.requireMessage();
        this.st = 'eoh';
        const reply = this.pendingFor('eoh', msg) ?? (h.eoh ? await this.ask('eoh', () => h.eoh?.(this.view())) : CONTINUE);
        const sent = await this.respond('eoh', reply, write);
        if (sent.kind !== 'continue') this.st = 'decided';
        return 'continue';
      }

      case 'body': {
        const msg = this.requireMessage();
        this.st = 'body';
        const reply = this.pendingFor('body', msg) ?? (h.body ? await this.ask('body', () => h.body?.(cmd.chunk)) : CONTINUE);
        const sent = await this.respond('body', reply, write);
        if (sent.kind !== 'continue') this.st = 'decided';
        return 'continue';
      }

      case 'eom':
        await this.endOfMessage(this.requireMessage(), cmd.chunk, write);
        return 'continue';

      case 'abort':
        if (this.inMessage) {
          await this.callAbort();
          this.endMessage();
        }
        return 'continue';

      case 'quit':
        if (this.inMessage) {
          await this.callAbort();
          this.endMessage();
        }
        this.st = 'closed';
        return 'close';

      case 'unknown': {
        const reply = h.unknown ? await this.ask('unknown', () => h.unknown?.(cmd.line, this.view())) : CONTINUE;
        await this.respond('unknown', reply, write);
        return 'continue';
      }
    }
  }

  /* ---------------------------------------------------------------------------------- */
  /* Negotiation                                                                         */
  /* ---------------------------------------------------------------------------------- */

  private negotiate(mtaVersion: number, mtaActions: number, mtaProtocol: number): Buffer {
    if (mtaVersion < SMFI_MIN_VERSION) {
      this.failed = new ProtocolError('EMILTER_VERSION', `milter protocol version ${mtaVersion} is not supported (need 2..6)`);
      throw this.failed;
    }
    const version = Math.min(mtaVersion, SMFI_VERSION);
    let actions = this.actions & mtaActions;
    if (version < 6) actions &= ~SMFIF_SETSYMLIST;
    const h = this.handler;
    let want = SMFIP_HDR_LEADSPC;
    if (!h.helo) want |= SMFIP_NOHELO;
    if (!h.data) want |= SMFIP_NODATA;
    if (!h.eoh) want |= SMFIP_NOEOH;
    if (!h.body) want |= SMFIP_NOBODY;
    if (!h.unknown) want |= SMFIP_NOUNKNOWN;
    if (!h.connect) want |= SMFIP_NR_CONN;
    if (!h.mail) want |= SMFIP_NR_MAIL;
    if (!h.rcpt) want |= SMFIP_NR_RCPT;
    if (!h.header) want |= SMFIP_NR_HDR;
    // Only bits the MTA offered: an MTA of an older version would get out of step otherwise.
    const protocol = want & mtaProtocol;
    this.neg = { version, actions, protocol };
    const macroLists: [number, string][] = [];
    if ((actions & SMFIF_SETSYMLIST) !== 0) {
      for (const [stage, names] of Object.entries(this.macroLists)) {
        if (names !== undefined && names.length > 0) macroLists.push([Number(stage), names.join(' ')]);
      }
    }
    this.log.debug(
      { ...this.logCtx, mtaVersion, mtaActions, mtaProtocol, version, actions, protocol },
      'milter options negotiated',
    );
    return encodeOptneg({ version, actions, protocol, macroLists });
  }

  private expectsReply(event: ReplyEvent): boolean {
    const bit = NO_REPLY_BIT[event];
    return bit === 0 || (this.neg.protocol & bit) === 0;
  }

  /* ---------------------------------------------------------------------------------- */
  /* Replies                                                                             */
  /* ---------------------------------------------------------------------------------- */

  /** Calls a reply-returning handler method; errors and invalid replies become a tempfail. */
  private async ask(event: ReplyEvent, fn: () => MilterHandlerResult): Promise<MilterReply> {
    try {
      const r = (await fn()) as MilterReply | undefined;
      return this.sanitise(event, r ?? CONTINUE);
    } catch (err: unknown) {
      return this.errorReply(event, err);
    }
  }

  private errorReply(event: string, err: unknown): MilterReply {
    this.log.error({ ...this.logCtx, event, err: errorForLog(err) }, 'milter handler failed');
    const r = smtpReplyFor(err);
    const reply: MilterReply = { kind: 'custom', code: r.code, enhanced: r.enhanced, text: r.text };
    if (customReplyProblem(reply) === null) return reply;
    const d = smtpReplyFor(undefined);
    return { kind: 'custom', code: d.code, enhanced: d.enhanced, text: d.text };
  }

  /** A reply the wire can carry, or the error reply for a malformed one. */
  private sanitise(event: string, reply: unknown): MilterReply {
    if (typeof reply !== 'object' || reply === null || !REPLY_KINDS.has((reply as { kind?: unknown }).kind as string)) {
      return this.errorReply(event, new InvariantError('milter handler returned something that is not a MilterReply'));
    }
    const r = reply as MilterReply;
    if (r.kind === 'custom') {
      const problem = customReplyProblem(r);
      if (problem !== null) return this.errorReply(event, new InvariantError(`invalid custom milter reply: ${problem}`));
    }
    return r;
  }

  /** Writes the reply when the MTA waits for one; returns the reply that stands. */
  private async respond(event: ReplyEvent, reply: MilterReply, write: MilterFrameSink): Promise<MilterReply> {
    if (this.expectsReply(event)) {
      await write(replyFrame(reply));
      return reply;
    }
    if (reply.kind !== 'continue' && this.msg !== null) {
      // Cannot answer now: refuse the message at the next event the MTA waits for.
      this.msg.pending ??= reply;
    }
    return CONTINUE;
  }

  /** The pending refusal, if this event can carry it. */
  private pendingFor(event: ReplyEvent, msg: MessageState): MilterReply | null {
    return msg.pending !== null && this.expectsReply(event) ? msg.pending : null;
  }

  /* ---------------------------------------------------------------------------------- */
  /* Message                                                                             */
  /* ---------------------------------------------------------------------------------- */

  private requireMessage(): MessageState {
    if (this.msg === null) throw new InvariantError('milter session: no message in a message state');
    return this.msg;
  }

  /** `value` already has CRLF folds. */
  private collectHeader(msg: MessageState, name: string, v: string): void {
    if (msg.headerOverflow) return;
    const bytes = Buffer.byteLength(name) + 1 + Buffer.byteLength(v) + 2;
    if (msg.headerBytes + bytes > MAX_HEADER_BLOCK_BYTES) {
      msg.headerOverflow = true;
      msg.pending ??= HEADER_TOO_BIG;
      this.log.warn({ ...this.logCtx, limit: MAX_HEADER_BLOCK_BYTES }, 'milter: header block too large');
      return;
    }
    msg.headerBytes += bytes;
    msg.headers.push({ name, value: v });
  }

  private async endOfMessage(msg: MessageState, lastChunk: Buffer, write: MilterFrameSink): Promise<void> {
    let final: MilterReply | null = msg.pending;
    if (final === null && lastChunk.length > 0 && this.handler.body) {
      const h = this.handler;
      const r = await this.ask('body', () => h.body?.(lastChunk));
      if (r.kind !== 'continue') final = r;
    }
    if (final !== null) {
      // Refused before eom(): the handler hears abort() for this message.
      await write(replyFrame(final));
      await this.callAbort();
      this.endMessage();
      return;
    }

    const macros = this.view();
    const ctx: MilterMessageContext = {
      connect: this.connectInfo,
      helo: this.heloName,
      sender: msg.sender,
      recipients: [...msg.recipients],
      headers: [...msg.headers],
      macros,
      queueId: macros.get('i') ?? null,
      authUser: msg.authUser ?? macros.get('auth_authen') ?? null,
      actions: this.neg.actions,
      headerLeadingSpace: (this.neg.protocol & SMFIP_HDR_LEADSPC) !== 0,
    };
    let reply: MilterReply;
    let edits: readonly MilterEdit[];
    try {
      const result: unknown = await this.handler.eom(ctx);
      if (typeof result !== 'object' || result === null || !Array.isArray((result as { edits?: unknown }).edits)) {
        throw new InvariantError('milter handler eom() did not return { edits, reply }');
      }
      reply = this.sanitise('eom', (result as { reply?: unknown }).reply);
      edits = (result as MilterEomResult).edits;
    } catch (err: unknown) {
      reply = this.errorReply('eom', err);
      edits = [];
    }

    if ((reply.kind === 'continue' || reply.kind === 'accept') && edits.length > 0) {
      let prepared: PreparedEdit[] | null = null;
      try {
        prepared = this.prepareEdits(edits);
      } catch (err: unknown) {
        reply = this.errorReply('eom', err);
      }
      if (prepared !== null) {
        try {
          await this.applyEdits(prepared, write);
        } catch (err: unknown) {
          if (err instanceof SinkFailure) throw err.error;
          reply = this.errorReply('eom', err);
        }
      }
    }
    await write(replyFrame(reply));
    this.endMessage();
  }

  /** Checks and encodes every edit before any is sent, so a bad one refuses cleanly. */
  private prepareEdits(edits: readonly MilterEdit[]): PreparedEdit[] {
    const granted = this.neg.actions;
    const need = (bit: number, name: string): void => {
      if ((granted & bit) === 0) bad(`${name} needs an action the MTA did not grant`);
    };
    const out: PreparedEdit[] = [];
    let bodies = 0;
    for (const e of edits) {
      switch (e.kind) {
        case 'chgfrom':
          need(SMFIF_CHGFROM, 'chgfrom');
          checkAddress(e.address, 'sender');
          out.push({ frame: encodeChangeFrom(e.address, joinArgs(e.args)) });
          break;
        case 'addrcpt': {
          checkAddress(e.address, 'recipient');
          const args = joinArgs(e.args);
          if (args === undefined) {
            need(SMFIF_ADDRCPT, 'addrcpt');
            out.push({ frame: encodeAddRcpt(e.address) });
          } else {
            need(SMFIF_ADDRCPT_PAR, 'addrcpt with arguments');
            out.push({ frame: encodeAddRcptPar(e.address, args) });
          }
          break;
        }
        case 'delrcpt':
          need(SMFIF_DELRCPT, 'delrcpt');
          checkAddress(e.address, 'recipient');
          out.push({ frame: encodeDeleteRcpt(e.address) });
          break;
        case 'chgheader':
          need(SMFIF_CHGHDRS, 'chgheader');
          if (!Number.isInteger(e.index) || e.index < 1 || e.index > 0xffffffff) bad('chgheader index must be 1 or more');
          out.push({ frame: encodeChangeHeader(e.index, this.headerName(e.name), this.headerValue(e.name, e.value)) });
          break;
        case 'addheader':
          need(SMFIF_ADDHDRS, 'addheader');
          out.push({ frame: encodeAddHeader(this.headerName(e.name), this.headerValue(e.name, e.value)) });
          break;
        case 'insheader':
          need(SMFIF_ADDHDRS, 'insheader');
          if (!Number.isInteger(e.index) || e.index < 0 || e.index > 0xffffffff) bad('insheader index must be 0 or more');
          out.push({ frame: encodeInsertHeader(e.index, this.headerName(e.name), this.headerValue(e.name, e.value)) });
          break;
        case 'replbody':
          need(SMFIF_CHGBODY, 'replbody');
          // Postfix cannot take body packets interleaved with other edits, nor two replacements.
          if (++bodies > 1) bad('more than one replbody');
          if (typeof e.body !== 'object' || e.body === null) bad('replbody without a body source');
          out.push({ body: e.body });
          break;
        default:
          bad(`unknown edit kind ${JSON.stringify((e as { kind?: unknown }).kind)}`);
      }
    }
    return out;
  }

  private headerName(name: string): string {
    if (typeof name !== 'string' || !HEADER_NAME_RE.test(name)) bad('header name is empty or not printable ASCII without colon');
    return name;
  }

  /** The value as Postfix wants it: LF folds, a leading space under HDR_LEADSPC. */
  private headerValue(name: string, value: string): string {
    if (typeof value !== 'string') bad('header value is not a string');
    if (value === '') return '';
    const v = value.replace(/\r\n/g, '\n');
    if (v.includes('\r') || v.includes('\0')) bad('header value contains CR or NUL');
    if (v.endsWith('\n')) bad('header value ends with a line break');
    const lines = v.split('\n');
    lines.forEach((line, i) => {
      if (i > 0 && !(line.startsWith(' ') || line.startsWith('\t'))) bad('header value has a line break not followed by space or tab');
      const len = Buffer.byteLength(line) + (i === 0 ? Buffer.byteLength(name) + 2 : 0);
      if (len > MAX_MILTER_HEADER_LINE) bad(`header line of ${len} octets exceeds ${MAX_MILTER_HEADER_LINE}`);
    });
    const leadspc = (this.neg.protocol & SMFIP_HDR_LEADSPC) !== 0;
    return leadspc && !(v.startsWith(' ') || v.startsWith('\t')) ? ` ${v}` : v;
  }

  private async applyEdits(prepared: readonly PreparedEdit[], write: MilterFrameSink): Promise<void> {
    const put = async (frame: Buffer): Promise<void> => {
      try {
        await write(frame);
      } catch (err: unknown) {
        throw new SinkFailure(err);
      }
    };
    for (const p of prepared) {
      if ('frame' in p) await put(p.frame);
      else await this.streamBody(p.body, put);
    }
  }

  /** Sends a body replacement as `b` packets of at most MAX_MILTER_REPLY_PAYLOAD bytes. */
  private async streamBody(source: MilterBodySource, put: (frame: Buffer) => Promise<void>): Promise<void> {
    let acc: Buffer[] = [];
    let accLen = 0;
    let total = 0;
    const flush = async (): Promise<void> => {
      const chunk = acc.length === 1 ? (acc[0] as Buffer) : Buffer.concat(acc, accLen);
      acc = [];
      accLen = 0;
      await put(encodeReplaceBody(chunk));
    };
    for await (const piece of source) {
      if (!(piece instanceof Uint8Array)) bad('replbody produced something that is not bytes');
      let off = 0;
      while (off < piece.length) {
        const k = Math.min(piece.length - off, MAX_MILTER_REPLY_PAYLOAD - accLen);
        acc.push(Buffer.from(piece.subarray(off, off + k)));
        accLen += k;
        off += k;
        total += k;
        if (accLen === MAX_MILTER_REPLY_PAYLOAD) await flush();
      }
    }
    if (accLen > 0) await flush();
    // Postfix refuses an empty `b`; an empty line is the closest to an empty body.
    if (total === 0) await put(encodeReplaceBody(Buffer.from('\r\n')));
  }

  private async callAbort(): Promise<void> {
    if (!this.handler.abort) return;
    try {
      await this.handler.abort();
    } catch (err: unknown) {
      this.log.error({ ...this.logCtx, event: 'abort', err: errorForLog(err) }, 'milter handler failed');
    }
  }

  /** HELO or MAIL inside a message: the MTA abandoned it without A. */
  private async implicitAbort(keepStage: number, why: string): Promise<void> {
    this.log.debug({ ...this.logCtx, state: this.st, command: escapeLogValue(why) }, 'milter: message abandoned');
    await this.callAbort();
    this.endMessage(keepStage);
  }

  /** Forgets the message and its macros (except those just sent for `keepStage`). */
  private endMessage(keepStage?: number): void {
    this.msg = null;
    for (const s of MESSAGE_MACRO_STAGES) if (s !== keepStage) this.macros.delete(s);
    this.st = 'idle';
  }

  private view(): MilterMacros {
    const entries: [string, string][] = [];
    for (const stage of MACRO_VIEW_ORDER) {
      const m = this.macros.get(stage);
      if (m) entries.push(...m);
    }
    return new MilterMacros(entries);
  }
}

/** The frame for a (sanitised) reply. */
function replyFrame(reply: MilterReply): Buffer {
  switch (reply.kind) {
    case 'continue':
      return encodeContinue();
    case 'accept':
      return encodeAccept();
    case 'reject':
      return encodeReject();
    case 'tempfail':
      return encodeTempfail();
    case 'discard':
      return encodeDiscard();
    case 'custom':
      return encodeReplyCode(buildCustomReply(reply));
  }
}
