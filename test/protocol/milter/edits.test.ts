/**
 * End-of-message edits (src/milter/edits.ts) on their own: each bad edit fails with its own
 * problem before any frame exists; good edits become the frames Postfix expects (read back
 * with the independent parser of helpers.ts); bodies are cut into packets whatever the
 * source's chunking.
 */
import { describe, expect, it } from 'vitest';
import { MAX_MILTER_HEADER_LINE, MAX_MILTER_REPLY_PAYLOAD } from '../../../src/lib/limits.js';
import { encodeEdits, MilterEditError, replaceBodyFrames, type EditGrant, type EditProblem } from '../../../src/milter/edits.js';
import type { MilterBodySource, MilterEdit } from '../../../src/milter/handler.js';
import { parseResponses, showAll } from './helpers.js';

const ALL: EditGrant = { actions: 0x1ff, leadingSpace: true };

async function collect(frames: AsyncIterable<Buffer>): Promise<Buffer[]> {
  const out: Buffer[] = [];
  for await (const f of frames) out.push(f);
  return out;
}

async function shown(edits: MilterEdit[], grant: EditGrant = ALL): Promise<string[]> {
  return showAll(Buffer.concat(await collect(encodeEdits(edits, grant))));
}

/** Matches the MilterEditError of one problem. */
const refused = (problem: EditProblem): unknown => expect.objectContaining({ name: 'MilterEditError', problem });

describe('encodeEdits: good edits', () => {
  it('encodes every kind, in order', async () => {
    expect(
      await shown([
        { kind: 'chgfrom', address: '<b@x.example>', args: ['ENVID=1', 'RET=HDRS'] },
        { kind: 'addrcpt', address: '<new@x.example>' },
        { kind: 'addrcpt', address: '<par@x.example>', args: ['NOTIFY=NEVER'] },
        { kind: 'delrcpt', address: '<old@x.example>' },
        { kind: 'chgheader', name: 'Subject', index: 2, value: 'a\r\n b' },
        { kind: 'addheader', name: 'X-Empty', value: '' },
        { kind: 'insheader', index: 0, name: 'X-Top', value: '\ttab' },
        { kind: 'replbody', body: [Buffer.from('body\r\n')] },
      ]),
    ).toEqual([
      'e:<b@x.example>|ENVID=1 RET=HDRS',
      '+:<new@x.example>',
      '2:<par@x.example>|NOTIFY=NEVER',
      '-:<old@x.example>',
      'm:2|Subject| a\n b',
      'h:X-Empty|',
      'i:0|X-Top|\ttab',
      'b:6',
    ]);
  });

  it('adds the leading space only under HDR_LEADSPC', async () => {
    const edit: MilterEdit = { kind: 'addheader', name: 'X', value: 'v' };
    expect(await shown([edit], { actions: 0x001, leadingSpace: true })).toEqual(['h:X| v']);
    expect(await shown([edit], { actions: 0x001, leadingSpace: false })).toEqual(['h:X|v']);
  });

  it(`accepts a first header line of exactly MAX_MILTER_HEADER_LINE octets`, async () => {
    const value = 'v'.repeat(MAX_MILTER_HEADER_LINE - 'X: '.length);
    expect(await shown([{ kind: 'addheader', name: 'X', value }])).toEqual([`h:X| ${value}`]);
  });

  it('needs only the action of each edit', async () => {
    // SMFIF_* bits as protocols.md §1.3 lists them.
    const grants: [MilterEdit, number][] = [
      [{ kind: 'chgfrom', address: '<a@b>' }, 0x040],
      [{ kind: 'addrcpt', address: '<a@b>' }, 0x004],
      [{ kind: 'addrcpt', address: '<a@b>', args: ['NOTIFY=NEVER'] }, 0x080],
      [{ kind: 'delrcpt', address: '<a@b>' }, 0x008],
      [{ kind: 'chgheader', name: 'X', index: 1, value: 'y' }, 0x010],
      [{ kind: 'addheader', name: 'X', value: 'y' }, 0x001],
      [{ kind: 'insheader', index: 0, name: 'X', value: 'y' }, 0x001],
      [{ kind: 'replbody', body: [Buffer.from('x')] }, 0x002],
    ];
    for (const [edit, bit] of grants) {
      expect(await shown([edit], { actions: bit, leadingSpace: false })).toHaveLength(1);
      expect(() => encodeEdits([edit], { actions: 0x1ff & ~bit, leadingSpace: false })).toThrow(refused('action'));
    }
  });
});

