import { defineConfig } from 'vitest/config';

/**
 * Two projects:
 *  - fast:   everything that needs neither root nor Postfix nor a browser (unit, protocol
 *            transcripts, store contract, CLI, HTTP) — `npm run test:fast`;
 *  - system: real private Postfix instances (test/e2e/, root) and Debian's Chromium
 *            (test/browser/).
 * `npm test` runs both.
 */
const SYSTEM = ['test/e2e/**/*.test.ts', 'test/browser/**/*.test.ts'];

export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    projects: [
      { extends: true, test: { name: 'fast', include: ['test/**/*.test.ts'], exclude: SYSTEM } },
      { extends: true, test: { name: 'system', include: SYSTEM } },
    ],
  },
});
