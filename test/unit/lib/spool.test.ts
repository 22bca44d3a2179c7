import { existsSync } from 'node:fs';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { RejectError } from '../../../src/lib/errors.js';
import { MAX_SPOOL_BYTES, SPOOL_MEMORY_BYTES } from '../../../src/lib/limits.js';
import { Spool } from '../../../src/lib/spool.js';

async function readAll(s: Spool): Promise<Buffer> {
  const out: Buffer[] = [];
  for await (const c of s.read()) out.push(c);
  return Buffer.concat(out);
}

describe('Spool', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'trx-spool-'));

  it('keeps up to the memory limit in memory', async () => {
    const s = new Spool(dir, 10);
    await s.write(Buffer.from('0123456789'));
    await s.end();
    expect(s.onDisk).toBe(false);
    expect((await readAll(s)).toString()).toBe('0123456789');
    await s.dispose();
  });

  it('copies a written chunk, unless the caller hands it over (owned)', async () => {
    const s = new Spool(dir, 100);
    const copied = Buffer.from('abc');
    const owned = Buffer.from('def');
    await s.write(copied);
    await s.write(owned, true);
    copied.write('xyz');
    owned.write('uvw');
    await s.end();
    // The copy kept the bytes as written; the owned chunk is the caller's memory itself.
    expect((await readAll(s)).toString()).toBe('abcuvw');
    await s.dispose();
  });

  it('spills one byte past it to a 0600 file, reads it back twice, and removes it on dispose', async () => {
    const s = new Spool(dir, 10);
    await s.write(Buffer.from('0123456789'));
    await s.write(Buffer.from('x'));
    await s.end();
    expect(s.onDisk).toBe(true);
    expect((await readAll(s)).toString()).toBe('0123456789x');
    expect((await readAll(s)).toString()).toBe('0123456789x');
    const file = (s as unknown as { filePath: string }).filePath;
    expect(existsSync(file)).toBe(true);
    await s.dispose();
    expect(existsSync(file)).toBe(false);
  });

  it('refuses one byte past the total cap with 552 5.3.4', async () => {
    const s = new Spool(dir, 4, 8);
    await s.write(Buffer.alloc(8));
    await expect(s.write(Buffer.alloc(1))).rejects.toSatisfy(
      (e: unknown) => e instanceof RejectError && e.reply.code === 552 && e.reply.enhanced === '5.3.4',
    );
    // The reply names the limit.
    await expect(s.write(Buffer.alloc(1))).rejects.toMatchObject({ reply: { text: 'Message size exceeds fixed limit of 8 bytes' } });
    await s.dispose();
  });

  it('has sane defaults', () => {
    expect(SPOOL_MEMORY_BYTES).toBe(1024 * 1024);
    expect(MAX_SPOOL_BYTES).toBeGreaterThan(10 * 1024 * 1024);
  });
});
