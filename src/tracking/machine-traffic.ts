/**
 * Tells obvious machine traffic on the tracking endpoints apart from a person's open or click,
 * so reports count people (docs/architecture.md "The rules being enforced", Reports: opened / clicked). Pure: the HTTP
 * service passes the request's method, User-Agent and a few headers.
 *
 * A request is machine traffic, first match wins (the reason says which rule):
 *  1. `method:<M>` — any method but GET (link scanners check links with HEAD first).
 *  2. `prefetch` — a prefetch/preview hint: `Sec-Purpose: prefetch…`, `Purpose: prefetch`,
 *     `X-Purpose: preview|prefetch`, `X-Moz: prefetch`.
 *  3. `no-user-agent` — missing or blank User-Agent; browsers and mail clients always send one.
 *  4. `<category>:<name>` — the User-Agent matches MACHINE_USER_AGENTS below:
 *     - image-proxy: GoogleImageProxy (Gmail), YahooMailProxy (Yahoo/AOL). These proxies fetch
 *       and cache images for the mailbox owner: a fetch may follow a real open but may also be
 *       the proxy warming its cache, and later opens never reach us. Counted apart, as the
 *       product asks; the reason lets a report treat them differently.
 *     - link-scanner: security gateways that follow every link in delivered mail —
 *       Barracuda, Mimecast, Proofpoint, Microsoft Safe Links (BingPreview, "Microsoft Office
 *       Existence Discovery"), Symantec, Trend Micro, Cisco IronPort, Forcepoint, Sophos,
 *       Fortinet, Zscaler, FireEye/Trellix, Check Point, Palo Alto Networks, McAfee.
 *     - link-preview: chat/social unfurlers (facebookexternalhit, SkypeUriPreview; Slackbot,
 *       Twitterbot, Discordbot, TelegramBot, LinkedInBot are caught by the bot rule).
 *     - bot: a word ending in "bot" (Googlebot, bingbot, Slackbot…), "crawl", "spider". Not
 *       "Cubot" (an Android phone brand whose model names appear in real browsers' agents).
 *     - http-library: curl, Wget, python-requests, python-urllib, aiohttp, python-httpx,
 *       Go-http-client, Java, Apache-HttpClient, libwww-perl, node-fetch, axios, Scrapy.
 *     - headless-browser: HeadlessChrome, PhantomJS.
 *
 * Not detectable here: Apple Mail Privacy Protection loads every remote image through
 * Apple's proxy when the message arrives, with a generic agent ("Mozilla/5.0") that cannot
 * be told apart from a person by User-Agent (only by Apple's published egress IP ranges,
 * which trxmail does not record). Those opens count as a person's. Scanners that imitate a
 * browser's User-Agent are not caught either. The list errs towards not calling a person a
 * machine: plain Node fetch ("node"/"undici") is not on it.
 *
 * Limits: only the first MAX_USER_AGENT_LENGTH characters of the User-Agent are examined
 * (and stored). Throws nothing.
 */
import { MAX_USER_AGENT_LENGTH } from '../lib/limits.js';

export type MachineCategory = 'image-proxy' | 'link-scanner' | 'link-preview' | 'bot' | 'http-library' | 'headless-browser';

export interface MachineUserAgent {
  readonly category: MachineCategory;
  readonly name: string;
  readonly pattern: RegExp;
}

