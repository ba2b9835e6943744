/**
 * The UNet's blocks, run on CPU with tiny dims and seeded random weights, against
 * float64 references written from the diffusers math (reference.ts). These catch
 * transposed weights, a swapped GEGLU half, wrong reshape orders, epsilons, flips.
 */
import { describe, expect, it } from 'vitest';
import { conv as convSpec, linear as linearSpec, norm as normSpec, resnet as resnetSpec, type ParamSpec } from '../../../../src/engine/models/params.ts';
import { presetConfigs } from '../../../../src/engine/models/presets.ts';
import type { UNetConfig } from '../../../../src/engine/models/unet/config.ts';
import { ModelGraphBuilder } from '../../../../src/engine/models/model-graph.ts';
import type { UNetContext } from '../../../../src/engine/models/unet/context.ts';
import { addEmbedding, timeEmbedding } from '../../../../src/engine/models/unet/embeddings.ts';
import { downsample, resnetBlock, upsample } from '../../../../src/engine/models/unet/resnet.ts';
import { transformer2d } from '../../../../src/engine/models/unet/transformer.ts';
import { memoryWeights, silu, type Value } from '../../../../src/engine/onnx/index.ts';
import { createRandom } from '../../../../src/engine/pipeline/random.ts';
import { f32, maxAbsDiff, rand, type Nd } from '../../onnx/reference.ts';
import { runGraph } from '../../onnx/run-graph.ts';
import * as ref from './reference.ts';
import { randomValues } from './weights.ts';

const TOL = 2e-4;

function setup(specs: ParamSpec[], cfg: Partial<UNetConfig>, seed: number) {
  const rng = createRandom(seed);
  const values = new Map(specs.map((s) => [s.name, { shape: s.shape, v: randomValues(s, rng) }]));
  const weights = memoryWeights(Object.fromEntries([...values].map(([n, { shape, v }]) => [n, { dtype: 'float32' as const, shape, values: v }])));
  const g = new ModelGraphBuilder('block', { weights, specs });
  const ctx: UNetContext = { g, cfg: { ...presetConfigs('tiny-sd15').unet, ...cfg }, fused: false, layers: {} };
  const p: ref.Params = (name) => {
    const t = values.get(name);
    if (!t) throw new Error(`no test weight ${name}`);
    return { shape: t.shape, data: Float64Array.from(t.v) };
  };
  return { g, ctx, p };
}

async function check(g: ModelGraphBuilder, out: Value, feeds: Record<string, Nd>, expected: Nd): Promise<void> {
  const [got] = await runGraph(g, [out], feeds);
  expect(got!.dims).toEqual(expected.shape);
  expect(maxAbsDiff(got!.data, expected.data)).toBeLessThan(TOL);
}

