/**
 * The ZipLoRA objective as one ONNX graph with its gradient. The UNet carries one
 * LoRA branch per LoRA (an injection plan with one slot per LoRA, see
 * lora/inject.ts), so the mergers m_k of every adapted module are graph inputs
 * `lora.<k>.<path>.m`. The batch holds one sample per LoRA (its noisy reference
 * latent and its instance prompt), all at the same timestep; the graph computes
 *
 *     loss = Σ_k MSE(eps_merged(x_k, t, p_k), target_k)
 *          + lambda · Σ_layers Σ_{a<b} |cos(m_a, m_b)|
 *
 * (for a pair: MSE on subject inputs + MSE on style inputs + lambda Σ |cos(m_c, m_s)|,
 * the paper's Eq. 3), where target_k = eps of the UNet with LoRA k alone (an input,
 * computed by the caller without gradient). MSE is mean-reduced per sample.
 * Outputs: `loss`, `mse.<k>`, `cosine` (the unweighted Σ|cos|), and the gradient
 * `grad.<m input>` of `loss` for every merger input.
 *
 * @example
 *   const obj = buildZipObjective(cfg.unet, { weights, plan, height: 8, width: 8, sequence: 77 });
 *   obj.model;                     // OnnxModel: forward + backward
 *   obj.mergerInputs[0][3];        // 'lora.0.<path of module 3>.m'
 */
import { buildGradientGraph } from '../onnx/autodiff/index.ts';
import { ModelExtension } from '../onnx/extend.ts';
import { abs, add, div, mul, reduceMean, reduceSum, sqrt, sub } from '../onnx/ops/math.ts';
import { concat, reshape, slice } from '../onnx/ops/shape.ts';
import type { WeightSource } from '../onnx/external.ts';
import type { OnnxModel } from '../onnx/types.ts';
import type { Value } from '../onnx/value.ts';
import { loraContext, loraInputName, type InjectionPlan } from '../lora/inject.ts';
import type { UNetConfig } from '../models/unet/config.ts';
import { buildUNetGraph } from '../models/unet/graph.ts';

export interface ZipObjectiveOptions {
  weights: WeightSource;
  /** A UNet plan with one slot per LoRA (`planLoras(sources, { slots: 'per-lora', components: ['unet'] })`). */
  plan: InjectionPlan;
  /** Latent size. */
  height: number;
  width: number;
  /** Text sequence length of the conditioning. */
  sequence: number;
  /** SDXL: time ids per sample (default 6). */
  timeIds?: number;
  /** Keep the forward graph without gradients too (for inspection). Default false. */
  keepForward?: boolean;
}

export interface ZipObjective {
  /** Forward + backward. */
  model: OnnxModel;
  /** The forward graph with the loss (no gradients), when asked for. */
  forward?: OnnxModel;
  /** mergerInputs[k][j]: the m input of LoRA k for plan module j. */
  mergerInputs: string[][];
  /** gradient output names, same layout. */
  gradOutputs: string[][];
  /** Inputs besides the LoRA factors: sample, timestep, encoder_hidden_states[, text_embeds, time_ids], target, lambda. */
  inputShapes: Record<string, number[]>;
  /** Number of forward nodes that got backward nodes. */
  differentiated: number;
  nodes: number;
}

/** Builds the objective's graph and its gradient with respect to every merger. */
export function buildZipObjective(cfg: UNetConfig, o: ZipObjectiveOptions): ZipObjective {
  const n = o.plan.slots;
  if (n < 2) throw new RangeError(`buildZipObjective: the plan has ${n} slot(s); zipping needs one per LoRA (at least 2)`);
  if (o.plan.component !== 'unet') throw new RangeError(`buildZipObjective: the plan is for ${o.plan.component}, not the UNet`);
  const unet = buildUNetGraph(cfg, { weights: o.weights, dtype: o.plan.dtype, fusedAttention: false, layers: loraContext(o.plan), name: 'ziplora', ...(o.timeIds ? { timeIds: o.timeIds } : {}) });
  const latent = [n, cfg.inChannels, o.height, o.width];
  const out = [n, cfg.outChannels, o.height, o.width];
  const inputShapes: Record<string, number[]> = {
    sample: latent,
    timestep: [n],
    encoder_hidden_states: [n, o.sequence, cfg.crossAttentionDim[0]!],
  };
  for (const io of unet.inputs) {
    if (io.name === 'text_embeds') inputShapes.text_embeds = [n, io.shape[1] as number];
    if (io.name === 'time_ids') inputShapes.time_ids = [n, io.shape[1] as number];
  }
  const mergerInputs = Array.from({ length: n }, (_, k) => o.plan.modules.map((pm) => loraInputName(pm.path, k, 'm')));

  const ext = new ModelExtension(unet.model, { name: 'ziplora' });
  const g = ext.g;
  const eps = g.op('Identity', [ext.ref('out_sample')], {}, { output: { shape: out } });
  const target = g.input('target', 'float32', out);
  const lambda = g.input('lambda', 'float32', []);
  const diff = sub(eps, target);
  const perSample = reduceMean(mul(diff, diff), [1, 2, 3], false); // [n]
  for (let k = 0; k < n; k++) g.output(reshape(slice(perSample, [k], [k + 1], [0]), []), `mse.${k}`);
  const mseTotal = reduceSum(perSample, [0], false);
  const cosines: Value[] = [];
  for (let j = 0; j < o.plan.modules.length; j++) {
    const ms = mergerInputs.map((row) => ext.ref(row[j]!));
    const norms = ms.map((m) => sqrt(reduceSum(mul(m, m), [0], true)));
    for (let a = 0; a < n; a++) {
      for (let b = a + 1; b < n; b++) {
        const dot = reduceSum(mul(ms[a]!, ms[b]!), [0], true);
        cosines.push(abs(div(dot, add(mul(norms[a]!, norms[b]!), 1e-12))));
      }
    }
  }
  const cosine = g.output(cosines.length ? reshape(reduceSum(concat(cosines, 0), [0], true), []) : g.scalar(0), 'cosine');
  g.output(add(mseTotal, mul(lambda, cosine)), 'loss');
  const forward = ext.finish({ keepOutputs: false });
  const grad = buildGradientGraph(forward, { loss: 'loss', wrt: mergerInputs.flat(), inputShapes, keepOutputs: true });
  return {
    model: grad.model,
    ...(o.keepForward ? { forward } : {}),
    mergerInputs,
    gradOutputs: mergerInputs.map((row) => row.map((name) => grad.gradients[name]!)),
    inputShapes: { ...inputShapes, target: out, lambda: [] },
    differentiated: grad.differentiated,
    nodes: grad.model.graph.node.length,
  };
}
