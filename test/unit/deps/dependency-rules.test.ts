/**
 * The dependency rules (.dependency-cruiser.cjs, run by `npm run deps` in `npm test`) catch
 * what they promise: a throw-away tree with one violation of each rule, cruised with the
 * project's own rule set, reports each rule by name; the project's tree itself reports none.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { cruise, type ICruiseResult, type IConfiguration } from 'dependency-cruiser';
import { afterAll, describe, expect, it } from 'vitest';

const require = createRequire(import.meta.url);
const config = require('../../../.dependency-cruiser.cjs') as IConfiguration;

const FILES: Record<string, string> = {
  'src/core/rule.ts': "import { helper } from '../lib/helper';\nimport { readFileSync } from 'node:fs';\nexport const rule = helper + String(readFileSync);\n",
  'src/lib/helper.ts': "import { feature } from '../milter/feature';\nexport const helper = feature;\n",
  'src/milter/feature.ts': 'export const feature = 1;\n',
  'src/mail/format.ts': "import { intake } from '../bounce/intake';\nexport const format = intake;\n",
  'src/bounce/intake.ts': 'export const intake = 2;\n',
  'src/store/sqlite/sends.ts': "import { url } from '../../webhooks/url';\nexport const sends = url;\n",
  'src/webhooks/url.ts': 'export const url = 3;\n',
  'src/cli/a.ts': "import { b } from './b';\nexport const a = () => b;\n",
  'src/cli/b.ts': "import { a } from './a';\nexport const b = () => a;\n",
  'src/http/page.ts': "import { seed } from '../../test/seed';\nexport const page = seed;\n",
  'test/seed.ts': 'export const seed = 4;\n',
};

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function violations(baseDir: string, files: string[]): Promise<string[]> {
  const result = await cruise(files, {
    ruleSet: { forbidden: config.forbidden ?? [] },
    validate: true,
    baseDir,
    tsPreCompilationDeps: true,
    doNotFollow: { path: 'node_modules' },
  }, { extensions: ['.ts', '.js'] });
  const out = result.output as ICruiseResult;
  return out.summary.violations.map((v) => `${v.rule.name} ${v.from} -> ${v.to}`);
}

describe('dependency rules', () => {
  it('name every broken rule in a tree built to break each one', async () => {
    const root = mkdtempSync(path.join(tmpdir(), 'trxmail-deps-'));
    dirs.push(root);
    for (const [file, text] of Object.entries(FILES)) {
      mkdirSync(path.dirname(path.join(root, file)), { recursive: true });
      writeFileSync(path.join(root, file), text);
    }
    const found = await violations(root, ['src']);
    expect(found).toEqual(
      expect.arrayContaining([
        'core-is-pure src/core/rule.ts -> src/lib/helper.ts',
        'core-no-node-builtins src/core/rule.ts -> fs',
        'lib-imports-no-feature src/lib/helper.ts -> src/milter/feature.ts',
        'mail-imports-no-feature src/mail/format.ts -> src/bounce/intake.ts',
        'store-sql-imports-no-feature src/store/sqlite/sends.ts -> src/webhooks/url.ts',
        'src-not-from-tests src/http/page.ts -> test/seed.ts',
      ]),
    );
    expect(found.some((v) => v.startsWith('no-circular src/cli/'))).toBe(true);
  });

  it('a tree that keeps the layers passes', async () => {
    const root = mkdtempSync(path.join(tmpdir(), 'trxmail-deps-'));
    dirs.push(root);
    const ok: Record<string, string> = {
      'src/core/rule.ts': "import { limit } from './limits';\nexport const rule = limit;\n",
      'src/core/limits.ts': 'export const limit = 1;\n',
      'src/lib/helper.ts': "import { limit } from '../core/limits';\nexport const helper = limit;\n",
      'src/mail/format.ts': "import { helper } from '../lib/helper';\nexport const format = helper;\n",
      'src/milter/feature.ts': "import { format } from '../mail/format';\nimport { rule } from '../core/rule';\nexport const feature = format + rule;\n",
    };
    for (const [file, text] of Object.entries(ok)) {
      mkdirSync(path.dirname(path.join(root, file)), { recursive: true });
      writeFileSync(path.join(root, file), text);
    }
    expect(await violations(root, ['src'])).toEqual([]);
  });
});
