/**
 * Text-to-image end to end on CPU, with the tiny SD 1.5- and SDXL-shaped models
 * written once into a temp folder by writeRandomModel: rendering, reproducibility,
 * per-image seeds in a batch, guidance, negative prompts, SDXL zero embeddings,
 * progress, cancellation, session reuse, option checks, and fp16 weights on CPU.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isZipbankError } from '../../../src/errors/index.ts';
import { writeRandomModel } from '../../../src/engine/models/random.ts';
import { MODEL_DEFAULTS_KEY } from '../../../src/engine/pipeline/options.ts';
import { DiffusionPipeline, type GenerateOptions, type GenerateResult } from '../../../src/engine/pipeline/text-to-image.ts';
import type { ModuleHook } from '../../../src/engine/models/layers.ts';
import { mul } from '../../../src/engine/onnx/index.ts';
import { SessionCache, createSession, tensor } from '../../../src/engine/runtime/index.ts';

const STEPS = 3;
const SEED = 11;
const CASES = [
  { preset: 'tiny-sd15', family: 'sd', sessions: 3, scheduler: 'PNDMScheduler', guidance: 7.5, hidden: 32 },
  { preset: 'tiny-sdxl', family: 'sdxl', sessions: 4, scheduler: 'EulerDiscreteScheduler', guidance: 5, hidden: 64 },
] as const;

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'zipbank-t2i-'));
  for (const c of CASES) await writeRandomModel({ preset: c.preset, out: join(root, c.preset), seed: 1 });
  await writeRandomModel({ preset: 'tiny-sd15', out: join(root, 'tiny-sd15-fp16'), seed: 1, dtype: 'fp16' });
});
afterAll(() => rm(root, { recursive: true, force: true }));

const pixels = (r: GenerateResult, i = 0) => Buffer.from(r.images[i]!.data);
const maxDiff = (a: Buffer, b: Buffer) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!)), 0);

async function rejection(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => {
      throw new Error('expected a rejection');
    },
    (e: unknown) => e,
  );
}

describe.each(CASES)('$preset text-to-image on CPU', (c) => {
  let created = 0;
  const cache = new SessionCache(async (source, options) => {
    created++;
    return createSession(source, options);
  });
  let pipe: DiffusionPipeline;
  let base: GenerateResult;
  const render = (o: Partial<GenerateOptions> = {}) => pipe.generate({ prompt: 'a corgi surfing at sunset', steps: STEPS, seed: SEED, ...o });

  beforeAll(async () => {
    pipe = await DiffusionPipeline.load(join(root, c.preset), { device: 'cpu', cache, sessionOptions: { intraOpThreads: 1 }, log: () => {} });
    base = await render();
  });
  afterAll(() => cache.clear());

  it('loads with the family defaults and renders at the default size', () => {
    expect(pipe.family).toBe(c.family);
    expect(pipe.defaults).toEqual({ width: 64, height: 64, steps: 25, guidance: c.guidance, scheduler: c.scheduler, sizeMultiple: 4 });
    expect(base).toMatchObject({ seed: SEED, seeds: [SEED], width: 64, height: 64, steps: STEPS, guidance: c.guidance, scheduler: c.scheduler, provider: 'cpu', dtype: 'float32' });
    expect(base.images).toHaveLength(1);
    expect(base.images[0]).toMatchObject({ width: 64, height: 64 });
    expect(base.images[0]!.data).toHaveLength(64 * 64 * 3);
    expect(new Set(base.images[0]!.data).size).toBeGreaterThan(10);
    expect(base.timings.unetCalls).toBeGreaterThanOrEqual(STEPS);
    expect(base.timings.perStepMs).toBeGreaterThan(0);
  });

  it('gives identical pixels for the same seed and settings, different ones for another seed', async () => {
    expect(pixels(await render())).toEqual(pixels(base));
    expect(pixels(await render({ seed: SEED + 100 }))).not.toEqual(pixels(base));
  });

  it('renders a batch whose image i is the image rendered alone with seed + i (ancestral scheduler)', async () => {
    const batch = await render({ count: 2, scheduler: 'euler-a', png: true });
    expect(batch.seeds).toEqual([SEED, SEED + 1]);
    expect(batch.images).toHaveLength(2);
    expect(batch.png!.map((p) => p.subarray(1, 4).toString())).toEqual(['PNG', 'PNG']);
    expect(pixels(batch, 0)).not.toEqual(pixels(batch, 1));
    for (const i of [0, 1]) {
      const alone = await render({ seed: SEED + i, scheduler: 'euler-a' });
      expect(maxDiff(pixels(batch, i), pixels(alone))).toBe(0);
    }
  });

  it('changes the image with guidance 1 (no uncond pass) and with a negative prompt', async () => {
    const noGuidance = await render({ guidance: 1 });
    const negative = await render({ negativePrompt: 'blurry, low quality' });
    expect(pixels(noGuidance)).not.toEqual(pixels(base));
    expect(pixels(negative)).not.toEqual(pixels(base));
    expect(pixels(negative)).not.toEqual(pixels(noGuidance));
  });

  it('renders other sizes that are multiples of the size step', async () => {
    const r = await render({ width: 32, height: 48, steps: 1 });
    expect(r.images[0]).toMatchObject({ width: 32, height: 48 });
  });

  it('reports progress once per step and stops with a coded error when aborted', async () => {
    const seen: [number, number][] = [];
    await render({ onProgress: (s, n) => seen.push([s, n]) });
    expect(seen).toEqual([[1, STEPS], [2, STEPS], [3, STEPS]]);

    const abort = new AbortController();
    const steps: number[] = [];
    const e = await rejection(render({ signal: abort.signal, onProgress: (s) => (steps.push(s), s === 2 && abort.abort()) }));
    expect(isZipbankError(e, 'pipeline.aborted')).toBe(true);
    expect((e as { details: unknown }).details).toEqual({ step: 2, total: STEPS });
    expect(steps).toEqual([1, 2]);
  });

  it('builds each session once and reuses it for every render', async () => {
    expect(created).toBe(c.sessions);
    expect(cache.size).toBe(c.sessions);
    await render({ count: 2, steps: 1 });
    const again = await DiffusionPipeline.load(join(root, c.preset), { device: 'cpu', cache, sessionOptions: { intraOpThreads: 1 }, log: () => {} });
    await again.generate({ prompt: 'x', steps: 1, seed: 1 });
    expect(created).toBe(c.sessions);
  });

  it('conditions SDXL on zeros for an empty negative prompt, SD on the encoding of ""', async () => {
    const empty = await pipe.conditioning({ prompt: 'a corgi' });
    expect(empty.cond.hidden.dims).toEqual([1, 77, c.hidden]);
    const zeros = empty.uncond!.hidden.data.every((v) => v === 0);
    expect(zeros).toBe(c.family === 'sdxl');
    if (c.family === 'sdxl') {
      expect(empty.cond.pooled!.dims).toEqual([1, 32]);
      expect(empty.uncond!.pooled!.data.every((v) => v === 0)).toBe(true);
    }
    const negative = await pipe.conditioning({ prompt: 'a corgi', negativePrompt: 'blurry' });
    expect(negative.uncond!.hidden.data.some((v) => v !== 0)).toBe(true);
    expect(negative.cond.hidden.data).toEqual(empty.cond.hidden.data);
    expect((await pipe.conditioning({ prompt: 'a corgi', guidance: 1 })).uncond).toBeUndefined();
  });

  it.each([
    { o: { width: 30 }, code: 'pipeline.bad-size', text: 'multiple of 4' },
    { o: { height: 0 }, code: 'pipeline.bad-size', text: 'height 0' },
    { o: { count: 5 }, code: 'pipeline.bad-option', text: 'count' },
    { o: { steps: 0 }, code: 'pipeline.bad-option', text: 'steps' },
    { o: { seed: -1 }, code: 'pipeline.bad-option', text: 'seed' },
    { o: { scheduler: 'warp-drive' }, code: 'scheduler.unknown', text: 'warp-drive' },
  ] as const)('refuses $o with $code', async ({ o, code, text }) => {
    const e = await rejection(render(o));
    expect(isZipbankError(e, code)).toBe(true);
    expect((e as Error).message).toContain(text);
  });
});

describe('adapter hooks (the LoRA entry point)', () => {
  /** Scales conv_out's output by a graph input, the way LoRA factors enter as inputs. */
  const hook: ModuleHook = (g, call) => (call.path === 'conv_out' ? mul(call.y, g.input('unet_scale', 'float32', [1])) : call.y);
  const unet = { hook };
  const scale = (v: number) => ({ unet: { unet_scale: tensor('float32', Float32Array.of(v), [1]) } });

  it('builds one adapted UNet session, feeds its inputs, and leaves the plain sessions alone', async () => {
    let created = 0;
    const cache = new SessionCache(async (source, options) => {
      created++;
      return createSession(source, options);
    });
    const pipe = await DiffusionPipeline.load(join(root, 'tiny-sd15'), { device: 'cpu', cache, sessionOptions: { intraOpThreads: 1 }, log: () => {} });
    try {
      const o = { prompt: 'a corgi', steps: 2, seed: 5 };
      const plain = await pipe.generate(o);
      const one = await pipe.generate({ ...o, layers: { unet, feeds: scale(1) } });
      const zero = await pipe.generate({ ...o, layers: { unet, feeds: scale(0) } });
      expect(pixels(one)).toEqual(pixels(plain));
      expect(pixels(zero)).not.toEqual(pixels(plain));
      expect(created).toBe(4);
    } finally {
      await cache.clear();
    }
  });
});