/** User-Agent patterns of known machine traffic, checked in order. */
export const MACHINE_USER_AGENTS: readonly MachineUserAgent[] = [
  { category: 'image-proxy', name: 'GoogleImageProxy', pattern: /GoogleImageProxy/i },
  { category: 'image-proxy', name: 'YahooMailProxy', pattern: /YahooMailProxy/i },
  { category: 'link-scanner', name: 'Barracuda', pattern: /Barracuda/i },
  { category: 'link-scanner', name: 'Mimecast', pattern: /Mimecast/i },
  { category: 'link-scanner', name: 'Proofpoint', pattern: /Proofpoint/i },
  { category: 'link-scanner', name: 'BingPreview', pattern: /BingPreview/i },
  { category: 'link-scanner', name: 'Microsoft Office Existence Discovery', pattern: /Existence Discovery/i },
  { category: 'link-scanner', name: 'Symantec', pattern: /Symantec/i },
  { category: 'link-scanner', name: 'Trend Micro', pattern: /Trend ?Micro/i },
  { category: 'link-scanner', name: 'IronPort', pattern: /IronPort/i },
  { category: 'link-scanner', name: 'Forcepoint', pattern: /Forcepoint/i },
  { category: 'link-scanner', name: 'Sophos', pattern: /Sophos/i },
  { category: 'link-scanner', name: 'Fortinet', pattern: /Forti(?:net|Guard)/i },
  { category: 'link-scanner', name: 'Zscaler', pattern: /Zscaler/i },
  { category: 'link-scanner', name: 'FireEye', pattern: /FireEye|Trellix/i },
  { category: 'link-scanner', name: 'Check Point', pattern: /Check ?Point/i },
  { category: 'link-scanner', name: 'Palo Alto Networks', pattern: /Palo ?Alto/i },
  { category: 'link-scanner', name: 'McAfee', pattern: /McAfee/i },
  { category: 'link-preview', name: 'facebookexternalhit', pattern: /facebookexternalhit/i },
  { category: 'link-preview', name: 'SkypeUriPreview', pattern: /SkypeUriPreview/i },
  { category: 'headless-browser', name: 'HeadlessChrome', pattern: /HeadlessChrome/i },
  { category: 'headless-browser', name: 'PhantomJS', pattern: /PhantomJS/i },
  { category: 'http-library', name: 'curl', pattern: /\bcurl\//i },
  { category: 'http-library', name: 'Wget', pattern: /\bWget\//i },
  { category: 'http-library', name: 'python-requests', pattern: /python-requests/i },
  { category: 'http-library', name: 'python-urllib', pattern: /Python-urllib/i },
  { category: 'http-library', name: 'aiohttp', pattern: /aiohttp/i },
  { category: 'http-library', name: 'python-httpx', pattern: /python-httpx/i },
  { category: 'http-library', name: 'Go-http-client', pattern: /Go-http-client/i },
  { category: 'http-library', name: 'Java', pattern: /^Java\//i },
  { category: 'http-library', name: 'Apache-HttpClient', pattern: /Apache-HttpClient/i },
  { category: 'http-library', name: 'libwww-perl', pattern: /libwww-perl/i },
  { category: 'http-library', name: 'node-fetch', pattern: /\bnode-fetch\b/i },
  { category: 'http-library', name: 'axios', pattern: /\baxios\//i },
  { category: 'http-library', name: 'Scrapy', pattern: /Scrapy/i },
  { category: 'bot', name: 'crawler', pattern: /crawl/i },
  { category: 'bot', name: 'spider', pattern: /spider/i },
  // "…bot" as the end of a word; Cubot phones are removed before this runs.
  { category: 'bot', name: 'bot', pattern: /bot(?![a-z])/i },
];

const CUBOT_RE = /cubot(?![a-z])/gi;

export interface RequestFacts {
  readonly method: string;
  readonly userAgent: string | null | undefined;
  /** Request headers, names in lower case (as Node gives them); only prefetch hints are read. */
  readonly headers?: Readonly<Record<string, string | readonly string[] | undefined>>;
}

export interface Classification {
  readonly machine: boolean;
  /** Which rule matched (see the module header), or null for a person. */
  readonly reason: string | null;
}

const PERSON: Classification = Object.freeze({ machine: false, reason: null });

function headerText(headers: RequestFacts['headers'], name: string): string {
  const v = headers?.[name];
  if (v === undefined) return '';
  return (typeof v === 'string' ? v : v.join(',')).slice(0, MAX_USER_AGENT_LENGTH).toLowerCase();
}

function isPrefetch(headers: RequestFacts['headers']): boolean {
  if (headers === undefined) return false;
  return (
    headerText(headers, 'sec-purpose').includes('prefetch') ||
    headerText(headers, 'purpose').includes('prefetch') ||
    /prefetch|preview/.test(headerText(headers, 'x-purpose')) ||
    headerText(headers, 'x-moz').includes('prefetch')
  );
}

/** The User-Agent as stored and examined: cut to MAX_USER_AGENT_LENGTH, '' when absent. */
export function truncateUserAgent(userAgent: string | null | undefined): string {
  return typeof userAgent === 'string' ? userAgent.slice(0, MAX_USER_AGENT_LENGTH) : '';
}

export function classifyRequest(req: RequestFacts): Classification {
  const method = typeof req.method === 'string' ? req.method.toUpperCase() : '';
  if (method !== 'GET') return { machine: true, reason: `method:${method.slice(0, 16) || '?'}` };
  if (isPrefetch(req.headers)) return { machine: true, reason: 'prefetch' };
  const ua = truncateUserAgent(req.userAgent);
  if (ua.trim() === '') return { machine: true, reason: 'no-user-agent' };
  const examined = ua.replace(CUBOT_RE, '');
  for (const entry of MACHINE_USER_AGENTS) {
    if (entry.pattern.test(examined)) return { machine: true, reason: `${entry.category}:${entry.name}` };
  }
  return PERSON;
}
