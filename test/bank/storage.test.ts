import { describe, expect, it } from 'vitest';
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalFileStore, keyFor } from '../../src/bank/storage.ts';

const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

describe('LocalFileStore', () => {
  it('stores content-addressed files once, atomically, with no temp files left', async () => {
    const root = mkdtempSync(join(tmpdir(), 'zb-store-'));
    const store = new LocalFileStore(root);
    const src = join(root, '..', `src-${Date.now()}.bin`);
    writeFileSync(src, 'hello');
    const a = await store.putFile(src, 'loras', 'safetensors', sha('hello'));
    expect(a).toEqual({ key: keyFor('loras', sha('hello'), 'safetensors'), created: true, size: 5 });
    expect(a.key).toMatch(/^loras\/2c\/f2\/2cf24dba.*\.safetensors$/);
    const b = await store.putFile(src, 'loras', 'safetensors', sha('hello'));
    expect(b.created).toBe(false);
    expect((await store.read(a.key)).toString()).toBe('hello');
    const c = await store.putBuffer(Buffer.from('img'), 'images', 'png');
    expect(c.created).toBe(true);
    const keys: string[] = [];
    for await (const k of store.list()) keys.push(k);
    expect(keys.sort()).toEqual([a.key, c.key].sort());
    const all = readdirSync(root, { recursive: true }) as string[];
    expect(all.filter((f) => f.includes('.tmp-'))).toEqual([]);
    await store.delete(a.key);
    expect(await store.exists(a.key)).toBe(false);
  });

  it('refuses a source whose content does not match the announced hash, leaving nothing', async () => {
    const root = mkdtempSync(join(tmpdir(), 'zb-store-'));
    const store = new LocalFileStore(root);
    const src = join(root, '..', `src2-${Date.now()}.bin`);
    writeFileSync(src, 'abc');
    await expect(store.putFile(src, 'loras', 'safetensors', sha('xyz'))).rejects.toThrow(/changed while being stored/);
    const all = readdirSync(root, { recursive: true }) as string[];
    expect(all.filter((f) => /\.(tmp-|safetensors)/.test(f))).toEqual([]);
  });

  it.each(['../../etc/passwd', 'loras/../../x', 'loras/aa/bb/short.safetensors', `loras/aa/bb/${'a'.repeat(64)}.exe`])(
    'refuses the key %j (no user-controlled paths)',
    (key) => {
      const store = new LocalFileStore('/tmp/x');
      expect(() => store.localPath(key)).toThrow(/invalid key/);
    },
  );
});
