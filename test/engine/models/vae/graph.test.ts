import { describe, expect, it } from 'vitest';
import { parseVaeConfig, type VaeConfig } from '../../../../src/engine/models/vae/config.ts';
import { buildVaeDecoderGraph, buildVaeEncoderGraph, resnet, spatialAttention, vaeScalingFactor, vaeSpatialFactor } from '../../../../src/engine/models/vae/graph.ts';
import { vaeParams } from '../../../../src/engine/models/vae/params.ts';
import { addModules, type ModuleShape } from '../../../../src/engine/models/modules.ts';
import { ModelGraphBuilder } from '../../../../src/engine/models/model-graph.ts';
import { presetConfigs, presetRawConfigs } from '../../../../src/engine/models/presets.ts';
import { randn } from '../../../../src/engine/pipeline/random.ts';
import { tensor } from '../../../../src/engine/runtime/index.ts';
import { floatToHalf } from '../../../../src/engine/weights/dtype.ts';
import { broadcast, conv2d, groupNorm, map, maxAbsDiff, nd, rand, sigmoid, at, type Nd } from '../../onnx/reference.ts';
import { maxAbs, randomParams, recordingHook, runModel, shapeOnlyWeights, type RandomParams } from '../graph-support.ts';

const tiny = presetConfigs('tiny-sd15').vae!;
const feed = (x: Nd) => tensor('float32', Float32Array.from(x.data), x.shape);

describe('VAE graphs: structure', () => {
  const raw = presetRawConfigs('tiny-sd15').vae as Record<string, unknown>;
  const cases: [string, VaeConfig][] = [
    ['tiny-sd15', tiny],
    ['tiny-sdxl', presetConfigs('tiny-sdxl').vae!],
    ['sd15', presetConfigs('sd15').vae!],
    ['sdxl', presetConfigs('sdxl').vae!],
    ['tiny without quant convs or mid attention', parseVaeConfig({ ...raw, use_quant_conv: false, use_post_quant_conv: false, mid_block_add_attention: false })],
  ];

  it.each(cases)('%s: decoder + encoder consume exactly vaeParams, without overlap', (_label, cfg) => {
    const specs = vaeParams(cfg);
    const weights = shapeOnlyWeights(specs);
    const dec = buildVaeDecoderGraph(cfg, { weights });
    const enc = buildVaeEncoderGraph(cfg, { weights });
    expect([...dec.params, ...enc.params].sort()).toEqual(specs.map((s) => s.name).sort());
    expect(dec.params.every((n) => n.startsWith('decoder.') || n.startsWith('post_quant_conv.'))).toBe(true);
    expect(enc.params.every((n) => n.startsWith('encoder.') || n.startsWith('quant_conv.'))).toBe(true);
  });

  it.each(cases)('%s: every Conv2d and Linear goes through the module hooks', (_label, cfg) => {
    const specs = vaeParams(cfg);
    const { hook, calls } = recordingHook();
    buildVaeDecoderGraph(cfg, { weights: shapeOnlyWeights(specs), layers: { hook } });
    buildVaeEncoderGraph(cfg, { weights: shapeOnlyWeights(specs), layers: { hook } });
    const table = new Map<string, ModuleShape>();
    addModules(table, 'vae', specs);
    expect(calls.map((c) => `vae.${c.path}`).sort()).toEqual([...table.keys()].sort());
    for (const c of calls) expect(c.kind).toBe(table.get(`vae.${c.path}`)!.kind);
  });

  it.each([
    ['sd15', 0.18215, 8],
    ['sdxl', 0.13025, 8],
    ['tiny-sd15', 0.18215, 2],
  ] as const)('%s: scaling factor %f, %i pixels per latent', (preset, scaling, spatial) => {
    const cfg = presetConfigs(preset).vae!;
    expect(vaeScalingFactor(cfg)).toBe(scaling);
    expect(vaeSpatialFactor(cfg)).toBe(spatial);
  });
});

