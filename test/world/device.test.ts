/**
 * packWorldModel / mergeWorldModel (src/world/device.ts) on the bundled world model:
 * the pack is float16 with only the captions' token rows; a merge takes the returned
 * tensors, only the packed token rows, the returned world.json entries, and writes
 * nothing when a returned tensor has the wrong shape.
 */
import { cp, mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BUNDLED_WORLD_MODEL } from '../../src/config.ts';
import { ClipTokenizer } from '../../src/engine/pipeline/tokenizer.ts';
import { fromFloat32 } from '../../src/engine/weights/dtype.ts';
import { SafetensorsFile, encodeSafetensors } from '../../src/engine/weights/safetensors.ts';
import { mergeWorldModel, packWorldModel } from '../../src/world/device.ts';
import type { WorldReport } from '../../src/world/train.ts';

const TABLE = 'text_model.embeddings.token_embedding.weight';
const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

async function readAll(file: string): Promise<{ dtypes: Set<string>; t: Map<string, { values: Float32Array; shape: number[] }> }> {
  const f = await SafetensorsFile.open(file);
  const t = new Map<string, { values: Float32Array; shape: number[] }>();
  const dtypes = new Set<string>();
  for (const x of f.tensors) {
    t.set(x.name, { values: await f.readFloat32(x.name), shape: [...x.shape] });
    dtypes.add(x.dtype);
  }
  await f.close();
  return { dtypes, t };
}

async function writeAll(file: string, t: Map<string, { values: Float32Array; shape: number[] }>): Promise<void> {
  await writeFile(file, encodeSafetensors([...t].map(([name, v]) => ({ name, dtype: 'F32' as const, shape: v.shape, data: fromFloat32(v.values, 'F32') }))));
}

