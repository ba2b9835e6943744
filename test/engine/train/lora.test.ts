/**
 * DreamBooth-style LoRA training on a seeded tiny SD 1.5 model: the loss falls, the
 * written file is a standard LoRA that our reader loads back with the same factors
 * and the instance prompt in its metadata, the trained LoRA changes renders while an
 * untrained one (up = 0) would not, cancellation stops between steps, and bad
 * options are refused with what to use instead.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeImage } from '../../../src/engine/image/index.ts';
import { pipelineLoraLayers, readLorasForModel } from '../../../src/engine/lora/apply.ts';
import { writeLora } from '../../../src/engine/lora/write.ts';
import { writeRandomModel } from '../../../src/engine/models/random.ts';
import { DiffusionPipeline } from '../../../src/engine/pipeline/text-to-image.ts';
import { trainLora } from '../../../src/engine/train/lora.ts';

let dir: string;
let pipe: DiffusionPipeline;
let reference: Buffer;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'zipbank-lora-train-'));
  await writeRandomModel({ preset: 'tiny-sd15', seed: 3, out: join(dir, 'model') });
  pipe = await DiffusionPipeline.load(join(dir, 'model'), { device: 'cpu', log: () => {} });
  // A striped reference picture, 64x64.
  const data = new Uint8Array(64 * 64 * 3);
  for (let y = 0; y < 64; y++) for (let x = 0; x < 64; x++) data.set(((x >> 3) + (y >> 3)) % 2 ? [230, 80, 20] : [20, 40, 200], (y * 64 + x) * 3);
  reference = await encodeImage({ width: 64, height: 64, data });
}, 60_000);

afterAll(async () => {
  await pipe?.dispose();
  await rm(dir, { recursive: true, force: true });
});

describe('trainLora', () => {
  it('learns a style from one image and writes a standard LoRA', async () => {
    const r = await trainLora(pipe, { kind: 'style', images: [reference], prompt: 'a dog in sks style', steps: 60, batch: 2, rank: 4, targets: 'all', learningRate: 1e-2, width: 32, height: 32, seed: 2 });
    expect(r.steps).toBe(60);
    expect(r.stopReason).toBe('max-steps');
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    expect(mean(r.loss.slice(-15))).toBeLessThan(mean(r.loss.slice(0, 15)) * 0.9);
    expect(r.lora.modules.some((m) => m.up.some((v) => v !== 0))).toBe(true);

    const file = join(dir, 'style.safetensors');
    await writeLora(file, r.lora, 'kohya');
    const [source] = await readLorasForModel(pipe.model.folder, [{ path: file, weight: 1 }]);
    const back = source!.lora;
    expect(back.modules.length).toBe(r.lora.modules.length);
    expect(back.metadata.zipbank_instance_prompt).toBe('a dog in sks style');
    expect(back.metadata.zipbank_kind).toBe('style');

    const plain = await pipe.generate({ prompt: 'a dog in sks style', steps: 3, seed: 5, width: 32, height: 32 });
    const styled = await pipe.generate({ prompt: 'a dog in sks style', steps: 3, seed: 5, width: 32, height: 32, layers: await pipelineLoraLayers(pipe.model, [source!]) });
    const a = plain.images[0]!.data;
    const b = styled.images[0]!.data;
    let diff = 0;
    for (let i = 0; i < a.length; i++) diff += Math.abs(a[i]! - b[i]!);
    expect(diff / a.length).toBeGreaterThan(1);
  }, 180_000);

  it('stops between steps when cancelled', async () => {
    const ac = new AbortController();
    const r = await trainLora(pipe, { kind: 'subject', images: [reference, reference, reference], prompt: 'a sks dog', steps: 50, rank: 4, targets: 'attn', width: 64, height: 64, signal: ac.signal, onProgress: (p) => p.step === 3 && ac.abort() });
    expect(r.stopReason).toBe('cancelled');
    expect(r.steps).toBe(3);
  }, 120_000);

  it('refuses bad options with what to use', { timeout: 120_000 }, async () => {
    await expect(trainLora(pipe, { kind: 'subject', images: [], prompt: 'a sks dog' })).rejects.toThrow(/3 to 5 images/);
    await expect(trainLora(pipe, { kind: 'style', images: [reference], prompt: ' ' })).rejects.toThrow(/sks style/);
    await expect(trainLora(pipe, { kind: 'subject', images: [reference], prompt: 'a sks dog', rank: 0 })).rejects.toThrow(/rank/);
    await expect(trainLora(pipe, { kind: 'subject', images: [reference], prompt: 'a sks dog', priorImages: 4 })).rejects.toThrow(/class prompt/);
    await expect(trainLora(pipe, { kind: 'subject', images: [reference], prompt: 'a sks dog', width: 62 })).rejects.toThrow(/multiples/);
  });
});
