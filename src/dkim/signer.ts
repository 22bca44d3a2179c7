/**
 * DKIM signing (RFC 6376 with RFC 8463 Ed25519) of a message whose final header fields and
 * body the caller gives: one `DKIM-Signature` field per signing key.
 *
 * Each signature: `v=1`, `a=rsa-sha256` or `a=ed25519-sha256`, `c=relaxed/relaxed`,
 * `d=` (lower-case A-label), `s=`, `q=dns/txt`, `t=` (the given time), `h=`, `bh=`, `b=`;
 * no `l=` (a body length would let anyone append to the body), no `x=`, no `i=`.
 *  - `h=` (RFC 6376 5.4): every occurrence of the names in SIGNED_HEADER_NAMES present in the
 *    header, in that order, and From once more than it occurs ("over-signing",
 *    RFC 6376 8.15: a From added later breaks the signature). Occurrences are taken from the
 *    bottom up (RFC 6376 5.4.2); an over-signed entry matches no field and hashes nothing.
 *  - Header hash input: each selected field in relaxed form (RFC 6376 3.4.2: name lower-cased,
 *    unfolded, whitespace runs as one SP, no whitespace around the colon or at the end) with
 *    CRLF, then the DKIM-Signature field itself, folded exactly as returned, with an empty `b=`
 *    and no CRLF (RFC 6376 3.7).
 *  - rsa-sha256: RSASSA-PKCS1-v1_5 over SHA-256 of that input (RFC 6376 3.3.1).
 *    ed25519-sha256: PureEdDSA over the 32-byte SHA-256 of that input (RFC 8463 3).
 * The returned value is folded with CRLF + SP between tags, after a colon of `h=` or inside
 * base64, keeping lines at or under HEADER_FOLD_AT (78) octets.
 *
 * Header bytes: `signatureFields` takes field values as strings and hashes them as UTF-8, the
 * way trxmail writes fields; `signMessage` reads the raw header bytes of a whole message, so a
 * field that is not UTF-8 is signed as it stands.
 *
 * Where the CPU goes: on the calling thread (crypto.sign without a callback). RSA-2048 costs
 * about 0.3 ms of CPU and Ed25519 0.03 ms here; handing them to libuv's thread pool cost more
 * than it saved (issue 15, item 4: bench/milter.ts, interleaved, 2 cores: 1.28-1.39 ms of CPU
 * per message on the calling thread against 1.39-1.79 ms on the pool, and 573-811 against
 * 464-618 messages/s; every job adds a thread wake-up and a completion on the event loop).
 *
 * signMessage reads the message once: the header block (at most MAX_HEADER_BLOCK_BYTES,
 * parsed by mail/header-block.ts) then the body through the streaming body hasher
 * (body-hash.ts); memory is bounded by the header block. The caller writes the returned fields
 * above the message it read.
 *
 * Throws: InvariantError for bad input from our own code (invalid domain or selector, a key
 * whose type does not match its algorithm, an invalid time, a stream of strings);
 * RejectError 'EMAXLEN' 552 5.3.4 when the header block passes MAX_HEADER_BLOCK_BYTES;
 * whatever the input stream throws.
 */
import { createHash, sign, type KeyObject } from 'node:crypto';
import type { Readable } from 'node:stream';
import { normaliseDomain } from '../core/domain.js';
import type { HeaderField } from '../core/types.js';
import { InvariantError, RejectError } from '../lib/errors.js';
import { HEADER_FOLD_AT, MAX_HEADER_BLOCK_BYTES } from '../lib/limits.js';
import { parseHeaderBlock } from '../mail/header-block.js';
import { createBodyHasher } from './body-hash.js';
import { isValidSelector, keyTypeOf, type DkimAlgorithm } from './keys.js';

export { createBodyHasher, type BodyHasher } from './body-hash.js';

/** Header fields signed when present, in `h=` order (each occurrence); From is over-signed. */
export const SIGNED_HEADER_NAMES: readonly string[] = Object.freeze([
  'From',
  'To',
  'Subject',
  'Date',
  'Message-ID',
  'MIME-Version',
  'Content-Type',
  'Content-Transfer-Encoding',
  'Reply-To',
  'List-Unsubscribe',
  'List-Unsubscribe-Post',
]);

/** Names listed in `h=` once more than they occur. */
export const OVERSIGNED_HEADER_NAMES: readonly string[] = Object.freeze(['From']);

export const DKIM_SIGNATURE_FIELD = 'DKIM-Signature';

export interface SigningKey {
  /** The signing domain (`d=`); U-labels are written as A-labels. */
  readonly domain: string;
  readonly selector: string;
  readonly algorithm: DkimAlgorithm;
  /** Private key of the algorithm's type (see keys.ts privateKeyFromPem). */
  readonly privateKey: KeyObject;
}

