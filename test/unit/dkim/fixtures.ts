/**
 * Shared by the DKIM tests: signing keys made by keys.ts, their DNS records, and messages
 * (CRLF) covering the body encodings and header shapes a signer meets.
 */
import { generateDkimKey, privateKeyFromPem } from '../../../src/dkim/keys.js';
import type { SigningKey } from '../../../src/dkim/signer.js';
import type { HeaderField } from '../../../src/core/types.js';

export interface TestKeys {
  readonly rsa: SigningKey;
  readonly ed: SigningKey;
  /** `<selector>._domainkey.<domain>` -> TXT value, as keys.ts produced them. */
  readonly records: Record<string, string>;
}

export const DOMAIN = 'oxfordstones.example';
export const TIME = new Date('2025-06-03T10:00:00Z');

export async function makeTestKeys(domain = DOMAIN): Promise<TestKeys> {
  const [r, e] = await Promise.all([generateDkimKey('rsa-sha256'), generateDkimKey('ed25519-sha256')]);
  const rsa: SigningKey = { domain, selector: 'trx20250603r', algorithm: 'rsa-sha256', privateKey: privateKeyFromPem(r.privateKeyPem, 'rsa-sha256') };
  const ed: SigningKey = { domain, selector: 'trx20250603e', algorithm: 'ed25519-sha256', privateKey: privateKeyFromPem(e.privateKeyPem, 'ed25519-sha256') };
  return {
    rsa,
    ed,
    records: { [`${rsa.selector}._domainkey.${domain}`]: r.txtRecord, [`${ed.selector}._domainkey.${domain}`]: e.txtRecord },
  };
}

/** The fields written above a message, as a caller prepends them. */
export function prepend(fields: readonly HeaderField[], message: Buffer): Buffer {
  return Buffer.concat([...fields.map((f) => Buffer.from(`${f.name}:${f.value}\r\n`, 'utf8')), message]);
}

const HEAD =
  'From: "Oxford Stones" <orders@oxfordstones.example>\r\n' +
  'To: "Some One" <someone@example.net>\r\n' +
  'Subject: Your order has shipped\r\n' +
  'Date: Tue, 3 Jun 2025 10:00:00 +0000\r\n' +
  'Message-ID: <20250603100000.12345@oxfordstones.example>\r\n' +
  'MIME-Version: 1.0\r\n';

const msg = (s: string): Buffer => Buffer.from(s, 'utf8');

/** Messages every signature must verify on, by name. */
export const MESSAGES: Readonly<Record<string, Buffer>> = {
  '7bit text': msg(
    `${HEAD}Content-Type: text/plain; charset=us-ascii\r\nContent-Transfer-Encoding: 7bit\r\n\r\n` +
      'Thank you for your order.\r\nIt ships today.\r\n',
  ),
  'quoted-printable HTML': msg(
    `${HEAD}Content-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n` +
      '<p style=3D"margin:0">Caf=C3=A9 na=C3=AFve, a long line that is broken with a =\r\n' +
      'soft line break, <a href=3D"https://shop.example/o?a=3D1&amp;b=3D2">track</a>.</p>=\r\n\r\n',
  ),
  'base64 attachment': msg(
    `${HEAD}Content-Type: multipart/mixed; boundary="mixed-1"\r\n\r\n` +
      '--mixed-1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nInvoice attached.\r\n' +
      '--mixed-1\r\nContent-Type: application/pdf; name="invoice.pdf"\r\nContent-Transfer-Encoding: base64\r\n\r\n' +
      'JVBERi0xLjQKJcOkw7zDtsOfCjIgMCBvYmoKPDwvTGVuZ3RoIDMgMCBSL0ZpbHRlci9GbGF0ZURl\r\n' +
      'Y29kZT4+CnN0cmVhbQp4nDPQM1Qo5ypUMABCM0MjBXNjQ4XkXK5CLgDmTgbVCg==\r\n' +
      '--mixed-1--\r\n',
  ),
  '8bit UTF-8 body and raw UTF-8 header': msg(
    'From: "Grüße Köln" <orders@oxfordstones.example>\r\n' +
      'To: someone@example.net\r\nSubject: Ihre Bestellung — versandt ✓\r\nDate: Tue, 3 Jun 2025 10:00:00 +0000\r\n' +
      'MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n' +
      'Grüße aus Köln — €100 bezahlt.\r\n日本語のテキスト\r\n',
  ),
  'folded headers': msg(
    'From: "Oxford Stones"\r\n <orders@oxfordstones.example>\r\n' +
      'To: "Some One with a rather long display name"\r\n\t<someone@example.net>\r\n' +
      'Subject: =?UTF-8?Q?Your_order_has_shipped_=E2=9C=93?=\r\n =?UTF-8?Q?_and_more?=\r\n   \t and plain text\r\n' +
      'Date: Tue, 3 Jun 2025 10:00:00 +0000\r\nMessage-ID: <a.b@oxfordstones.example>\r\n' +
      'Reply-To: support@oxfordstones.example\r\n' +
      'List-Unsubscribe: <https://oxfordstones.example/u/abc>,\r\n <mailto:unsub@oxfordstones.example?subject=abc>\r\n' +
      'List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n' +
      'MIME-Version: 1.0\r\nContent-Type: text/plain;\r\n charset="utf-8";\r\n format=flowed\r\n\r\nHi.\r\n',
  ),
  'header with trailing whitespace': msg(
    'From: orders@oxfordstones.example  \r\nTo:   someone@example.net \t\r\nSubject:hello   world   \r\n' +
      'Date: Tue, 3 Jun 2025 10:00:00 +0000\r\n\r\nBody.\r\n',
  ),
  'empty body': msg(`${HEAD}\r\n`),
  'trailing blank lines': msg(`${HEAD}Content-Type: text/plain\r\n\r\nLast line.  \r\n\r\n \r\n\r\n\r\n`),
};
