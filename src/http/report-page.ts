/**
 * The report page (issue 6, item 3): a small self-contained web page over the reports API
 * (reports-api.ts), served by the HTTP service (server.ts registers it with the API, at the
 * root and under basePath):
 *
 *   GET|HEAD /report            the page (text/html); the filter may be in the query
 *                               (since, until, from, tag, tag, by, limit), the page reads it
 *   GET|HEAD /report/app.js     its script (report-page/browser/app.js), text/javascript
 *   GET|HEAD /report/style.css  its style sheet (report-page/assets.ts), text/css
 *
 * The page itself carries no data and needs no password: the script asks the API, relative
 * to the page, and the API's 401 + `WWW-Authenticate: Basic` makes the browser ask for the
 * user's e-mail and password (the browser's own prompt; the password never passes through
 * page script and the browser resends it for the rest of the session). Closing the browser
 * signs out. The API's transport rule (loopback or TLS proxy) and throttling apply unchanged.
 *
 * Headers: the service's security headers (nosniff, no-referrer, noindex, no-store) stay;
 * the Content-Security-Policy of the three responses is REPORT_PAGE_CSP instead of "nothing":
 * scripts, styles and fetches from 'self' only, no inline script or style, no images, no
 * frames, no forms posted elsewhere. The chart is SVG elements built by the script, which
 * needs no CSP source.
 *
 * The script is a real browser source file, type-checked and linted as such, and served byte
 * for byte as written: read from beside this module when the page is registered (at start-up),
 * from src/ under tsx and the tests, from dist/ once built (`npm run build` copies it there).
 *
 * Throws InvariantError from registerReportPage when the script file is missing (a dist/
 * built without the copy step); the answers themselves are static.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { InvariantError } from '../lib/errors.js';
import { INDEX_HTML, STYLE_CSS } from './report-page/assets.js';

export const REPORT_PAGE_PATH = '/report';

/** The CSP of the page and its assets: 'self' scripts, styles and connections, nothing else. */
export const REPORT_PAGE_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/** The browser script, beside this module (src/http/ or dist/http/). */
export const REPORT_PAGE_SCRIPT_FILE = fileURLToPath(new URL('./report-page/browser/app.js', import.meta.url));

interface Asset {
  readonly path: string;
  readonly type: string;
  readonly body: Buffer;
}

let assets: readonly Asset[] | null = null;

/** The page, its script (read once) and its style sheet. */
function reportPageAssets(): readonly Asset[] {
  if (assets !== null) return assets;
  let script: Buffer;
  try {
    script = readFileSync(REPORT_PAGE_SCRIPT_FILE);
  } catch (err: unknown) {
    throw new InvariantError(`report page: cannot read its script ${REPORT_PAGE_SCRIPT_FILE} (a build without the copy step?)`, { cause: err });
  }
  assets = [
    { path: REPORT_PAGE_PATH, type: 'text/html; charset=utf-8', body: Buffer.from(INDEX_HTML, 'utf8') },
    { path: `${REPORT_PAGE_PATH}/app.js`, type: 'text/javascript; charset=utf-8', body: script },
    { path: `${REPORT_PAGE_PATH}/style.css`, type: 'text/css; charset=utf-8', body: Buffer.from(STYLE_CSS, 'utf8') },
  ];
  return assets;
}

/** Registers the page and its assets under each prefix ('' = the root). */
export function registerReportPage(app: FastifyInstance, prefixes: readonly string[]): void {
  const files = reportPageAssets();
  for (const prefix of prefixes) {
    for (const asset of files) {
      app.get(`${prefix}${asset.path}`, (_req, reply: FastifyReply) => {
        void reply.code(200).header('content-security-policy', REPORT_PAGE_CSP).type(asset.type).send(asset.body);
      });
    }
  }
}
