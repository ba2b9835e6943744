/**
 * LoRAs on a loaded pipeline: `--lora` specs, reading against the loaded model's own
 * modules (refusals name the module and the shapes), and rendering through
 * `DiffusionPipeline.generate` with the adapted UNet and text encoder sessions, which
 * are built once per plan and reused when the LoRAs change.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isZipbankError } from '../../../src/errors/index.ts';
import { configFamily, parseLoraSpec, pipelineLoraLayers, readLorasForModel } from '../../../src/engine/lora/apply.ts';
import { presetConfigs } from '../../../src/engine/models/presets.ts';
import { writeRandomModel } from '../../../src/engine/models/random.ts';
import { DiffusionPipeline, type GenerateResult } from '../../../src/engine/pipeline/text-to-image.ts';
import { SessionCache, createSession } from '../../../src/engine/runtime/index.ts';
import { fixture } from '../../support/paths.ts';
import { tinyLora, writeTensors } from './apply-support.ts';
import { kohyaLinear } from './synth.ts';

describe('parseLoraSpec', () => {
  it.each([
    ['a.safetensors', { path: 'a.safetensors', weight: 1 }],
    ['a.safetensors:0.8', { path: 'a.safetensors', weight: 0.8 }],
    ['dir/a.safetensors:-1.5', { path: 'dir/a.safetensors', weight: -1.5 }],
    ['C:/loras/a.safetensors:.5', { path: 'C:/loras/a.safetensors', weight: 0.5 }],
    ['C:/loras/a.safetensors', { path: 'C:/loras/a.safetensors', weight: 1 }],
    ['my:lora.safetensors', { path: 'my:lora.safetensors', weight: 1 }],
  ])('%s', (spec, want) => expect(parseLoraSpec(spec)).toEqual(want));

  it.each(['', 'a.safetensors:'])('refuses "%s"', (spec) => {
    expect(() => parseLoraSpec(spec)).toThrow(/is not a LoRA spec/);
  });
});

describe('configFamily', () => {
  it.each([
    ['tiny-sd15', 'sd15'],
    ['tiny-sdxl', 'sdxl'],
    ['sd15', 'sd15'],
    ['sd2', 'sd2'],
    ['sdxl', 'sdxl'],
  ])('%s -> %s', (preset, family) => expect(configFamily(presetConfigs(preset))).toBe(family));
});

describe('tiny-sd15 pipeline with LoRAs', () => {
  let root: string;
  let pipe: DiffusionPipeline;
  let created = 0;
  const cache = new SessionCache(async (source, options) => {
    created++;
    return createSession(source, options);
  });
  const pixels = (r: GenerateResult) => Buffer.from(r.images[0]!.data);
  const render = (layers?: Awaited<ReturnType<typeof pipelineLoraLayers>>) => pipe.generate({ prompt: 'a corgi', steps: 2, seed: 5, ...(layers ? { layers } : {}) });

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'zipbank-lora-pipe-'));
    await writeRandomModel({ preset: 'tiny-sd15', out: join(root, 'tiny'), seed: 1 });
    pipe = await DiffusionPipeline.load(join(root, 'tiny'), { device: 'cpu', cache, sessionOptions: { intraOpThreads: 1 }, log: () => {} });
  });
  afterAll(async () => {
    await cache.clear();
    await rm(root, { recursive: true, force: true });
  });

  it('renders with the LoRAs in the UNet and the text encoder, and switching LoRAs builds no new session', async () => {
    const o = { rank: 4, alpha: 16, targets: 'attn' as const, components: ['unet', 'text_encoder'] as const };
    const [a, b] = [await tinyLora('tiny-sd15', { ...o, seed: 1 }), await tinyLora('tiny-sd15', { ...o, seed: 2 })];
    const plain = await render();
    const before = created;
    const withA = await readLorasForModel(pipe.model.folder, [{ path: a.path, weight: 1 }]);
    const layersA = await pipelineLoraLayers(pipe.model, withA);
    expect(Object.keys(layersA.feeds!).sort()).toEqual(['textEncoder', 'unet']);
    const ra = await render(layersA);
    expect(created).toBe(before + 2);
    const rb = await render(await pipelineLoraLayers(pipe.model, await readLorasForModel(pipe.model.folder, [{ path: b.path, weight: 0.5 }])));
    const rab = await render(await pipelineLoraLayers(pipe.model, await readLorasForModel(pipe.model.folder, [{ path: a.path, weight: 1 }, { path: b.path, weight: 1 }])));
    expect(created).toBe(before + 4);
    const zero = await render(await pipelineLoraLayers(pipe.model, await readLorasForModel(pipe.model.folder, [{ path: a.path, weight: 0 }])));
    expect(created).toBe(before + 4);
    expect(pixels(ra)).not.toEqual(pixels(plain));
    expect(pixels(rb)).not.toEqual(pixels(ra));
    expect(pixels(rab)).not.toEqual(pixels(ra));
    expect(pixels(zero)).toEqual(pixels(plain));
  });

  it.each([
    {
      name: 'a real SD 1.5 LoRA (modules the tiny model does not have)',
      file: async () => fixture('lora', 'sd15_diffusers-unetprefix_flower_Hirvita6.safetensors'),
      code: 'lora.unknown-module',
      text: /adapts modules that SD 1\.5 does not have: "unet\.down_blocks\.1\.attentions\.0\.transformer_blocks\.0\.attn1\.to_k"/,
    },
    {
      name: 'a LoRA whose shapes the model does not have',
      file: async () => writeTensors(Object.entries(kohyaLinear('lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q', 32, 48, 2)).map(([name, shape]) => ({ name, shape: shape as number[], values: new Float32Array((shape as number[]).reduce((a, b) => a * b, 1)) }))),
      code: 'lora.shape-mismatch',
      text: /module "unet\.down_blocks\.0\.attentions\.0\.transformer_blocks\.0\.attn1\.to_q \(lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q\)" is \[32, 48\] in the LoRA but \[32, 32\]/,
    },
    { name: 'an SDXL LoRA', file: async () => (await tinyLora('tiny-sdxl', { rank: 2, seed: 1 })).path, code: 'lora.wrong-model', text: /is an SDXL LoRA \(its module names say so\); the loaded model is SD 1\.5-shaped/ },
  ])('refuses $name', async ({ file, code, text }) => {
    const e = await readLorasForModel(pipe.model.folder, [{ path: await file(), weight: 1 }]).catch((x: unknown) => x);
    expect(isZipbankError(e), String(e)).toBe(true);
    expect((e as { code: string }).code).toBe(code);
    expect((e as Error).message).toMatch(text);
  });
});
