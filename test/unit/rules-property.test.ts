/**
 * Property test of the rules through the real transform (fast-check, seeded: FC_SEED=<n> to
 * replay, FC_RUNS=<n> for more runs; the seed is printed on failure).
 *
 * For generated messages — random From/To/Cc/Bcc/Sender/X-Mxm-* combinations, display names
 * as atoms, quoted strings, encoded words and raw non-ASCII, groups, folding, junk — and a
 * random RCPT TO list that contains the To address, the rewritten message always has exactly
 * one From carrying the MAIL FROM address, at most one To (holding the To address), no Cc,
 * Bcc or X-Mxm-* field, and only CRLF line ends. Output headers are read back with a small
 * parser here, independent of production code.
 */
import fc from 'fast-check';
import libmime from 'libmime';
import { describe, expect, it } from 'vitest';
import { evaluate } from '../../src/core/evaluate.js';
import { rejectErrorFor } from '../../src/core/replies.js';
import type { Facts, HeaderField, Verdict } from '../../src/core/types.js';
import { rewriteMessage } from '../../src/transform/message-transform.js';

const SEED = Number(process.env.FC_SEED ?? 0x636f_7265);
const RUNS = Number(process.env.FC_RUNS ?? 300);

async function assertSeeded<T>(prop: fc.IAsyncProperty<T>): Promise<void> {
  try {
    await fc.assert(prop, { seed: SEED, numRuns: RUNS });
  } catch (err: unknown) {
    console.error(`rules property failed with seed ${SEED} (replay: FC_SEED=${SEED})`);
    throw err;
  }
}

// --- generators ---------------------------------------------------------------------------

const NAME_CHARS = ['a', 'B', 'z', ' ', ' ', ',', '<', '>', '"', '\\', '(', ')', ':', ';', '@', '.', 'é', 'ü', '日', '😀', '\t'];
const nameText = fc
  .array(fc.constantFrom(...NAME_CHARS), { minLength: 1, maxLength: 24 })
  .map((cs) => cs.join(''));

