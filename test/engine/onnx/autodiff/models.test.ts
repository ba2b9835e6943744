/**
 * Whole-graph gradient checks (directional derivatives against central differences,
 * float32, eps 1e-2, 3 directions): the real exported DDPM UNet fixture with respect
 * to its input and all its weights, and our tiny SD 1.5 / SDXL UNets and CLIP text
 * encoder with respect to inputs and weights. Tolerance 1e-2 relative (a whole
 * network in float32 accumulates rounding in the central difference).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { buildClipTextGraph } from '../../../../src/engine/models/clip/graph.ts';
import { clipTextParams } from '../../../../src/engine/models/clip/params.ts';
import { presetConfigs } from '../../../../src/engine/models/presets.ts';
import { buildUNetGraph } from '../../../../src/engine/models/unet/graph.ts';
import { unetParams } from '../../../../src/engine/models/unet/params.ts';
import { buildGradientGraph } from '../../../../src/engine/onnx/autodiff/index.ts';
import { GraphBuilder, ModelExtension, decodeModel, mul, reduceSum, type OnnxModel } from '../../../../src/engine/onnx/index.ts';
import { createRandom } from '../../../../src/engine/pipeline/random.ts';
import { tensor } from '../../../../src/engine/runtime/index.ts';
import { fixture } from '../../../support/paths.ts';
import { randomParams } from '../../models/graph-support.ts';
import { gradCheck, randomFeed } from './gradcheck.ts';

/** Append loss = sum(output * R) for a fixed random R. */
function withLoss(model: OnnxModel, output: string, shape: number[], seed = 5): OnnxModel {
  const ext = new ModelExtension(model);
  const y = ext.ref(output);
  const n = shape.reduce((a, b) => a * b, 1);
  const r = ext.g.constant(createRandom(seed).normals(n), { shape, name: 'R' });
  const yv = ext.g.op('Identity', [y], {}, { output: { shape } });
  return ext.finish({ outputs: [{ value: reduceSum(mul(yv, r), shape.map((_, i) => i), false), name: 'loss' }], keepOutputs: false });
}

describe('whole-graph gradients', () => {
  it('the exported DDPM UNet fixture: input and every weight', async () => {
    const model = decodeModel(readFileSync(fixture('onnx', 'ddpm_mnist_unet_batch8_Andrew2077.onnx')));
    const loss = withLoss(model, model.graph.output[0]!.name, [8, 1, 28, 28]);
    const weights = model.graph.initializer.filter((t) => t.dataType === 1 && t.dims.length > 0 && t.dims.reduce((a, b) => a * Number(b), 1) > 1).map((t) => t.name!);
    const t = new BigInt64Array(8).map((_, i) => BigInt(i * 12));
    const r = await gradCheck(loss, {
      loss: 'loss',
      wrt: ['input', ...weights],
      feeds: { input: randomFeed([8, 1, 28, 28], 3), 'input.1': tensor('int64', t, [8, 1]) },
    });
    expect(r.worst, JSON.stringify(r.directions)).toBeLessThan(1e-2);
    expect(weights.length).toBeGreaterThan(50);
    expect(r.differentiated).toBeGreaterThan(300);
  }, 120_000);

  for (const id of ['tiny-sd15', 'tiny-sdxl'] as const) {
    it(`${id} UNet: sample, text states and all weights`, async () => {
      const c = presetConfigs(id);
      const specs = unetParams(c.unet);
      const p = randomParams(specs, 3);
      const unet = buildUNetGraph(c.unet, { weights: p.weights });
      const shape = [2, 4, 8, 8];
      const model = withLoss(unet.model, 'out_sample', shape);
      const cross = c.unet.crossAttentionDim[0]!;
      const feeds: Record<string, ReturnType<typeof randomFeed>> = {
        sample: randomFeed(shape, 1),
        timestep: tensor('float32', new Float32Array([10, 700]), [2]),
        encoder_hidden_states: randomFeed([2, 5, cross], 2),
      };
      const inputShapes: Record<string, number[]> = { sample: shape, timestep: [2], encoder_hidden_states: [2, 5, cross] };
      for (const io of unet.inputs) {
        if (io.name === 'text_embeds' || io.name === 'time_ids') {
          const dims = [2, io.shape[1] as number];
          inputShapes[io.name] = dims;
          feeds[io.name] = io.name === 'time_ids' ? tensor('float32', Float32Array.from([64, 64, 0, 0, 64, 64, 64, 64, 0, 0, 64, 64]), dims) : randomFeed(dims, 4);
        }
      }
      const r = await gradCheck(model, { loss: 'loss', wrt: ['sample', 'encoder_hidden_states', ...specs.map((s) => s.name)], feeds, inputShapes });
      expect(r.worst, JSON.stringify(r.directions)).toBeLessThan(1e-2);
    }, 120_000);
  }

  it('tiny CLIP text encoder: every weight (through the token embedding gather)', async () => {
    const cfg = presetConfigs('tiny-sd15').textEncoder!;
    const specs = clipTextParams(cfg);
    const p = randomParams(specs, 4);
    const clip = buildClipTextGraph(cfg, { weights: p.weights, seqLength: 8 });
    const model = withLoss(clip.model, 'last_hidden_state', [2, 8, cfg.hiddenSize]);
    const ids = new Int32Array([49406, 320, 1125, 539, 49407, 49407, 49407, 49407, 49406, 2368, 49407, 49407, 49407, 49407, 49407, 49407].map((v) => Math.min(v, cfg.vocabSize - 1)));
    const r = await gradCheck(model, { loss: 'loss', wrt: specs.map((s) => s.name), feeds: { input_ids: tensor('int32', ids, [2, 8]) }, inputShapes: { input_ids: [2, 8] } });
    expect(r.worst, JSON.stringify(r.directions)).toBeLessThan(1e-2);
  }, 120_000);

  it('gives zeros for, and names, requested tensors the loss does not depend on; refuses bad requests', async () => {
    const g = new GraphBuilder('disconnected');
    const a = g.input('a', 'float32', [3]);
    g.input('b', 'float32', [2]);
    g.output(reduceSum(mul(a, a), [0], false), 'loss');
    const model = g.build();
    const grad = buildGradientGraph(model, { loss: 'loss', wrt: ['a', 'b'] });
    expect(grad.disconnected).toEqual(['b']);
    const r = await gradCheck(model, { loss: 'loss', wrt: ['a', 'b'], feeds: { a: randomFeed([3], 1), b: randomFeed([2], 2) } });
    expect([...r.gradients.b!]).toEqual([0, 0]);
    expect(r.worst).toBeLessThan(2e-3);
    expect(() => buildGradientGraph(model, { loss: 'nope', wrt: ['a'] })).toThrow(/no tensor named nope/);
    expect(() => buildGradientGraph(model, { loss: 'loss', wrt: ['zzz'] })).toThrow(/not a graph input or initializer/);
  });
});