/** A graph around one block builder, on random parameters. */
async function runBlock(p: RandomParams, x: Nd, build: (c: { g: ModelGraphBuilder; cfg: VaeConfig; layers: object }, v: ReturnType<ModelGraphBuilder['input']>) => ReturnType<ModelGraphBuilder['input']>) {
  const g = new ModelGraphBuilder('block', { weights: p.weights, specs: vaeParams(tiny) });
  const input = g.input('x', 'float32', x.shape);
  g.output(build({ g, cfg: tiny, layers: {} }, input), 'y');
  return (await runModel(g.build(), { x: feed(x) })).y!;
}

const silu = (x: Nd) => map(x, (v) => v * sigmoid(v));
const add = (a: Nd, b: Nd) => broadcast(a, b, (u, v) => u + v);
const f32 = (x: Nd): Nd => ({ shape: x.shape, data: Float64Array.from(Float32Array.from(x.data)) });

function resnetRef(p: RandomParams, name: string, x: Nd, shortcut: boolean): Nd {
  const gn = (n: string, v: Nd) => silu(groupNorm(v, 32, p.nd(`${name}.${n}.weight`), p.nd(`${name}.${n}.bias`), 1e-6));
  const conv = (n: string, v: Nd, pad: number) => conv2d(v, p.nd(`${name}.${n}.weight`), p.nd(`${name}.${n}.bias`), [pad, pad, pad, pad], [1, 1]);
  const h = conv('conv2', gn('norm2', conv('conv1', gn('norm1', x), 1)), 1);
  return add(shortcut ? conv('conv_shortcut', x, 0) : x, h);
}

/** Single-head attention over positions, written with explicit loops: rows are positions (y * W + x). */
function attentionRef(p: RandomParams, name: string, x: Nd): Nd {
  const [, c, h, w] = x.shape as [number, number, number, number];
  const n = h * w;
  const normed = groupNorm(x, 32, p.nd(`${name}.group_norm.weight`), p.nd(`${name}.group_norm.bias`), 1e-6);
  const rows = Array.from({ length: n }, (_, s) => Array.from({ length: c }, (_, ch) => at(normed, [0, ch, Math.floor(s / w), s % w])));
  const lin = (m: string, r: number[]) => {
    const W = p.values.get(`${name}.${m}.weight`)!;
    const b = p.values.get(`${name}.${m}.bias`)!;
    return Array.from({ length: c }, (_, o) => r.reduce((s, v, i) => s + v * W[o * c + i]!, b[o]!));
  };
  const q = rows.map((r) => lin('to_q', r));
  const k = rows.map((r) => lin('to_k', r));
  const v = rows.map((r) => lin('to_v', r));
  const out = q.map((qi) => {
    const scores = k.map((kj) => kj.reduce((s, kv, t) => s + kv * qi[t]!, 0) / Math.sqrt(c));
    const mx = Math.max(...scores);
    const e = scores.map((s) => Math.exp(s - mx));
    const sum = e.reduce((a, b) => a + b, 0);
    return lin('to_out.0', Array.from({ length: c }, (_, t) => e.reduce((s, ej, j) => s + (ej / sum) * v[j]![t]!, 0)));
  });
  return nd([1, c, h, w], ([, ch, y, xx]) => out[y! * w + xx!]![ch!]! + at(x, [0, ch!, y!, xx!]));
}

