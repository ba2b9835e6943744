/**
 * Whole tiny UNets on the CPU provider, with seeded random weights in a real
 * safetensors file read through ONNX external data: shapes, determinism, the
 * dependence on every input, batch independence, the fused attention path and
 * the float16 graph.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { presetConfigs } from '../../../../src/engine/models/presets.ts';
import type { UNetConfig } from '../../../../src/engine/models/unet/config.ts';
import { buildUNetGraph, type UNetGraphOptions } from '../../../../src/engine/models/unet/graph.ts';
import { unetParams } from '../../../../src/engine/models/unet/params.ts';
import { mul } from '../../../../src/engine/onnx/index.ts';
import { createRandom } from '../../../../src/engine/pipeline/random.ts';
import { asFloat32, createSession, tensor, type Feeds, type HostTensor, type Session } from '../../../../src/engine/runtime/index.ts';
import { maxAbsDiff } from '../../onnx/reference.ts';
import { writeRandomWeights, type RandomWeightsFile } from './weights.ts';

/** float16 graphs against float32 on the same weights: |diff| <= FP16_TOL * max |out|. */
const FP16_TOL = 1e-2;

interface Case {
  id: 'tiny-sd15' | 'tiny-sdxl';
  extra: readonly string[];
}

const CASES: Case[] = [
  { id: 'tiny-sd15', extra: [] },
  { id: 'tiny-sdxl', extra: ['text_embeds', 'time_ids'] },
];

function makeFeeds(cfg: UNetConfig, batch: number, seed: number, h = 16, w = 16): Feeds {
  const rng = createRandom(seed);
  const f = (dims: number[], scale = 1) => tensor('float32', rng.normals(dims.reduce((a, b) => a * b, 1)).map((v) => v * scale), dims);
  const feeds: Feeds = {
    sample: f([batch, cfg.inChannels, h, w]),
    timestep: tensor('float32', Float32Array.from({ length: batch }, (_, i) => 999 - 137.25 * (i + seed)), [batch]),
    encoder_hidden_states: f([batch, 5, cfg.crossAttentionDim[0]!]),
  };
  if (cfg.addition) {
    feeds.text_embeds = f([batch, cfg.addition.projectionInputDim - 6 * cfg.addition.timeEmbedDim]);
    const ids = [1024, 768, 0, 16, 1024, 1024];
    feeds.time_ids = tensor('float32', Float32Array.from({ length: batch * 6 }, (_, i) => ids[i % 6]! + 8 * Math.floor(i / 6)), [batch, 6]);
  }
  return feeds;
}

/** Samples [from, to) of the batch dimension. */
function rows(t: HostTensor, from: number, to: number): HostTensor {
  const per = t.dims.slice(1).reduce((a, b) => a * b, 1);
  return tensor('float32', (t.data as Float32Array).slice(from * per, to * per), [to - from, ...t.dims.slice(1)]);
}

function sliceFeeds(feeds: Feeds, from: number, to: number): Feeds {
  return Object.fromEntries(Object.entries(feeds).map(([k, t]) => [k, rows(t, from, to)]));
}

function perturb(t: HostTensor, delta: number): HostTensor {
  return tensor('float32', (t.data as Float32Array).map((v) => v + delta), t.dims);
}