export interface SignatureInput {
  /** The final top-level header fields in order, values as after "Name:" (folding kept). */
  readonly headers: readonly HeaderField[];
  /** The `bh=` value from createBodyHasher() over the final body. */
  readonly bodyHash: string;
  readonly keys: readonly SigningKey[];
  /** Signing time (`t=`). */
  readonly time: Date;
}

/** A header field as bytes: the name and the bytes after the colon, without the final line break. */
interface RawField {
  readonly name: string;
  readonly value: Buffer;
}

/**
 * One DKIM-Signature field per key, in the order of `keys`. Each value is the exact text
 * after the colon (it starts with a SP and may contain CRLF + SP folds): write the fields in
 * the returned order above the first header field, as `DKIM-Signature:${value}\r\n` each.
 */
export function signatureFields(input: SignatureInput): HeaderField[] {
  const raw = input.headers.map((f) => ({ name: f.name, value: Buffer.from(f.value, 'utf8') }));
  return signRawFields(raw, input.bodyHash, input.keys, input.time);
}

function signRawFields(fields: readonly RawField[], bodyHash: string, keys: readonly SigningKey[], time: Date): HeaderField[] {
  return unsignedFields(fields, bodyHash, keys, time).map((u) => u.finish(signNow(u)));
}

function unsignedFields(fields: readonly RawField[], bodyHash: string, keys: readonly SigningKey[], time: Date): Unsigned[] {
  const t = time.getTime();
  if (Number.isNaN(t)) throw new InvariantError('dkim: signing time is invalid');
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(bodyHash)) throw new InvariantError('dkim: body hash is not base64');
  const { names, data } = signedHeaders(fields);
  return keys.map((key) => unsignedOne(key, names, data, bodyHash, Math.floor(t / 1000)));
}
/** The `h=` names and the canonical bytes of the fields they select (bottom-up). */
function signedHeaders(fields: readonly RawField[]): { names: string[]; data: Buffer } {
  const byName = new Map<string, RawField[]>();
  for (const f of fields) {
    const key = f.name.trim().toLowerCase();
    const list = byName.get(key);
    if (list === undefined) byName.set(key, [f]);
    else list.push(f);
  }
  const names: string[] = [];
  const parts: Buffer[] = [];
  for (const name of SIGNED_HEADER_NAMES) {
    const present = byName.get(name.toLowerCase()) ?? [];
    for (let k = present.length - 1; k >= 0; k--) {
      names.push(name);
      parts.push(relaxedField(name, (present[k] as RawField).value), CRLF);
    }
    if (OVERSIGNED_HEADER_NAMES.includes(name)) names.push(name);
  }
  return { names, data: Buffer.concat(parts) };
}

const CRLF = Buffer.from('\r\n', 'latin1');

/** RFC 6376 3.4.2 relaxed form `name:value` (no CRLF), byte for byte through Latin-1. */
function relaxedField(name: string, value: Uint8Array): Buffer {
  const v = Buffer.from(value.buffer, value.byteOffset, value.byteLength)
    .toString('latin1')
    .replace(/\r?\n/g, '')
    .replace(/[ \t]+/g, ' ')
    .replace(/^ | $/g, '');
  return Buffer.from(`${name.trim().toLowerCase()}:${v}`, 'latin1');
}

/** One signature before its `b=`: the bytes to sign, and how to complete the field with the signature. */
interface Unsigned {
  readonly type: 'rsa' | 'ed25519';
  readonly key: KeyObject;
  readonly data: Buffer;
  finish(signature: Buffer): HeaderField;
}

function unsignedOne(key: SigningKey, names: readonly string[], headerData: Buffer, bodyHash: string, t: number): Unsigned {
  const domain = normaliseDomain(key.domain);
  if (domain === null) throw new InvariantError(`dkim: signing domain ${JSON.stringify(key.domain.slice(0, 80))} is not a domain`);
  if (!isValidSelector(key.selector)) throw new InvariantError(`dkim: selector ${JSON.stringify(key.selector.slice(0, 80))} is not valid`);
  const type = keyTypeOf(key.algorithm);
  if (key.privateKey.type !== 'private' || key.privateKey.asymmetricKeyType !== type) {
    throw new InvariantError(`dkim: the key for ${domain}/${key.selector} is not an ${type} private key`);
  }
  const f = new Folder(DKIM_SIGNATURE_FIELD.length + 1);
  for (const tag of [`v=1;`, `a=${key.algorithm};`, `c=relaxed/relaxed;`, `d=${domain};`, `s=${key.selector};`, `q=dns/txt;`, `t=${t};`]) {
    f.add([tag]);
  }
  f.add(names.map((n, i) => (i === 0 ? 'h=' : '') + n + (i === names.length - 1 ? ';' : ':')));
  f.add(base64Pieces('bh=', bodyHash, ';'));
  f.add(['b=']);
  const data = Buffer.concat([headerData, relaxedField(DKIM_SIGNATURE_FIELD, Buffer.from(f.text, 'latin1'))]);
  return {
    type,
    key: key.privateKey,
    // RSA signs SHA-256 of the data (PKCS #1 v1.5); Ed25519 signs the 32-byte SHA-256 itself (RFC 8463).
    data: type === 'rsa' ? data : createHash('sha256').update(data).digest(),
    finish(signature: Buffer): HeaderField {
      f.addToTag(signature.toString('base64').split(''));
      return { name: DKIM_SIGNATURE_FIELD, value: f.text };
    },
  };
}

