import { describe, expect, it } from 'vitest';
import { MAX_USER_AGENT_LENGTH } from '../../../src/lib/limits.js';
import { MACHINE_USER_AGENTS, classifyRequest, truncateUserAgent } from '../../../src/tracking/machine-traffic.js';

const CHROME = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36';

// Real-world shaped agents of machines, with the reason each must get.
const MACHINES: Array<[string, string]> = [
  ['Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)', 'image-proxy:GoogleImageProxy'],
  ['YahooMailProxy; https://help.yahoo.com/kb/yahoo-mail-proxy-SLN28749.html', 'image-proxy:YahooMailProxy'],
  ['Mozilla/5.0 (compatible; Barracuda Sentinel (EE))', 'link-scanner:Barracuda'],
  ['Mozilla/5.0 (compatible; Mimecast URL Protect)', 'link-scanner:Mimecast'],
  ['Proofpoint URL Defense/1.0', 'link-scanner:Proofpoint'],
  [
    'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/100.0.4896.127 Safari/537.36 Edg/100.0.1185.50 BingPreview/1.0b',
    'link-scanner:BingPreview',
  ],
  ['Microsoft Office Existence Discovery', 'link-scanner:Microsoft Office Existence Discovery'],
  ['Symantec Email Security.cloud Link Following', 'link-scanner:Symantec'],
  ['TrendMicro Cloud App Security', 'link-scanner:Trend Micro'],
  ['Trend Micro Email Security', 'link-scanner:Trend Micro'],
  ['Cisco IronPort Web Security Appliance', 'link-scanner:IronPort'],
  ['Forcepoint Email Security', 'link-scanner:Forcepoint'],
  ['Sophos Email Time-of-Click', 'link-scanner:Sophos'],
  ['FortiGuard URL scanner', 'link-scanner:Fortinet'],
  ['Zscaler Sandbox', 'link-scanner:Zscaler'],
  ['FireEye ETP', 'link-scanner:FireEye'],
  ['Trellix Email Security', 'link-scanner:FireEye'],
  ['Check Point Harmony Email', 'link-scanner:Check Point'],
  ['Palo Alto Networks URL Filtering', 'link-scanner:Palo Alto Networks'],
  ['McAfee Web Gateway', 'link-scanner:McAfee'],
  ['facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)', 'link-preview:facebookexternalhit'],
  ['Mozilla/5.0 (Windows NT 6.1; WOW64) SkypeUriPreview Preview/0.5', 'link-preview:SkypeUriPreview'],
  ['Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)', 'bot:bot'],
  ['Twitterbot/1.0', 'bot:bot'],
  ['Mozilla/5.0 (compatible; Discordbot/2.0; +https://discordapp.com)', 'bot:bot'],
  ['TelegramBot (like TwitterBot)', 'bot:bot'],
  ['LinkedInBot/1.0 (compatible; Mozilla/5.0; Apache-HttpClient +http://www.linkedin.com)', 'http-library:Apache-HttpClient'],
  ['Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)', 'bot:bot'],
  ['Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)', 'bot:bot'],
  ['Mozilla/5.0 (compatible; Baiduspider/2.0; +http://www.baidu.com/search/spider.html)', 'bot:spider'],
  ['SomeCrawler/3.1', 'bot:crawler'],
  ['curl/8.5.0', 'http-library:curl'],
  ['Wget/1.21.4', 'http-library:Wget'],
  ['python-requests/2.32.3', 'http-library:python-requests'],
  ['Python-urllib/3.12', 'http-library:python-urllib'],
  ['Python/3.12 aiohttp/3.9.5', 'http-library:aiohttp'],
  ['python-httpx/0.27.0', 'http-library:python-httpx'],
  ['Go-http-client/2.0', 'http-library:Go-http-client'],
  ['Java/17.0.2', 'http-library:Java'],
  ['Apache-HttpClient/4.5.14 (Java/17.0.2)', 'http-library:Apache-HttpClient'],
  ['libwww-perl/6.72', 'http-library:libwww-perl'],
  ['node-fetch/1.0 (+https://github.com/bitinn/node-fetch)', 'http-library:node-fetch'],
  ['axios/1.7.2', 'http-library:axios'],
  ['Scrapy/2.11.2 (+https://scrapy.org)', 'http-library:Scrapy'],
  [
    'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/126.0.6478.126 Safari/537.36',
    'headless-browser:HeadlessChrome',
  ],
  ['Mozilla/5.0 (Unknown; Linux x86_64) AppleWebKit/538.1 (KHTML, like Gecko) PhantomJS/2.1.1 Safari/538.1', 'headless-browser:PhantomJS'],
];

