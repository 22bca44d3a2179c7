import { describe, expect, it } from 'vitest';
import { decodeRawValue, htmlCharset } from '../../../src/tracking/html-charset.js';

describe('htmlCharset', () => {
  it.each<[string | false | undefined, string]>([
    [false, 'lenient'],
    [undefined, 'lenient'],
    ['', 'lenient'],
    ['us-ascii', 'lenient'],
    ['US-ASCII', 'lenient'],
    ['ascii', 'lenient'],
    ['utf-8', 'utf-8'],
    ['UTF-8', 'utf-8'],
    [' utf8 ', 'utf-8'],
    ['"utf-8"', 'utf-8'],
    ['iso-8859-1', 'windows-1252'],
    ['ISO_8859-1:1987', 'windows-1252'],
    ['latin1', 'windows-1252'],
    ['l1', 'windows-1252'],
    ['iso-8859-2', 'iso-8859-2'],
    ['iso8859-5', 'iso-8859-5'],
    ['ISO-8859-15', 'iso-8859-15'],
    ['iso-8859-16', 'iso-8859-16'],
    ['latin2', 'iso-8859-2'],
    ['latin5', 'iso-8859-9'],
    ['latin9', 'iso-8859-15'],
    ['latin10', 'iso-8859-16'],
    ['windows-1250', 'windows-1250'],
    ['Windows-1252', 'windows-1252'],
    ['cp1252', 'windows-1252'],
    ['x-cp1251', 'windows-1251'],
    ['windows-1258', 'windows-1258'],
  ])('%j is read as %s', (label, decodeAs) => {
    expect(htmlCharset(label)).toEqual({ decodeAs });
  });

  it.each([
    'utf-16', 'utf-16le', 'utf-32', 'utf-7', 'iso-2022-jp', 'shift_jis', 'euc-jp', 'gb2312', 'gbk', 'gb18030', 'big5', 'euc-kr',
    'koi8-r', 'koi8-u', 'iso-8859-0', 'iso-8859-12', 'iso-8859-17', 'windows-1249', 'windows-1259', 'cp437', 'latin11', 'macintosh',
    'x-unknown', 'utf-8; foo',
  ])('%j is unsupported', (label) => {
    expect(htmlCharset(label)).toBeNull();
  });
});

describe('decodeRawValue (bytes given as a latin1 string)', () => {
  const raw = (b: Buffer): string => b.toString('latin1');
  it.each<[string, Buffer, string]>([
    ['utf-8', Buffer.from('/caf\u00e9/\u65e5', 'utf8'), '/caf\u00e9/\u65e5'],
    ['windows-1252', Buffer.from([0x80, 0xe9, 0x92]), '\u20ac\u00e9\u2019'],
    ['iso-8859-2', Buffer.from([0xb3, 0xf3]), '\u0142\u00f3'],
    ['windows-1251', Buffer.from([0xef, 0xf0]), '\u043f\u0440'],
    ['lenient', Buffer.from('\u00fc', 'utf8'), '\u00fc'],
    ['lenient', Buffer.from([0xfc, 0x80]), '\u00fc\u20ac'],
    ['lenient', Buffer.from('plain ascii'), 'plain ascii'],
  ])('%s %s', (decodeAs, bytes, text) => {
    expect(decodeRawValue(raw(bytes), { decodeAs })).toBe(text);
  });
});
