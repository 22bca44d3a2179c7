/**
 * `trxmail sends list|show`: per-send reports.
 *
 * Filters: --space, --tag (repeatable; every tag must be on the send), --from, --since,
 * --until; search (the store's SendFilter search terms, each combined with the others):
 * --recipient (any recipient, To/BCC/discarded, matched like list keys), --message-id (with or
 * without <>), --status (the To's), --reason (the To's bounce reason), --search TEXT (the id
 * from the 250 reply, a Message-ID or a recipient address). Paging: at most --limit rows (default DEFAULT_SENDS_LIMIT); when more sends match,
 * one line on stderr says so and gives the next page's command (`--before <last id>`, the
 * store's keyset cursor: nothing skipped or repeated when new sends arrive); stdout keeps
 * only the rows, so JSON and CSV stay whole. Dates are ISO 8601: `2026-11-22` (a whole day in UTC) or `2026-11-22T10:00:00Z`.
 * --since is inclusive; --until is exclusive for a date-time and covers the whole day for a
 * plain date (so `--since 2026-11-01 --until 2026-11-30` is all of November).
 *
 * Opens and clicks (Store.eventCounts): the table shows people's counts (OPENS, CLICKS); CSV
 * adds OPENS_MACHINE and CLICKS_MACHINE at the end, JSON a `counts` object (the JSON of a send
 * is src/reports/send-json.ts, CLI view). `sends show` prints the send's timeline
 * (src/reports/timeline.ts: accepted, BCC copy, suppressed with the list, deferred / delivered /
 * bounced with the remote server's reply, opened and clicked by a person or a machine (<why>)
 * with the URL and the user agent, complaints); --json adds `timeline` beside `events`.
 *
 * Throws UsageError: bad option values, an unknown space or send id.
 */
import { UsageError } from '../../lib/errors.js';
import { MAX_EVENT_COUNT_SENDS } from '../../lib/limits.js';
import { formatJson, type Column } from '../../lib/table.js';
import { BOUNCE_REASONS, type BounceReason } from '../../core/bounce-reason.js';
import { NO_EVENT_COUNTS, recipientState, sendJson } from '../../reports/send-json.js';
import { buildTimeline, timelineEntryJson, timelineLine } from '../../reports/timeline.js';
import type { EventCounts, Send, SendFilter, SendStatus, Store } from '../../store/store.js';
import type { Command } from 'commander';
import { outputFormat, render, type CliContext } from '../context.js';
import { collect, parseFilterOptions } from '../options.js';
import { merged } from '../../lib/merged.js';

/** Most rows one `sends list` prints unless --limit says otherwise. */
export const DEFAULT_SENDS_LIMIT = 100;
/** Upper bound for --limit. */
export const MAX_SENDS_LIMIT = 100_000;

function limitOption(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1 || Number(value) > MAX_SENDS_LIMIT) {
    throw new UsageError(`--limit: expected an integer from 1 to ${MAX_SENDS_LIMIT}, got "${value}"`);
  }
  return Number(value);
}

type SendRow = Send & { space: string; counts: EventCounts };

const SEND_COLUMNS: readonly Column<SendRow>[] = [
  { header: 'ID', value: (s) => s.id },
  { header: 'RECEIVED', value: (s) => s.receivedAt },
  { header: 'SPACE', value: (s) => s.space },
  { header: 'FROM', value: (s) => s.from },
  { header: 'TO', value: (s) => s.to },
  { header: 'TO_STATE', value: (s) => recipientState(s, 'to') ?? '' },
  { header: 'BCC', value: (s) => s.bcc },
  { header: 'BCC_STATE', value: (s) => recipientState(s, 'bcc') ?? '' },
  { header: 'DISCARDED', value: (s) => s.discarded },
  { header: 'FLAGS', value: (s) => s.flags },
  { header: 'TAGS', value: (s) => s.tags },
];

/** Table: people's opens and clicks before the tags. */
const TABLE_COLUMNS: readonly Column<SendRow>[] = [
  ...SEND_COLUMNS.slice(0, -1),
  { header: 'OPENS', value: (s) => s.counts.opened },
  { header: 'CLICKS', value: (s) => s.counts.clicked },
  ...SEND_COLUMNS.slice(-1),
];

