import { describe, expect, it } from 'vitest';
import { mkdtempSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  SafetensorsFile,
  encodeSafetensors,
  hashSafetensors,
  readSafetensorsHeader,
} from '../../../src/engine/weights/safetensors.ts';
import { fromFloat32, toFloat32, floatToHalf, halfToFloat } from '../../../src/engine/weights/dtype.ts';
import { isZipbankError } from '../../../src/errors/index.ts';
import { fixture } from '../../support/paths.ts';
import { writeBadFiles } from '../../support/badfiles.ts';

describe('safetensors header validation', () => {
  const realFiles = readdirSync(fixture('lora'));

  it.each(realFiles)('parses the real file %s', async (name) => {
    const h = await readSafetensorsHeader(fixture('lora', name));
    expect(h.tensors.length).toBeGreaterThan(0);
    expect(h.size).toBe(statSync(fixture('lora', name)).size);
    // tensors tile the data area exactly
    expect(h.tensors[0]!.begin).toBe(h.dataOffset);
    expect(h.tensors[h.tensors.length - 1]!.end).toBe(h.size);
  });

  it('reads metadata of a kohya file', async () => {
    const h = await readSafetensorsHeader(fixture('lora', 'sd1_kohya-lycoris-lokr_dim4_smart_falcon.safetensors'));
    expect(h.metadata.ss_network_module).toBeDefined();
  });

  it.each(writeBadFiles())('refuses $name with $code', async ({ file, code, says }) => {
    const err = await readSafetensorsHeader(file).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isZipbankError(err)).toBe(true);
    expect((err as { code: string }).code).toBe(code);
    expect((err as Error).message).toContain(says);
  });

  it('names the file and a missing path clearly', async () => {
    await expect(readSafetensorsHeader('/nonexistent/x.safetensors')).rejects.toThrow(/cannot read x\.safetensors: ENOENT/);
  });
});

describe('safetensors hashing', () => {
  it('hashes the whole file and the data area, in bounded chunks', async () => {
    const path = fixture('lora', 'sd15_diffusers-attnproc_catundchat.safetensors');
    const h = await readSafetensorsHeader(path);
    const hashes = await hashSafetensors(h);
    const bytes = await import('node:fs/promises').then((m) => m.readFile(path));
    expect(hashes.sha256).toBe(createHash('sha256').update(bytes).digest('hex'));
    expect(hashes.tensorSha256).toBe(createHash('sha256').update(bytes.subarray(h.dataOffset)).digest('hex'));
  });

  it('gives the same tensor hash when only metadata changes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'zipbank-st-'));
    const t = [{ name: 'a', dtype: 'F32' as const, shape: [3], data: fromFloat32(new Float32Array([1, 2, 3]), 'F32') }];
    writeFileSync(join(dir, 'a.safetensors'), encodeSafetensors(t, { title: 'one' }));
    writeFileSync(join(dir, 'b.safetensors'), encodeSafetensors(t, { title: 'two, edited', extra: 'x' }));
    const [a, b] = await Promise.all(
      ['a', 'b'].map(async (n) => hashSafetensors(await readSafetensorsHeader(join(dir, `${n}.safetensors`)))),
    );
    expect(a!.sha256).not.toBe(b!.sha256);
    expect(a!.tensorSha256).toBe(b!.tensorSha256);
  });
});

describe('safetensors round trip and dtypes', () => {
  it('writes and reads F32, F16 and BF16 tensors', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'zipbank-st-'));
    const values = new Float32Array([0, 1, -2.5, 0.1, 65504, 1e-5]);
    const path = join(dir, 'rt.safetensors');
    writeFileSync(
      path,
      encodeSafetensors(
        [
          { name: 'f32', dtype: 'F32', shape: [2, 3], data: fromFloat32(values, 'F32') },
          { name: 'f16', dtype: 'F16', shape: [6], data: fromFloat32(values, 'F16') },
          { name: 'bf16', dtype: 'BF16', shape: [3, 2], data: fromFloat32(values, 'BF16') },
        ],
        { note: 'test' },
      ),
    );
    const f = await SafetensorsFile.open(path);
    try {
      expect(f.metadata).toEqual({ note: 'test' });
      expect(Array.from(await f.readFloat32('f32'))).toEqual(Array.from(values));
      const f16 = await f.readFloat32('f16');
      const bf16 = await f.readFloat32('bf16');
      values.forEach((v, i) => {
        expect(f16[i]).toBeCloseTo(v, v > 1000 ? 0 : 3);
        expect(Math.abs(bf16[i]! - v)).toBeLessThanOrEqual(Math.abs(v) * 2 ** -8 + 1e-30);
      });
      await expect(f.readFloat32('nope')).rejects.toThrow(/has no tensor "nope"/);
    } finally {
      await f.close();
    }
  });

  it('converts half floats exactly for representable values (table)', () => {
    const table: [number, number][] = [
      [0, 0x0000],
      [1, 0x3c00],
      [-2, 0xc000],
      [65504, 0x7bff],
      [2 ** -24, 0x0001],
      [Infinity, 0x7c00],
    ];
    for (const [v, h] of table) {
      expect(floatToHalf(v)).toBe(h);
      expect(halfToFloat(h)).toBe(v);
    }
    expect(toFloat32(new Uint8Array([0x00, 0x3c]), 'F16')[0]).toBe(1);
  });
});
