/**
 * Message generators shared by the transform bench and the memory test: realistic
 * transactional messages (multipart/alternative text + HTML, optional base64 attachment)
 * of about a requested size, CRLF line endings, and a streaming variant that never holds
 * the whole message.
 */
import { Readable } from 'node:stream';

export const HEADER =
  'Return-Path: <sender@oxfordstones.example>\r\n' +
  'Date: Tue, 3 Jun 2025 10:00:00 +0000\r\n' +
  'From: "Oxford Stones" <news@oxfordstones.example>\r\n' +
  'To: "Some One" <someone@example.net>\r\n' +
  'Cc: other@example.net,\r\n third@example.net\r\n' +
  'Bcc: hidden@example.net\r\n' +
  'Subject: =?UTF-8?Q?Your_order_has_shipped_=E2=9C=93?=\r\n' +
  'Message-ID: <20250603100000.12345@oxfordstones.example>\r\n' +
  'X-Mxm-Flags: 3\r\n' +
  'X-Mxm-Tag: orders, shipping\r\n' +
  'MIME-Version: 1.0\r\n';

const TEXT_LINE = 'Thank you for your order. Your parcel is on its way and should arrive soon.=\r\n';
const HTML_LINE = '<p style=3D"margin:0">Thank you for your order, <a href=3D"https://x.example/o">track it</a>.</p>=\r\n';
const B64_LINE = 'QmFzZTY0IGF0dGFjaG1lbnQgZGF0YSBmb3IgdGhlIGJlbmNobWFyayBvZiB0aGUgdHJhbnNmb3Jt\r\n';

function repeatTo(line: string, bytes: number): string {
  return line.repeat(Math.max(1, Math.ceil(bytes / line.length)));
}

/** The pieces of a message of about `size` bytes, in order; the attachment body is given by line count. */
function layout(size: number): { head: string; attachLines: number; tail: string } {
  const alt = Math.min(size, 16 * 1024);
  const head =
    HEADER +
    'Content-Type: multipart/mixed; boundary="mixed-1"\r\n\r\n' +
    '--mixed-1\r\nContent-Type: multipart/alternative; boundary="alt-1"\r\n\r\n' +
    '--alt-1\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n' +
    repeatTo(TEXT_LINE, alt / 3) +
    '\r\n--alt-1\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n' +
    repeatTo(HTML_LINE, alt / 3) +
    '\r\n--alt-1--\r\n' +
    '--mixed-1\r\nContent-Type: application/pdf; name="invoice.pdf"\r\n' +
    'Content-Disposition: attachment; filename="invoice.pdf"\r\nContent-Transfer-Encoding: base64\r\n\r\n';
  const tail = '\r\n--mixed-1--\r\n';
  const attachLines = Math.max(1, Math.ceil((size - head.length - tail.length) / B64_LINE.length));
  return { head, attachLines, tail };
}

/** A whole message of about `size` bytes. */
export function makeMessage(size: number): Buffer {
  const { head, attachLines, tail } = layout(size);
  return Buffer.from(head + B64_LINE.repeat(attachLines) + tail, 'latin1');
}

/** Split a buffer into chunks of `chunkSize` (views, no copies). */
export function chunksOf(buf: Buffer, chunkSize: number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < buf.length; i += chunkSize) out.push(buf.subarray(i, i + chunkSize));
  return out;
}

/** A byte stream of a message of about `size` bytes, generated chunk by chunk (never held whole). */
export function messageStream(size: number, chunkSize = 64 * 1024): Readable {
  const { head, attachLines, tail } = layout(size);
  const linesPerChunk = Math.max(1, Math.floor(chunkSize / B64_LINE.length));
  const block = Buffer.from(B64_LINE.repeat(linesPerChunk), 'latin1');
  let left = attachLines;
  let stage = 0;
  return new Readable({
    read() {
      if (stage === 0) {
        stage = 1;
        this.push(Buffer.from(head, 'latin1'));
      } else if (left > 0) {
        const n = Math.min(left, linesPerChunk);
        left -= n;
        // a fresh copy per chunk, like bytes read from a socket
        this.push(n === linesPerChunk ? Buffer.from(block) : Buffer.from(B64_LINE.repeat(n), 'latin1'));
      } else if (stage === 1) {
        stage = 2;
        this.push(Buffer.from(tail, 'latin1'));
      } else {
        this.push(null);
      }
    },
  });
}

/** Quoted-printable of UTF-8 text (a simple encoder for bench and test messages, not the production one): `=` and 8-bit escaped, soft breaks after 75 characters (never inside an escape). */
export function qpEncodeText(text: string, width = 75): string {
  const out: string[] = [];
  for (const line of text.split('\n')) {
    let rest = Buffer.from(line, 'utf8')
      .toString('latin1')
      .replace(/[=\x7f-\xff]/g, (c) => `=${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`);
    while (rest.length > width) {
      let cut = width;
      const eq = rest.lastIndexOf('=', cut - 1);
      if (eq > cut - 3) cut = eq;
      out.push(`${rest.slice(0, cut)}=`);
      rest = rest.slice(cut);
    }
    out.push(rest);
  }
  return out.join('\r\n');
}
