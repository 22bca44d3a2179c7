/**
 * The text-bounce templates: each reads one family of bounce texts that carry no
 * machine-readable delivery-status part. Each takes the lines before the returned original
 * (text-collector.ts splitAtOriginal) and returns the recipients it read, or null when its
 * family's wording is absent or it read nobody. heuristics.ts tries them in order.
 *
 * Layouts (written after each system's documented or commonly observed format):
 *  - angle paragraphs (qmail QSBMF cr.yp.to/proto/qsbmf.txt and its look-alikes: GoDaddy,
 *    NetZero/Juno "I'm afraid I wasn't able to deliver", Yahoo's old "Message from yahoo.com";
 *    Postfix text bounces without a status part): one paragraph per recipient starting
 *    `<addr>:` (Postfix: `<addr> (expanded from <alias>):`), its reason after the colon and on
 *    the following, often indented, lines ("host mx[192.0.2.7] said: 550 5.1.1 … (in reply to
 *    RCPT TO command)", "Remote host said: 550: : User unknown").
 *  - Exim and GMX: after "The following address(es) failed:" (or the delay warning's "…has
 *    not yet been delivered…"), each address alone on a line (Exim: indented 1–3 spaces; GMX:
 *    not indented, `addr:`), its details on the following lines, also after a blank line.
 *  - Exchange 2007+ text: after "Diagnostic information for administrators:", an address line
 *    then `#550 5.1.1 RESOLVER… ##` or "Remote Server returned '550 …'".
 *  - Exchange 2000/2003 and Outlook: "did not reach the following recipient(s):" or "The
 *    following recipient(s) could not be reached:", then `addr on <date>` and indented details
 *    ending in `<mx.example.com #5.1.1>`.
 *  - Lotus Notes / Domino: "was not delivered to:" then the addresses, "because:" then why.
 *  - Zoho: `addr, ERROR_CODE :550, ERROR_CODE :<text>` (or "Invalid Address, ERROR_CODE :550"
 *    under the address line).
 *  - IMail: `Unknown user: addr`, `Delivery failed N attempts: addr`, "RCPT TO generated
 *    following response:" and the reply on the next line.
 *  - Sendmail (v5 and later transcripts): `550 <addr>... User unknown` and
 *    `>>> RCPT To:<addr>` followed by `<<< 550 …`.
 *  - Gmail text: "Delivery to the following recipient(s) failed permanently:" /
 *    "…has been delayed:" with indented addresses, or "Your message wasn't delivered to addr
 *    because …" / "There was a problem delivering your message to addr"; the reason after
 *    "Technical details of … failure:" / "The response from the remote server was:".
 *  - generic (only with a bounce marker): a line quoting an SMTP reply with an enhanced status
 *    code and an address on it (or alone on the line before).
 *
 * Pure: no I/O. Never throws. All regular expressions are linear and run per line.
 */
import { ANGLE_ADDR_RE, BARE_ADDR_RE, Collector, LONE_ADDRESS_RE, firstAddress, PERMANENT_RE, paragraphs, type TextBounce, type TextBounceOptions } from './text-collector.js';
import { statusFromText } from './dsn.js';

type Exclude = TextBounceOptions['exclude'];

const QMAIL_LIKE_RE = /\bqmail-send program\b|I'm afraid I wasn't able to deliver|I wasn't able to deliver your message|Sorry it didn't work out|I'm not going to try again|This is the (?:deliver|mail delivery agent|machine generated message) (?:program|at)\b/i;
const POSTFIX_TEXT_RE = /^\s*This is the mail system at host\b|^\s*The mail system\s*$|^\s*This is the Postfix program at host\b/i;
const ANGLE_ENTRY_RE = /^<([^\s<>@]+@[^\s<>@]+)>(?:\s*\(expanded from <[^<>]*>\))?\s*:\s*(.*)$/;

/** qmail, its look-alikes, Yahoo's old text and Postfix text bounces: `<addr>:` paragraphs. */
export function angleParagraphs(head: readonly string[], exclude: Exclude, markers: boolean): TextBounce | null {
  const text = head.join('\n');
  const qmailLike = QMAIL_LIKE_RE.test(text);
  const postfix = !qmailLike && head.some((l) => POSTFIX_TEXT_RE.test(l));
  if (!qmailLike && !postfix && !markers) return null;
  const permanent = PERMANENT_RE.test(text);
  const c = new Collector(exclude);
  const paras = paragraphs(head);
  for (let i = 0; i < paras.length; i++) {
    const para = paras[i] as string[];
    const m = ANGLE_ENTRY_RE.exec((para[0] as string).trim());
    if (m === null) continue;
    let detail = [m[2] as string, ...para.slice(1).map((l) => l.trim())].join(' ').trim();
    // "<addr>:" alone, its reason in the next paragraph (after a blank line)
    const next = paras[i + 1];
    if (detail === '' && next !== undefined && !ANGLE_ENTRY_RE.test((next[0] as string).trim())) detail = next.map((l) => l.trim()).join(' ');
    // a bare "<addr>:" with nothing after it is not a report (a quote)
    if (detail === '' && !qmailLike) continue;
    c.add(m[1] as string, 'failed', detail, permanent || postfix);
  }
  return c.result(qmailLike ? 'qmail' : postfix ? 'postfix' : 'angle');
}

