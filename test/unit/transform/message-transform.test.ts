import { Joiner, Rewriter, Splitter } from '@zone-eu/mailsplit';
import { PassThrough, Readable, Transform, Writable, type Duplex } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, expect, it } from 'vitest';
import type { HeaderEdit, HeaderField } from '../../../src/core/types.js';
import { InvariantError, RejectError } from '../../../src/lib/errors.js';
import { MAX_HEADER_BLOCK_BYTES, MAX_MIME_NODES } from '../../../src/lib/limits.js';
import { createMessageTransform, rewriteMessage, type MessageTransformOptions } from '../../../src/transform/message-transform.js';
import { MAILSPLIT_HEADER_LINE_MIN_COST } from '../../../src/transform/splitter-limits.js';

const crlf = (s: string): Buffer => Buffer.from(s.replace(/\r?\n/g, '\r\n'), 'utf8');
const noEdits: MessageTransformOptions = { onHeaders: () => [] };
const CORE_EDITS: readonly HeaderEdit[] = [
  { op: 'set', name: 'From', value: '"Shop" <orders@shop.example>' },
  { op: 'set', name: 'To', value: 'someone@example.net' },
  { op: 'delete', name: 'Cc' },
  { op: 'delete', name: 'Bcc' },
];

async function run(chunks: readonly Buffer[], opts: MessageTransformOptions): Promise<Buffer> {
  const out: Buffer[] = [];
  await pipeline(
    Readable.from(chunks, { objectMode: false }),
    createMessageTransform(opts),
    new Writable({
      write(c: Buffer, _e, cb) {
        out.push(c);
        cb();
      },
    }),
  );
  return Buffer.concat(out);
}

/** Root header block ends at the first empty line; return [head, rest]. */
function splitHead(b: Buffer): [string, string] {
  const s = b.toString('utf8');
  const i = s.indexOf('\r\n\r\n');
  return [s.slice(0, i + 4), s.slice(i + 4)];
}

function hasBareLineBreak(b: Buffer): boolean {
  for (let i = 0; i < b.length; i++) {
    if (b[i] === 0x0a && (i === 0 || b[i - 1] !== 0x0d)) return true;
    if (b[i] === 0x0d && b[i + 1] !== 0x0a) return true;
  }
  return false;
}