describe('encodeEdits: bad edits', () => {
  const bad: [string, MilterEdit, EditProblem][] = [
    ['a sender with CR LF', { kind: 'chgfrom', address: '<a@b>\r\nRCPT TO:<x@y>' }, 'address'],
    ['a recipient with a NUL', { kind: 'addrcpt', address: '<a@b>\0' }, 'address'],
    ['a deleted recipient with a TAB', { kind: 'delrcpt', address: '<a@b>\t' }, 'address'],
    ['a sender that is not a string', { kind: 'chgfrom', address: 42 as unknown as string }, 'address'],
    ['an ESMTP argument with a space', { kind: 'chgfrom', address: '<a@b>', args: ['A=1 B=2'] }, 'esmtp-argument'],
    ['an empty ESMTP argument', { kind: 'addrcpt', address: '<a@b>', args: [''] }, 'esmtp-argument'],
    ['an ESMTP argument with a control character', { kind: 'addrcpt', address: '<a@b>', args: ['X=\x01'] }, 'esmtp-argument'],
    ['a header name with a colon', { kind: 'addheader', name: 'X:Y', value: 'z' }, 'header-name'],
    ['an empty header name', { kind: 'addheader', name: '', value: 'z' }, 'header-name'],
    ['a header name with a space', { kind: 'insheader', index: 0, name: 'X Y', value: 'z' }, 'header-name'],
    ['a non-ASCII header name', { kind: 'chgheader', name: 'Grüße', index: 1, value: 'z' }, 'header-name'],
    ['a value with a bare line break', { kind: 'addheader', name: 'X', value: 'a\nb' }, 'header-value'],
    ['a value with CR', { kind: 'addheader', name: 'X', value: 'a\rb' }, 'header-value'],
    ['a value with NUL', { kind: 'addheader', name: 'X', value: 'a\0b' }, 'header-value'],
    ['a value ending in a line break', { kind: 'addheader', name: 'X', value: 'a\r\n' }, 'header-value'],
    ['a value that is not a string', { kind: 'addheader', name: 'X', value: null as unknown as string }, 'header-value'],
    ['a first line one octet too long', { kind: 'addheader', name: 'X', value: 'v'.repeat(MAX_MILTER_HEADER_LINE - 2) }, 'header-value'],
    ['a folded line one octet too long', { kind: 'addheader', name: 'X', value: `a\r\n ${'v'.repeat(MAX_MILTER_HEADER_LINE)}` }, 'header-value'],
    ['chgheader index 0', { kind: 'chgheader', name: 'X', index: 0, value: 'y' }, 'index'],
    ['chgheader index 1.5', { kind: 'chgheader', name: 'X', index: 1.5, value: 'y' }, 'index'],
    ['insheader index -1', { kind: 'insheader', index: -1, name: 'X', value: 'y' }, 'index'],
    ['insheader index above uint32', { kind: 'insheader', index: 2 ** 32, name: 'X', value: 'y' }, 'index'],
    ['replbody without a source', { kind: 'replbody', body: null as unknown as MilterBodySource }, 'body'],
    ['an unknown edit', { kind: 'quarantine' } as unknown as MilterEdit, 'kind'],
  ];

  it.each(bad)('refuses %s', (_what, edit, problem) => {
    expect(() => encodeEdits([{ kind: 'addheader', name: 'X-First', value: 'ok' }, edit], ALL)).toThrow(refused(problem));
  });

  it('refuses a second body replacement', () => {
    const body: MilterEdit = { kind: 'replbody', body: [] };
    expect(() => encodeEdits([body, { kind: 'addheader', name: 'X', value: 'y' }, body], ALL)).toThrow(refused('body'));
  });

  it('names the problem in the message and is an InvariantError', () => {
    let caught: unknown;
    try {
      encodeEdits([{ kind: 'chgheader', name: 'X', index: 0, value: 'y' }], ALL);
    } catch (err: unknown) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(MilterEditError);
    expect((caught as Error).name).toBe('MilterEditError');
    expect((caught as { code: string }).code).toBe('EINVARIANT');
    expect((caught as Error).message).toBe('milter edit refused: chgheader index must be 1 or more');
  });
});

describe('replaceBodyFrames', () => {
  const sizes = async (source: MilterBodySource): Promise<number[]> =>
    parseResponses(Buffer.concat(await collect(replaceBodyFrames(source)))).map((r) => {
      expect(r.cmd).toBe('b');
      return r.payload.length;
    });

  it('splits a body replacement into packets of at most MAX_MILTER_REPLY_PAYLOAD bytes', async () => {
    const body = Buffer.alloc(2 * MAX_MILTER_REPLY_PAYLOAD + 10, 0x41);
    const packets = await collect(replaceBodyFrames([body]));
    expect(packets.map((p) => p.readUInt32BE(0) - 1)).toEqual([MAX_MILTER_REPLY_PAYLOAD, MAX_MILTER_REPLY_PAYLOAD, 10]);
    expect(packets.every((p) => p[4] === 0x62)).toBe(true);
    expect(Buffer.concat(packets.map((p) => p.subarray(5))).equals(body)).toBe(true);
  });

  it('packs small chunks into full packets, keeping every byte in order', async () => {
    const chunks = Array.from({ length: 300 }, (_, i) => Buffer.alloc(1000, i % 256));
    const packets = await collect(replaceBodyFrames(chunks));
    expect(packets.map((p) => p.length - 5)).toEqual([MAX_MILTER_REPLY_PAYLOAD, MAX_MILTER_REPLY_PAYLOAD, MAX_MILTER_REPLY_PAYLOAD, MAX_MILTER_REPLY_PAYLOAD, 300_000 - 4 * MAX_MILTER_REPLY_PAYLOAD]);
    expect(Buffer.concat(packets.map((p) => p.subarray(5))).equals(Buffer.concat(chunks))).toBe(true);
  });

  it('takes async sources and empty chunks', async () => {
    async function* gen(): AsyncGenerator<Uint8Array> {
      yield await Promise.resolve(new Uint8Array(0));
      yield await Promise.resolve(new Uint8Array([0x61, 0x0d, 0x0a]));
    }
    expect(await sizes(gen())).toEqual([3]);
  });

  it('sends an empty body as one empty line (Postfix refuses an empty b)', async () => {
    const packets = await collect(replaceBodyFrames([]));
    expect(packets.map((p) => p.toString('latin1'))).toEqual(['\x00\x00\x00\x03b\r\n']);
  });

  it('refuses a source that yields something other than bytes', async () => {
    await expect(collect(replaceBodyFrames(['text' as unknown as Uint8Array]))).rejects.toMatchObject({ problem: 'body' });
  });
});