describe('UNet blocks against float64 references', () => {
  it.each([
    { inCh: 8, outCh: 12, outputScale: 2 },
    { inCh: 8, outCh: 8, outputScale: 1 },
  ])('ResnetBlock2D $inCh -> $outCh, output scale $outputScale', async ({ inCh, outCh, outputScale }) => {
    const specs: ParamSpec[] = [];
    resnetSpec(specs, 'r', inCh, outCh, 6);
    const { g, ctx, p } = setup(specs, { normNumGroups: 4, normEps: 1e-5 }, 11);
    const x = g.input('x', 'float32', ['b', inCh, 'h', 'w']);
    const temb = g.input('temb', 'float32', ['b', 6]);
    const out = resnetBlock(ctx, 'r', x, silu(temb), outputScale);
    const xs = f32(rand([2, inCh, 5, 3], 1, 2));
    const ts = f32(rand([2, 6], 2, 2));
    await check(g, out, { x: xs, temb: ts }, ref.resnet(xs, ts, p, 'r', { groups: 4, eps: 1e-5, outputScale }));
  });

  it.each([{ linearProjection: true }, { linearProjection: false }])(
    'Transformer2DModel with two BasicTransformerBlocks (linear projection: $linearProjection)',
    async ({ linearProjection }) => {
      const c = 8;
      const d = 6;
      const specs: ParamSpec[] = [];
      normSpec(specs, 't.norm', c);
      if (linearProjection) linearSpec(specs, 't.proj_in', c, c);
      else convSpec(specs, 't.proj_in', c, c, 1);
      for (let k = 0; k < 2; k++) {
        const b = `t.transformer_blocks.${k}`;
        for (const [attn, kv] of [['attn1', c], ['attn2', d]] as const) {
          linearSpec(specs, `${b}.${attn}.to_q`, c, c, false);
          linearSpec(specs, `${b}.${attn}.to_k`, c, kv, false);
          linearSpec(specs, `${b}.${attn}.to_v`, c, kv, false);
          linearSpec(specs, `${b}.${attn}.to_out.0`, c, c);
        }
        for (const n of ['norm1', 'norm2', 'norm3']) normSpec(specs, `${b}.${n}`, c);
        linearSpec(specs, `${b}.ff.net.0.proj`, 8 * c, c);
        linearSpec(specs, `${b}.ff.net.2`, c, 4 * c);
      }
      if (linearProjection) linearSpec(specs, 't.proj_out', c, c);
      else convSpec(specs, 't.proj_out', c, c, 1);
      const { g, ctx, p } = setup(specs, { normNumGroups: 4, useLinearProjection: linearProjection }, 12);
      const x = g.input('x', 'float32', ['b', c, 'h', 'w']);
      const text = g.input('text', 'float32', ['b', 's', d]);
      const out = transformer2d(ctx, 't', x, text, { heads: 2, layers: 2 });
      const xs = f32(rand([2, c, 3, 2], 3, 2));
      const ts = f32(rand([2, 3, d], 4, 2));
      const expected = ref.transformer2d(xs, ts, p, 't', { groups: 4, heads: 2, layers: 2, linearProjection });
      await check(g, out, { x: xs, text: ts }, expected);
    },
  );

  it.each([
    { flipSinToCos: true, freqShift: 0 },
    { flipSinToCos: false, freqShift: 1 },
  ])('time embedding (flip_sin_to_cos $flipSinToCos, freq_shift $freqShift), fractional timesteps', async ({ flipSinToCos, freqShift }) => {
    const specs: ParamSpec[] = [];
    linearSpec(specs, 'time_embedding.linear_1', 12, 8);
    linearSpec(specs, 'time_embedding.linear_2', 12, 12);
    const { g, ctx, p } = setup(specs, { blockOutChannels: [8, 16], flipSinToCos, freqShift }, 13);
    const t = g.input('t', 'float32', ['b']);
    const steps = [0, 999, 10.5];
    const expected = ref.mlp(ref.sinusoids(steps, 8, flipSinToCos, freqShift), p, 'time_embedding');
    await check(g, timeEmbedding(ctx, t), { t: { shape: [3], data: Float64Array.from(steps) } }, expected);
  });

  it('SDXL add embedding: text_embeds then the sinusoids of each time id', async () => {
    const specs: ParamSpec[] = [];
    linearSpec(specs, 'add_embedding.linear_1', 12, 5 + 3 * 4);
    linearSpec(specs, 'add_embedding.linear_2', 12, 12);
    const addition = { type: 'text_time' as const, timeEmbedDim: 4, projectionInputDim: 17 };
    const { g, ctx, p } = setup(specs, { addition, flipSinToCos: true, freqShift: 0 }, 14);
    const text = g.input('text', 'float32', ['b', 5]);
    const ids = g.input('ids', 'float32', ['b', 3]);
    const textNd = f32(rand([2, 5], 5, 1));
    const idsNd: Nd = { shape: [2, 3], data: Float64Array.from([1024, 0, 768, 512, 64, 3]) };
    const expected = ref.mlp(ref.addEmbeddingInput(textNd, idsNd, 4, true, 0), p, 'add_embedding');
    await check(g, addEmbedding(ctx, text, ids), { text: textNd, ids: idsNd }, expected);
  });

  it.each([{ padding: 1 }, { padding: 0 }])('Downsample2D on odd sizes (downsample_padding $padding)', async ({ padding }) => {
    const specs: ParamSpec[] = [];
    convSpec(specs, 'd.conv', 4, 4, 3);
    const { g, ctx, p } = setup(specs, { downsamplePadding: padding }, 15);
    const x = g.input('x', 'float32', ['b', 4, 'h', 'w']);
    const xs = f32(rand([1, 4, 5, 6], 6, 1));
    const pads = padding === 1 ? [1, 1, 1, 1] : [0, 0, 1, 1];
    await check(g, downsample(ctx, 'd', x), { x: xs }, ref.conv(xs, p, 'd.conv', pads, [2, 2]));
  });

  it('Upsample2D: nearest 2x then conv 3x3', async () => {
    const specs: ParamSpec[] = [];
    convSpec(specs, 'u.conv', 4, 4, 3);
    const { g, ctx, p } = setup(specs, {}, 16);
    const x = g.input('x', 'float32', ['b', 4, 'h', 'w']);
    const xs = f32(rand([2, 4, 3, 2], 7, 1));
    await check(g, upsample(ctx, 'u', x), { x: xs }, ref.conv(ref.upsampleNearest(xs), p, 'u.conv', [1, 1, 1, 1]));
  });
});
