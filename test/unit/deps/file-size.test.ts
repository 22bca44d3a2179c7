/**
 * The structure rule "no file in src/ has more than MAX_SOURCE_FILE_LINES lines" (docs/architecture.md,
 * Layers): checked here so that a merge that grows a module past it fails npm test.
 */
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const MAX_SOURCE_FILE_LINES = 500;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? sourceFiles(p) : /\.(ts|js)$/.test(e.name) ? [p] : [];
  });
}

describe('source file size', () => {
  it(`no file in src/ has more than ${MAX_SOURCE_FILE_LINES} lines`, () => {
    const files = sourceFiles(path.resolve('src'));
    expect(files.length).toBeGreaterThan(100);
    const over = files
      .map((f) => ({ file: path.relative(process.cwd(), f), lines: readFileSync(f, 'utf8').split('\n').length - 1 }))
      .filter((f) => f.lines > MAX_SOURCE_FILE_LINES);
    expect(over).toEqual([]);
  });
});
