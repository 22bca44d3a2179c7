/**
 * The bounce MIME reader (src/mail/mime-reader.ts): header blocks, multipart splitting, transfer
 * and charset decoding, embedded messages, and the MIME limits (MAX_MIME_NODES,
 * MAX_BOUNCE_MIME_DEPTH, MAX_HEADER_BLOCK_BYTES) one step past each.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  allValues,
  decodeBase64,
  decodeCharset,
  decodeQuotedPrintable,
  decodedBody,
  entityText,
  firstValue,
  parseMime,
  splitMultipart,
  walkEntities,
  type MimeEntity,
} from '../../../src/mail/mime-reader.js';
import { MAX_BOUNCE_MIME_DEPTH, MAX_HEADER_BLOCK_BYTES, MAX_MIME_NODES } from '../../../src/lib/limits.js';

const crlf = (lines: readonly string[]): Buffer => Buffer.from(lines.join('\r\n'), 'utf8');
const text = (b: Buffer): string => b.toString('utf8');

describe('header block', () => {
  it('reads fields, unfolds and trims values, keeps names as written', () => {
    const { root } = parseMime(crlf(['Subject: a', ' b', 'X-Thing:\tvalue  ', 'subject: second', '', 'body']));
    expect(root.fields).toEqual([
      { name: 'Subject', key: 'subject', value: 'a b' },
      { name: 'X-Thing', key: 'x-thing', value: 'value' },
      { name: 'subject', key: 'subject', value: 'second' },
    ]);
    expect(firstValue(root.fields, 'subject')).toBe('a b');
    expect(allValues(root.fields, 'subject')).toEqual(['a b', 'second']);
    expect(text(root.body)).toBe('body');
  });

  it('reads an mbox "From " line as junk and the fields after it', () => {
    const { root } = parseMime(crlf(['From MAILER-DAEMON  Mon Nov 23 00:53:12 2026', 'To: a@b.example', '', 'x']));
    expect(root.fields).toEqual([{ name: 'To', key: 'to', value: 'a@b.example' }]);
    expect(text(root.body)).toBe('x');
  });

  it('has no header when the first line is not a field (all of it is body)', () => {
    const raw = crlf(['this is not a header', 'Subject: hidden', '', 'x']);
    const { root } = parseMime(raw);
    expect(root.fields).toEqual([]);
    expect(root.body.equals(raw)).toBe(true);
    expect(root.contentType).toBe('text/plain');
  });

  it('has no header when the first line is empty (the body follows it)', () => {
    const { root } = parseMime(crlf(['', 'Subject: not a header', '']));
    expect(root.fields).toEqual([]);
    expect(text(root.body)).toBe('Subject: not a header\r\n');
  });

  it('reads a message that ends inside its header (no body)', () => {
    const { root } = parseMime(Buffer.from('To: a@b.example\nSubject: x'));
    expect(root.fields.map((f) => f.key)).toEqual(['to', 'subject']);
    expect(root.body.length).toBe(0);
  });

  it('reads UTF-8 header values, and Latin-1 when the bytes are not UTF-8', () => {
    const utf8 = parseMime(Buffer.from('Subject: Grüße\r\n\r\n', 'utf8')).root;
    expect(firstValue(utf8.fields, 'subject')).toBe('Grüße');
    const latin1 = parseMime(Buffer.from('Subject: Gr\xfc\xdfe\r\n\r\n', 'latin1')).root;
    expect(firstValue(latin1.fields, 'subject')).toBe('Grüße');
  });

  it(`cuts a header block without an end at MAX_HEADER_BLOCK_BYTES (${MAX_HEADER_BLOCK_BYTES}) and says so`, () => {
    const line = 'X-Filler: ' + 'a'.repeat(1000) + '\r\n';
    const count = Math.ceil((MAX_HEADER_BLOCK_BYTES + 1) / line.length) + 1;
    const parsed = parseMime(Buffer.from('Subject: big\r\n' + line.repeat(count) + '\r\nbody'));
    expect(parsed.limited).toBe(true);
    expect(firstValue(parsed.root.fields, 'subject')).toBe('big');
    expect(parsed.root.body.length).toBeGreaterThan(0);
  });

  it('a header block just under MAX_HEADER_BLOCK_BYTES is read whole', () => {
    const line = 'X-Filler: ' + 'a'.repeat(1000) + '\r\n';
    const count = Math.floor((MAX_HEADER_BLOCK_BYTES - 100) / line.length);
    const parsed = parseMime(Buffer.from(line.repeat(count) + 'Subject: end\r\n\r\nbody'));
    expect(parsed.limited).toBe(false);
    expect(firstValue(parsed.root.fields, 'subject')).toBe('end');
    expect(text(parsed.root.body)).toBe('body');
  });
});

describe('Content-Type', () => {
  it('lower-cases type and parameter names, unquotes values, reads RFC 2231 continuations', () => {
    const { root } = parseMime(crlf(['Content-Type: Multipart/Report; Report-Type="delivery-status"; BOUNDARY*0="ab"; BOUNDARY*1="cd"', '', '--abcd', '', 'x', '--abcd--']));
    expect(root.contentType).toBe('multipart/report');
    expect(root.params['report-type']).toBe('delivery-status');
    expect(root.params['boundary']).toBe('abcd');
    expect(root.children).toHaveLength(1);
  });

  it('a missing or invalid Content-Type is text/plain (RFC 2045 5.2)', () => {
    for (const value of [null, 'garbage', '/', 'text/', 'a b/c']) {
      const lines = value === null ? ['Subject: x', '', 'y'] : [`Content-Type: ${value}`, '', 'y'];
      expect(parseMime(crlf(lines)).root.contentType).toBe('text/plain');
    }
  });

  it('a multipart without a boundary has no children', () => {
    const { root } = parseMime(crlf(['Content-Type: multipart/mixed', '', '--x', '', 'a', '--x--']));
    expect(root.children).toEqual([]);
  });
});

describe('splitMultipart', () => {
  const b = (s: string): Buffer => Buffer.from(s, 'latin1');
  const parts = (body: string, boundary: string): string[] => splitMultipart(b(body), boundary).map((p) => p.toString('latin1'));

  it('ignores preamble and epilogue; the CRLF before a delimiter belongs to it', () => {
    expect(parts('preamble\r\n--b\r\nA: 1\r\n\r\none\r\n--b\r\n\r\ntwo\r\n--b--\r\nepilogue', 'b')).toEqual(['A: 1\r\n\r\none', '\r\ntwo']);
  });

  it('accepts transport padding after the delimiter and LF line ends', () => {
    expect(parts('--b  \t\none\n--b-- \n', 'b')).toEqual(['one']);
  });

  it('does not take a longer line that starts with the delimiter, or one not at a line start', () => {
    expect(parts('--b\r\nx --b\r\n--bb\r\n--b-x\r\n--b--', 'b')).toEqual(['x --b\r\n--bb\r\n--b-x']);
  });

  it('ends the last part at the end when the close delimiter is missing', () => {
    expect(parts('--b\r\nfirst\r\n--b\r\nsecond, cut', 'b')).toEqual(['first', 'second, cut']);
  });

  it('returns nothing when the delimiter never appears, and empty parts as empty', () => {
    expect(parts('no parts here', 'b')).toEqual([]);
    expect(parts('--b\r\n--b\r\n--b--', 'b')).toEqual(['', '']);
  });

  it('finds boundaries with regex-special and non-ASCII characters literally', () => {
    expect(parts('--a.*+?(b)\r\nx\r\n--a.*+?(b)--', 'a.*+?(b)')).toEqual(['x']);
    expect(splitMultipart(Buffer.from('--grün\r\nx\r\n--grün--', 'utf8'), 'grün').map(text)).toEqual(['x']);
  });
});

describe('transfer decoding', () => {
  it('quoted-printable: =XX in either case, soft breaks (CRLF, LF, trailing blanks), a bad = kept', () => {
    expect(text(decodeQuotedPrintable(Buffer.from('a=3Db=3db=\r\nc=  \nd=ZZ=4')))).toBe('a=b=bcd=ZZ=4');
    expect(decodeQuotedPrintable(Buffer.from('=C3=BC')).toString('utf8')).toBe('ü');
    expect(text(decodeQuotedPrintable(Buffer.from('end=')))).toBe('end');
  });

  it('base64: line breaks, junk characters and padding are skipped', () => {
    expect(text(decodeBase64(Buffer.from('aGVs\r\nbG8g!!d29y\nbGQ=')))).toBe('hello world');
    expect(decodeBase64(Buffer.from('****')).length).toBe(0);
  });

  it('decodedBody follows Content-Transfer-Encoding; unknown encodings pass unchanged', () => {
    const e = (cte: string, body: string): MimeEntity => parseMime(crlf([`Content-Transfer-Encoding: ${cte}`, '', body])).root;
    expect(text(decodedBody(e('BASE64', 'aGk=')))).toBe('hi');
    expect(text(decodedBody(e('quoted-printable', 'h=69')))).toBe('hi');
    expect(text(decodedBody(e('x-uuencode', 'aGk=')))).toBe('aGk=');
    expect(text(decodedBody(e('8bit', 'h=69')))).toBe('h=69');
  });
});

describe('charset decoding', () => {
  it('reads UTF-8, Latin-1 fallback, iconv charsets, UTF-7, and unknown labels leniently', () => {
    expect(decodeCharset(Buffer.from('grün', 'utf8'), 'utf-8')).toBe('grün');
    expect(decodeCharset(Buffer.from('gr\xfcn', 'latin1'), undefined)).toBe('grün');
    expect(decodeCharset(Buffer.from('gr\xfcn', 'latin1'), 'ISO-8859-1')).toBe('grün');
    expect(decodeCharset(Buffer.from([0xc1]), 'KOI8-R')).toBe('\u0430');
    expect(decodeCharset(Buffer.from([0x80]), 'windows-1252')).toBe('€');
    expect(decodeCharset(Buffer.from('a+AEA-b'), 'unicode-1-1-utf-7')).toBe('a@b');
    expect(decodeCharset(Buffer.from('grün', 'utf8'), 'x-no-such-charset')).toBe('grün');
  });

  it('entityText decodes transfer encoding and charset, and stops at maxBytes', () => {
    const { root } = parseMime(crlf(['Content-Type: text/plain; charset=iso-8859-1', 'Content-Transfer-Encoding: quoted-printable', '', 'gr=FCn=20und mehr']));
    expect(entityText(root, 1000)).toBe('grün und mehr');
    expect(entityText(root, 4)).toBe('grün');
  });
});

describe('embedded messages', () => {
  it('parses message/rfc822, message/global, text/rfc822-headers and message/global-headers', () => {
    for (const type of ['message/rfc822', 'message/global', 'text/rfc822-headers', 'message/global-headers']) {
      const raw = crlf(['Content-Type: multipart/report; boundary=b', '', '--b', `Content-Type: ${type}`, '', 'X-Trxmail-Ref: trx-1', 'To: ü@b.example', '', 'body', '--b--']);
      const { root } = parseMime(raw);
      const part = root.children[0] as MimeEntity;
      expect(part.embedded?.fields).toEqual([
        { name: 'X-Trxmail-Ref', key: 'x-trxmail-ref', value: 'trx-1' },
        { name: 'To', key: 'to', value: 'ü@b.example' },
      ]);
    }
  });

  it('decodes a base64 message/global before parsing it', () => {
    const inner = Buffer.from('To: a@b.example\r\n\r\nhi').toString('base64');
    const { root } = parseMime(crlf(['Content-Type: message/global', 'Content-Transfer-Encoding: base64', '', inner]));
    expect(root.embedded?.fields).toEqual([{ name: 'To', key: 'to', value: 'a@b.example' }]);
  });

  it('defaults the parts of multipart/digest to message/rfc822', () => {
    const { root } = parseMime(crlf(['Content-Type: multipart/digest; boundary=d', '', '--d', '', 'Subject: inner', '', 'x', '--d--']));
    expect(root.children[0]?.contentType).toBe('message/rfc822');
    expect(firstValue(root.children[0]?.embedded?.fields ?? [], 'subject')).toBe('inner');
  });

  it('walkEntities enters embedded messages only when asked, in document order', () => {
    const raw = crlf([
      'Content-Type: multipart/mixed; boundary=o',
      '',
      '--o',
      'Content-Type: text/plain',
      '',
      'one',
      '--o',
      'Content-Type: message/rfc822',
      '',
      'Content-Type: multipart/alternative; boundary=i',
      '',
      '--i',
      'Content-Type: text/html',
      '',
      'x',
      '--i--',
      '--o',
      'Content-Type: image/png',
      '',
      'p',
      '--o--',
    ]);
    const { root } = parseMime(raw);
    expect(walkEntities(root, false).map((e) => e.contentType)).toEqual(['multipart/mixed', 'text/plain', 'message/rfc822', 'image/png']);
    expect(walkEntities(root, true).map((e) => e.contentType)).toEqual([
      'multipart/mixed',
      'text/plain',
      'message/rfc822',
      'multipart/alternative',
      'text/html',
      'image/png',
    ]);
  });
});

describe('MIME limits', () => {
  function nested(levels: number): Buffer {
    let msg = 'Subject: innermost\r\n\r\nbottom';
    for (let i = 0; i < levels; i++) msg = `Content-Type: message/rfc822\r\n\r\n${msg}`;
    return Buffer.from(msg);
  }

  it(`follows MAX_BOUNCE_MIME_DEPTH (${MAX_BOUNCE_MIME_DEPTH}) levels and stops one level past`, () => {
    const atLimit = parseMime(nested(MAX_BOUNCE_MIME_DEPTH));
    expect(atLimit.limited).toBe(false);
    expect(walkEntities(atLimit.root, true)).toHaveLength(MAX_BOUNCE_MIME_DEPTH + 1);
    const past = parseMime(nested(MAX_BOUNCE_MIME_DEPTH + 1));
    expect(past.limited).toBe(true);
    expect(walkEntities(past.root, true)).toHaveLength(MAX_BOUNCE_MIME_DEPTH + 1);
  });

  it(`reads at most MAX_MIME_NODES (${MAX_MIME_NODES}) entities`, () => {
    const make = (parts: number): Buffer => Buffer.from('Content-Type: multipart/mixed; boundary=b\r\n\r\n' + '--b\r\n\r\nx\r\n'.repeat(parts) + '--b--');
    const fits = parseMime(make(MAX_MIME_NODES - 1));
    expect(fits.limited).toBe(false);
    expect(walkEntities(fits.root, true)).toHaveLength(MAX_MIME_NODES);
    const over = parseMime(make(MAX_MIME_NODES));
    expect(over.limited).toBe(true);
    expect(walkEntities(over.root, true)).toHaveLength(MAX_MIME_NODES);
  });

  it('never throws on arbitrary bytes, and the entity count stays bounded', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2000 }), (bytes) => {
        const { root } = parseMime(Buffer.from(bytes));
        expect(walkEntities(root, true).length).toBeLessThanOrEqual(MAX_MIME_NODES);
      }),
      { numRuns: 300, seed: 20261123 },
    );
  });

  it('never throws on MIME-shaped random input', () => {
    const piece = fc.constantFrom('--b\r\n', '--b--\r\n', 'Content-Type: multipart/mixed; boundary=b\r\n', 'Content-Type: message/rfc822\r\n', 'Content-Transfer-Encoding: base64\r\n', '\r\n', 'x: y\r\n', ' folded\r\n', '=\r\n', 'text\r\n');
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 60 }), (pieces) => {
        const { root } = parseMime(Buffer.from(pieces.join('')));
        expect(root.depth).toBe(0);
      }),
      { numRuns: 500, seed: 5 },
    );
  });
});
