import { describe, expect, it } from 'vitest';
import { buildClipTextGraph, causalMask, encoderLayer } from '../../../../src/engine/models/clip/graph.ts';
import { parseClipTextConfig, type ClipTextConfig } from '../../../../src/engine/models/clip/config.ts';
import { clipTextParams } from '../../../../src/engine/models/clip/params.ts';
import { ModelGraphBuilder } from '../../../../src/engine/models/model-graph.ts';
import { moduleTable } from '../../../../src/engine/models/modules.ts';
import { presetConfigs, presetRawConfigs } from '../../../../src/engine/models/presets.ts';
import { ClipTokenizer } from '../../../../src/engine/pipeline/tokenizer.ts';
import { CLIP_VOCAB_DIR } from '../../../../src/engine/pipeline/tokenizer/clip-vocab.ts';
import { tensor } from '../../../../src/engine/runtime/index.ts';
import { maxAbsDiff, rand } from '../../onnx/reference.ts';
import { randomParams, recordingHook, runModel, shapeOnlyWeights } from '../graph-support.ts';
import { clipLayerRef, clipTextRef, flat } from './reference.ts';

const EOS = 49407;
type Encoder = 'textEncoder' | 'textEncoder2';
const cfgOf = (preset: string, key: Encoder): ClipTextConfig => presetConfigs(preset)[key]!;

/** [bos, ...tokens, eos, pad...] of length 77. */
function ids(tokens: number[], pad: number, length = 77): Int32Array {
  const a = new Int32Array(length).fill(pad);
  a.set([49406, ...tokens, EOS]);
  return a;
}

async function run(cfg: ClipTextConfig, rows: Int32Array[], opts: { seed?: number; dtype?: 'float32' | 'float16'; seqLength?: number } = {}) {
  const p = randomParams(clipTextParams(cfg), opts.seed ?? 1);
  const seq = rows[0]!.length;
  const g = buildClipTextGraph(cfg, { weights: p.weights, dtype: opts.dtype, seqLength: opts.seqLength ?? seq });
  const batch = new Int32Array(rows.length * seq);
  rows.forEach((r, i) => batch.set(r, i * seq));
  const out = await runModel(g.model, { input_ids: tensor('int32', batch, [rows.length, seq]) });
  return { out, p, graph: g };
}

const row = (data: Float32Array, width: number, i: number) => data.subarray(i * width, (i + 1) * width);

describe('buildClipTextGraph: structure', () => {
  const cases: [string, string, Encoder][] = [
    ['tiny-sd15', 'text_encoder', 'textEncoder'],
    ['tiny-sdxl', 'text_encoder', 'textEncoder'],
    ['tiny-sdxl', 'text_encoder_2', 'textEncoder2'],
    ['sd15', 'text_encoder', 'textEncoder'],
    ['sd2', 'text_encoder', 'textEncoder'],
    ['sdxl', 'text_encoder', 'textEncoder'],
    ['sdxl', 'text_encoder_2', 'textEncoder2'],
  ];

  it.each(cases)('%s %s consumes exactly clipTextParams', (preset, _folder, key) => {
    const cfg = cfgOf(preset, key);
    const specs = clipTextParams(cfg);
    const g = buildClipTextGraph(cfg, { weights: shapeOnlyWeights(specs) });
    expect([...g.params].sort()).toEqual(specs.map((s) => s.name).sort());
    expect(g.outputs).toEqual(['last_hidden_state', 'penultimate_hidden_state', 'pooled_output', ...(cfg.architecture === 'CLIPTextModelWithProjection' ? ['text_embeds'] : [])]);
    const inits = g.model.graph.initializer.filter((t) => t.externalData).map((t) => t.name).sort();
    expect(inits).toEqual(specs.map((s) => s.name).sort());
  });

  it('withProjection: false drops text_projection and text_embeds', () => {
    const cfg = cfgOf('sdxl', 'textEncoder2');
    const g = buildClipTextGraph(cfg, { weights: shapeOnlyWeights(clipTextParams(cfg)), withProjection: false });
    expect(g.params).not.toContain('text_projection.weight');
    expect(g.params).toHaveLength(516);
    expect(g.outputs).not.toContain('text_embeds');
  });

  it.each([
    ['sd15', 'text_encoder', 'textEncoder'],
    ['sdxl', 'text_encoder', 'textEncoder'],
    ['sdxl', 'text_encoder_2', 'textEncoder2'],
  ] as const)('%s %s hooks exactly the module table\'s linears', (family, folder, key) => {
    const cfg = cfgOf(family, key);
    const { hook, calls } = recordingHook();
    buildClipTextGraph(cfg, { weights: shapeOnlyWeights(clipTextParams(cfg)), layers: { hook } });
    const table = [...moduleTable(family).keys()].filter((k) => k.startsWith(`${folder}.`)).sort();
    expect(calls.map((c) => `${folder}.${c.path}`).sort()).toEqual(table);
    expect(new Set(calls.map((c) => c.kind))).toEqual(new Set(['linear']));
  });

  it('pooling mode follows eos_token_id (legacy 2: argmax)', () => {
    expect(buildClipTextGraph(cfgOf('sd15', 'textEncoder'), { weights: shapeOnlyWeights(clipTextParams(cfgOf('sd15', 'textEncoder'))) }).pooling).toBe('argmax');
    expect(buildClipTextGraph(cfgOf('tiny-sd15', 'textEncoder'), { weights: shapeOnlyWeights(clipTextParams(cfgOf('tiny-sd15', 'textEncoder'))) }).pooling).toBe('first-eos');
  });

  it('refuses bad sequence lengths and weights that do not fit the config', () => {
    const cfg = cfgOf('tiny-sd15', 'textEncoder');
    const specs = clipTextParams(cfg);
    expect(() => buildClipTextGraph(cfg, { weights: shapeOnlyWeights(specs), seqLength: 78 })).toThrow(/sequence length 78/);
    const wrong = specs.map((s) => (s.name.endsWith('layers.1.mlp.fc1.weight') ? { ...s, shape: [65, 32] } : s));
    expect(() => buildClipTextGraph(cfg, { weights: shapeOnlyWeights(wrong) })).toThrow(/layers\.1\.mlp\.fc1\.weight .*\[65, 32\].*\[64, 32\]/);
    const missing = specs.filter((s) => s.name !== 'text_model.final_layer_norm.bias');
    expect(() => buildClipTextGraph(cfg, { weights: shapeOnlyWeights(missing) })).toThrow(/needs weight text_model\.final_layer_norm\.bias/);
  });
});

