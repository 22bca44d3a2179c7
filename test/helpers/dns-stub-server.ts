/**
 * A tiny authoritative DNS server over UDP on 127.0.0.1 and a free port, in-process, for the
 * fast suites that need a real DNS exchange (createResolver, c-ares) without Debian's dnsmasq
 * (the e2e suites use test/helpers/dnsmasq.ts).
 *
 * It answers TXT, CNAME and MX from the records it is given (names compared
 * case-insensitively, without trailing dot): a name it has with another type is NODATA
 * (NOERROR, no answer), an unknown name NXDOMAIN. No CNAME chasing, no EDNS, no truncation:
 * the tests' answers stay under 512 bytes (one RSA-2048 key record makes about 480). Records
 * may change while it runs.
 *
 * Wire format (RFC 1035 4.1), built here independently of any DNS library:
 *   header  ID(2) FLAGS(2) QDCOUNT(2) ANCOUNT(2) NSCOUNT(2) ARCOUNT(2)
 *   question QNAME (labels, 0) QTYPE(2) QCLASS(2)
 *   answer  NAME (pointer 0xC00C) TYPE(2) CLASS(2) TTL(4) RDLENGTH(2) RDATA
 */
import dgram from 'node:dgram';

const TYPE = { TXT: 16, CNAME: 5, MX: 15 } as const;
type RrType = keyof typeof TYPE;
const RCODE_NXDOMAIN = 3;
const RCODE_FORMERR = 1;

export interface StubRecord {
  readonly name: string;
  readonly type: RrType;
  /** TXT: the character-strings; CNAME: [target]; MX: [preference, exchange]. */
  readonly data: readonly string[];
}

export interface DnsStubServer {
  /** "127.0.0.1:<port>" for createResolver / --resolver. */
  readonly server: string;
  /** Replaces every record. */
  setRecords(records: readonly StubRecord[]): void;
  /** How many queries were answered. */
  queries(): number;
  stop(): Promise<void>;
}

function key(name: string): string {
  return name.toLowerCase().replace(/\.$/, '');
}

function encodeName(name: string): Buffer {
  const parts = key(name)
    .split('.')
    .filter((l) => l !== '')
    .map((l) => Buffer.concat([Buffer.from([Buffer.byteLength(l)]), Buffer.from(l, 'ascii')]));
  return Buffer.concat([...parts, Buffer.from([0])]);
}

function rdata(r: StubRecord): Buffer {
  switch (r.type) {
    case 'TXT':
      return Buffer.concat(r.data.map((s) => Buffer.concat([Buffer.from([Buffer.byteLength(s)]), Buffer.from(s, 'ascii')])));
    case 'CNAME':
      return encodeName(r.data[0] ?? '');
    case 'MX': {
      const pref = Buffer.alloc(2);
      pref.writeUInt16BE(Number(r.data[0] ?? 0));
      return Buffer.concat([pref, encodeName(r.data[1] ?? '')]);
    }
  }
}

/** The question's name, type and where it ends, or null for a malformed query. */
function question(msg: Buffer): { name: string; qtype: number; end: number } | null {
  if (msg.length < 12 || msg.readUInt16BE(4) !== 1) return null;
  const labels: string[] = [];
  let i = 12;
  for (;;) {
    const len = msg[i];
    if (len === undefined || len > 63) return null;
    i += 1;
    if (len === 0) break;
    if (i + len > msg.length) return null;
    labels.push(msg.subarray(i, i + len).toString('ascii'));
    i += len;
  }
  if (i + 4 > msg.length) return null;
  return { name: labels.join('.'), qtype: msg.readUInt16BE(i), end: i + 4 };
}

function answer(query: Buffer, records: readonly StubRecord[]): Buffer {
  const q = question(query);
  const header = Buffer.alloc(12);
  query.copy(header, 0, 0, 2); // ID
  const rd = (query[2] ?? 0) & 0x01;
  if (q === null) {
    header.writeUInt16BE(0x8000 | (rd << 8) | RCODE_FORMERR, 2);
    return header;
  }
  const atName = records.filter((r) => key(r.name) === key(q.name));
  const hits = atName.filter((r) => TYPE[r.type] === q.qtype);
  // QR, AA, RD copied; RCODE NXDOMAIN for an unknown name.
  header.writeUInt16BE(0x8400 | (rd << 8) | (atName.length === 0 ? RCODE_NXDOMAIN : 0), 2);
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(hits.length, 6);
  const answers = hits.map((r) => {
    const data = rdata(r);
    const fixed = Buffer.alloc(12);
    fixed.writeUInt16BE(0xc00c, 0); // pointer to the question's name
    fixed.writeUInt16BE(TYPE[r.type], 2);
    fixed.writeUInt16BE(1, 4); // IN
    fixed.writeUInt32BE(60, 6);
    fixed.writeUInt16BE(data.length, 10);
    return Buffer.concat([fixed, data]);
  });
  return Buffer.concat([header, query.subarray(12, q.end), ...answers]);
}

/** Starts the server; resolves once it is bound. */
export async function startDnsStub(records: readonly StubRecord[] = []): Promise<DnsStubServer> {
  let current = [...records];
  let count = 0;
  const socket = dgram.createSocket('udp4');
  socket.on('message', (msg, rinfo) => {
    count += 1;
    socket.send(answer(msg, current), rinfo.port, rinfo.address);
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  const port = socket.address().port;
  return {
    server: `127.0.0.1:${port}`,
    setRecords(r) {
      current = [...r];
    },
    queries: () => count,
    stop: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
}
