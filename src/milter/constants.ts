/**
 * Sendmail milter protocol constants, with their spec names (libmilter mfdef.h, Postfix
 * src/milter/milter8.c). Pure data.
 *
 * Protocol: Sendmail milter, versions 2..6 as spoken by Postfix (see
 * docs/protocols.md §1). Commands are single ASCII letters; SMFIF_* are the
 * actions a filter may take at end-of-message, SMFIP_* the protocol (event/no-reply) bits,
 * SMFIM_* the macro stages of SETSYMLIST.
 *
 * Throws nothing.
 */

/* Commands, MTA -> filter. */
export const SMFIC_ABORT = 0x41; // 'A'
export const SMFIC_BODY = 0x42; // 'B'
export const SMFIC_CONNECT = 0x43; // 'C'
export const SMFIC_MACRO = 0x44; // 'D'
export const SMFIC_BODYEOB = 0x45; // 'E'
export const SMFIC_HELO = 0x48; // 'H'
export const SMFIC_QUIT_NC = 0x4b; // 'K' (never sent by Postfix, not supported)
export const SMFIC_HEADER = 0x4c; // 'L'
export const SMFIC_MAIL = 0x4d; // 'M'
export const SMFIC_EOH = 0x4e; // 'N'
export const SMFIC_OPTNEG = 0x4f; // 'O'
export const SMFIC_QUIT = 0x51; // 'Q'
export const SMFIC_RCPT = 0x52; // 'R'
export const SMFIC_DATA = 0x54; // 'T'
export const SMFIC_UNKNOWN = 0x55; // 'U'

/* Responses, filter -> MTA. */
export const SMFIR_ADDRCPT = 0x2b; // '+'
export const SMFIR_DELRCPT = 0x2d; // '-'
export const SMFIR_ADDRCPT_PAR = 0x32; // '2'
export const SMFIR_SHUTDOWN = 0x34; // '4'
export const SMFIR_ACCEPT = 0x61; // 'a'
export const SMFIR_REPLBODY = 0x62; // 'b'
export const SMFIR_CONTINUE = 0x63; // 'c'
export const SMFIR_DISCARD = 0x64; // 'd'
export const SMFIR_CHGFROM = 0x65; // 'e'
export const SMFIR_CONN_FAIL = 0x66; // 'f' (Postfix treats it as a protocol error; never sent)
export const SMFIR_ADDHEADER = 0x68; // 'h'
export const SMFIR_INSHEADER = 0x69; // 'i'
export const SMFIR_SETSYMLIST = 0x6c; // 'l' (never a packet: rides on the O reply)
export const SMFIR_CHGHEADER = 0x6d; // 'm'
export const SMFIR_PROGRESS = 0x70; // 'p'
export const SMFIR_QUARANTINE = 0x71; // 'q'
export const SMFIR_REJECT = 0x72; // 'r'
export const SMFIR_SKIP = 0x73; // 's'
export const SMFIR_TEMPFAIL = 0x74; // 't'
export const SMFIR_REPLYCODE = 0x79; // 'y'

/* Actions (SMFIF_*), asked for in the O reply. */
export const SMFIF_ADDHDRS = 0x001;
export const SMFIF_CHGBODY = 0x002;
export const SMFIF_ADDRCPT = 0x004;
export const SMFIF_DELRCPT = 0x008;
export const SMFIF_CHGHDRS = 0x010;
export const SMFIF_QUARANTINE = 0x020;
export const SMFIF_CHGFROM = 0x040;
export const SMFIF_ADDRCPT_PAR = 0x080;
export const SMFIF_SETSYMLIST = 0x100;

/* Protocol bits (SMFIP_*). NO* = do not send me this event; NR_* = I will not reply to it. */
export const SMFIP_NOCONNECT = 0x000001;
export const SMFIP_NOHELO = 0x000002;
export const SMFIP_NOMAIL = 0x000004;
export const SMFIP_NORCPT = 0x000008;
export const SMFIP_NOBODY = 0x000010;
export const SMFIP_NOHDRS = 0x000020;
export const SMFIP_NOEOH = 0x000040;
/** Same bit as the older SMFIP_NOHREPL. */
export const SMFIP_NR_HDR = 0x000080;
export const SMFIP_NOUNKNOWN = 0x000100;
export const SMFIP_NODATA = 0x000200;
export const SMFIP_SKIP = 0x000400;
export const SMFIP_RCPT_REJ = 0x000800;
export const SMFIP_NR_CONN = 0x001000;
export const SMFIP_NR_HELO = 0x002000;
export const SMFIP_NR_MAIL = 0x004000;
export const SMFIP_NR_RCPT = 0x008000;
export const SMFIP_NR_DATA = 0x010000;
export const SMFIP_NR_UNKN = 0x020000;
export const SMFIP_NR_EOH = 0x040000;
export const SMFIP_NR_BODY = 0x080000;
export const SMFIP_HDR_LEADSPC = 0x100000;

/* Macro stages for SETSYMLIST (SMFIM_*). */
export const SMFIM_CONNECT = 0;
export const SMFIM_HELO = 1;
export const SMFIM_ENVFROM = 2;
export const SMFIM_ENVRCPT = 3;
export const SMFIM_DATA = 4;
export const SMFIM_EOM = 5;
export const SMFIM_EOH = 6;

/* Address families in the C (connect) packet (SMFIA_*). */
export const SMFIA_UNKNOWN = 0x55; // 'U'
export const SMFIA_UNIX = 0x4c; // 'L'
export const SMFIA_INET = 0x34; // '4'
export const SMFIA_INET6 = 0x36; // '6'

/* Macro stages as the D packet names them: the letter of the event the macros belong to. */

/** Stages whose macros last for the whole connection. */
export const CONNECTION_MACRO_STAGES: readonly number[] = [SMFIC_CONNECT, SMFIC_HELO, SMFIC_UNKNOWN];
/** Stages whose macros belong to one message (MAIL to end-of-message); forgotten when it ends. */
export const MESSAGE_MACRO_STAGES: readonly number[] = [SMFIC_MAIL, SMFIC_RCPT, SMFIC_DATA, SMFIC_HEADER, SMFIC_EOH, SMFIC_BODY, SMFIC_BODYEOB];
/** Every letter a D packet may name: Postfix sends D before every event, A and Q included. */
export const MACRO_STAGES: ReadonlySet<number> = new Set([...CONNECTION_MACRO_STAGES, ...MESSAGE_MACRO_STAGES, SMFIC_ABORT, SMFIC_QUIT]);

/** Highest protocol version we speak. */
export const SMFI_VERSION = 6;
/** Lowest protocol version we accept from an MTA (Postfix before 2.6 spoke 2). */
export const SMFI_MIN_VERSION = 2;

/**
 * Actions we ask for by default (intersected with what the MTA offers): header add/change,
 * sender change, recipient add/delete, body replacement and macro-list overrides.
 */
export const DEFAULT_MILTER_ACTIONS =
  SMFIF_ADDHDRS | SMFIF_CHGHDRS | SMFIF_CHGFROM | SMFIF_ADDRCPT | SMFIF_DELRCPT | SMFIF_CHGBODY | SMFIF_SETSYMLIST;

/** Printable name of a command or response letter, for logs and error messages. */
export function commandName(code: number): string {
  return code >= 0x21 && code <= 0x7e ? `'${String.fromCharCode(code)}'` : `0x${code.toString(16).padStart(2, '0')}`;
}
