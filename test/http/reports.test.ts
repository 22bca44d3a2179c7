/**
 * Opens and clicks fetched over real HTTP show up in `trxmail sends list` (counts, machine
 * traffic apart) and `trxmail sends show` (timeline).
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TrackingLinks } from '../../src/tracking/links.js';
import { cli } from '../cli/helpers.js';
import { CHROME, KEYS, RCPT, SEND_ID, get, startHarness, type Harness } from './helpers.js';

const QUIET = 'quiet1';
const PROXY = 'Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)';

describe('opens and clicks in the reports', () => {
  let h: Harness;

  beforeAll(async () => {
    h = await startHarness({ sends: [SEND_ID, QUIET] });
    writeFileSync(path.join(h.dir, 'trxmail.yaml'), 'store:\n  path: trxmail.db\n');
    const links = new TrackingLinks(h.base, KEYS);
    const hit = async (ua: string, url: string, method = 'GET') => {
      expect((await get(url, { method, headers: { 'user-agent': ua } })).status).toBeLessThan(400);
    };
    await hit(PROXY, links.pixelUrl(SEND_ID, RCPT));
    await hit(CHROME, links.pixelUrl(SEND_ID, RCPT));
    await hit(CHROME, links.pixelUrl(SEND_ID, RCPT));
    await hit('Mozilla/5.0 (compatible; Mimecast URL Protect)', links.clickUrl(SEND_ID, RCPT, 'https://shop.example/a?x=1')!);
    await hit(CHROME, links.clickUrl(SEND_ID, RCPT, 'https://shop.example/a?x=1')!, 'HEAD');
    await hit(CHROME, links.clickUrl(SEND_ID, RCPT, 'https://shop.example/a?x=1')!);
  });
  afterAll(async () => {
    await h.close();
  });

  it('sends list: OPENS and CLICKS (people) in the table', async () => {
    const r = await cli(h.dir, ['sends', 'list']);
    expect(r.stderr).toBe('');
    const [header, ...rows] = r.stdout.trimEnd().split('\n');
    expect(header).toMatch(/ FLAGS +OPENS +CLICKS +TAGS$/);
    const row = rows.find((l) => l.startsWith(SEND_ID))!;
    expect(row).toMatch(/ 3 +2 +1 +t$/);
    expect(rows.find((l) => l.startsWith(QUIET))).toMatch(/ 3 +0 +0 +t$/);
  });

  it('sends list: machine counts too in CSV and JSON', async () => {
    const csv = (await cli(h.dir, ['sends', 'list', '--csv'])).stdout.trimEnd().split('\r\n');
    expect(csv[0]).toMatch(/,FLAGS,TAGS,OPENS,OPENS_MACHINE,CLICKS,CLICKS_MACHINE$/);
    expect(csv.find((l) => l.startsWith(SEND_ID))).toMatch(/,3,t,2,1,1,2$/);
    expect(csv.find((l) => l.startsWith(QUIET))).toMatch(/,3,t,0,0,0,0$/);
    const json = JSON.parse((await cli(h.dir, ['sends', 'list', '--json'])).stdout) as Array<{ id: string; counts: unknown }>;
    expect(json.find((s) => s.id === SEND_ID)?.counts).toEqual({
      opened: 2,
      openedMachine: 1,
      clicked: 1,
      clickedMachine: 2,
      uniqueOpened: true,
      uniqueClicked: true,
    });
  });

  it('sends show: a timeline saying person or machine (why), the URL and the user agent', async () => {
    const r = await cli(h.dir, ['sends', 'show', SEND_ID]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('opens:       2 (+1 machine)\n');
    expect(r.stdout).toContain('clicks:      1 (+2 machine)\n');
    const timeline = r.stdout.slice(r.stdout.indexOf('timeline:\n') + 'timeline:\n'.length).trimEnd().split('\n');
    // The accepted and BCC copy entries of the send record, then the six events.
    expect(timeline).toHaveLength(8);
    const rest = timeline.map((l) => l.replace(/^ {2}\d{4}-\d\d-\d\dT[\d:.]+Z {2}/, ''));
    expect(rest[0]).toMatch(new RegExp(`^accepted   ${RCPT} \\(to\\) {2}accepted as ${SEND_ID} from `));
    expect(rest[1]).toBe('bcc-copy   copy@example.org (bcc)  BCC copy, untracked');
    expect(rest.slice(2)).toEqual([
      `opened     ${RCPT} (to)  opened by a machine (image-proxy:GoogleImageProxy)  ua ${JSON.stringify(PROXY)}`,
      `opened     ${RCPT} (to)  opened by a person  ua ${JSON.stringify(CHROME)}`,
      `opened     ${RCPT} (to)  opened by a person  ua ${JSON.stringify(CHROME)}`,
      `clicked    ${RCPT} (to)  clicked by a machine (link-scanner:Mimecast)  https://shop.example/a?x=1  ua "Mozilla/5.0 (compatible; Mimecast URL Protect)"`,
      `clicked    ${RCPT} (to)  clicked by a machine (method:HEAD)  https://shop.example/a?x=1  ua ${JSON.stringify(CHROME)}`,
      `clicked    ${RCPT} (to)  clicked by a person  https://shop.example/a?x=1  ua ${JSON.stringify(CHROME)}`,
    ]);
    const j = JSON.parse((await cli(h.dir, ['sends', 'show', SEND_ID, '--json'])).stdout);
    expect(j.counts).toMatchObject({ opened: 2, clickedMachine: 2 });
    expect(j.events).toHaveLength(6);
    expect(j.timeline.map((e: { type: string; by?: string }) => `${e.type}:${e.by ?? '-'}`)).toEqual([
      'accepted:-', 'bcc-copy:-', 'opened:machine', 'opened:person', 'opened:person', 'clicked:machine', 'clicked:machine', 'clicked:person',
    ]);
  });
});