// People: browsers and mail clients, including ones with machine-looking words nearby.
const PEOPLE: string[] = [
  CHROME,
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 14.5; rv:127.0) Gecko/20100101 Firefox/127.0',
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1',
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko)', // Apple Mail
  'Mozilla/5.0', // Apple Mail Privacy Protection: indistinguishable, counted as a person (documented)
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:115.0) Gecko/20100101 Thunderbird/115.12.0',
  'Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.17726; Pro)',
  'Mozilla/5.0 (Linux; Android 10; CUBOT_X30) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Mobile Safari/537.36',
  'Mozilla/5.0 (Linux; Android 11; Cubot P50) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36',
  'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.6478.122 Mobile Safari/537.36',
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36 Edg/126.0.0.0',
  'node', // Node's built-in fetch: deliberately not on the list
  'undici',
];

describe('classifyRequest', () => {
  it.each(MACHINES)('marks %j as machine traffic', (ua, reason) => {
    expect(classifyRequest({ method: 'GET', userAgent: ua })).toEqual({ machine: true, reason });
  });

  it.each(PEOPLE)('counts %j as a person', (ua) => {
    expect(classifyRequest({ method: 'GET', userAgent: ua })).toEqual({ machine: false, reason: null });
  });

  it('has a sample above for every entry of the documented list', () => {
    const reasons = new Set(MACHINES.map(([, r]) => r));
    for (const e of MACHINE_USER_AGENTS) {
      if (e.name === 'bot' || reasons.has(`${e.category}:${e.name}`)) continue;
      throw new Error(`no sample for ${e.category}:${e.name}`);
    }
  });

  it.each([
    ['HEAD', 'method:HEAD'],
    ['head', 'method:HEAD'],
    ['POST', 'method:POST'],
    ['OPTIONS', 'method:OPTIONS'],
  ])('marks method %s as machine traffic even from a browser', (method, reason) => {
    expect(classifyRequest({ method, userAgent: CHROME })).toEqual({ machine: true, reason });
  });

  it.each([undefined, null, '', '   ', '\t'])('marks a missing or blank User-Agent (%j) as machine traffic', (ua) => {
    expect(classifyRequest({ method: 'GET', userAgent: ua })).toEqual({ machine: true, reason: 'no-user-agent' });
  });

  it.each([
    [{ 'sec-purpose': 'prefetch;prerender' }],
    [{ purpose: 'prefetch' }],
    [{ 'x-purpose': 'preview' }],
    [{ 'x-purpose': 'Prefetch' }],
    [{ 'x-moz': 'prefetch' }],
    [{ 'sec-purpose': ['prefetch'] }],
  ])('marks a prefetch hint %j as machine traffic', (headers) => {
    expect(classifyRequest({ method: 'GET', userAgent: CHROME, headers })).toEqual({ machine: true, reason: 'prefetch' });
  });

  it('ignores unrelated headers', () => {
    expect(classifyRequest({ method: 'GET', userAgent: CHROME, headers: { accept: 'image/*', purpose: 'other' } }).machine).toBe(false);
  });

  it(`MAX_USER_AGENT_LENGTH: only the first ${MAX_USER_AGENT_LENGTH} characters are examined and kept`, () => {
    const pad = 'x'.repeat(MAX_USER_AGENT_LENGTH - ' curl/8'.length) + ' ';
    expect(classifyRequest({ method: 'GET', userAgent: pad + 'curl/8' }).reason).toBe('http-library:curl');
    expect(classifyRequest({ method: 'GET', userAgent: 'xx' + pad + 'curl/8' }).machine).toBe(false);
    expect(truncateUserAgent('a'.repeat(MAX_USER_AGENT_LENGTH + 1))).toHaveLength(MAX_USER_AGENT_LENGTH);
    expect(truncateUserAgent(undefined)).toBe('');
  });
});