describe('VAE graphs: numbers (tiny preset, CPU)', () => {
  const p = randomParams(vaeParams(tiny), 3);

  it.each([
    ['decoder.up_blocks.1.resnets.0', 64, 32, true],
    ['encoder.down_blocks.1.resnets.0', 32, 64, true],
    ['decoder.mid_block.resnets.0', 64, 64, false],
  ] as const)('resnet %s (%i -> %i) equals the reference', async (name, inCh, outCh, shortcut) => {
    const x = f32(rand([1, inCh, 3, 5], 17, 2));
    const y = await runBlock(p, x, (c, v) => resnet(c as never, name, v, inCh, outCh));
    expect(y.dims).toEqual([1, outCh, 3, 5]);
    expect(maxAbsDiff(y.data, resnetRef(p, name, x, shortcut).data)).toBeLessThan(1e-4);
  });

  it('mid-block attention equals the reference (non-square input)', async () => {
    const name = 'decoder.mid_block.attentions.0';
    const x = f32(rand([1, 64, 3, 4], 23, 2));
    const y = await runBlock(p, x, (c, v) => c.g.scope(name, () => spatialAttention(c as never, v, 64)));
    expect(maxAbsDiff(y.data, attentionRef(p, name, x).data)).toBeLessThan(1e-4);
  });

  it('encoder downsampler pads one row and column at the bottom/right only, then convolves with stride 2', async () => {
    const path = 'encoder.down_blocks.0.downsamplers.0.conv';
    const enc = buildVaeEncoderGraph(tiny, {
      weights: p.weights,
      layers: {
        hook: (g, call) => {
          if (call.path === path) {
            g.output(call.x, 'ds_in');
            g.output(call.y, 'ds_out');
          }
          return call.y;
        },
      },
    });
    const out = await runModel(enc.model, { sample: feed(rand([1, 3, 7, 10], 5)) });
    const x: Nd = { shape: out.ds_in!.dims, data: Float64Array.from(out.ds_in!.data) };
    const [, c, h, w] = x.shape as [number, number, number, number];
    const padded = nd([1, c, h + 1, w + 1], ([, ch, y, xx]) => (y! < h && xx! < w ? at(x, [0, ch!, y!, xx!]) : 0));
    const ref = conv2d(padded, p.nd(`${path}.weight`), p.nd(`${path}.bias`), [0, 0, 0, 0], [2, 2]);
    expect(out.ds_out!.dims).toEqual([1, 32, 3, 5]);
    expect(maxAbsDiff(out.ds_out!.data, ref.data)).toBeLessThan(1e-4);
    expect(out.moments!.dims).toEqual([1, 8, 3, 5]);
  });

  it('decoder and encoder: shapes, static sizes, determinism', async () => {
    const z = randn(9, 2 * 4 * 8 * 8);
    const dec = buildVaeDecoderGraph(tiny, { weights: p.weights });
    const a = await runModel(dec.model, { latent_sample: tensor('float32', z, [2, 4, 8, 8]) });
    const b = await runModel(dec.model, { latent_sample: tensor('float32', z, [2, 4, 8, 8]) });
    expect(a.sample!.dims).toEqual([2, 3, 16, 16]);
    expect(maxAbsDiff(a.sample!.data, b.sample!.data)).toBe(0);
    expect(Number.isFinite(maxAbs(a.sample!.data))).toBe(true);
    const fixed = buildVaeDecoderGraph(tiny, { weights: p.weights, height: 8, width: 8 });
    expect(fixed.model.graph.input[0]!.type!.tensorType!.shape!.dim.map((d) => d.dimValue ?? d.dimParam)).toEqual(['batch', 4, 8, 8]);
    const c = await runModel(fixed.model, { latent_sample: tensor('float32', z, [2, 4, 8, 8]) });
    expect(maxAbsDiff(a.sample!.data, c.sample!.data)).toBeLessThan(1e-5);
    const enc = buildVaeEncoderGraph(tiny, { weights: p.weights });
    const m = await runModel(enc.model, { sample: tensor('float32', a.sample!.data, [2, 3, 16, 16]) });
    expect(m.moments!.dims).toEqual([2, 8, 8, 8]);
  });

  it('float16 decoder stays within 2e-2 of float32 (outputs are float16)', async () => {
    const z = randn(4, 4 * 8 * 8);
    const full = await runModel(buildVaeDecoderGraph(tiny, { weights: p.weights }).model, { latent_sample: tensor('float32', z, [1, 4, 8, 8]) });
    const halfGraph = buildVaeDecoderGraph(tiny, { weights: p.weights, dtype: 'float16' });
    const zh = Uint16Array.from(z, floatToHalf);
    const half = await runModel(halfGraph.model, { latent_sample: tensor('float16', zh, [1, 4, 8, 8]) });
    expect(maxAbsDiff(half.sample!.data, full.sample!.data)).toBeLessThan(2e-2 * Math.max(1, maxAbs(full.sample!.data)));
  });
});

