/**
 * fast-check arbitraries for CRLF messages (header fields with folding, single-part and
 * nested multipart bodies, base64 / quoted-printable / 8bit / 7bit parts, attached
 * message/rfc822) and for header edit lists. Built independently of src/transform.
 */
import fc from 'fast-check';
import type { HeaderEdit } from '../../../src/core/types.js';

export interface Field {
  readonly name: string;
  /** Segments joined by folds. */
  readonly parts: readonly string[];
  readonly folds: readonly string[];
}
export type Node =
  | { readonly kind: 'leaf'; readonly type: string; readonly enc: 'base64' | 'quoted-printable' | '8bit' | '7bit'; readonly lines: readonly string[]; readonly fields: readonly Field[] }
  | { readonly kind: 'multi'; readonly sub: string; readonly preamble: readonly string[]; readonly epilogue: readonly string[]; readonly children: readonly Node[]; readonly fields: readonly Field[] }
  | { readonly kind: 'rfc822'; readonly inner: { readonly fields: readonly Field[]; readonly body: Node }; readonly fields: readonly Field[] };
export interface Message {
  readonly fields: readonly Field[];
  readonly body: Node;
  readonly finalCrlf: boolean;
}

const lineChars = fc.constantFrom(...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,;:!?()<>@"=_-/\t'.split(''));
const unicodeChars = fc.constantFrom('\u00e9', '\u00fc', '\u2713', '\u4e2d', '\ud83d\ude00');
/** Text that never starts with '-' (no accidental boundary) and has no CR/LF. */
const textLine = (unicode: boolean): fc.Arbitrary<string> =>
  fc
    .array(unicode ? fc.oneof({ weight: 5, arbitrary: lineChars }, { weight: 1, arbitrary: unicodeChars }) : lineChars, { maxLength: 90 })
    .map((cs) => `t${cs.join('')}`);

const fieldName = fc.oneof(
  fc.constantFrom('Subject', 'From', 'To', 'Cc', 'Bcc', 'Reply-To', 'Received', 'X-Mxm-Tag', 'X-Mxm-Flags', 'Message-ID', 'Comments', 'x-custom'),
  fc.stringMatching(/^X-[A-Za-z0-9-]{1,12}$/),
);
const fieldPart = fc.array(fc.oneof({ weight: 8, arbitrary: lineChars }, { weight: 1, arbitrary: unicodeChars }), { maxLength: 60 }).map((cs) => cs.join(''));
export const fieldArb: fc.Arbitrary<Field> = fc
  .record({ name: fieldName, parts: fc.array(fieldPart, { minLength: 1, maxLength: 3 }) })
  .chain(({ name, parts }) =>
    fc.record({
      name: fc.constant(name),
      // folded parts start with WSP after the CRLF; a continuation line must not be empty
      parts: fc.constant(parts.map((p, i) => (i === 0 ? ` ${p}` : `x${p}`))),
      folds: fc.array(fc.constantFrom('\r\n ', '\r\n\t', '\r\n   '), { minLength: parts.length - 1, maxLength: parts.length - 1 }),
    }),
  );
const partFields = fc.array(fc.record({ name: fc.constantFrom('Content-ID', 'X-Part', 'From', 'Cc'), parts: fc.array(fieldPart, { minLength: 1, maxLength: 1 }).map((p) => p.map((s) => ` ${s}`)), folds: fc.constant([]) }), { maxLength: 2 });

const base64Lines = fc.uint8Array({ maxLength: 600 }).map((b) => {
  const s = Buffer.from(b).toString('base64');
  return s.length === 0 ? [] : (s.match(/.{1,76}/g) ?? []);
});
const qpLines = fc.array(textLine(false).map((l) => l.replace(/=/g, '=3D').slice(0, 75) + (l.length % 2 ? '=' : '')), { maxLength: 8 });

export const nodeArb: fc.Arbitrary<Node> = fc.letrec<{ node: Node; leaf: Node; multi: Node; rfc822: Node }>((tie) => ({
  node: fc.oneof({ depthSize: 'small', withCrossShrink: true }, tie('leaf'), tie('multi'), tie('rfc822')),
  leaf: fc.oneof(
    fc.record({ kind: fc.constant('leaf' as const), type: fc.constantFrom('application/octet-stream', 'image/png', 'text/html'), enc: fc.constant('base64' as const), lines: base64Lines, fields: partFields }),
    fc.record({ kind: fc.constant('leaf' as const), type: fc.constantFrom('text/plain', 'text/html'), enc: fc.constant('quoted-printable' as const), lines: qpLines, fields: partFields }),
    fc.record({ kind: fc.constant('leaf' as const), type: fc.constantFrom('text/plain', 'text/html'), enc: fc.constantFrom('8bit' as const), lines: fc.array(textLine(true), { maxLength: 8 }), fields: partFields }),
    fc.record({ kind: fc.constant('leaf' as const), type: fc.constant('text/plain'), enc: fc.constant('7bit' as const), lines: fc.array(textLine(false), { maxLength: 8 }), fields: partFields }),
  ),
  multi: fc.record({
    kind: fc.constant('multi' as const),
    sub: fc.constantFrom('mixed', 'alternative', 'related'),
    preamble: fc.array(textLine(false), { maxLength: 2 }),
    epilogue: fc.array(textLine(false), { maxLength: 2 }),
    children: fc.array(tie('node'), { minLength: 1, maxLength: 4 }),
    fields: partFields,
  }),
  rfc822: fc.record({
    kind: fc.constant('rfc822' as const),
    inner: fc.record({ fields: fc.array(fieldArb, { maxLength: 4 }), body: tie('node') }),
    fields: partFields,
  }),
})).node;

export const messageArb: fc.Arbitrary<Message> = fc.record({
  fields: fc.array(fieldArb, { minLength: 0, maxLength: 12 }),
  body: nodeArb,
  finalCrlf: fc.boolean(),
});

function writeFields(fields: readonly Field[]): string {
  return fields
    .map((f) => {
      let s = `${f.name}:`;
      f.parts.forEach((p, i) => {
        s += (i > 0 ? (f.folds[i - 1] ?? '\r\n ') : '') + p;
      });
      return `${s}\r\n`;
    })
    .join('');
}

/** Serialise a node: its header fields (own + MIME) and body, without a trailing CRLF. */
function writeNode(node: Node, counter: { n: number }): string {
  const own = writeFields(node.fields);
  switch (node.kind) {
    case 'leaf':
      return `${own}Content-Type: ${node.type}\r\nContent-Transfer-Encoding: ${node.enc}\r\n\r\n${node.lines.join('\r\n')}`;
    case 'multi': {
      const b = `=_b${counter.n++}_${node.sub}`;
      let s = `${own}Content-Type: multipart/${node.sub}; boundary="${b}"\r\n\r\n`;
      for (const l of node.preamble) s += `${l}\r\n`;
      for (const c of node.children) s += `--${b}\r\n${writeNode(c, counter)}\r\n`;
      s += `--${b}--`;
      for (const l of node.epilogue) s += `\r\n${l}`;
      return s;
    }
    case 'rfc822':
      return `${own}Content-Type: message/rfc822\r\nContent-Disposition: inline\r\n\r\n${writeFields(node.inner.fields)}${writeNode(node.inner.body, counter)}`;
  }
}

export function writeMessage(m: Message): Buffer {
  const s = writeFields(m.fields) + writeNode(m.body, { n: 0 }) + (m.finalCrlf ? '\r\n' : '');
  return Buffer.from(s, 'utf8');
}

const valueWord = fc.oneof(
  fc.stringMatching(/^[A-Za-z0-9.!#$%&'*+\/=?^_`{|}~-]{1,30}$/),
  fc.constantFrom('=?UTF-8?B?w6lsw6huZQ==?=', '=?UTF-8?Q?J=C3=B6rg_M=C3=BCller?=', '"Quoted Display Name"', '<someone@example.net>', '<j\u00f6rg@b\u00fccher.example>', '(comment here)', '\u00e9t\u00e9'),
);
export const editValueArb = fc
  .array(fc.tuple(fc.constantFrom(' ', '  ', '\t', ', '), valueWord), { maxLength: 25 })
  .map((ws) => ws.map(([sep, w], i) => (i === 0 ? w : sep + w)).join(''));
const editName = fc.constantFrom('Subject', 'subject', 'From', 'TO', 'Cc', 'cc', 'Bcc', 'X-Mxm-Tag', 'x-mxm-flags', 'Reply-To', 'X-New', 'x-custom');
export const editsArb: fc.Arbitrary<HeaderEdit[]> = fc.array(
  fc.oneof(
    fc.record({ op: fc.constant('set' as const), name: editName, value: editValueArb }),
    fc.record({ op: fc.constant('delete' as const), name: editName }),
  ),
  { maxLength: 8 },
);

/** Split a buffer at the given (sorted, clamped) offsets. */
export function splitAt(buf: Buffer, offsets: readonly number[]): Buffer[] {
  const cuts = [...new Set(offsets.map((o) => Math.min(o, buf.length)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let prev = 0;
  for (const c of cuts) {
    out.push(buf.subarray(prev, c));
    prev = c;
  }
  out.push(buf.subarray(prev));
  return out;
}
