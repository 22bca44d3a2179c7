/**
 * withinMimeLimitsBound (src/accept/mime-limits-bound.ts): the cheap test that lets the accept
 * step skip the MIME-limit counting pass. It must be sound — never say "within" for a message
 * the full pass would refuse — so the premise it rests on (mailsplit starts every node on a
 * line of its own) is checked against mailsplit itself on dense and nested messages.
 */
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { tmpdir } from 'node:os';
import { Splitter } from '@zone-eu/mailsplit';
import { describe, expect, it } from 'vitest';
import { withinMimeLimitsBound } from '../../../src/accept/mime-limits-bound.js';
import type { HeaderField } from '../../../src/core/types.js';
import { MAX_HEADER_BLOCK_BYTES, MAX_MIME_NODES } from '../../../src/lib/limits.js';
import { Spool } from '../../../src/lib/spool.js';

async function spool(body: string, memoryLimit?: number): Promise<Spool> {
  const s = new Spool(tmpdir(), memoryLimit);
  await s.write(Buffer.from(body, 'utf8'));
  await s.end();
  return s;
}

const HEADERS: HeaderField[] = [
  { name: 'From', value: ' a@shop.example' },
  { name: 'To', value: ' r@example.net' },
  { name: 'Subject', value: ' hello' },
];

/** MIME nodes mailsplit sees in a whole message. */
async function mailsplitNodes(message: string): Promise<number> {
  let nodes = 0;
  const splitter = new Splitter();
  const count = new Writable({
    objectMode: true,
    write(obj: { type: string }, _enc, cb) {
      if (obj.type === 'node') nodes++;
      cb();
    },
  });
  await pipeline(Readable.from([Buffer.from(message, 'utf8')]), splitter, count);
  return nodes;
}

/** CR plus LF bytes, + 1: the bound's line count of a whole message. */
const boundLines = (message: string): number => (message.match(/[\r\n]/g)?.length ?? 0) + 1;

const head = (ct: string): string => `From: a@shop.example\r\nContent-Type: ${ct}\r\n\r\n`;
const dense = (parts: number, eol: string): string =>
  head('multipart/mixed; boundary=b').replace(/\r\n/g, eol) + Array.from({ length: parts }, () => `--b${eol}${eol}`).join('') + `--b--${eol}`;
/** Parts that are whole messages (mailsplit does not descend into message/rfc822: one node each). */
const embedded = (parts: number): string =>
  head('multipart/mixed; boundary=b') +
  Array.from({ length: parts }, () => '--b\r\nContent-Type: message/rfc822\r\n\r\nContent-Type: multipart/mixed; boundary=c\r\n\r\n--c\r\n\r\nx\r\n--c--\r\n').join('') +
  '--b--\r\n';
const nestedMultipart = (depth: number): string => {
  let m = 'Content-Type: text/plain\r\n\r\nx\r\n';
  for (let i = 0; i < depth; i++) m = `Content-Type: multipart/mixed; boundary=b${i}\r\n\r\n--b${i}\r\n${m}--b${i}--\r\n`;
  return `From: a@shop.example\r\n${m}`;
};

describe('withinMimeLimitsBound', () => {
  it('says within for an ordinary small message', async () => {
    expect(await withinMimeLimitsBound(HEADERS, await spool('Hello,\r\n\r\nsee you.\r\n'))).toBe(true);
  });

  it('says maybe once the lines could hold MAX_MIME_NODES nodes, whatever the line ending', async () => {
    // Lines: the blank line, one per field, one per LF of the body; nodes at most lines + 1.
    const most = MAX_MIME_NODES - HEADERS.length - 2;
    expect(await withinMimeLimitsBound(HEADERS, await spool('x\n'.repeat(most)))).toBe(true);
    expect(await withinMimeLimitsBound(HEADERS, await spool('x\n'.repeat(most + 1)))).toBe(false);
    expect(await withinMimeLimitsBound(HEADERS, await spool('x\r'.repeat(most + 1)))).toBe(false);
  });

  it('counts lines folded into header values', async () => {
    const folded: HeaderField[] = [{ name: 'X-Long', value: ' a\r\n b'.repeat(MAX_MIME_NODES) }];
    expect(await withinMimeLimitsBound(folded, await spool('x\r\n'))).toBe(false);
  });

  it('says maybe for a message that could hold a header block over MAX_HEADER_BLOCK_BYTES', async () => {
    const long: HeaderField[] = [{ name: 'X-Big', value: ' ' + 'a'.repeat(MAX_HEADER_BLOCK_BYTES) }];
    expect(await withinMimeLimitsBound(long, await spool('x\r\n'))).toBe(false);
  });

  it('says maybe for a body spooled to disk, without reading it', async () => {
    const s = await spool('x'.repeat(200), 100);
    expect(s.onDisk).toBe(true);
    expect(await withinMimeLimitsBound(HEADERS, s)).toBe(false);
    await s.dispose();
  });

  it.each<[string, string]>([
    ['dense multipart, CRLF', dense(300, '\r\n')],
    ['dense multipart, LF', dense(300, '\n')],
    ['message/rfc822 parts', embedded(100)],
    ['nested multipart', nestedMultipart(100)],
  ])('rests on a premise mailsplit keeps: at most one node per line (%s)', async (_label, message) => {
    const nodes = await mailsplitNodes(message);
    expect(nodes).toBeGreaterThan(50);
    expect(nodes).toBeLessThanOrEqual(boundLines(message));
  });
});