describe('createMessageTransform / rewriteMessage', () => {
  it('passes a message through byte-for-byte when there are no edits', async () => {
    const msg = crlf('From: A <a@x.example>\nSubject: hi\n there\n\nbody line\n');
    expect((await rewriteMessage(msg, noEdits)).equals(msg)).toBe(true);
  });

  it('gives the root fields to onHeaders and applies set/delete in place', async () => {
    const msg = crlf('From: A <a@x.example>\nTo: b@y.example\nCc: c@z.example,\n d@z.example\nSubject: hi\n\nbody\n');
    let seen: readonly HeaderField[] = [];
    const out = await rewriteMessage(msg, {
      onHeaders: (f) => {
        seen = f;
        return [
          { op: 'set', name: 'From', value: 'A <new@x.example>' },
          { op: 'delete', name: 'CC' },
        ];
      },
    });
    expect(seen).toEqual([
      { name: 'From', value: ' A <a@x.example>' },
      { name: 'To', value: ' b@y.example' },
      { name: 'Cc', value: ' c@z.example,\r\n d@z.example' },
      { name: 'Subject', value: ' hi' },
    ]);
    expect(out.toString()).toBe('From: A <new@x.example>\r\nTo: b@y.example\r\nSubject: hi\r\n\r\nbody\r\n');
  });

  it('calls onHeaders once even for a message without body or empty line', async () => {
    let calls = 0;
    const out = await rewriteMessage(Buffer.from('Subject: only a header'), {
      onHeaders: () => {
        calls++;
        return [{ op: 'set', name: 'From', value: 'a@x' }];
      },
    });
    expect(calls).toBe(1);
    expect(out.toString()).toBe('Subject: only a header\r\nFrom: a@x\r\n');
  });

  it('waits for an asynchronous onHeaders and keeps the order of what follows', async () => {
    const body = Array.from({ length: 3000 }, (_, i) => `line ${i} of the body`).join('\r\n') + '\r\n';
    const msg = Buffer.from(`From: a@x\r\nCc: c@x\r\n\r\n${body}`);
    const chunks = Array.from({ length: Math.ceil(msg.length / 1000) }, (_, i) => msg.subarray(i * 1000, (i + 1) * 1000));
    const out = await run(chunks, {
      onHeaders: () =>
        new Promise<readonly HeaderEdit[]>((resolve) => {
          setImmediate(() => {
            resolve([{ op: 'delete', name: 'Cc' }]);
          });
        }),
    });
    expect(out.toString()).toBe(`From: a@x\r\n\r\n${body}`);
  });

  it('edits only the root header block: nested parts and attached messages stay byte-for-byte', async () => {
    const root = 'From: Root <root@x.example>\nTo: a@y.example, b@y.example\nCc: c@y.example\nBcc: d@y.example\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="outer"\n\n';
    const rest =
      'preamble\n--outer\nContent-Type: text/plain\nFrom: part@x.example\nCc: part-cc@x.example\n\npart body\n' +
      '--outer\nContent-Type: message/rfc822\nContent-Disposition: inline\n\n' +
      'From: Inner <inner@x.example>\nTo: inner-to@y.example\nCc: inner-cc@y.example\nBcc: inner-bcc@y.example\nSubject: inner\nContent-Type: multipart/alternative; boundary="inner"\n\n' +
      '--inner\nContent-Type: text/plain\nTo: deep@y.example\n\ndeep\n--inner--\n' +
      '--outer\nContent-Type: message/rfc822\nContent-Disposition: attachment\n\n' +
      'From: Attached <att@x.example>\nCc: att-cc@y.example\n\nattached body\n' +
      '--outer--\nepilogue\n';
    const msg = crlf(root + rest);
    const names: string[] = [];
    const out = await rewriteMessage(msg, {
      onHeaders: (f) => {
        names.push(...f.map((x) => x.name));
        return CORE_EDITS;
      },
    });
    expect(names).toEqual(['From', 'To', 'Cc', 'Bcc', 'MIME-Version', 'Content-Type']);
    const [head, body] = splitHead(out);
    expect(head).toBe(
      'From: "Shop" <orders@shop.example>\r\nTo: someone@example.net\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="outer"\r\n\r\n',
    );
    expect(body).toBe(crlf(rest).toString());
  });

  it('keeps header edits when a Rewriter re-encodes a single-part root', async () => {
    const msg = crlf('From: a@x\nCc: c@x\nContent-Type: text/html; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n<p>h\u00e9llo</p>\n');
    const rw = new Rewriter((node) => node.contentType === 'text/html');
    rw.on('node', ({ decoder, encoder }) => {
      decoder.pipe(encoder);
    });
    const out = await rewriteMessage(msg, { onHeaders: () => CORE_EDITS, bodyStages: [rw as unknown as Duplex] });
    const [head, body] = splitHead(out);
    expect(head.match(/^From:/gm)).toHaveLength(1);
    expect(head).toContain('From: "Shop" <orders@shop.example>\r\n');
    expect(head).not.toContain('Cc:');
    expect(head).toContain('Content-Transfer-Encoding: quoted-printable');
    expect(body).toContain('h=C3=A9llo');
    expect(hasBareLineBreak(out)).toBe(false);
  });

  it('writes CRLF only after a Rewriter re-encodes a base64 HTML part (mailsplit writes a bare LF)', async () => {
    const html = Buffer.from(`<html><body>${'Hello world '.repeat(30)}</body></html>`).toString('base64').replace(/.{76}/g, '$&\r\n');
    const msg = Buffer.from(
      'From: a@x\r\nContent-Type: multipart/alternative; boundary="b"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nplain\r\n' +
        `--b\r\nContent-Type: text/html\r\nContent-Transfer-Encoding: base64\r\n\r\n${html}\r\n--b--\r\n`,
    );
    const rewriter = (): Duplex => {
      const rw = new Rewriter((node) => node.contentType === 'text/html');
      rw.on('node', ({ decoder, encoder }) => {
        decoder
          .pipe(
            new Transform({
              transform(c: Buffer, _e, cb) {
                cb(null, Buffer.from(c.toString().replace('Hello', 'Howdy')));
              },
            }),
          )
          .pipe(encoder);
      });
      return rw as unknown as Duplex;
    };
    // the quirk being guarded against: mailsplit alone leaves a bare LF
    const raw: Buffer[] = [];
    await pipeline(
      Readable.from([msg], { objectMode: false }),
      new Splitter() as unknown as Duplex,
      rewriter(),
      new Joiner() as unknown as Duplex,
      new Writable({
        write(c: Buffer, _e, cb) {
          raw.push(c);
          cb();
        },
      }),
    );
    expect(hasBareLineBreak(Buffer.concat(raw))).toBe(true);

    const out = await rewriteMessage(msg, { onHeaders: () => [], bodyStages: [rewriter()] });
    expect(hasBareLineBreak(out)).toBe(false);
    const b64 = out.toString().split('base64\r\n\r\n')[1]!.split('\r\n--b--')[0]!;
    expect(Buffer.from(b64, 'base64').toString()).toContain('Howdy world');
  });
});

