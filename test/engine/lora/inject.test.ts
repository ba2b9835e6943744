/**
 * LoRA injection against baking, on the tiny SD 1.5- and SDXL-shaped UNets and text
 * encoders (seeded random weights, CPU): the output with the injected branches equals
 * the plain graph over a safetensors copy whose weights are W + ΔW.
 *
 * Tolerances (max |diff| / max |output|): float32 injection vs baked 1e-4 (the two
 * sum the same products in a different order); rank padding 1e-6 (padding adds exact
 * zeros; only the kernels' blocking may reorder sums); float16 graphs 2e-2.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bakedWeights } from '../../../src/engine/lora/bake.ts';
import { coefficientFeeds, loraFeeds } from '../../../src/engine/lora/feeds.ts';
import { kohyaName } from '../../../src/engine/lora/formats/kohya.ts';
import { loraContext, loraInputName, makePlan, rankBucket } from '../../../src/engine/lora/inject.ts';
import { planLoras, type LoraSource } from '../../../src/engine/lora/plan.ts';
import type { LoraFile, ModuleShape } from '../../../src/engine/lora/types.ts';
import type { Feeds, Session } from '../../../src/engine/runtime/index.ts';
import type { RandomWeightsFile } from '../models/unet/weights.ts';
import { values } from './synth.ts';
import { bakedCopy, readTiny, relDiff, runAll, tinyInputs, tinyLora, tinySession, tinyTable, tinyWeights, writeTensors, type TinyPart } from './apply-support.ts';

const EXACT = 1e-4;
const PADDING = 1e-6;
const FP16 = 2e-2;

describe('rank buckets and plans', () => {
  it.each([
    [1, 4],
    [4, 4],
    [5, 8],
    [64, 64],
    [65, 128],
    [300, 512],
  ])('rank %i -> bucket %i', (r, b) => expect(rankBucket(r)).toBe(b));

  it('keys plans by modules, kinds, rank, slots and dtype only; one layer context per key', () => {
    const base: ModuleShape = { kind: 'linear', outFeatures: 8, inFeatures: 4, kernel: [1, 1] };
    const a = makePlan('unet', [{ path: 'b', kind: 'lora', base }, { path: 'a', kind: 'full', base }], { rank: 8 });
    const b = makePlan('unet', [{ path: 'a', kind: 'full', base }, { path: 'b', kind: 'lora', base }], { rank: 8 });
    expect(a.key).toBe(b.key);
    expect(a.modules.map((m) => m.path)).toEqual(['a', 'b']);
    expect(loraContext(a)).toBe(loraContext(b));
    for (const other of [makePlan('unet', a.modules, { rank: 16 }), makePlan('unet', a.modules, { rank: 8, slots: 2 }), makePlan('unet', a.modules, { rank: 8, dtype: 'float16' })]) {
      expect(other.key).not.toBe(a.key);
      expect(loraContext(other)).not.toBe(loraContext(a));
    }
    expect(() => makePlan('unet', [...a.modules, a.modules[0]!], { rank: 8 })).toThrow(/planned twice/);
  });
});

const PARTS: (TinyPart & { padding: boolean })[] = [
  { id: 'tiny-sd15', component: 'unet', padding: true },
  { id: 'tiny-sdxl', component: 'unet', padding: false },
  { id: 'tiny-sd15', component: 'text_encoder', padding: false },
  { id: 'tiny-sdxl', component: 'text_encoder_2', padding: true },
];

describe.each(PARTS)('$id $component', (part) => {
  const sessions: Session[] = [];
  let file: RandomWeightsFile;
  let plain: Float32Array;
  let inputs: Feeds;
  let lora: LoraFile;
  let other: LoraFile;
  const open = async (...args: Parameters<typeof tinySession> extends [unknown, ...infer R] ? R : never) => {
    const s = await tinySession(part, ...args);
    sessions.push(s);
    return s;
  };
  const baked = async (sources: LoraSource[]) => {
    const copy = await bakedCopy(file, part.component, sources);
    return runAll(await open(copy.weights, copy.dir), inputs);
  };
  const injected = async (sources: LoraSource[], o: Parameters<typeof planLoras>[1] = {}) => {
    const plan = planLoras(sources, { components: [part.component], ...o })[part.component]!;
    const s = await open(file.weights, file.dir, loraContext(plan), o.dtype);
    return { plan, session: s, out: await runAll(s, { ...inputs, ...(await loraFeeds(plan, sources)) }) };
  };

  beforeAll(async () => {
    file = await tinyWeights(part);
    inputs = tinyInputs(part);
    plain = await runAll(await open(file.weights, file.dir), inputs);
    const o = { rank: 3, alpha: 12, targets: 'all' as const, components: [part.component] };
    lora = await tinyLora(part.id, { ...o, seed: 1 });
    other = await tinyLora(part.id, { ...o, seed: 2 }, 'peft');
  });
  afterAll(async () => {
    for (const s of sessions) await s.dispose();
  });

  it('injected LoRA (LoCon convs included) equals the weights with W + ΔW baked in', async () => {
    if (part.component === 'unet') expect(lora.format).toBe('kohya-locon');
    const sources = [{ lora }];
    const { plan, out } = await injected(sources);
    expect(plan.rank).toBe(4);
    const ref = await baked(sources);
    expect(relDiff(ref, plain)).toBeGreaterThan(1e-2);
    expect(relDiff(out, ref)).toBeLessThan(EXACT);
  });

  it('a weighted pair with merger coefficients, concatenated in one slot or in one slot per LoRA, equals the baked sum', async () => {
    const coefficients = new Map(other.modules.map((m, i) => [m.target, values(m.base.inFeatures, 100 + i).map((v) => 1 + v)]));
    const sources: LoraSource[] = [{ lora, weight: 0.7 }, { lora: other, weight: -0.5, coefficients }];
    const ref = await baked(sources);
    const merged = await injected(sources);
    expect(merged.plan.rank).toBe(8);
    expect(relDiff(merged.out, ref)).toBeLessThan(EXACT);
    const split = await injected(sources, { slots: 'per-lora' });
    expect([split.plan.slots, split.plan.rank]).toEqual([2, 4]);
    expect(relDiff(split.out, ref)).toBeLessThan(EXACT);
    // Only the m inputs change when the coefficients do: ones give the plain weighted sum.
    const factors = await loraFeeds(split.plan, sources);
    const ones = await runAll(split.session, { ...inputs, ...factors, ...coefficientFeeds(split.plan, 1) });
    expect(relDiff(ones, await baked([sources[0]!, { lora: other, weight: -0.5 }]))).toBeLessThan(EXACT);
  });

  it.runIf(part.padding)('zero padding to a larger rank bucket does not change the output', async () => {
    const small = await injected([{ lora }]);
    const large = await injected([{ lora }], { minRank: 32 });
    expect(large.plan.rank).toBe(32);
    expect(relDiff(large.out, small.out)).toBeLessThan(PADDING);
  });

  it('switching to another LoRA of the same modules and bucket reuses the plan and the session', async () => {
    const a = planLoras([{ lora }], { components: [part.component] })[part.component]!;
    const b = planLoras([{ lora: other }], { components: [part.component] })[part.component]!;
    expect(b.key).toBe(a.key);
    expect(loraContext(b)).toBe(loraContext(a));
    const s = await open(file.weights, file.dir, loraContext(a));
    const first = await runAll(s, { ...inputs, ...(await loraFeeds(a, [{ lora }])) });
    const second = await runAll(s, { ...inputs, ...(await loraFeeds(a, [{ lora: other }])) });
    expect(relDiff(second, await baked([{ lora: other }]))).toBeLessThan(EXACT);
    expect(relDiff(second, first)).toBeGreaterThan(1e-3);
  });
});

describe('tiny-sd15 UNet: dense branches, float16, bakedWeights', () => {
  const part: TinyPart = { id: 'tiny-sd15', component: 'unet' };
  const sessions: Session[] = [];
  let file: RandomWeightsFile;
  let inputs: Feeds;
  let lora: LoraFile;
  let loha: LoraFile;
  const open = async (...args: Parameters<typeof tinySession> extends [unknown, ...infer R] ? R : never) => {
    const s = await tinySession(part, ...args);
    sessions.push(s);
    return s;
  };

  beforeAll(async () => {
    file = await tinyWeights(part, 9);
    inputs = tinyInputs(part, 4);
    lora = await tinyLora(part.id, { rank: 4, alpha: 16, targets: 'all', seed: 5 });
    const table = tinyTable(part.id);
    const tensors = ['unet.down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q', 'unet.down_blocks.0.resnets.0.conv1'].flatMap((target, j) => {
      const b = table.get(target)!;
      const key = kohyaName(target, 'sd15');
      const inFlat = b.inFeatures * b.kernel[0] * b.kernel[1];
      const t = (part: string, shape: number[], seed: number, s: number) => ({ name: `${key}.${part}`, shape, values: values(shape[0]! * shape[1]!, seed).map((v) => v * s) });
      return [
        t('hada_w1_a', [b.outFeatures, 2], 10 + j, 0.5),
        t('hada_w1_b', [2, inFlat], 20 + j, 0.5),
        t('hada_w2_a', [b.outFeatures, 2], 30 + j, 0.5),
        t('hada_w2_b', [2, inFlat], 40 + j, 0.5),
        { name: `${key}.alpha`, shape: [], values: Float32Array.of(2) },
      ];
    });
    loha = await readTiny(part.id, writeTensors(tensors));
  });
  afterAll(async () => {
    for (const s of sessions) await s.dispose();
  });

  it('LoHa modules get dense inputs and equal baking; overlapping a LoRA makes those modules dense', async () => {
    expect(loha.format).toBe('lycoris-loha');
    for (const sources of [[{ lora: loha }], [{ lora, weight: 0.5 }, { lora: loha }]]) {
      const plan = planLoras(sources).unet!;
      const dense = plan.modules.filter((m) => m.kind === 'full').map((m) => m.path);
      expect(dense).toEqual(['down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q', 'down_blocks.0.resnets.0.conv1']);
      const feeds = await loraFeeds(plan, sources);
      expect(feeds[loraInputName(dense[1]!, 0, 'delta')]!.dims).toEqual([32, 32, 3, 3]);
      const out = await runAll(await open(file.weights, file.dir, loraContext(plan)), { ...inputs, ...feeds });
      const ref = await bakedCopy(file, 'unet', sources);
      expect(relDiff(out, await runAll(await open(ref.weights, ref.dir), inputs))).toBeLessThan(EXACT);
    }
  });

  it('bakedWeights serves W + ΔW from memory and equals the baked copy', async () => {
    const sources = [{ lora }];
    const copy = await bakedCopy(file, 'unet', sources);
    const ref = await runAll(await open(copy.weights, copy.dir), inputs);
    const mem = await bakedWeights(file.weights, file.dir, 'unet', sources);
    expect(mem.description).toContain(`${lora.modules.length} LoRA-baked weights`);
    expect(relDiff(await runAll(await open(mem, file.dir), inputs), ref)).toBeLessThan(1e-6);
  });

  it('a float16 graph takes float16 feeds and stays close to the float32 reference', async () => {
    const sources = [{ lora }];
    const plan = planLoras(sources, { dtype: 'float16' }).unet!;
    const feeds = await loraFeeds(plan, sources);
    expect(Object.values(feeds).every((t) => t.dtype === 'float16')).toBe(true);
    const out = await runAll(await open(file.weights, file.dir, loraContext(plan), 'float16'), { ...inputs, ...feeds });
    const copy = await bakedCopy(file, 'unet', sources);
    expect(relDiff(out, await runAll(await open(copy.weights, copy.dir), inputs))).toBeLessThan(FP16);
  });
});