describe('buildClipTextGraph: numbers (tiny presets, CPU)', () => {
  const tokenizer = ClipTokenizer.fromFolder(CLIP_VOCAB_DIR);

  it.each([
    ['tiny-sd15 text_encoder (quick_gelu, pad 49407)', 'tiny-sd15', 'textEncoder', EOS],
    ['tiny-sdxl text_encoder_2 (gelu, projection, pad 0)', 'tiny-sdxl', 'textEncoder2', 0],
  ] as const)('%s equals the plain-JS reference', async (_label, preset, key, pad) => {
    const cfg = cfgOf(preset, key);
    const input = (await tokenizer).encodeForModel('a photo of a corgi surfing at sunset').ids.map((v, i, a) => (i > a.indexOf(EOS) ? pad : v));
    const { out, p } = await run(cfg, [input]);
    const withProjection = cfg.architecture === 'CLIPTextModelWithProjection';
    const ref = clipTextRef(cfg, p.values, [...input], withProjection);
    expect(out.last_hidden_state!.dims).toEqual([1, 77, 32]);
    expect(maxAbsDiff(out.last_hidden_state!.data, flat(ref.last))).toBeLessThan(1e-4);
    expect(maxAbsDiff(out.penultimate_hidden_state!.data, flat(ref.penultimate))).toBeLessThan(1e-4);
    expect(maxAbsDiff(out.pooled_output!.data, ref.pooled)).toBeLessThan(1e-4);
    expect(ref.eosIndex).toBe(9);
    if (withProjection) expect(maxAbsDiff(out.text_embeds!.data, ref.textEmbeds!)).toBeLessThan(1e-4);
  });

  it('one encoder layer equals the reference (catches transposed weights and wrong axes)', async () => {
    for (const [preset, key] of [['tiny-sd15', 'textEncoder'], ['tiny-sdxl', 'textEncoder2']] as const) {
      const cfg = cfgOf(preset, key);
      const specs = clipTextParams(cfg);
      const p = randomParams(specs, 5);
      const g = new ModelGraphBuilder('layer', { weights: p.weights, specs });
      const seq = 6;
      const x = g.input('x', 'float32', [1, seq, cfg.hiddenSize]);
      const y = g.scope('text_model.encoder.layers.1', () => encoderLayer(g, cfg, x, causalMask(g, seq), {}));
      g.output(y, 'y');
      const xs = rand([1, seq, cfg.hiddenSize], 11, 2);
      const out = await runModel(g.build(), { x: tensor('float32', Float32Array.from(xs.data), xs.shape) });
      const rows = Array.from({ length: seq }, (_, i) => Float64Array.from(Float32Array.from(xs.data.subarray(i * 32, (i + 1) * 32))));
      const ref = clipLayerRef(cfg, p.values, 'text_model.encoder.layers.1', rows);
      expect(maxAbsDiff(out.y!.data, flat(ref))).toBeLessThan(1e-4);
    }
  });

  it('pools at the end-of-text position for both pooling rules and both paddings', async () => {
    const tiny = presetRawConfigs('tiny-sd15').textEncoder as Record<string, unknown>;
    const rules: [string, number, (r: Int32Array) => number][] = [
      ['first eos (49407)', EOS, (r) => r.indexOf(EOS)],
      ['legacy argmax (2)', 2, (r) => r.indexOf(Math.max(...r))],
      ['first 320 (an unusual eos id)', 320, (r) => r.indexOf(320)],
    ];
    for (const [label, eos, expected] of rules) {
      const cfg = parseClipTextConfig({ ...tiny, eos_token_id: eos });
      const batch = [ids([320, 1125, 539], EOS), ids([2368, 320], 0), ids([539, 539, 539, 320, 530], 0)];
      const { out } = await run(cfg, batch);
      batch.forEach((r, b) => {
        const idx = expected(r);
        const want = row(out.last_hidden_state!.data, 32, b * 77 + idx);
        expect(maxAbsDiff(row(out.pooled_output!.data, 32, b), want), `${label}, row ${b}`).toBe(0);
      });
    }
  });

  it('is causal: a later token changes nothing before it', async () => {
    const cfg = cfgOf('tiny-sd15', 'textEncoder');
    const a = ids([320, 1125, 539, 320, 2368], EOS);
    const b = Int32Array.from(a);
    b[4] = 9723;
    const { out } = await run(cfg, [a, b]);
    for (const name of ['last_hidden_state', 'penultimate_hidden_state']) {
      const d = out[name]!.data;
      const first = d.subarray(0, 77 * 32);
      const second = d.subarray(77 * 32);
      expect(maxAbsDiff(first.subarray(0, 4 * 32), second.subarray(0, 4 * 32)), name).toBeLessThan(1e-6);
      expect(maxAbsDiff(first.subarray(4 * 32, 5 * 32), second.subarray(4 * 32, 5 * 32)), name).toBeGreaterThan(1e-3);
    }
  });

  it('is deterministic, batch-independent, and a shorter seqLength gives the leading positions', async () => {
    const cfg = cfgOf('tiny-sdxl', 'textEncoder2');
    const a = ids([320, 1125, 539], 0);
    const b = ids([2368], 0);
    const one = await run(cfg, [a, b]);
    const two = await run(cfg, [a, b]);
    const alone = await run(cfg, [b]);
    expect(one.out.last_hidden_state!.dims).toEqual([2, 77, 32]);
    expect(one.out.pooled_output!.dims).toEqual([2, 32]);
    expect(one.out.text_embeds!.dims).toEqual([2, 32]);
    for (const k of Object.keys(one.out)) expect(maxAbsDiff(one.out[k]!.data, two.out[k]!.data), k).toBe(0);
    expect(maxAbsDiff(one.out.text_embeds!.data.subarray(32), alone.out.text_embeds!.data)).toBeLessThan(1e-5);
    const short = await run(cfg, [a.slice(0, 16)], { seqLength: 16 });
    expect(short.out.last_hidden_state!.dims).toEqual([1, 16, 32]);
    expect(maxAbsDiff(short.out.last_hidden_state!.data, one.out.last_hidden_state!.data.subarray(0, 16 * 32))).toBeLessThan(1e-5);
  });

  it('text_embeds = pooled_output @ text_projection^T', async () => {
    const cfg = cfgOf('tiny-sdxl', 'textEncoder2');
    const { out, p } = await run(cfg, [ids([320, 2368], 0)]);
    const w = p.values.get('text_projection.weight')!;
    const pooled = out.pooled_output!.data;
    const want = Float64Array.from({ length: 32 }, (_, o) => pooled.reduce((s, v, i) => s + v * w[o * 32 + i]!, 0));
    expect(maxAbsDiff(out.text_embeds!.data, want)).toBeLessThan(1e-5);
  });

  it('float16 stays within 1e-2 of float32 (outputs are float16)', async () => {
    const cfg = cfgOf('tiny-sdxl', 'textEncoder2');
    const input = [ids([320, 1125, 539, 320, 2368], 0)];
    const full = await run(cfg, input);
    const half = await run(cfg, input, { dtype: 'float16' });
    for (const k of ['last_hidden_state', 'penultimate_hidden_state', 'pooled_output', 'text_embeds']) {
      expect(maxAbsDiff(half.out[k]!.data, full.out[k]!.data), k).toBeLessThan(1e-2);
    }
  });
});