describe('errors', () => {
  it.each([
    ['thrown', (): never => {
      throw new RejectError('to-not-in-rcpt', { code: 550, enhanced: '5.7.1', text: 'no' });
    }],
    ['rejected', (): Promise<never> => Promise.reject(new RejectError('to-not-in-rcpt', { code: 550, enhanced: '5.7.1', text: 'no' }))],
  ])('ends the stream with the error onHeaders %s', async (_l, onHeaders) => {
    const err = await rewriteMessage(crlf('To: x@y\n\nbody\n'), { onHeaders }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RejectError);
    expect((err as RejectError).reply.code).toBe(550);
  });

  it.each<[string, HeaderEdit]>([
    ['CRLF in a value', { op: 'set', name: 'Subject', value: 'x\r\nBcc: evil@x' }],
    ['LF in a value', { op: 'set', name: 'Subject', value: 'x\nBcc: evil@x' }],
    ['CR in a value', { op: 'set', name: 'Subject', value: 'x\rBcc: evil@x' }],
    ['NUL in a value', { op: 'set', name: 'Subject', value: 'x\0' }],
    ['a bad name', { op: 'set', name: 'Sub ject', value: 'x' }],
    ['a bad name to delete', { op: 'delete', name: 'X:Y' }],
    ['an unfoldable value', { op: 'set', name: 'Subject', value: 'x'.repeat(1000) }],
  ])('refuses %s with InvariantError', async (_l, e) => {
    await expect(rewriteMessage(crlf('To: x@y\n\nbody\n'), { onHeaders: () => [e] })).rejects.toBeInstanceOf(InvariantError);
  });

  it('destroys the stream (and every body stage) on error; nothing hangs', async () => {
    const stage = new PassThrough({ objectMode: true });
    const t = createMessageTransform({
      onHeaders: () => {
        throw new RejectError('x', { code: 550, enhanced: '5.7.1', text: 'no' });
      },
      bodyStages: [stage],
    });
    const failed = new Promise<unknown>((resolve) => t.on('error', resolve));
    t.end(crlf('To: x@y\n\nbody\n'));
    expect(await failed).toBeInstanceOf(RejectError);
    await new Promise<void>((resolve) => {
      if (t.destroyed) resolve();
      else t.on('close', () => resolve());
    });
    expect(t.destroyed).toBe(true);
    expect(stage.destroyed).toBe(true);
  });

  it('closes cleanly when the reader destroys it mid-message', async () => {
    const body = 'x'.repeat(76) + '\r\n';
    const msg = Buffer.from(`From: a@x\r\n\r\n${body.repeat(20000)}`);
    const t = createMessageTransform({ onHeaders: () => CORE_EDITS });
    let chunks = 0;
    let error: unknown = null;
    t.on('error', (e: unknown) => {
      error = e;
    });
    t.on('data', () => {
      if (++chunks === 2) t.destroy();
    });
    const closed = new Promise<void>((resolve) => t.on('close', () => resolve()));
    for (let i = 0; i < msg.length; i += 65536) t.write(msg.subarray(i, i + 65536));
    t.end();
    await closed;
    expect(chunks).toBe(2);
    expect(error).toBeNull();
  });

  it('passes a body stage error out of the composed stream', async () => {
    const bad = new Transform({
      objectMode: true,
      transform(_c, _e, cb) {
        cb(new Error('stage failed'));
      },
    });
    await expect(rewriteMessage(crlf('To: x@y\n\nbody\n'), { onHeaders: () => [], bodyStages: [bad] })).rejects.toThrow('stage failed');
  });
});

