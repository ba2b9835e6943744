import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isFile, pathExists } from '../../src/util/fs.ts';

describe('pathExists / isFile', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'zipbank-fs-'));
    await writeFile(path.join(dir, 'f.txt'), 'x');
    await mkdir(path.join(dir, 'sub'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('tells files, folders and missing paths apart', async () => {
    expect(await pathExists(path.join(dir, 'f.txt'))).toBe(true);
    expect(await pathExists(path.join(dir, 'sub'))).toBe(true);
    expect(await pathExists(path.join(dir, 'missing'))).toBe(false);
    expect(await isFile(path.join(dir, 'f.txt'))).toBe(true);
    expect(await isFile(path.join(dir, 'sub'))).toBe(false);
    expect(await isFile(path.join(dir, 'missing'))).toBe(false);
    // a path through a file is an error (ENOTDIR), not a crash
    expect(await pathExists(path.join(dir, 'f.txt', 'inner'))).toBe(false);
  });
});
