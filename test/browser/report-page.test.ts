/**
 * The report page in a real headless Chromium (Debian's `chromium`, driven by playwright-core
 * with executablePath; never a downloaded browser). The HTTP service runs over a real SQLite
 * store seeded in two spaces (test/reports/seed.ts, hand counts in report.test.ts); the browser
 * signs in with HTTP Basic (httpCredentials answers the API's 401), applies tag filters and
 * must show the hand-counted numbers, one chart point per day and series, the right sends,
 * nothing of the other space, sender-supplied text as text, and no console error (a CSP
 * violation is one). Search: a send recorded with its Message-ID, deferred and then delivered
 * through Postfix's own log lines (the maillog follower's MaillogLines and the recorder, as in
 * production), is found by its recipient and its timeline shows the remote server's replies.
 * Saves screenshots to test/browser/out/report-page.png and report-page-timeline.png.
 *
 * Chromium missing: every test FAILS with the install command (never skipped).
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CredentialVerifier } from '../../src/auth/credentials.js';
import { HttpService } from '../../src/http/server.js';
import { MaillogLines } from '../../src/delivery/maillog-lines.js';
import { DeliveryRecorder } from '../../src/delivery/recorder.js';
import { silentLogger } from '../../src/lib/logger.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { recordingLogger, KEYS } from '../http/helpers.js';
import { PASSWORD_A, PASSWORD_B, seedReports, type Seeded } from '../reports/seed.js';
import { BOUNCE_DOMAIN, KEYS as BOUNCE_KEYS, bounceAddress } from '../unit/bounce/intake.helpers.js';

const CHROMIUM = '/usr/bin/chromium';
const INSTALL = 'apt-get install -y chromium';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const OUT = path.join(path.dirname(fileURLToPath(import.meta.url)), 'out');
const SCREENSHOT = path.join(OUT, 'report-page.png');
const TIMELINE_SCREENSHOT = path.join(OUT, 'report-page-timeline.png');
const BETA = { username: 'user@beta.example', password: PASSWORD_B };
// The searched send: its queue id, recipient and the remote server's replies in Postfix's log.
const FOUND_ID = '4fQ1wS0mT2zK7Lp';
const FOUND_TO = 'ann.search@example.net';
const GREYLISTED = '451 4.7.1 <ann.search@example.net>: Recipient address rejected: greylisted, try again in 300 s';
const ACCEPTED_REMOTE = '250 2.0.0 Ok: queued as 4Rmt9Xy';

// Hand counts (report.test.ts), in the page's metric order.
const METRICS = ['sends', 'delivered', 'deferred', 'bouncedHard', 'bouncedSoft', 'suppressedBounce', 'suppressedUnsubscribe', 'openedUnique', 'openedTotal', 'openedMachine', 'clickedUnique', 'clickedTotal', 'clickedMachine', 'complained'];
const TOTAL = [9, 3, 1, 1, 3, 1, 2, 4, 6, 5, 2, 4, 9, 2];
const PROMO = [4, 2, 0, 1, 1, 0, 1, 2, 4, 3, 2, 4, 9, 2];
const PROMO_SPRING = [2, 2, 0, 0, 1, 0, 0, 2, 4, 3, 2, 4, 9, 2];
const VIP = [2, 1, 0, 0, 1, 0, 0, 2, 1, 0, 1, 3, 2, 1];
const ALPHA = { username: 'user@alpha.example', password: PASSWORD_A };
const HOSTILE_TAG = '<img src=x onerror="document.title=1">';

const dir = mkdtempSync(path.join(tmpdir(), 'trx-browser-'));
let store: SqliteStore;
let seed: Seeded;
let service: HttpService;
let base = '';
const contexts: BrowserContext[] = [];
const problems: string[] = [];

/** A fresh browser with its own profile; `login` answers the API's Basic challenge. */
async function browserContext(login: { username: string; password: string }): Promise<BrowserContext> {
  // Each test FAILS (never skips) without the browser, saying how to install it.
  if (!existsSync(CHROMIUM)) throw new Error(`chromium is missing (${CHROMIUM}): install it with \`${INSTALL}\``);
  const profile = mkdtempSync(path.join(dir, 'profile-'));
  const ctx = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    args: ARGS,
    viewport: { width: 1200, height: 900 },
    httpCredentials: login,
  });
  contexts.push(ctx);
  ctx.on('page', (p) => watch(p));
  for (const p of ctx.pages()) watch(p);
  return ctx;
}

