/**
 * The UNet graph's structure at every size: it consumes exactly the config's
 * parameters, routes every Linear/Conv2d through the module hook, and builds the
 * full SD 1.5 and SDXL architectures quickly from shape-only weights.
 */
import { describe, expect, it } from 'vitest';
import type { ModuleCall } from '../../../../src/engine/models/layers.ts';
import { moduleTableFromConfigs } from '../../../../src/engine/models/modules.ts';
import { presetConfigs, presetRawConfigs } from '../../../../src/engine/models/presets.ts';
import { buildUNetGraph } from '../../../../src/engine/models/unet/graph.ts';
import { unetParams } from '../../../../src/engine/models/unet/params.ts';
import { encodeModel, type OnnxModel } from '../../../../src/engine/onnx/index.ts';
import { isZipbankError } from '../../../../src/errors/index.ts';
import { recording, shapeOnlyWeights } from './weights.ts';

const PRESETS = [
  { id: 'tiny-sd15', inputs: ['sample', 'timestep', 'encoder_hidden_states'] },
  { id: 'tiny-sdxl', inputs: ['sample', 'timestep', 'encoder_hidden_states', 'text_embeds', 'time_ids'] },
  { id: 'sd15', inputs: ['sample', 'timestep', 'encoder_hidden_states'] },
  { id: 'sdxl', inputs: ['sample', 'timestep', 'encoder_hidden_states', 'text_embeds', 'time_ids'] },
] as const;

const externalNames = (m: OnnxModel) => m.graph.initializer.filter((t) => t.externalData).map((t) => t.name!);

describe('buildUNetGraph structure', () => {
  it.each(PRESETS)('$id consumes exactly the parameters of unetParams, each once', ({ id }) => {
    const cfg = presetConfigs(id).unet;
    const params = unetParams(cfg);
    const weights = recording(shapeOnlyWeights(params));
    const { model } = buildUNetGraph(cfg, { weights });
    expect(new Set(weights.asked).size).toBe(weights.asked.length);
    expect([...weights.asked].sort()).toEqual(params.map((p) => p.name).sort());
    expect(externalNames(model).sort()).toEqual(params.map((p) => p.name).sort());
  });

  it.each(PRESETS)('$id calls the module hook once per Linear/Conv2d of the module table', ({ id }) => {
    const cfg = presetConfigs(id).unet;
    const calls: ModuleCall[] = [];
    buildUNetGraph(cfg, { weights: shapeOnlyWeights(unetParams(cfg)), layers: { hook: (_g, call) => (calls.push(call), call.y) } });
    const table = moduleTableFromConfigs({ unet: presetRawConfigs(id).unet });
    const paths = calls.map((c) => `unet.${c.path}`);
    expect(new Set(paths).size).toBe(paths.length);
    expect([...paths].sort()).toEqual([...table.keys()].sort());
    for (const c of calls) expect(c.kind).toBe(table.get(`unet.${c.path}`)!.kind);
  });

  it.each(PRESETS)('$id declares its inputs and output', ({ id, inputs }) => {
    const cfg = presetConfigs(id).unet;
    const g = buildUNetGraph(cfg, { weights: shapeOnlyWeights(unetParams(cfg)) });
    expect(g.inputs.map((i) => i.name)).toEqual(inputs);
    expect(g.model.graph.input.map((i) => i.name)).toEqual(inputs);
    expect(g.inputs.every((i) => i.dtype === 'float32')).toBe(true);
    expect(g.inputs[0]!.shape).toEqual(['batch', cfg.inChannels, 'height', 'width']);
    expect(g.inputs[2]!.shape).toEqual(['batch', 'sequence', cfg.crossAttentionDim[0]]);
    expect(g.outputs).toEqual([{ name: 'out_sample', dtype: 'float32', shape: ['batch', cfg.outChannels, null, null] }]);
  });

  it('uses the SD 1.5 and SDXL head counts from attention_head_dim', () => {
    const heads = (id: string) => {
      const cfg = presetConfigs(id).unet;
      const { model } = buildUNetGraph(cfg, { weights: shapeOnlyWeights(unetParams(cfg)), fusedAttention: true });
      const mha = model.graph.node.filter((n) => n.opType === 'MultiHeadAttention');
      return new Set(mha.map((n) => `${n.name!.split('.')[0]}:${Number(n.attribute.find((a) => a.name === 'num_heads')!.i)}`));
    };
    expect(heads('sd15')).toEqual(new Set(['down_blocks:8', 'mid_block:8', 'up_blocks:8']));
    expect(heads('sdxl')).toEqual(new Set(['down_blocks:10', 'down_blocks:20', 'mid_block:20', 'up_blocks:20', 'up_blocks:10']));
  });

  it.each([
    { id: 'sd15', dtype: 'float32' },
    { id: 'sdxl', dtype: 'float32' },
    { id: 'sdxl', dtype: 'float16' },
  ] as const)('builds and serializes $id ($dtype) quickly from shape-only weights', ({ id, dtype }) => {
    const cfg = presetConfigs(id).unet;
    const t0 = performance.now();
    const { model } = buildUNetGraph(cfg, { weights: shapeOnlyWeights(unetParams(cfg)), dtype });
    const bytes = encodeModel(model);
    const ms = performance.now() - t0;
    console.log(`${id} ${dtype}: ${model.graph.node.length} nodes, ${model.graph.initializer.length} initializers, ${bytes.byteLength} bytes, ${ms.toFixed(0)} ms`);
    expect(ms).toBeLessThan(10_000);
    expect(bytes.byteLength).toBeLessThan(4_000_000);
  });

  it('refuses a weight whose stored shape does not match the config', () => {
    const cfg = presetConfigs('tiny-sd15').unet;
    const params = unetParams(cfg).map((p) => (p.name === 'conv_in.weight' ? { ...p, shape: [32, 4, 1, 1] } : p));
    try {
      buildUNetGraph(cfg, { weights: shapeOnlyWeights(params) });
      expect.unreachable();
    } catch (e) {
      expect(isZipbankError(e) && e.code).toBe('onnx.weight-shape');
    }
  });

  it('refuses a missing weight', () => {
    const cfg = presetConfigs('tiny-sd15').unet;
    const params = unetParams(cfg).filter((p) => p.name !== 'mid_block.attentions.0.proj_out.bias');
    expect(() => buildUNetGraph(cfg, { weights: shapeOnlyWeights(params) })).toThrow(expect.objectContaining({ code: 'onnx.missing-weight' }));
  });
});