/** CSV: the existing columns keep their places; the counts come last. */
const CSV_COLUMNS: readonly Column<SendRow>[] = [
  ...SEND_COLUMNS,
  { header: 'OPENS', value: (s) => s.counts.opened },
  { header: 'OPENS_MACHINE', value: (s) => s.counts.openedMachine },
  { header: 'CLICKS', value: (s) => s.counts.clicked },
  { header: 'CLICKS_MACHINE', value: (s) => s.counts.clickedMachine },
];

/** Event counts of many sends, MAX_EVENT_COUNT_SENDS at a time. */
async function countsOf(store: Store, ids: readonly string[]): Promise<Map<string, EventCounts>> {
  const out = new Map<string, EventCounts>();
  for (let i = 0; i < ids.length; i += MAX_EVENT_COUNT_SENDS) {
    const part = await store.eventCounts(ids.slice(i, i + MAX_EVENT_COUNT_SENDS));
    for (const [id, c] of Object.entries(part)) out.set(id, c);
  }
  return out;
}

function countText(human: number, machine: number): string {
  return machine > 0 ? `${human} (+${machine} machine)` : String(human);
}

const STATUSES: readonly SendStatus[] = ['queued', 'suppressed', 'delivered', 'deferred', 'bounced'];

function statusOption(value: string): SendStatus {
  const hit = STATUSES.find((x) => x === value);
  if (hit === undefined) throw new UsageError(`--status: expected one of ${STATUSES.join(', ')}, got "${value}"`);
  return hit;
}

function reasonOption(value: string): BounceReason {
  const hit = BOUNCE_REASONS.find((x) => x === value);
  if (hit === undefined) throw new UsageError(`--reason: expected one of ${BOUNCE_REASONS.join(', ')}, got "${value}"`);
  return hit;
}

