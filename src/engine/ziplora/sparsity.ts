/**
 * The paper's Fig. 3a: how sparse a LoRA's update dW = scale · B A is. For each LoRA,
 * the smallest fraction f of every module's dW elements (by magnitude, per module)
 * is zeroed and the UNet run on that LoRA's own input (its first reference latent,
 * noised at t = T/2 with a seeded draw, its prompt). Reported per fraction:
 *
 *     outputChange = ||eps(dW_f) - eps(dW)|| / ||eps(dW) - eps(0)||
 *
 * i.e. the share of the LoRA's own effect on the prediction that zeroing loses
 * (0: nothing lost; 1: as if the LoRA were gone). Dense updates are fed through a
 * 'full' injection plan (one session per plan, reused across fractions).
 *
 * @example
 *   const s = await measureSparsity(pipe, result.context, [0.8, 0.9]);
 *   s[0];    // [{ fraction: 0.8, outputChange: 0.04 }, { fraction: 0.9, outputChange: 0.11 }]
 */
import { loraFeeds } from '../lora/feeds.ts';
import { loraContext, makePlan, type InjectionPlan } from '../lora/inject.ts';
import { componentPath } from '../lora/plan.ts';
import { buildUNetGraph } from '../models/unet/graph.ts';
import { sdxlTimeIds } from '../pipeline/conditioning.ts';
import { createRandom } from '../pipeline/random.ts';
import { noiseWithAlpha } from '../pipeline/schedulers/common.ts';
import type { DiffusionPipeline } from '../pipeline/text-to-image.ts';
import { asFloat32, tensor, type Feeds, type HostTensor } from '../runtime/index.ts';
import type { SparsityPoint } from './stats.ts';
import { trainingAlphas, type ZipContextOptions } from './zip.ts';

export const SPARSITY_FRACTIONS = [0.5, 0.8, 0.9, 0.95] as const;

/** `values` with the smallest `fraction` of its elements (by magnitude) set to 0. */
export function zeroSmallest(values: Float32Array, fraction: number): Float32Array {
  const n = values.length;
  const k = Math.min(n, Math.floor(fraction * n));
  if (k <= 0) return values.slice();
  const mags = Float32Array.from(values, Math.abs).sort();
  const threshold = mags[k - 1]!;
  const out = values.slice();
  let zeroed = 0;
  // Zero strictly below the threshold first, then ties up to exactly k.
  for (let i = 0; i < n; i++) if (Math.abs(out[i]!) < threshold) (out[i] = 0), zeroed++;
  for (let i = 0; i < n && zeroed < k; i++) if (out[i] !== 0 && Math.abs(out[i]!) === threshold) (out[i] = 0), zeroed++;
  return out;
}

function norm(a: Float32Array, b?: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) {
    const d = a[i]! - (b ? b[i]! : 0);
    s += d * d;
  }
  return Math.sqrt(s);
}

/** One SparsityPoint list per LoRA of the context. */
export async function measureSparsity(pipe: DiffusionPipeline, c: ZipContextOptions, fractions: readonly number[] = SPARSITY_FRACTIONS, seed = 0): Promise<SparsityPoint[][]> {
  const m = pipe.model;
  const cfg = m.folder.configs.unet;
  const weights = m.folder.components.unet!.weights;
  const h = c.height / m.vaeFactor;
  const w = c.width / m.vaeFactor;
  const out: SparsityPoint[][] = [];
  for (const [k, source] of c.sources.entries()) {
    const modules = source.lora.modules.filter((x) => x.component === 'unet');
    if (modules.length === 0) {
      out.push([]);
      continue;
    }
    const plan: InjectionPlan = makePlan('unet', modules.map((x) => ({ path: componentPath(x), kind: 'full' as const, base: x.base })), { rank: 4 });
    const graph = buildUNetGraph(cfg, { weights, dtype: 'float32', fusedAttention: m.fusedAttention, layers: loraContext(plan), name: 'ziplora_sparsity' });
    const session = await m.cache.get({ model: graph.model, name: 'ziplora_sparsity', externalDataDir: m.folder.root }, m.sessionOptions);
    const full = await loraFeeds(plan, [source]);
    const rng = createRandom(seed + 77 * (k + 1));
    const alphas = trainingAlphas(m);
    const t = Math.floor(alphas.length / 2);
    const x0 = c.latents[k]![0]!;
    const noise = rng.normals(x0.length);
    const x = noiseWithAlpha(alphas[t]!, x0, noise);
    const cond = c.conditions[k]!;
    const io: Feeds = {
      sample: tensor('float32', x, [1, cfg.inChannels, h, w]),
      timestep: tensor('float32', new Float32Array([t]), [1]),
      encoder_hidden_states: tensor('float32', cond.hidden.data, cond.hidden.dims),
    };
    if (m.family === 'sdxl') {
      const ids = sdxlTimeIds({ width: c.width, height: c.height });
      io.text_embeds = tensor('float32', cond.pooled!.data, cond.pooled!.dims);
      io.time_ids = tensor('float32', ids, [1, ids.length]);
    }
    const run = async (f: number | null) => {
      const feeds: Feeds = { ...io };
      for (const [name, v] of Object.entries(full)) {
        const data = asFloat32(v as HostTensor);
        const isDelta = name.endsWith('.delta');
        feeds[name] = isDelta ? tensor('float32', f === null ? new Float32Array(data.length) : f > 0 ? zeroSmallest(data, f) : data, v.dims) : v;
      }
      return asFloat32((await session.run(feeds, ['out_sample'])).out_sample!);
    };
    const base = await run(null);
    const dense = await run(0);
    const effect = norm(dense, base) || 1e-12;
    const points: SparsityPoint[] = [];
    for (const f of fractions) points.push({ fraction: f, outputChange: norm(await run(f), dense) / effect });
    out.push(points);
  }
  return out;
}