describe('world model transport', () => {
  it('packs float16 weights with the captions token rows, and merges back only what was trained', async () => {
    const root = await mkdtemp(join(tmpdir(), 'zb-device-'));
    dirs.push(root);
    const pack = join(root, 'pack');
    const rows = await packWorldModel(BUNDLED_WORLD_MODEL, pack, 200);
    const tok = await ClipTokenizer.fromFolder(join(BUNDLED_WORLD_MODEL, 'tokenizer'));
    for (const id of tok.encodeForModel('a dog on the beach').ids) expect(rows).toContain(id);
    expect(JSON.parse(await readFile(join(pack, 'transport.json'), 'utf8'))).toEqual({ images: 200, rows });

    const unet = await readAll(join(pack, 'unet/diffusion_pytorch_model.safetensors'));
    expect([...unet.dtypes]).toEqual(['F16']);
    const text = await readAll(join(pack, 'text_encoder/model.safetensors'));
    const table = text.t.get(TABLE)!;
    const hidden = table.shape[1]!;
    const unused = [...Array(table.shape[0]).keys()].find((r) => !rows.includes(r))!;
    expect(table.values.subarray(unused * hidden, (unused + 1) * hidden).every((v) => v === 0)).toBe(true);
    expect(table.values.subarray(rows[1]! * hidden, (rows[1]! + 1) * hidden).some((v) => v !== 0)).toBe(true);

    // A model folder to merge into, and what a GPU machine would return.
    const model = join(root, 'model');
    await mkdir(model);
    for (const d of ['unet', 'text_encoder', 'world.json']) await cp(join(BUNDLED_WORLD_MODEL, d), join(model, d), { recursive: true });
    const original = await readAll(join(model, 'text_encoder/model.safetensors'));
    const back = join(root, 'back');
    await mkdir(back);
    const u0 = [...unet.t.keys()][0]!;
    unet.t.get(u0)!.values.fill(0.25);
    await writeAll(join(back, 'unet.safetensors'), unet.t);
    table.values.fill(0.5, rows[1]! * hidden, (rows[1]! + 1) * hidden);
    table.values.fill(0.75, unused * hidden, (unused + 1) * hidden);
    await writeAll(join(back, 'text_encoder.safetensors'), text.t);
    const world = JSON.parse(await readFile(join(model, 'world.json'), 'utf8')) as WorldReport;
    const round = { steps: 120, batch: 256, lr: 0.001, images: 200, seconds: 180, firstLoss: 0.08, finalLoss: 0.079, provider: 'webgpu', machine: 'gpu', at: '2026-11-28T19:00:00.000Z' };
    await writeFile(join(back, 'world-denoiser.json'), JSON.stringify({ ...world, base: { ...world.base, continued: [round] } }));

    // A wrong shape: nothing is written.
    const bad = new Map(unet.t);
    bad.set(u0, { values: new Float32Array(3), shape: [3] });
    const badDir = join(root, 'bad');
    await mkdir(badDir);
    await writeAll(join(badDir, 'unet.safetensors'), bad);
    const before = await readFile(join(model, 'unet/diffusion_pytorch_model.safetensors'));
    await expect(mergeWorldModel(model, badDir, join(pack, 'transport.json'))).rejects.toThrow(new RegExp(`${u0.replace(/\./g, '\\.')} is \\[3\\]`));
    expect((await readFile(join(model, 'unet/diffusion_pytorch_model.safetensors'))).equals(before)).toBe(true);

    // A good UNet with a broken classifier (its config names a tensor the file lacks): nothing is swapped in, no leftovers.
    const brokenDir = join(root, 'broken');
    await mkdir(brokenDir);
    await writeAll(join(brokenDir, 'unet.safetensors'), unet.t);
    await cp(join(BUNDLED_WORLD_MODEL, 'classifier'), join(brokenDir, 'classifier'), { recursive: true });
    const cfg = JSON.parse(await readFile(join(brokenDir, 'classifier', 'config.json'), 'utf8')) as { heads: { name: string; labels: string[] }[] };
    cfg.heads.push({ name: 'extra', labels: ['a', 'b'] });
    await writeFile(join(brokenDir, 'classifier', 'config.json'), JSON.stringify(cfg));
    await expect(mergeWorldModel(model, brokenDir, join(pack, 'transport.json'))).rejects.toThrow(/head\.extra/);
    expect((await readFile(join(model, 'unet/diffusion_pytorch_model.safetensors'))).equals(before)).toBe(true);
    const { readdir } = await import('node:fs/promises');
    expect((await readdir(model)).sort()).toEqual(['text_encoder', 'unet', 'world.json']);
    expect((await readdir(join(model, 'unet'))).sort()).toEqual(['config.json', 'diffusion_pytorch_model.safetensors']);

    // A swap that fails half way (the text encoder's move, after the UNet's): the UNet is put back, no leftovers.
    const worldBefore = await readFile(join(model, 'world.json'));
    const failing = {
      rename: async (from: string, to: string) => {
        if (from.endsWith('/text_encoder/model.safetensors.merge-partial')) throw new Error('EIO: disk went away');
        await rename(from, to);
      },
    };
    await expect(mergeWorldModel(model, back, join(pack, 'transport.json'), failing)).rejects.toThrow(/swapping the new parts in failed \(EIO: disk went away\); the model folder is unchanged/);
    expect((await readFile(join(model, 'unet/diffusion_pytorch_model.safetensors'))).equals(before)).toBe(true);
    expect((await readFile(join(model, 'text_encoder/model.safetensors'))).equals(await readFile(join(BUNDLED_WORLD_MODEL, 'text_encoder/model.safetensors')))).toBe(true);
    expect((await readFile(join(model, 'world.json'))).equals(worldBefore)).toBe(true);
    expect((await readdir(model)).sort()).toEqual(['text_encoder', 'unet', 'world.json']);
    expect((await readdir(join(model, 'unet'))).sort()).toEqual(['config.json', 'diffusion_pytorch_model.safetensors']);
    expect((await readdir(join(model, 'text_encoder'))).sort()).toEqual(['config.json', 'model.safetensors']);

    expect(await mergeWorldModel(model, back, join(pack, 'transport.json'))).toEqual(['unet', 'text_encoder']);
    const mergedUnet = await readAll(join(model, 'unet/diffusion_pytorch_model.safetensors'));
    expect([...mergedUnet.dtypes]).toEqual(['F32']);
    expect(mergedUnet.t.get(u0)!.values.every((v) => v === 0.25)).toBe(true);
    const merged = (await readAll(join(model, 'text_encoder/model.safetensors'))).t.get(TABLE)!.values;
    expect(merged.subarray(rows[1]! * hidden, (rows[1]! + 1) * hidden).every((v) => v === 0.5)).toBe(true);
    // An unpacked row keeps its float32 value (the returned 0.75 is ignored).
    expect(Array.from(merged.subarray(unused * hidden, (unused + 1) * hidden))).toEqual(Array.from(original.t.get(TABLE)!.values.subarray(unused * hidden, (unused + 1) * hidden)));
    const after = JSON.parse(await readFile(join(model, 'world.json'), 'utf8')) as WorldReport;
    expect(after.base.continued).toEqual([...(world.base.continued ?? []), round]);
    // Merging the same return twice does not repeat the round.
    await mergeWorldModel(model, back, join(pack, 'transport.json'));
    expect((JSON.parse(await readFile(join(model, 'world.json'), 'utf8')) as WorldReport).base.continued).toHaveLength((world.base.continued ?? []).length + 1);
  }, 120_000);
});