/** A display name as it might be written in a header. */
const displayArb: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom('Acme', 'John Q. Public', 'Jürgen Müller', 'Zoë', '[EXT] Bob'),
  nameText.map((t) => '"' + t.replace(/(["\\])/g, '\\$1') + '"'),
  fc.tuple(nameText, fc.constantFrom('Q', 'B')).map(([t, e]) => libmime.encodeWord(t, e, 20)),
  nameText.map((t) => `=?ISO-8859-1?Q?${t.replace(/[^A-Za-z]/g, '_')}=E9?=`),
  fc.string({ minLength: 1, maxLength: 1200, unit: fc.constantFrom('x', 'y', ' ') }).map((t) => `"${t}"`),
);

const domainArb = fc.constantFrom('example.org', 'Example.ORG', 'bücher.example', 'xn--bcher-kva.example', 'other.test');
const localArb = fc.constantFrom('bob', 'carol', 'dave', 'Bob', 'zoë', 'a.b', 'x+tag');
const addressArb = fc.tuple(localArb, domainArb).map(([l, d]) => `${l}@${d}`);

interface MailboxSpec {
  address: string;
  text: string;
}
const mailboxArb: fc.Arbitrary<MailboxSpec> = fc
  .tuple(addressArb, fc.option(displayArb, { nil: undefined }), fc.nat(3))
  .map(([address, display, style]) => {
    if (display !== undefined) return { address, text: `${display} <${address}>` };
    if (style === 0) return { address, text: `<${address}>` };
    if (style === 1) return { address, text: `${address} (comment)` };
    return { address, text: address };
  });

/** An address-list element: a mailbox or a group of mailboxes (possibly empty). */
type Item = { kind: 'mailbox'; mb: MailboxSpec } | { kind: 'group'; name: string; members: MailboxSpec[] };
const itemArb: fc.Arbitrary<Item> = fc.oneof(
  { weight: 3, arbitrary: mailboxArb.map((mb): Item => ({ kind: 'mailbox', mb })) },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.constantFrom('undisclosed-recipients', 'Team', '"A, B"'), fc.array(mailboxArb, { maxLength: 2 }))
      .map(([name, members]): Item => ({ kind: 'group', name, members })),
  },
);
const renderItems = (items: readonly Item[]): string =>
  items.map((i) => (i.kind === 'mailbox' ? i.mb.text : `${i.name}: ${i.members.map((m) => m.text).join(', ')};`)).join(', ');
const firstMailbox = (items: readonly Item[]): MailboxSpec | undefined => {
  for (const i of items) {
    if (i.kind === 'mailbox') return i.mb;
    if (i.members[0]) return i.members[0];
  }
  return undefined;
};

/** Fold at some spaces (CRLF before the space), as a client might. */
function fold(value: string, where: readonly number[]): string {
  let out = value;
  for (const w of where) {
    const spaces = [...out.matchAll(/ /g)].map((m) => m.index);
    const at = spaces.length > 0 ? spaces[w % spaces.length] : undefined;
    if (at !== undefined && at > 0 && out[at - 1] !== '\n') out = out.slice(0, at) + '\r\n' + out.slice(at);
  }
  return out;
}

/** Junk a sender might put in a header: no CR/LF (those would end the field). */
const junkArb = fc.string({ maxLength: 40 }).map((s) => s.replace(/[\r\n]/g, ' '));

const listValueArb = fc.oneof(
  { weight: 4, arbitrary: fc.array(itemArb, { maxLength: 3 }).map(renderItems) },
  { weight: 1, arbitrary: junkArb },
);

const mxmArb: fc.Arbitrary<[string, string]> = fc.oneof(
  fc.tuple(fc.constantFrom('X-Mxm-Tag', 'x-mxm-tag', 'X-MXM-TAG'), fc.constantFrom('a', 'a, b', ' ', '=?UTF-8?Q?R=C3=BCck?=', 'b,,c')),
  fc.tuple(fc.constantFrom('X-Mxm-Flags', 'x-mxm-flags'), fc.constantFrom('0', '3', ' 07 ', '15', '8')),
  fc.tuple(fc.constantFrom('X-Mxm-Other', 'X-MXM-Campaign'), junkArb),
);

interface Case {
  mailFrom: string;
  headers: [string, string][];
  rcptTo: string[];
  toAddress: string;
}

const caseArb: fc.Arbitrary<Case> = fc
  .record({
    mailFrom: fc.constantFrom('news@example.com', 'News@Example.com', 'jürgen@bücher.example', '"a b"@example.com'),
    firstTo: fc.array(itemArb, { minLength: 1, maxLength: 3 }).filter((items) => firstMailbox(items) !== undefined),
    froms: fc.array(listValueArb, { maxLength: 3 }),
    moreTos: fc.array(listValueArb, { maxLength: 2 }),
    ccs: fc.array(fc.tuple(fc.constantFrom('Cc', 'CC', 'Bcc', 'BCC', 'Sender'), listValueArb), { maxLength: 3 }),
    mxm: fc.array(mxmArb, { maxLength: 4 }),
    others: fc.array(fc.tuple(fc.constantFrom('Subject', 'Reply-To', 'X-Other'), junkArb), { maxLength: 3 }),
    folds: fc.array(fc.nat(50), { maxLength: 4 }),
    order: fc.array(fc.nat(), { minLength: 20, maxLength: 20 }),
    extraRcpts: fc.array(addressArb, { maxLength: 4 }),
    toAt: fc.nat(4),
  })
  .map((r): Case => {
    const to = firstMailbox(r.firstTo)!;
    const headers: [string, string][] = [
      ...r.froms.map((v): [string, string] => ['From', v]),
      ...r.moreTos.map((v): [string, string] => ['To', v]),
      ...r.ccs.map(([n, v]): [string, string] => [n, v]),
      ...r.mxm,
      ...r.others,
    ];
    // shuffle deterministically, then put the first To field before any other To
    const keyed = headers.map((h, i) => ({ h, k: r.order[i % r.order.length] ?? i }));
    keyed.sort((a, b) => a.k - b.k);
    const shuffled = keyed.map((x) => x.h);
    const firstToAt = Math.min(
      r.toAt,
      ...shuffled.map((h, i) => (h[0] === 'To' ? i : Infinity)),
      shuffled.length,
    );
    shuffled.splice(firstToAt, 0, ['To', renderItems(r.firstTo)]);
    const folded = shuffled.map(([n, v]): [string, string] => [n, fold(v, r.folds)]);
    const rcptTo = [...r.extraRcpts];
    rcptTo.splice(r.toAt % (rcptTo.length + 1), 0, to.address);
    return { mailFrom: r.mailFrom, headers: folded, rcptTo, toAddress: to.address };
  });

// --- helpers ------------------------------------------------------------------------------

function messageOf(headers: readonly [string, string][]): Buffer {
  const head = headers.map(([n, v]) => `${n}: ${v}\r\n`).join('');
  return Buffer.from(head + 'Subject: property\r\n\r\nbody line\r\n', 'utf8');
}

/** Unfolded `name`/`value` of each top-level field of `out`. */
function outputFields(out: Buffer): { name: string; value: string }[] {
  const s = out.toString('utf8');
  const end = s.indexOf('\r\n\r\n');
  const head = end < 0 ? s : s.slice(0, end + 2);
  const fields: { name: string; value: string }[] = [];
  for (const line of head.split('\r\n')) {
    if (line === '') continue;
    const last = fields[fields.length - 1];
    if ((line.startsWith(' ') || line.startsWith('\t')) && last) last.value += line;
    else {
      const colon = line.indexOf(':');
      fields.push({ name: line.slice(0, colon).trim(), value: line.slice(colon + 1) });
    }
  }
  return fields;
}

const space = { id: 1, name: 'p', domains: ['example.com', 'xn--bcher-kva.example'], allowSubdomains: false, defaultFlags: null };

describe('rules through the transform (property)', () => {
  it('one From with MAIL FROM, at most one To, no Cc/Bcc/X-Mxm-*', async () => {
    await assertSeeded(
      fc.asyncProperty(caseArb, async (c) => {
        let verdict: Verdict | undefined;
        const out = await rewriteMessage(messageOf(c.headers), {
          onHeaders(fields: readonly HeaderField[]) {
            const facts: Facts = {
              space,
              user: 'user@example.com',
              mailFrom: c.mailFrom,
              rcptTo: c.rcptTo,
              headers: fields,
              fromAddressFlags: null,
              suppression: {},
              bounceAddress: 'trx@bounce.test',
            };
            verdict = evaluate(facts);
            if (verdict.kind === 'reject') throw rejectErrorFor(verdict);
            return verdict.headerEdits;
          },
        });
        if (verdict?.kind !== 'accept') throw new Error('expected an acceptance');
        expect(verdict.from).toBe(c.mailFrom);
        const fields = outputFields(out);
        const named = (n: string): { name: string; value: string }[] =>
          fields.filter((f) => f.name.toLowerCase() === n);

        const froms = named('from');
        expect(froms).toHaveLength(1);
        const from = froms[0]!.value.trim();
        expect(from === c.mailFrom || from.endsWith(` <${c.mailFrom}>`) || from === `<${c.mailFrom}>`).toBe(true);
        // ASCII except the address itself (SMTPUTF8): display names were encoded
        expect(from.replace(c.mailFrom, '')).toMatch(/^[\x20-\x7e\t]*$/);

        const tos = named('to');
        expect(tos.length).toBeLessThanOrEqual(1);
        expect(tos[0]?.value).toContain(c.toAddress);
        for (const f of fields) {
          expect(['cc', 'bcc', 'sender']).not.toContain(f.name.toLowerCase());
          expect(f.name.toLowerCase().startsWith('x-mxm-')).toBe(false);
        }
        expect(/(?<!\r)\n|\r(?!\n)/.test(out.toString('latin1'))).toBe(false);
        expect(out.toString('latin1').endsWith('\r\n\r\nbody line\r\n')).toBe(true);
      }),
    );
  });
});
