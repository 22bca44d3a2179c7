/**
 * The MTA side of bench/milter.ts, in a child process of its own so that the bench process's
 * CPU time is trxmail's alone: S connections to a milter, each replaying one message as
 * Postfix 3.7 does (option negotiation once per connection; then per message the MAIL macros
 * with the SASL login and a fresh queue id, MAIL, RCPT, the header fields, end of headers,
 * the body in chunks of at most 64 KiB, the end-of-message macros and E), honouring what the
 * filter negotiated away (NO* events are not sent, NR_* events are not waited for) and
 * reading every reply to E up to the final one. N messages in all, shared by the connections.
 *
 * Frames are built with plain Buffer writes, not with src/milter (a codec bug should not
 * cancel out). Prints one JSON line: { sent, accepted, otherReplies, secs }.
 *
 * Input: argv[2] is JSON { host, port, sessions, messages, messageFile, login, sender, recipient }.
 */
import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';

interface Args {
  readonly host: string;
  readonly port: number;
  readonly sessions: number;
  readonly messages: number;
  readonly messageFile: string;
  readonly login: string;
  readonly sender: string;
  readonly recipient: string;
}

const args = JSON.parse(process.argv[2] ?? '{}') as Args;

const SMFIP_NOCONNECT = 0x1;
const SMFIP_NOHELO = 0x2;
const SMFIP_NOMAIL = 0x4;
const SMFIP_NORCPT = 0x8;
const SMFIP_NOBODY = 0x10;
const SMFIP_NOHDRS = 0x20;
const SMFIP_NOEOH = 0x40;
const SMFIP_NR_HDR = 0x80;
const SMFIP_NR_CONN = 0x1000;
const SMFIP_NR_HELO = 0x2000;
const SMFIP_NR_MAIL = 0x4000;
const SMFIP_NR_RCPT = 0x8000;
const SMFIP_NR_EOH = 0x40000;
const SMFIP_NR_BODY = 0x80000;
const SMFIP_HDR_LEADSPC = 0x100000;
/** Largest body chunk Postfix sends (MILTER_CHUNK_SIZE). */
const BODY_CHUNK = 65535;
/** Final replies to a command; anything else is a modification or progress. */
const FINAL = new Set(['a', 'c', 'd', 'r', 't', 'y', 's']);

function frame(letter: string, ...payload: Buffer[]): Buffer {
  const body = Buffer.concat(payload);
  const head = Buffer.alloc(5);
  head.writeUInt32BE(body.length + 1, 0);
  head.write(letter, 4, 'latin1');
  return Buffer.concat([head, body]);
}
const z = (s: string): Buffer => Buffer.from(`${s}\0`, 'utf8');
const u32 = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n, 0);
  return b;
};

/** The message split into header fields (name, value after the colon) and body. */
function splitMessage(raw: Buffer): { fields: Array<[string, string]>; body: Buffer } {
  const end = raw.indexOf('\r\n\r\n');
  const head = raw.subarray(0, end).toString('latin1');
  const fields: Array<[string, string]> = [];
  for (const line of head.split(/\r\n(?![ \t])/)) {
    const colon = line.indexOf(':');
    fields.push([line.slice(0, colon), line.slice(colon + 1)]);
  }
  return { fields, body: raw.subarray(end + 4) };
}

/** Reads milter frames off a socket: next() resolves with the next one. */
class FrameReader {
  #buf: Buffer = Buffer.alloc(0);
  #waiting: ((f: { letter: string; data: Buffer }) => void) | null = null;
  #frames: Array<{ letter: string; data: Buffer }> = [];
  constructor(socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.#buf = this.#buf.length === 0 ? chunk : Buffer.concat([this.#buf, chunk]);
      while (this.#buf.length >= 5) {
        const len = this.#buf.readUInt32BE(0);
        if (this.#buf.length < 4 + len) break;
        this.#frames.push({ letter: String.fromCharCode(this.#buf[4]!), data: this.#buf.subarray(5, 4 + len) });
        this.#buf = this.#buf.subarray(4 + len);
      }
      this.#deliver();
    });
  }
  #deliver(): void {
    while (this.#waiting && this.#frames.length > 0) {
      const w = this.#waiting;
      this.#waiting = null;
      w(this.#frames.shift()!);
    }
  }
  next(): Promise<{ letter: string; data: Buffer }> {
    return new Promise((resolve) => {
      this.#waiting = resolve;
      this.#deliver();
    });
  }
}