/** The command line of the next page: this one's options with --before set to the last id shown. */
function nextPageCommand(command: Command, lastId: string): string {
  const args: string[] = ['trxmail', 'sends', 'list'];
  const quote = (v: string): string => (/^[\w@.:+=,/-]+$/.test(v) ? v : `'${v.replace(/'/g, `'\\''`)}'`);
  for (const option of command.options) {
    const key = option.attributeName();
    if (key === 'before') continue;
    const value: unknown = command.getOptionValue(key);
    const flag = option.long ?? '';
    if (value === undefined || command.getOptionValueSource(key) === 'default') continue;
    if (value === true) args.push(flag);
    else if (Array.isArray(value)) for (const v of value as unknown[]) args.push(flag, quote(typeof v === 'string' ? v : JSON.stringify(v)));
    else if (typeof value === 'string' || typeof value === 'number') args.push(flag, quote(String(value)));
  }
  args.push('--before', quote(lastId));
  return args.join(' ');
}

export function registerSendCommands(ctx: CliContext): void {
  const sends = ctx.program.command('sends').description('reports: one row per send');
  sends
    .command('list')
    .description('list sends, newest first')
    .option('-s, --space <name>', 'only this space')
    .option('-t, --tag <tag>', 'only sends carrying this tag (repeat: all must match)', collect)
    .option('-f, --from <address>', 'only sends from this From address')
    .option('--since <date>', 'received at or after (ISO date or date-time)')
    .option('--until <date>', 'received before (a plain date includes that whole day)')
    .option('-n, --limit <n>', `at most this many rows (default ${DEFAULT_SENDS_LIMIT}); when more match, stderr says how to get the next page`, limitOption)
    .option('--before <id>', 'the next page: only sends older than this send (the last id of the previous page)')
    .option('-r, --recipient <address>', 'search: sends with this recipient (To, BCC or discarded)')
    .option('--message-id <id>', 'search: the send of this Message-ID (with or without <>)')
    .option('--status <status>', `search: the To's status (${STATUSES.join(', ')})`, statusOption)
    .option('--reason <reason>', "search: the To's bounce reason (see bounce reasons)", reasonOption)
    .option('--search <text>', 'search: the id from the 250 reply, a Message-ID or a recipient address')
    .option('--json', 'print JSON')
    .option('--csv', 'print CSV')
    .action(
      async (
        o: {
          space?: string;
          tag?: string[];
          from?: string;
          since?: string;
          until?: string;
          limit?: number;
          before?: string;
          recipient?: string;
          messageId?: string;
          status?: SendStatus;
          reason?: BounceReason;
          search?: string;
          json?: boolean;
          csv?: boolean;
        },
        command: Command,
      ) => {
        const fmt = outputFormat(o);
        const limit = o.limit ?? DEFAULT_SENDS_LIMIT;
        // One row more than asked for tells whether another page exists.
        const filter: { -readonly [K in keyof SendFilter]: SendFilter[K] } = { limit: limit + 1, ...parseFilterOptions(o) };
        if (o.space !== undefined) filter.spaceId = (await ctx.space(o.space)).id;
        if (o.recipient !== undefined) filter.recipient = o.recipient;
        if (o.messageId !== undefined) filter.messageId = o.messageId;
        if (o.status !== undefined) filter.status = o.status;
        if (o.reason !== undefined) filter.reason = o.reason;
        if (o.search !== undefined) filter.text = o.search;
        const store = await ctx.getStore();
        if (o.before !== undefined) {
          const last = await store.getSend(o.before, filter.spaceId ?? null);
          if (!last) throw new UsageError(`--before: no send with id "${o.before}"${o.space === undefined ? '' : ` in space ${o.space}`}`);
          filter.before = { receivedAt: last.receivedAt, id: last.id };
        }
        const names = new Map((await store.listSpaces()).map((s) => [s.id, s.name]));
        const found = await store.listSends(filter);
        const sendsFound = found.slice(0, limit);
        const lastShown = sendsFound[sendsFound.length - 1];
        if (found.length > limit && lastShown) {
          ctx.io.stderr.write(
            `trxmail: stopped at the limit of ${limit} sends; more match. Next page: ${nextPageCommand(command, lastShown.id)}\n`,
          );
        }
        const counts = await countsOf(store, sendsFound.map((s) => s.id));
        const rows: SendRow[] = sendsFound.map((s) => merged(s, { space: names.get(s.spaceId) ?? String(s.spaceId), counts: counts.get(s.id) ?? NO_EVENT_COUNTS }));
        ctx.out(render(fmt, fmt === 'csv' ? CSV_COLUMNS : TABLE_COLUMNS, rows, (s) => sendJson(s, { view: 'cli', space: s.space, counts: s.counts })));
      },
    );
  sends
    .command('show <id>')
    .description('one send with its recipients and events')
    .option('--json', 'print JSON')
    .action(async (id: string, o: { json?: boolean }) => {
      const store = await ctx.getStore();
      const s = await store.getSend(id, null);
      if (!s) throw new UsageError(`no send with id "${id}"`);
      const space = (await store.getSpace(s.spaceId))?.name ?? String(s.spaceId);
      const events = await store.listEvents(id);
      const counts = (await store.eventCounts([id]))[id] ?? NO_EVENT_COUNTS;
      const timeline = buildTimeline(s, events);
      if (o.json) {
        ctx.out(formatJson(merged(sendJson(s, { view: 'cli', space, counts }), { events, timeline: timeline.map(timelineEntryJson) })));
        return;
      }
      const lines = [
        `id:          ${s.id}`,
        `space:       ${space}`,
        `received:    ${s.receivedAt.toISOString()}`,
        `message-id:  ${s.messageId ? `<${s.messageId}>` : '-'}`,
        `status:      ${s.status}`,
        ...(s.notQueued ? [`not queued:  ${s.notQueued.at.toISOString()} ${s.notQueued.reason}`] : []),
        `mail from:   ${s.mailFrom}`,
        `envelope:    ${s.envelopeSender}`,
        `from:        ${s.from}`,
        `to:          ${s.to}`,
        `bcc:         ${s.bcc ?? '-'}`,
        `discarded:   ${s.discarded.length ? s.discarded.join(', ') : '-'}`,
        `tags:        ${s.tags.length ? s.tags.join(', ') : '-'}`,
        `flags:       ${s.flags} (${s.flagsSource})`,
        `opens:       ${countText(counts.opened, counts.openedMachine)}`,
        `clicks:      ${countText(counts.clicked, counts.clickedMachine)}`,
        'recipients:',
        ...s.recipients.map(
          (r) =>
            `  ${r.role.padEnd(9)} ${r.address}  ${r.status}${r.reason ? ` [${r.reason}]` : ''}${r.suppressedBy ? ` (${r.suppressedBy} list)` : ''}` +
            `${r.detail ? `  ${r.detail}` : ''}`,
        ),
        'timeline:',
        ...timeline.map(timelineLine),
      ];
      // Control characters (from senders' messages, bounce details) must not reach the terminal.
      ctx.out(lines.map((l) => l.replace(/[\u0000-\u001f\u007f]/g, '?')).join('\n') + '\n');
    });
}
