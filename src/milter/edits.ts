/**
 * End-of-message edits: checks the MilterEdits a handler returns and turns them into
 * response frames. Pure: no I/O (a replacement body is pulled from the handler's source as
 * the frames are).
 *
 * Protocol: Sendmail milter v6 as Postfix takes it after `E` (docs/protocols.md §1.5, §1.6).
 * Postfix does not re-check the SMFIF_* bit of an edit and drops the whole connection on one
 * it cannot apply, so every edit is checked here first, all before the first frame exists:
 * - the action the MTA granted (ADDHDRS for h/i, CHGHDRS for m, CHGFROM, ADDRCPT, ADDRCPT_PAR
 *   for a recipient with ESMTP arguments, DELRCPT, CHGBODY);
 * - addresses without control characters; ESMTP arguments non-empty, without space/controls;
 * - header names printable ASCII without colon; values without CR or NUL, folded only with
 *   a line break followed by space or tab, not ending in a line break, every line at most
 *   MAX_MILTER_HEADER_LINE octets (the first counting "Name: "). Values go out with LF
 *   folds, and with a leading space when HDR_LEADSPC was negotiated;
 * - header indexes: chgheader 1.., insheader 0.. (uint32);
 * - at most one body replacement: Postfix takes `b` packets only one after another. The body
 *   goes out in packets of MAX_MILTER_REPLY_PAYLOAD bytes; an empty body as one empty line,
 *   since Postfix refuses an empty `b`.
 *
 * Throws MilterEditError (an InvariantError: a handler bug, answered with a tempfail) naming
 * the problem; errors of a body source pass through as they are.
 */

import { InvariantError } from '../lib/errors.js';
import { MAX_MILTER_HEADER_LINE, MAX_MILTER_REPLY_PAYLOAD } from '../lib/limits.js';
import {
  SMFIF_ADDHDRS,
  SMFIF_ADDRCPT,
  SMFIF_ADDRCPT_PAR,
  SMFIF_CHGBODY,
  SMFIF_CHGFROM,
  SMFIF_CHGHDRS,
  SMFIF_DELRCPT,
} from './constants.js';
import {
  encodeAddHeader,
  encodeAddRcpt,
  encodeAddRcptPar,
  encodeChangeFrom,
  encodeChangeHeader,
  encodeDeleteRcpt,
  encodeInsertHeader,
  encodeReplaceBody,
} from './encode.js';
import type { MilterBodySource, MilterEdit } from './handler.js';

/** What is wrong with a refused edit. */
export type EditProblem =
  | 'action' // needs an SMFIF_* action the MTA did not grant
  | 'address' // not a string, or contains control characters
  | 'esmtp-argument' // empty, or contains space or control characters
  | 'header-name' // empty, not printable ASCII, or contains a colon
  | 'header-value' // CR, NUL, a bad fold, a trailing line break, a line too long
  | 'index' // out of range for the edit
  | 'body' // a second replacement, no source, or a source that yields no bytes
  | 'kind'; // not an edit we know

/** A handler asked for an edit that cannot be sent. */
export class MilterEditError extends InvariantError {
  constructor(
    readonly problem: EditProblem,
    detail: string,
  ) {
    super(`milter edit refused: ${detail}`);
  }
}

/** What negotiation settled that the edits depend on. */
export interface EditGrant {
  /** SMFIF_* actions the MTA granted. */
  readonly actions: number;
  /** HDR_LEADSPC was negotiated: values are sent with their leading space. */
  readonly leadingSpace: boolean;
}

const HEADER_NAME_RE = /^[\x21-\x39\x3b-\x7e]+$/;
const CONTROL_RE = /[\x00-\x1f\x7f]/;
const ESMTP_ARG_RE = /^[^\s\x00-\x1f\x7f]+$/;

function refuse(problem: EditProblem, detail: string): never {
  throw new MilterEditError(problem, detail);
}

function checkAddress(address: string, what: string): string {
  if (typeof address !== 'string') refuse('address', `${what} is not a string`);
  if (CONTROL_RE.test(address)) refuse('address', `${what} contains control characters`);
  return address;
}

/** ESMTP arguments as one space-separated string, or undefined when there are none. */
function joinArgs(args: readonly string[] | undefined): string | undefined {
  if (args === undefined || args.length === 0) return undefined;
  for (const a of args) {
    if (typeof a !== 'string' || !ESMTP_ARG_RE.test(a)) refuse('esmtp-argument', 'ESMTP argument is empty or contains spaces or control characters');
  }
  return args.join(' ');
}

function checkIndex(index: number, min: 0 | 1, kind: string): number {
  if (!Number.isInteger(index) || index < min || index > 0xffffffff) refuse('index', `${kind} index must be ${min} or more`);
  return index;
}

function headerName(name: string): string {
  if (typeof name !== 'string' || !HEADER_NAME_RE.test(name)) refuse('header-name', 'header name is empty or not printable ASCII without colon');
  return name;
}