describe('limits', () => {
  /** A header block of exactly `total` bytes (empty line included) from lines of 1000 bytes or more. */
  function headerBlockOf(total: number): Buffer {
    const lines: string[] = [];
    let left = total - 2;
    while (left > 0) {
      const len = left >= 2000 ? 1000 : left;
      lines.push(`X-Pad: ${'a'.repeat(len - 9)}\r\n`);
      left -= len;
    }
    return Buffer.from(`${lines.join('')}\r\n`);
  }

  async function expectReject(msg: Buffer, text: string): Promise<void> {
    const err = await rewriteMessage(msg, noEdits).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RejectError);
    expect((err as RejectError).code).toBe('EMAXLEN');
    expect((err as RejectError).reply).toEqual({ code: 552, enhanced: '5.3.4', text });
  }

  it(`accepts a root header block of exactly MAX_HEADER_BLOCK_BYTES (${MAX_HEADER_BLOCK_BYTES}) and refuses one byte more`, async () => {
    const at = headerBlockOf(MAX_HEADER_BLOCK_BYTES);
    expect(at.length).toBe(MAX_HEADER_BLOCK_BYTES);
    const msg = Buffer.concat([at, Buffer.from('body\r\n')]);
    expect((await rewriteMessage(msg, noEdits)).equals(msg)).toBe(true);
    await expectReject(Buffer.concat([headerBlockOf(MAX_HEADER_BLOCK_BYTES + 1), Buffer.from('body\r\n')]), 'Message header block too large');
  });

  it('applies the same limit to the header block of a nested part', async () => {
    const part = (n: number): Buffer =>
      Buffer.concat([
        Buffer.from('Content-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\n'),
        headerBlockOf(n),
        Buffer.from('x\r\n--b--\r\n'),
      ]);
    expect((await rewriteMessage(part(MAX_HEADER_BLOCK_BYTES), noEdits)).length).toBeGreaterThan(MAX_HEADER_BLOCK_BYTES);
    await expectReject(part(MAX_HEADER_BLOCK_BYTES + 1), 'Message header block too large');
  });

  it(`counts every header line as at least ${MAILSPLIT_HEADER_LINE_MIN_COST} bytes`, async () => {
    const lines = Math.floor(MAX_HEADER_BLOCK_BYTES / MAILSPLIT_HEADER_LINE_MIN_COST);
    const short = (n: number): Buffer => Buffer.from(`${'A: 1\r\n'.repeat(n)}\r\n`);
    // n lines of 6 bytes cost n*64 + 2: fits at lines-1, not at lines
    await expect(rewriteMessage(short(lines - 1), noEdits)).resolves.toBeInstanceOf(Buffer);
    await expectReject(short(lines), 'Message header block too large');
  });

  it(`accepts MAX_MIME_NODES (${MAX_MIME_NODES}) MIME nodes, root included, and refuses one more`, async () => {
    const multi = (parts: number): Buffer =>
      Buffer.from(
        `Content-Type: multipart/mixed; boundary="b"\r\n\r\n${'--b\r\nContent-Type: text/plain\r\n\r\npart\r\n'.repeat(parts)}--b--\r\n`,
      );
    const ok = multi(MAX_MIME_NODES - 1);
    expect((await rewriteMessage(ok, noEdits)).equals(ok)).toBe(true);
    await expectReject(multi(MAX_MIME_NODES), 'Message has too many MIME parts');
  });
});