const EXIM_START_RE = /This message was created automatically by mail delivery software|The following address(?:\(es\)|es)? failed|could not be delivered to one or more of its\s+recipients|has not yet been delivered to one or more of its/i;
const EXIM_LIST_RE = /address(?:\(es\)|es)? failed:?\s*$|not yet been delivered is:?\s*$|following recipients?:?\s*$|following address(?:\(es\)|es)?:?\s*$|failed:\s*$/i;
const DETAIL_HINT_RE = /^(?:SMTP error|host\s|retry|Mailbox|Unrouteable|all relevant MX|all hosts|\(generated|[245]\d\d[ -:]|Delay reason|reason:)/i;

/** Exim and GMX: entries alone on a line, details under them (also after a blank line). */
export function exim(head: readonly string[], exclude: Exclude): TextBounce | null {
  const start = head.findIndex((l) => EXIM_START_RE.test(l));
  if (start < 0) return null;
  const intro = head.join(' ');
  const delayed = /has not yet been delivered/i.test(intro) && !/could not be delivered/i.test(intro);
  const permanent = !delayed && PERMANENT_RE.test(intro);
  const listAt = head.findIndex((l, i) => i >= start && EXIM_LIST_RE.test(l));
  const entries: { address: string; details: string[] }[] = [];
  let open = false;
  let blank = false;
  for (const line of head.slice(listAt >= 0 ? listAt + 1 : start + 1)) {
    if (line.trim() === '') {
      blank = true;
      continue;
    }
    const indent = /^\s*/.exec(line)?.[0].length ?? 0;
    const entry = indent <= 3 ? LONE_ADDRESS_RE.exec(line.trim()) : null;
    if (entry !== null) {
      entries.push({ address: entry[1] as string, details: [] });
      open = true;
      blank = false;
      continue;
    }
    const last = entries[entries.length - 1];
    // details: indented, or right under the entry (GMX), or after a blank line when they look like details
    if (open && last !== undefined && (indent >= 4 || (!blank && last.details.length === 0) || (!blank && indent > 0) || DETAIL_HINT_RE.test(line.trim()))) {
      last.details.push(line.trim());
      blank = false;
      continue;
    }
    if (entries.length > 0) open = false;
    blank = false;
  }
  const c = new Collector(exclude);
  for (const e of entries) c.add(e.address, delayed ? 'delayed' : 'failed', e.details.join(' '), permanent);
  return c.result('exim');
}

/** The reply an Exchange diagnostic line quotes, or null. */
function exchangeReply(line: string): string | null {
  // "Remote Server returned '550 5.1.10 …'", "7/7/2026 3:58:12 PM - Server at X returned '550 …'"
  const quoted = /\breturned '([^]*)'$/i.exec(line);
  if (quoted !== null) return quoted[1] as string;
  // "#550 5.1.1 RESOLVER.ADR.RecipNotFound; not found ##"
  if (line.startsWith('#')) {
    let r = line.slice(1).trimEnd();
    while (r.endsWith('#')) r = r.slice(0, -1);
    return r.trim();
  }
  return null;
}

/** Exchange 2007+ and Office 365 text: the "Diagnostic information for administrators" section. */
export function exchange(head: readonly string[], exclude: Exclude): TextBounce | null {
  const start = head.findIndex((l) => /^\s*Diagnostic information for administrators:?\s*$/i.test(l));
  if (start < 0) return null;
  const c = new Collector(exclude);
  let address: string | null = null;
  for (const line of head.slice(start + 1)) {
    const t = line.trim();
    if (t === '' || /^(?:Generating|Receiving) server:/i.test(t)) continue;
    const alone = /^<?([^\s<>@]+@[^\s<>]+?)>?$/.exec(t);
    if (alone !== null) {
      address = alone[1] as string;
      continue;
    }
    if (address === null) continue;
    const reply = exchangeReply(t);
    if (reply !== null && statusFromText(reply) !== null) {
      c.add(address, 'failed', reply, false);
      address = null;
    }
  }
  return c.result('exchange');
}

const EXCHANGE_2003_START_RE = /did not reach the following recipient\(s\)|following recipient\(s\) (?:could|cannot|can not) (?:not )?be reached|could not be delivered to the following recipient\(s\)/i;
const EXCHANGE_2003_ENTRY_RE = /^\s*'?<?([^\s<>'@]+@[^\s<>']+?)>?'?\s+on\s+\S+/i;

/** Exchange 2000/2003 and Outlook: `addr on <date>` and indented details ending in `<mx #5.1.1>`. */
export function exchange2003(head: readonly string[], exclude: Exclude): TextBounce | null {
  const start = head.findIndex((l) => EXCHANGE_2003_START_RE.test(l));
  if (start < 0) return null;
  const entries: { address: string; details: string[] }[] = [];
  for (const line of head.slice(start + 1)) {
    if (line.trim() === '') continue;
    const entry = EXCHANGE_2003_ENTRY_RE.exec(line);
    if (entry !== null) {
      entries.push({ address: entry[1] as string, details: [] });
      continue;
    }
    entries[entries.length - 1]?.details.push(line.trim());
  }
  const c = new Collector(exclude);
  for (const e of entries) c.add(e.address, 'failed', e.details.join(' '), false);
  return c.result('exchange-2003');
}

/** Lotus Notes / Domino: "was not delivered to:" addresses, "because:" reason. */
export function lotus(head: readonly string[], exclude: Exclude): TextBounce | null {
  const start = head.findIndex((l) => /^\s*(?:was|were) not delivered to:?\s*$/i.test(l));
  if (start < 0) return null;
  const addresses: string[] = [];
  let i = start + 1;
  for (; i < head.length; i++) {
    const t = (head[i] as string).trim();
    if (/^because:?$/i.test(t)) break;
    const m = LONE_ADDRESS_RE.exec(t) ?? ANGLE_ADDR_RE.exec(t) ?? BARE_ADDR_RE.exec(t);
    if (m !== null) addresses.push(m[1] as string);
  }
  const reason: string[] = [];
  for (i++; i < head.length; i++) {
    const t = (head[i] as string).trim();
    if (t === '' && reason.length > 0) break;
    if (t !== '') reason.push(t);
  }
  const c = new Collector(exclude);
  const detail = reason.join(' ');
  for (const a of addresses) c.add(a, 'failed', detail, true);
  return c.result('lotus');
}

const ZOHO_RE = /ERROR_CODE\s*:\s*([245]\d\d)(?:\s*,\s*ERROR_CODE\s*:\s*(.*))?$/i;

/** Zoho: `addr, ERROR_CODE :550, ERROR_CODE :text` (the address on the line, or on the line above). */
export function zoho(head: readonly string[], exclude: Exclude): TextBounce | null {
  const c = new Collector(exclude);
  let previous = '';
  for (const line of head) {
    const m = ZOHO_RE.exec(line);
    if (m !== null) {
      const before = line.slice(0, m.index);
      const address = firstAddress(before, exclude) ?? firstAddress(previous, exclude);
      const label = before.replace(BARE_ADDR_RE, '').replace(/[<>,\s]+/g, ' ').trim();
      const detail = `${m[1] as string} ${(m[2] ?? '').trim()}${label === '' ? '' : ` (${label})`}`;
      if (address !== null) c.add(address, 'failed', detail, true);
    }
    if (line.trim() !== '') previous = line;
  }
  return c.result('zoho');
}

const IMAIL_ENTRY_RE = /^\s*(Unknown user|Unknown host|Mailbox full|User mailbox exceeds allowed size|Delivery failed(?: \d+ attempts)?|Relay denied|Invalid recipient|Unable to deliver to):?\s*<?([^\s<>@]+@[^\s<>]+?)>?\s*$/i;

/** IMail: `Unknown user: addr` and the reply after "… generated following response:". */
export function imail(head: readonly string[], exclude: Exclude): TextBounce | null {
  const entries: { address: string; details: string[] }[] = [];
  let expectReply = false;
  for (const line of head) {
    const t = line.trim();
    const m = IMAIL_ENTRY_RE.exec(t);
    if (m !== null) {
      entries.push({ address: m[2] as string, details: [m[1] as string] });
      continue;
    }
    if (/generated (?:the )?following response:?$/i.test(t)) {
      expectReply = true;
      continue;
    }
    if (expectReply && t !== '') {
      entries[entries.length - 1]?.details.push(t);
      expectReply = false;
    }
  }
  const c = new Collector(exclude);
  for (const e of entries) c.add(e.address, 'failed', e.details.reverse().join(' '), true);
  return c.result('imail');
}

const SENDMAIL_LINE_RE = /^\s*(?:<<<\s*)?([245]\d\d[ -](?:[245]\.\d{1,3}\.\d{1,3}\s+)?)<?([^\s<>@]+@[^\s<>]+?)>?\.\.\.\s*(.*)$/;

/** Sendmail transcripts (v5 and later): `550 <addr>... why`, or `>>> RCPT To:<addr>` then `<<< 550 why`. */
export function sendmail(head: readonly string[], exclude: Exclude): TextBounce | null {
  const shaped = (l: string): boolean => /Transcript of session follows|^\s*>>> RCPT To:/i.test(l) || (/^\s*[245]\d\d[ -]/.test(l) && l.includes('@') && l.includes('...'));
  if (!head.some(shaped)) return null;
  const c = new Collector(exclude);
  let rcpt: string | null = null;
  for (const line of head) {
    const m = SENDMAIL_LINE_RE.exec(line);
    if (m !== null) {
      c.add(m[2] as string, 'failed', line.trim().replace(/^<<<\s*/, ''), false);
      rcpt = null;
      continue;
    }
    const cmd = /^\s*>>>\s*RCPT To:\s*<([^<>\s]+)>/i.exec(line);
    if (cmd !== null) {
      rcpt = cmd[1] as string;
      continue;
    }
    const reply = /^\s*<<<\s*([245]\d\d[ -].*)$/.exec(line);
    if (reply !== null && rcpt !== null && !c.has(rcpt)) {
      const text = reply[1] as string;
      if (!text.startsWith('2')) c.add(rcpt, 'failed', text, false);
      rcpt = null;
    }
  }
  return c.result('sendmail');
}

const GMAIL_LIST_RE = /^\s*Delivery to the following recipients? (failed permanently|has been delayed|failed):?\s*$/i;
const GMAIL_ONE_RE = /(?:Your message wasn't delivered to|There was a problem delivering your message to|Your message couldn't be delivered to|Message not delivered to)\s+<?([^\s<>@]+@[^\s<>]+?)>?(?=[.,]?(?:\s|$))/i;
const GMAIL_DETAIL_RE = /^\s*(?:Technical details of (?:permanent|temporary) failure:|The (?:response from the remote server|error that the other server returned) was:|The response was:)/i;

/** Gmail text bounces (old and new wording). */
export function gmail(head: readonly string[], exclude: Exclude): TextBounce | null {
  const addresses: string[] = [];
  let delayed = false;
  let permanent = false;
  let inList = false;
  const detail: string[] = [];
  let inDetail = false;
  for (const line of head) {
    const list = GMAIL_LIST_RE.exec(line);
    if (list !== null) {
      inList = true;
      delayed = /delayed/i.test(list[1] as string);
      permanent = /permanently/i.test(list[1] as string);
      continue;
    }
    const one = GMAIL_ONE_RE.exec(line);
    if (one !== null) addresses.push(one[1] as string);
    if (inList) {
      const a = LONE_ADDRESS_RE.exec(line.trim());
      if (a !== null) addresses.push(a[1] as string);
      else if (line.trim() !== '') inList = false;
    }
    if (GMAIL_DETAIL_RE.test(line)) {
      inDetail = true;
      const rest = line.replace(GMAIL_DETAIL_RE, '').trim();
      if (rest !== '') detail.push(rest);
      continue;
    }
    if (inDetail && line.trim() !== '') detail.push(line.trim());
  }
  if (addresses.length === 0) return null;
  const text = detail.join(' ');
  const why = text === '' ? head.filter((l) => !GMAIL_LIST_RE.test(l)).join(' ') : text;
  const c = new Collector(exclude);
  for (const a of addresses) c.add(a, delayed ? 'delayed' : 'failed', why, permanent || /wasn't delivered|couldn't be delivered/i.test(head.join(' ')));
  return c.result('gmail');
}

const STATUS_LINE_RE = /(?<![\w.=/])(?:[245]\d\d[ -]#?[245]\.\d{1,3}\.\d{1,3}|\(#[245]\.\d{1,3}\.\d{1,3}\))(?![\d.])/;

/** Any line quoting an SMTP reply with an enhanced code, with an address on it or alone above it. */
export function generic(head: readonly string[], exclude: Exclude): TextBounce | null {
  const c = new Collector(exclude);
  let previous = '';
  for (const line of head) {
    if (line.trim() === '') continue;
    if (STATUS_LINE_RE.test(line)) {
      const before = /^\s*<?([^\s<>@]+@[^\s<>]+?)>?:?\s*$/.exec(previous);
      const address = firstAddress(line, exclude) ?? before?.[1] ?? null;
      if (address !== null) c.add(address, 'failed', line.trim(), false);
    }
    previous = line;
  }
  return c.result('generic');
}

/** The first SMTP-reply line of `head` ('' when none), for X-Failed-Recipients. */
export function firstReplyLine(head: readonly string[]): string {
  return head.find((l) => STATUS_LINE_RE.test(l)) ?? '';
}