/** The value as Postfix wants it: LF folds, a leading space under HDR_LEADSPC. */
function headerValue(name: string, value: string, leadingSpace: boolean): string {
  if (typeof value !== 'string') refuse('header-value', 'header value is not a string');
  if (value === '') return '';
  const v = value.replace(/\r\n/g, '\n');
  if (v.includes('\r') || v.includes('\0')) refuse('header-value', 'header value contains CR or NUL');
  if (v.endsWith('\n')) refuse('header-value', 'header value ends with a line break');
  v.split('\n').forEach((line, i) => {
    if (i > 0 && !(line.startsWith(' ') || line.startsWith('\t'))) refuse('header-value', 'header value has a line break not followed by space or tab');
    const len = Buffer.byteLength(line) + (i === 0 ? Buffer.byteLength(name) + 2 : 0);
    if (len > MAX_MILTER_HEADER_LINE) refuse('header-value', `header line of ${len} octets exceeds ${MAX_MILTER_HEADER_LINE}`);
  });
  return leadingSpace && !(v.startsWith(' ') || v.startsWith('\t')) ? ` ${v}` : v;
}

/** One checked edit: its frame, or the body source to stream as `b` packets. */
type Prepared = { readonly frame: Buffer } | { readonly body: MilterBodySource };

function prepare(e: MilterEdit, grant: EditGrant): Prepared {
  const need = (bit: number, what: string): void => {
    if ((grant.actions & bit) === 0) refuse('action', `${what} needs an action the MTA did not grant`);
  };
  const header = (name: string, value: string): [string, string] => [headerName(name), headerValue(name, value, grant.leadingSpace)];
  switch (e.kind) {
    case 'chgfrom':
      need(SMFIF_CHGFROM, 'chgfrom');
      return { frame: encodeChangeFrom(checkAddress(e.address, 'sender'), joinArgs(e.args)) };
    case 'addrcpt': {
      const address = checkAddress(e.address, 'recipient');
      const args = joinArgs(e.args);
      if (args === undefined) {
        need(SMFIF_ADDRCPT, 'addrcpt');
        return { frame: encodeAddRcpt(address) };
      }
      need(SMFIF_ADDRCPT_PAR, 'addrcpt with arguments');
      return { frame: encodeAddRcptPar(address, args) };
    }
    case 'delrcpt':
      need(SMFIF_DELRCPT, 'delrcpt');
      return { frame: encodeDeleteRcpt(checkAddress(e.address, 'recipient')) };
    case 'chgheader':
    case 'insheader': {
      // m changes the index-th field of this name (1-based); i inserts at an index (0 = top).
      const change = e.kind === 'chgheader';
      need(change ? SMFIF_CHGHDRS : SMFIF_ADDHDRS, e.kind);
      const index = checkIndex(e.index, change ? 1 : 0, e.kind);
      return { frame: (change ? encodeChangeHeader : encodeInsertHeader)(index, ...header(e.name, e.value)) };
    }
    case 'addheader':
      need(SMFIF_ADDHDRS, 'addheader');
      return { frame: encodeAddHeader(...header(e.name, e.value)) };
    case 'replbody':
      need(SMFIF_CHGBODY, 'replbody');
      if (typeof e.body !== 'object' || e.body === null) refuse('body', 'replbody without a body source');
      return { body: e.body };
    default:
      return refuse('kind', `unknown edit kind ${JSON.stringify((e as { kind?: unknown }).kind)}`);
  }
}

/**
 * Checks every edit, then returns their frames in order (body packets are made as they are
 * pulled, so a large body never sits in memory). Throws MilterEditError before returning
 * when any edit is bad, so a refusal sends nothing.
 */
export function encodeEdits(edits: readonly MilterEdit[], grant: EditGrant): AsyncIterable<Buffer> {
  const prepared: Prepared[] = [];
  let bodies = 0;
  for (const e of edits) {
    const p = prepare(e, grant);
    // Postfix cannot take body packets interleaved with other edits, nor two replacements.
    if ('body' in p && ++bodies > 1) refuse('body', 'more than one replbody');
    prepared.push(p);
  }
  return frames(prepared);
}

async function* frames(prepared: readonly Prepared[]): AsyncGenerator<Buffer> {
  for (const p of prepared) {
    if ('frame' in p) yield p.frame;
    else yield* replaceBodyFrames(p.body);
  }
}

/**
 * A replacement body as `b` packets of MAX_MILTER_REPLY_PAYLOAD bytes (the last one
 * shorter), whatever the sizes of the source's chunks; an empty body as one empty line.
 * Pulls the next chunk only when the previous packet was taken.
 */
export async function* replaceBodyFrames(source: MilterBodySource): AsyncGenerator<Buffer> {
  let acc: Buffer[] = [];
  let accLen = 0;
  let total = 0;
  const flush = (): Buffer => {
    const chunk = acc.length === 1 ? (acc[0] as Buffer) : Buffer.concat(acc, accLen);
    acc = [];
    accLen = 0;
    return encodeReplaceBody(chunk);
  };
  for await (const piece of source) {
    if (!(piece instanceof Uint8Array)) refuse('body', 'replbody produced something that is not bytes');
    let off = 0;
    while (off < piece.length) {
      const k = Math.min(piece.length - off, MAX_MILTER_REPLY_PAYLOAD - accLen);
      acc.push(Buffer.from(piece.subarray(off, off + k)));
      accLen += k;
      off += k;
      total += k;
      if (accLen === MAX_MILTER_REPLY_PAYLOAD) yield flush();
    }
  }
  if (accLen > 0) yield flush();
  if (total === 0) yield encodeReplaceBody(Buffer.from('\r\n'));
}
