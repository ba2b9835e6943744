import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { main } from '../../../src/cli/main.ts';

async function run(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, { out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

describe('zipbank world (CLI)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'zb-world-'));

  it('samples a grid and prints one caption per scene', async () => {
    const file = join(dir, 'grid.png');
    const r = await run('world', 'sample', '--count', '6', '--seed', '10', '--instance', 'corgi', '--token', 'sks', '--style', 'watercolor', '--context', 'beach', '--out', file);
    expect(r.code).toBe(0);
    const lines = r.out.split('\n');
    expect(lines).toHaveLength(6);
    expect(lines[0]).toBe('10  a sks dog on the beach, watercolor painting');
    expect(lines[5]).toMatch(/^15 {2}a sks dog on the beach, watercolor painting$/);
    const meta = await sharp(file).metadata();
    expect([meta.width, meta.height]).toEqual([3 * 64 + 2 * 2, 2 * 64 + 2]);
  });

  it('lists classes, instances, generic and held-out styles, contexts', async () => {
    const r = await run('world', 'list');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^classes:\n {2}dog/m);
    expect(r.out).toMatch(/corgi +dog +an orange dog/);
    expect(r.out).toMatch(/styles, generic[^\n]*\n(.*\n)* {2}flat/);
    expect(r.out).toMatch(/styles, held out[^\n]*\n {2}watercolor/);
    expect(r.out).toMatch(/contexts:\n {2}beach +"on the beach"/);
  });

  it('refuses unknown ids with the valid ones, and usage errors', async () => {
    const bad = await run('world', 'sample', '--style', 'cubism', '--out', join(dir, 'x.png'));
    expect(bad.code).toBe(1);
    expect(bad.err).toMatch(/unknown style "cubism".*watercolor/);
    expect((await run('world', 'sample', '--count', '2')).err).toMatch(/--out <grid.png> is required/);
    expect((await run('world', 'sample', '--split', 'test', '--out', join(dir, 'y.png'))).code).toBe(2);
    expect((await run('world', 'nope')).err).toMatch(/unknown subcommand "nope"/);
  });

  it('writes the preview grids', async () => {
    const r = await run('world', 'previews', '--out', join(dir, 'previews'), '--size', '32');
    expect(r.code).toBe(0);
    for (const name of ['styles', 'classes', 'contexts', 'instances']) {
      const meta = await sharp(join(dir, 'previews', `${name}.png`)).metadata();
      expect(meta.width, name).toBeGreaterThan(100);
    }
  });
});