describe('fp16 weights on CPU', () => {
  it('computes in float32, logs the conversion, and renders', async () => {
    const logs: string[] = [];
    const pipe = await DiffusionPipeline.load(join(root, 'tiny-sd15-fp16'), { device: 'cpu', sessionOptions: { intraOpThreads: 1 }, log: (_, m) => logs.push(m) });
    try {
      expect(logs.some((l) => l.startsWith('unet: weights are F16, computing in float32 on cpu') && l.includes('in-graph'))).toBe(true);
      const r = await pipe.generate({ prompt: 'a corgi', steps: 2, seed: 3 });
      expect(r.dtype).toBe('float32');
      expect(r.images[0]!.data).toHaveLength(64 * 64 * 3);
    } finally {
      await pipe.dispose();
    }
  });
});

describe('bad model folders', () => {
  it('reuses the model loader errors', async () => {
    const e = await rejection(DiffusionPipeline.load(join(root, 'nope'), { device: 'cpu', log: () => {} }));
    expect(isZipbankError(e, 'model.missing-file')).toBe(true);
    expect((e as Error).message).toContain('model_index.json');
  });
});

describe("a model folder's own render defaults (model_index.json)", () => {
  const withDefaults = async (name: string, defaults: unknown) => {
    const dir = join(root, name);
    await writeRandomModel({ preset: 'tiny-sd15', out: dir, seed: 1 });
    const file = join(dir, 'model_index.json');
    const index = JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>;
    await writeFile(file, JSON.stringify({ ...index, [MODEL_DEFAULTS_KEY]: defaults }));
    return dir;
  };

  it('uses them where a render gives none, and a render option still wins', async () => {
    const dir = await withDefaults('own-defaults', { num_inference_steps: 2, guidance_scale: 3, scheduler: 'dpm++2m-karras' });
    const pipe = await DiffusionPipeline.load(dir, { device: 'cpu', sessionOptions: { intraOpThreads: 1 }, log: () => {} });
    try {
      const r = await pipe.generate({ prompt: 'a corgi', seed: 3 });
      expect([r.steps, r.guidance, r.scheduler]).toEqual([2, 3, 'dpm++2m-karras']);
      const o = await pipe.generate({ prompt: 'a corgi', seed: 3, steps: 1, guidance: 7.5, scheduler: 'euler' });
      expect([o.steps, o.guidance, o.scheduler]).toEqual([1, 7.5, 'euler']);
    } finally {
      await pipe.dispose();
    }
  });

  it.each([
    [{ guidance_scale: 'high' }, `${MODEL_DEFAULTS_KEY}.guidance_scale`],
    [{ num_inference_steps: 0 }, `${MODEL_DEFAULTS_KEY}.num_inference_steps`],
    [{ scheduler: 'fastest' }, `${MODEL_DEFAULTS_KEY}.scheduler`],
    [{ guidance: 3 }, `${MODEL_DEFAULTS_KEY}.guidance`],
    [[3], MODEL_DEFAULTS_KEY],
  ])('refuses %j at load, naming the key', async (defaults, key) => {
    const dir = await withDefaults(`bad-defaults-${key}`, defaults);
    const e = await rejection(DiffusionPipeline.load(dir, { device: 'cpu', log: () => {} }));
    expect(isZipbankError(e, 'model.invalid-config')).toBe(true);
    expect((e as Error).message).toContain(key);
    expect((e as Error).message).toContain('model_index.json');
  });
});