let left = args.messages;
let accepted = 0;
const otherReplies: string[] = [];
const { fields, body } = splitMessage(readFileSync(args.messageFile));
let counter = 0;
/** A unique long queue id of Postfix's alphabet. */
function queueId(): string {
  counter++;
  return `4B${process.pid.toString(36)}Z${counter.toString(36).padStart(8, '0')}`.toUpperCase();
}

async function session(): Promise<void> {
  const socket = connect(args.port, args.host);
  socket.setNoDelay(true);
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  const reader = new FrameReader(socket);
  socket.write(frame('O', u32(6), u32(0x1ff), u32(0x1fffff)));
  const opt = await reader.next();
  if (opt.letter !== 'O') throw new Error(`expected O, got ${opt.letter}`);
  const proto = opt.data.readUInt32BE(8);
  const has = (bit: number): boolean => (proto & bit) !== 0;
  const ask = async (f: Buffer, noReply: boolean): Promise<void> => {
    socket.write(f);
    if (noReply) return;
    const r = await reader.next();
    if (r.letter !== 'c') throw new Error(`unexpected reply ${r.letter} ${r.data.toString('latin1')}`);
  };
  if (!has(SMFIP_NOCONNECT)) await ask(frame('C', z('localhost'), Buffer.from('4'), Buffer.from([0x30, 0x39]), z('127.0.0.1')), has(SMFIP_NR_CONN));
  if (!has(SMFIP_NOHELO)) await ask(frame('H', z('client.bench.test')), has(SMFIP_NR_HELO));
  const lead = has(SMFIP_HDR_LEADSPC);
  while (left > 0) {
    left--;
    const id = queueId();
    socket.write(frame('D', Buffer.from('M'), z('i'), z(id), z('{auth_type}'), z('PLAIN'), z('{auth_authen}'), z(args.login), z('{mail_addr}'), z(args.sender)));
    if (!has(SMFIP_NOMAIL)) await ask(frame('M', z(`<${args.sender}>`)), has(SMFIP_NR_MAIL));
    if (!has(SMFIP_NORCPT)) await ask(frame('R', z(`<${args.recipient}>`)), has(SMFIP_NR_RCPT));
    if (!has(SMFIP_NOHDRS)) {
      for (const [name, value] of fields) await ask(frame('L', z(name), z(lead ? value : value.replace(/^ /, ''))), has(SMFIP_NR_HDR));
    }
    if (!has(SMFIP_NOEOH)) await ask(frame('N'), has(SMFIP_NR_EOH));
    if (!has(SMFIP_NOBODY)) {
      for (let i = 0; i < body.length; i += BODY_CHUNK) await ask(frame('B', body.subarray(i, i + BODY_CHUNK)), has(SMFIP_NR_BODY));
    }
    socket.write(Buffer.concat([frame('D', Buffer.from('E'), z('i'), z(id), z('{auth_authen}'), z(args.login)), frame('E')]));
    for (;;) {
      const r = await reader.next();
      if (!FINAL.has(r.letter)) continue;
      if (r.letter === 'c' || r.letter === 'a') accepted++;
      else if (otherReplies.length < 5) otherReplies.push(`${r.letter} ${r.data.toString('latin1').replace(/\0/g, '')}`);
      break;
    }
  }
  socket.end(frame('Q'));
}

const t0 = process.hrtime.bigint();
Promise.all(Array.from({ length: args.sessions }, () => session()))
  .then(() => {
    process.stdout.write(`${JSON.stringify({ sent: args.messages, accepted, otherReplies, secs: Number(process.hrtime.bigint() - t0) / 1e9 })}\n`);
  })
  .catch((err: unknown) => {
    process.stderr.write(`milter load: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