function watch(page: Page): void {
  page.on('console', (m) => {
    // The 401 the API answers before the browser sends the credentials is expected.
    if (m.type() === 'error' && !/status of 401/.test(m.text())) problems.push(`console: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  page.on('dialog', (d) => {
    problems.push(`dialog: ${d.message()}`);
    void d.dismiss();
  });
}

async function page(ctx: BrowserContext): Promise<Page> {
  return ctx.pages()[0] ?? (await ctx.newPage());
}

/** What the page function below uses of the browser's globals (the project has no DOM types). */
interface BrowserGlobals {
  document: { body: { getAttribute(name: string): string | null } };
}

/** Waits for load number `n` of the page to finish (body[data-loads]) and returns its state. */
async function loaded(p: Page, n: number): Promise<string> {
  // A function, not a string: the page's CSP forbids eval.
  await p.waitForFunction((k) => Number((globalThis as unknown as BrowserGlobals).document.body.getAttribute('data-loads')) >= k, n);
  return (await p.getAttribute('body', 'data-state')) ?? '';
}

async function numbers(p: Page): Promise<number[]> {
  return Promise.all(METRICS.map(async (m) => Number(await p.textContent(`#totals [data-metric="${m}"] .value`))));
}

/** One attribute of every element the selector finds, in document order. */
async function attrs(p: Page, selector: string, name: string): Promise<string[]> {
  return Promise.all((await p.locator(selector).all()).map(async (l) => (await l.getAttribute(name)) ?? ''));
}

async function sendIds(p: Page): Promise<string[]> {
  return attrs(p, '#sends tbody tr[data-id]', 'data-id');
}

/** Values of one chart series, per day, as drawn (circle data attributes). */
async function series(p: Page, name: string): Promise<[string, number][]> {
  const sel = `#chart svg g[data-series="${name}"] circle`;
  const [days, values] = await Promise.all([attrs(p, sel, 'data-day'), attrs(p, sel, 'data-value')]);
  return days.map((d, i) => [d, Number(values[i])]);
}

async function applyTags(p: Page, tags: string, n: number): Promise<void> {
  await p.fill('#tags', tags);
  await p.click('#apply');
  expect(await loaded(p, n)).toBe('ready');
}

beforeAll(async () => {
  store = SqliteStore.open(path.join(dir, 'trxmail.db'));
  seed = await seedReports(store);
  // A send with a hostile tag and addresses, a month after the hand-counted range.
  await store.recordSend({
    id: 'x1',
    spaceId: seed.alpha.id,
    userId: seed.userA.id,
    mailFrom: 'evil@shop.example',
    envelopeSender: 'trx-x1@bounce.example',
    from: '"<b>Boss</b>" <evil@shop.example>',
    to: '<script>alert(1)</script>@example.net',
    bcc: null,
    discarded: [],
    tags: [HOSTILE_TAG],
    flags: 3,
    flagsSource: 'default',
    receivedAt: new Date('2026-04-02T08:00:00Z'),
    recipients: [{ address: 'x@example.net', role: 'to', status: 'queued', suppressedBy: null, detail: null }],
  });
  // The searched send, in January (outside every range above), then Postfix's log lines for it
  // (rsyslog's RFC 3339 stamps: the events get the times of the lines).
  await store.recordSend({
    id: FOUND_ID,
    spaceId: seed.alpha.id,
    userId: seed.userA.id,
    mailFrom: 'news@shop.example',
    envelopeSender: bounceAddress(seed.alpha.id, FOUND_ID),
    from: 'news@shop.example',
    to: FOUND_TO,
    bcc: null,
    discarded: [],
    tags: ['welcome'],
    flags: 3,
    flagsSource: 'default',
    receivedAt: new Date('2026-01-10T08:00:00Z'),
    messageId: 'welcome.42@shop.example',
    recipients: [{ address: FOUND_TO, role: 'to', status: 'queued', suppressedBy: null, detail: null }],
  });
  const lines = new MaillogLines({ store, keys: BOUNCE_KEYS, bounceDomain: BOUNCE_DOMAIN, logger: silentLogger, clock: () => new Date('2026-01-10T08:10:00Z'), recorder: new DeliveryRecorder(store) });
  const smtp = (t: string, dsn: string, status: string, text: string): string =>
    `2026-01-10T${t}.000000+00:00 relay postfix/smtp[2846]: ${FOUND_ID}: to=<${FOUND_TO}>, relay=mx.example.net[192.0.2.7]:25, delay=1.2, delays=0.01/0.01/0.5/0.6, dsn=${dsn}, status=${status} (${text})`;
  for (const line of [
    `2026-01-10T08:00:01.000000+00:00 relay postfix/qmgr[2842]: ${FOUND_ID}: from=<${bounceAddress(seed.alpha.id, FOUND_ID)}>, size=2345, nrcpt=1 (queue active)`,
    smtp('08:00:02', '4.7.1', 'deferred', `host mx.example.net[192.0.2.7] said: ${GREYLISTED} (in reply to RCPT TO command)`),
    smtp('08:05:03', '2.0.0', 'sent', ACCEPTED_REMOTE),
  ]) {
    const done = await lines.handle(line);
    if (done.ignored !== null) throw new Error(`maillog line not recorded (${done.ignored}): ${line}`);
  }
  // An image proxy's open and a person's click (what the tracking endpoints record).
  await store.addEvent({ sendId: FOUND_ID, recipient: FOUND_TO, type: 'opened', at: new Date('2026-01-10T08:06:00Z'), detail: { machine: true, machineReason: 'image-proxy:GoogleImageProxy', userAgent: 'GoogleImageProxy' } });
  await store.addEvent({ sendId: FOUND_ID, recipient: FOUND_TO, type: 'clicked', at: new Date('2026-01-10T09:00:00Z'), detail: { url: 'https://shop.example/welcome', userAgent: 'Mozilla/5.0' } });
  service = new HttpService({ store, keys: KEYS, logger: recordingLogger(), basePath: '/mail', reports: { store, credentials: new CredentialVerifier(store) } });
  const { host, port } = await service.listen('127.0.0.1', 0);
  base = `http://${host}:${port}`;
  mkdirSync(OUT, { recursive: true });
});

afterAll(async () => {
  for (const ctx of contexts) await ctx.close();
  await service?.close();
  await store?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('the report page in headless Chromium', () => {
  it('loads, applies tag filters and shows the hand-counted numbers, the chart and the sends of its own space only', async () => {
    const ctx = await browserContext(ALPHA);
    const p = await page(ctx);
    const res = await p.goto(`${base}/mail/report?since=2026-03-01&until=2026-03-03`);
    expect(res?.status()).toBe(200);
    expect(await loaded(p, 1)).toBe('ready');
    // No filter but the dates: alpha's 9 sends of 1..3 March.
    expect(await numbers(p)).toEqual(TOTAL);
    expect(await sendIds(p)).toEqual(seed.alphaIdsNewestFirst.filter((id) => id !== 'a0' && id !== 'a9'));

    await applyTags(p, 'promo', 2);
    expect(await numbers(p)).toEqual(PROMO);
    expect(new URL(p.url()).searchParams.getAll('tag')).toEqual(['promo']);
    // Chart: 3 days × 5 series, one polyline per series. promo: a1 a2 (1 March), a5 (2), a6 (3).
    expect(await p.locator('#chart svg g.series').count()).toBe(5);
    expect(await p.locator('#chart svg polyline').count()).toBe(5);
    expect(await p.locator('#chart svg circle').count()).toBe(15);
    expect(await series(p, 'sends')).toEqual([['2026-03-01', 2], ['2026-03-02', 1], ['2026-03-03', 1]]);
    expect(await series(p, 'delivered')).toEqual([['2026-03-01', 1], ['2026-03-02', 0], ['2026-03-03', 1]]);
    expect(await series(p, 'opened')).toEqual([['2026-03-01', 1], ['2026-03-02', 0], ['2026-03-03', 1]]);
    expect(await series(p, 'clicked')).toEqual([['2026-03-01', 1], ['2026-03-02', 0], ['2026-03-03', 1]]);
    expect(await series(p, 'bounced')).toEqual([['2026-03-01', 1], ['2026-03-02', 0], ['2026-03-03', 1]]);
    expect(await sendIds(p)).toEqual(['a6', 'a5', 'a2', 'a1']);
    // Grouped by day: three day rows and the total.
    expect(await attrs(p, '#groups tbody tr', 'data-group')).toEqual(['day', 'day', 'day', 'total']);
    await p.screenshot({ path: SCREENSHOT, fullPage: true });

    // Nothing of beta (b1, b2 to r-b1@ / r-b2@; beta's promo total would be 2 sends, 5 opens).
    const html = await p.content();
    expect(html).not.toMatch(/r-b[12]@|"b[12]"|user@beta/);

    // Two tags: both must be on the send.
    await applyTags(p, 'promo, spring', 3);
    expect(await numbers(p)).toEqual(PROMO_SPRING);
    expect(await sendIds(p)).toEqual(['a6', 'a1']);
    expect(new URL(p.url()).searchParams.getAll('tag')).toEqual(['promo', 'spring']);

    // One day with sends only (vip: a6, a8 on 3 March): the other days are drawn as zeros.
    await applyTags(p, 'vip', 4);
    expect(await numbers(p)).toEqual(VIP);
    expect(await series(p, 'sends')).toEqual([['2026-03-01', 0], ['2026-03-02', 0], ['2026-03-03', 2]]);
    expect(problems).toEqual([]);
  });

  it('pages through the sends with the cursor, grouped by tag', async () => {
    const ctx = await browserContext(ALPHA);
    const p = await page(ctx);
    await p.goto(`${base}/report?since=2026-03-01&until=2026-03-03&by=tag&limit=4`);
    expect(await loaded(p, 1)).toBe('ready');
    const all = seed.alphaIdsNewestFirst.filter((id) => id !== 'a0' && id !== 'a9');
    expect(await sendIds(p)).toEqual(all.slice(0, 4));
    expect(await p.isDisabled('#prev')).toBe(true);
    await p.click('#next');
    expect(await loaded(p, 2)).toBe('ready');
    expect(await sendIds(p)).toEqual(all.slice(4, 8));
    await p.click('#next');
    expect(await loaded(p, 3)).toBe('ready');
    expect(await sendIds(p)).toEqual(all.slice(8));
    expect(await p.isDisabled('#next')).toBe(true);
    await p.click('#prev');
    expect(await loaded(p, 4)).toBe('ready');
    expect(await sendIds(p)).toEqual(all.slice(4, 8));
    expect(await p.locator('#groups tbody tr td:first-child').allTextContents()).toEqual(['promo', 'spring', 'vip', '(no tag)', 'Total']);
    expect(problems).toEqual([]);
  });

  it('shows sender-supplied text as text, never as markup', async () => {
    const ctx = await browserContext(ALPHA);
    const p = await page(ctx);
    await p.goto(`${base}/report?since=2026-04-01&until=2026-04-30`);
    expect(await loaded(p, 1)).toBe('ready');
    expect(await sendIds(p)).toEqual(['x1']);
    expect(await p.textContent('#sends tr[data-id="x1"] .tag')).toBe(HOSTILE_TAG);
    expect(await p.textContent('#sends tr[data-id="x1"] .to')).toBe('<script>alert(1)</script>@example.net');
    expect(await p.textContent('#sends tr[data-id="x1"] .from')).toBe('"<b>Boss</b>" <evil@shop.example>');
    expect(await p.locator('img, #sends b, #sends script').count()).toBe(0);
    expect(await p.title()).toBe('trxmail report');
    expect(problems).toEqual([]);
  });

  it('finds a send by its recipient and shows its timeline with the remote server\'s replies', async () => {
    const ctx = await browserContext(ALPHA);
    const p = await page(ctx);
    await p.goto(`${base}/mail/report?since=2026-03-01&until=2026-03-03`);
    expect(await loaded(p, 1)).toBe('ready');
    // The recipient in another case: addresses match like the lists (the date filter does not apply).
    await p.fill('#search', 'Ann.Search@EXAMPLE.net');
    await p.click('#find');
    expect(await loaded(p, 2)).toBe('ready');
    expect(await attrs(p, '#found tbody tr[data-id]', 'data-id')).toEqual([FOUND_ID]);
    expect(await p.textContent('#found tr[data-id] .state')).toBe('delivered');
    await p.click(`#found tr[data-id="${FOUND_ID}"]`);
    expect(await loaded(p, 3)).toBe('ready');
    expect(await attrs(p, '#timeline li', 'data-type')).toEqual(['accepted', 'deferred', 'delivered', 'opened', 'clicked']);
    const summaries = await p.locator('#timeline li .summary').allTextContents();
    expect(summaries[0]).toBe(`accepted as ${FOUND_ID} from news@shop.example, Message-ID <welcome.42@shop.example>`);
    // The remote server's replies, as Postfix logged them.
    expect(summaries[1]).toContain(GREYLISTED);
    expect(summaries[2]).toBe(`delivered via mx.example.net[192.0.2.7]:25: ${ACCEPTED_REMOTE}`);
    expect(await attrs(p, '#timeline li', 'data-by')).toEqual(['', '', '', 'machine', 'person']);
    expect(await p.textContent('#detail-title')).toBe(`Timeline of ${FOUND_ID} to ${FOUND_TO}`);
    await p.screenshot({ path: TIMELINE_SCREENSHOT, fullPage: true });

    // By Message-ID (brackets and all) and by the id from the 250 reply.
    await p.fill('#search', '<welcome.42@shop.example>');
    await p.click('#find');
    expect(await loaded(p, 4)).toBe('ready');
    expect(await attrs(p, '#found tbody tr[data-id]', 'data-id')).toEqual([FOUND_ID]);
    // A send of the list below opens its timeline too: a1, with machines' opens shown apart.
    await p.click('#sends tr[data-id="a1"]');
    expect(await loaded(p, 5)).toBe('ready');
    expect(await p.getAttribute('#detail', 'data-id')).toBe('a1');
    expect(await p.textContent('#sends tr[data-id="a1"] td:nth-child(7)')).toBe('4+3 machine');
    expect(problems).toEqual([]);
  });

  it('search never finds another space\'s send', async () => {
    const ctx = await browserContext(BETA);
    const p = await page(ctx);
    await p.goto(`${base}/report?since=2026-03-01&until=2026-03-03`);
    expect(await loaded(p, 1)).toBe('ready');
    for (const [n, text] of [[2, FOUND_TO], [3, FOUND_ID], [4, 'r-a1@example.net']] as const) {
      await p.fill('#search', text);
      await p.click('#find');
      expect(await loaded(p, n)).toBe('ready');
      expect(await attrs(p, '#found tbody tr[data-id]', 'data-id')).toEqual([]);
      expect(await p.textContent('#found tbody')).toBe(`No send found for "${text}".`);
    }
    expect(problems).toEqual([]);
  });

  it('with a wrong password: the API refuses and the page says how to sign in, showing no numbers', async () => {
    // Playwright answers the first challenge, then cancels: the page gets the 401 (an unknown
    // login, so the throttle of user@alpha.example is not touched).
    const ctx = await browserContext({ username: 'nobody@alpha.example', password: 'wrong' });
    const p = await page(ctx);
    await p.goto(`${base}/report?since=2026-03-01&until=2026-03-03`);
    expect(await loaded(p, 1)).toBe('error');
    expect(await p.textContent('#status')).toMatch(/^Not signed in: wrong e-mail or password\. Reload the page/);
    expect(await numbers(p)).toEqual(METRICS.map(() => 0));
    expect(await sendIds(p)).toEqual([]);
  });
});