function signNow(u: Unsigned): Buffer {
  return sign(u.type === 'rsa' ? 'sha256' : null, u.data, u.key);
}

/** `prefix` + the first base64 character, each further character, the last with `suffix`. */
function base64Pieces(prefix: string, value: string, suffix: string): string[] {
  const pieces = value.split('');
  pieces[0] = prefix + (pieces[0] ?? '');
  pieces[pieces.length - 1] += suffix;
  return pieces;
}

/**
 * Builds a folded value: tags separated by SP; a fold (CRLF SP) replaces that SP, or goes
 * between two pieces of one tag, when the line would pass HEADER_FOLD_AT octets.
 */
class Folder {
  text = '';
  constructor(private lineLen: number) {}

  /** A tag as pieces that may be folded apart (the first one is preceded by SP or a fold). */
  add(pieces: readonly string[]): void {
    pieces.forEach((p, i) => this.piece(p, i === 0 ? ' ' : ''));
  }

  /** More pieces of the last tag. */
  addToTag(pieces: readonly string[]): void {
    for (const p of pieces) this.piece(p, '');
  }

  private piece(p: string, sep: string): void {
    if (this.lineLen + sep.length + p.length <= HEADER_FOLD_AT) {
      this.text += sep + p;
      this.lineLen += sep.length + p.length;
    } else {
      this.text += `\r\n ${p}`;
      this.lineLen = 1 + p.length;
    }
  }
}

const HEADER_TOO_LARGE = Object.freeze({ code: 552, enhanced: '5.3.4', text: 'Message header block too large' });

/**
 * Sign a whole message read from `raw` (e.g. a spool's read()): one pass, the header block
 * bounded by MAX_HEADER_BLOCK_BYTES, the body hashed as it streams. Returns the fields to
 * write above the message (as signatureFields does); [] without reading when `keys` is empty.
 */
export async function signMessage(
  raw: AsyncIterable<Uint8Array> | Iterable<Uint8Array> | Readable,
  keys: readonly SigningKey[],
  time: Date,
): Promise<HeaderField[]> {
  if (keys.length === 0) return [];
  const head: Buffer[] = [];
  let headLen = 0;
  /** Bytes of the current header line so far, and its last byte. */
  let lineLen = 0;
  let lastByte = -1;
  let block: Buffer | null = null;
  const hasher = createBodyHasher();
  for await (const item of raw as AsyncIterable<unknown> | Iterable<unknown>) {
    if (!(item instanceof Uint8Array)) throw new InvariantError('dkim: signMessage needs a byte stream (no setEncoding)');
    const chunk = Buffer.from(item.buffer, item.byteOffset, item.byteLength);
    if (block !== null) {
      hasher.update(chunk);
      continue;
    }
    // find the empty line (LF or CR LF right after a line break, or at the very start)
    let end = -1;
    for (let i = 0; i < chunk.length; i++) {
      const b = chunk[i] as number;
      if (b === 0x0a) {
        if (lineLen === 0 || (lineLen === 1 && lastByte === 0x0d)) {
          end = i + 1;
          break;
        }
        lineLen = 0;
      } else {
        lineLen++;
        lastByte = b;
      }
    }
    const taken = end === -1 ? chunk.length : end;
    if (headLen + taken > MAX_HEADER_BLOCK_BYTES) throw new RejectError('EMAXLEN', HEADER_TOO_LARGE);
    // copy: the header block outlives the chunk (a spool may reuse its buffers)
    head.push(Buffer.from(chunk.subarray(0, taken)));
    headLen += taken;
    if (end !== -1) {
      block = Buffer.concat(head, headLen);
      if (end < chunk.length) hasher.update(chunk.subarray(end));
    }
  }
  // a message that ends inside its header has an empty body
  const parsed = parseHeaderBlock(block ?? Buffer.concat(head, headLen));
  const fields: RawField[] = [];
  for (const seg of parsed.segments) {
    if (seg.key === null) continue;
    let valueEnd = seg.end;
    while (valueEnd > seg.bodyStart && (parsed.block[valueEnd - 1] === 0x0a || parsed.block[valueEnd - 1] === 0x0d)) valueEnd--;
    fields.push({ name: seg.name, value: parsed.block.subarray(seg.bodyStart, valueEnd) });
  }
  return signRawFields(fields, hasher.digest(), keys, time);
}