describe.each(CASES)('$id UNet on CPU', ({ id, extra }) => {
  const cfg = presetConfigs(id).unet;
  const sessions: Session[] = [];
  let f32File: RandomWeightsFile;
  let f16File: RandomWeightsFile;
  let base: Session;

  const open = async (file: RandomWeightsFile, options: Partial<UNetGraphOptions> = {}, config = cfg): Promise<Session> => {
    const { model } = buildUNetGraph(config, { weights: file.weights, ...options });
    const s = await createSession({ model, name: `${id}-unet`, externalDataDir: file.dir }, { provider: 'cpu', intraOpThreads: 1 });
    sessions.push(s);
    return s;
  };
  const run = async (s: Session, feeds: Feeds) => asFloat32((await s.run(feeds)).out_sample!);

  beforeAll(async () => {
    f32File = await writeRandomWeights(unetParams(cfg), 7, 'F32');
    f16File = await writeRandomWeights(unetParams(cfg), 7, 'F16');
    base = await open(f32File);
  });
  afterAll(async () => {
    for (const s of sessions) await s.dispose();
  });

  it('takes the documented inputs and returns out_sample of the sample shape', async () => {
    expect(base.inputs.map((i) => i.name)).toEqual(['sample', 'timestep', 'encoder_hidden_states', ...extra]);
    for (const [h, w] of [[16, 16], [8, 24]] as const) {
      const out = (await base.run(makeFeeds(cfg, 2, 1, h, w))).out_sample!;
      expect(out.dims).toEqual([2, cfg.outChannels, h, w]);
      expect(asFloat32(out).every(Number.isFinite)).toBe(true);
    }
  });

  it('is deterministic', async () => {
    const feeds = makeFeeds(cfg, 2, 1);
    expect(await run(base, feeds)).toEqual(await run(base, feeds));
  });

  it('depends on every input (timestep changed by a fraction)', async () => {
    const feeds = makeFeeds(cfg, 1, 2);
    const ref = await run(base, feeds);
    const changes: Record<string, HostTensor> = {
      sample: perturb(feeds.sample!, 0.1),
      timestep: perturb(feeds.timestep!, 0.5),
      encoder_hidden_states: perturb(feeds.encoder_hidden_states!, 0.1),
    };
    if (cfg.addition) {
      changes.text_embeds = perturb(feeds.text_embeds!, 0.1);
      changes.time_ids = perturb(feeds.time_ids!, 0.5);
    }
    expect(Object.keys(changes)).toEqual(['sample', 'timestep', 'encoder_hidden_states', ...extra]);
    for (const [name, t] of Object.entries(changes)) {
      const diff = maxAbsDiff(await run(base, { ...feeds, [name]: t }), ref);
      expect(diff, name).toBeGreaterThan(1e-4);
    }
  });

  it('computes each sample of a batch independently', async () => {
    const feeds = makeFeeds(cfg, 2, 3);
    const both = await run(base, feeds);
    const one = [...(await run(base, sliceFeeds(feeds, 0, 1))), ...(await run(base, sliceFeeds(feeds, 1, 2)))];
    expect(maxAbsDiff(both, one)).toBeLessThan(1e-5);
  });

  it('gives the same numbers with fused MultiHeadAttention', async () => {
    const feeds = makeFeeds(cfg, 2, 4);
    const fused = await open(f32File, { fusedAttention: true });
    expect(maxAbsDiff(await run(fused, feeds), await run(base, feeds))).toBeLessThan(1e-4);
  });

  it('uses what the module hook returns', async () => {
    const hooked = await open(f32File, { layers: { hook: (_g, call) => (call.path === 'conv_out' ? mul(call.y, 0) : call.y) } });
    expect((await run(hooked, makeFeeds(cfg, 1, 6))).every((v) => v === 0)).toBe(true);
  });

  it.each([
    { label: 'float32 file', file: 'f32', upcast: false },
    { label: 'float16 file, taken as stored', file: 'f16', upcast: false },
    { label: 'float32 file, upcast_attention', file: 'f32', upcast: true },
  ] as const)(`computes in float16 close to float32 ($label; tolerance ${FP16_TOL} x max |out|)`, async ({ file, upcast }) => {
    const weights = file === 'f32' ? f32File : f16File;
    const { model } = buildUNetGraph(cfg, { weights: weights.weights, dtype: 'float16' });
    const weightTypes = new Set(model.graph.initializer.filter((t) => t.externalData).map((t) => t.dataType));
    expect(weightTypes).toEqual(new Set([file === 'f32' ? 1 : 10]));
    const fp16 = await open(weights, { dtype: 'float16' }, { ...cfg, upcastAttention: upcast });
    const feeds = makeFeeds(cfg, 2, 5);
    const want = await run(base, feeds);
    const got = await run(fp16, feeds);
    const scale = Math.max(...want.map(Math.abs));
    expect(maxAbsDiff(got, want)).toBeLessThan(FP16_TOL * scale);
  });
});
