/**
 * The ZipLoRA objective graph: its gradient with respect to every merger matches
 * finite differences (directional derivatives, relative steps, Richardson, float32;
 * lambda 0.15 so that neither term hides the other and the loss stays small enough
 * for float32 differences;
 * tolerance 1e-2), for two LoRAs (the paper) and three (pairwise cosine terms), on
 * the tiny SD 1.5 UNet with seeded weights; and its outputs are the loss parts.
 */
import { describe, expect, it } from 'vitest';
import { loraFeeds } from '../../../src/engine/lora/feeds.ts';
import { planLoras, type LoraSource } from '../../../src/engine/lora/plan.ts';
import { presetConfigs } from '../../../src/engine/models/presets.ts';
import { unetParams } from '../../../src/engine/models/unet/params.ts';
import { createRandom } from '../../../src/engine/pipeline/random.ts';
import { asFloat32, createSession, tensor, type Feeds } from '../../../src/engine/runtime/index.ts';
import { buildZipObjective } from '../../../src/engine/ziplora/objective.ts';
import { layerCosines } from '../../../src/engine/ziplora/zip.ts';
import { tinyLora } from '../lora/apply-support.ts';
import { randomParams } from '../models/graph-support.ts';
import { gradCheck, randomFeed } from '../onnx/autodiff/gradcheck.ts';

const cfg = presetConfigs('tiny-sd15').unet;
const weights = randomParams(unetParams(cfg), 6).weights;

async function setup(n: number) {
  const sources: LoraSource[] = [];
  for (let k = 0; k < n; k++) sources.push({ lora: await tinyLora('tiny-sd15', { rank: 4, seed: 40 + k, alpha: 16, targets: k === 1 ? 'all' : 'attn' }) });
  const plan = planLoras(sources, { slots: 'per-lora', components: ['unet'] }).unet!;
  const obj = buildZipObjective(cfg, { weights, plan, height: 8, width: 8, sequence: 5, keepForward: true });
  const rng = createRandom(3);
  const vectors = obj.mergerInputs.map((row) => row.map((_, j) => Float32Array.from({ length: plan.modules[j]!.base.inFeatures }, () => 1 + 0.3 * rng.normal())));
  const feeds: Feeds = {
    ...(await loraFeeds(plan, sources)),
    sample: randomFeed([n, 4, 8, 8], 1),
    timestep: tensor('float32', new Float32Array(n).fill(400), [n]),
    encoder_hidden_states: randomFeed([n, 5, cfg.crossAttentionDim[0]!], 2),
    target: randomFeed([n, 4, 8, 8], 3, 0.5),
    lambda: tensor('float32', new Float32Array([0.15]), []),
  };
  obj.mergerInputs.forEach((row, k) => row.forEach((name, j) => (feeds[name] = tensor('float32', vectors[k]![j]!, [vectors[k]![j]!.length]))));
  return { obj, feeds, vectors, plan };
}

describe('buildZipObjective', () => {
  for (const n of [2, 3]) {
    it(`${n} LoRAs: d loss / d mergers matches finite differences`, async () => {
      const { obj, feeds } = await setup(n);
      // eps 3e-2: the loss is dominated by ~100s of |cos| terms, so float32 rounding of L sets the noise; the
      // cosine is smooth there and Richardson extrapolation keeps the truncation error small.
      const r = await gradCheck(obj.forward!, { loss: 'loss', wrt: obj.mergerInputs.flat(), feeds, inputShapes: obj.inputShapes, eps: 3e-2 });
      expect(r.worst, JSON.stringify(r.directions)).toBeLessThan(1e-2);
      expect(r.directions.every((d) => Math.abs(d.analytic) > 1e-3)).toBe(true);
    }, 120_000);
  }

  it('reads the weights in place: the backward part adds no weight copies and transposes no weight', async () => {
    const { obj } = await setup(2);
    const f = obj.forward!.graph;
    const g = obj.model.graph;
    const bytes = (ts: typeof f.initializer) => ts.reduce((a, t) => a + (t.rawData?.byteLength ?? 0), 0);
    const added = g.initializer.slice(f.initializer.length);
    expect(bytes(added)).toBeLessThan(0.001 * bytes(f.initializer));
    const weights = new Set(f.initializer.filter((t) => t.dims.length >= 2).map((t) => t.name));
    const backward = g.node.slice(f.node.length);
    expect(backward.length).toBeGreaterThan(f.node.length);
    expect(backward.filter((n) => n.opType === 'Transpose' && weights.has(n.input[0]!))).toEqual([]);
  }, 60_000);

  it('outputs the loss as MSE per LoRA plus lambda times the summed pairwise |cos|', async () => {
    const { obj, feeds, vectors } = await setup(2);
    const s = await createSession({ model: obj.model, name: 'zip' }, { provider: 'cpu' });
    try {
      const out = await s.run(feeds);
      const v = (name: string) => asFloat32(out[name]!)[0]!;
      const cosSum = layerCosines(vectors).reduce((a, b) => a + b, 0);
      expect(v('cosine')).toBeCloseTo(cosSum, 3);
      expect(v('loss')).toBeCloseTo(v('mse.0') + v('mse.1') + 0.15 * v('cosine'), 4);
      expect(obj.gradOutputs.flat().every((g) => out[g] !== undefined)).toBe(true);
    } finally {
      await s.dispose();
    }
  }, 60_000);
});
