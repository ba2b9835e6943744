/**
 * Training objectives of the base model's components, each one ONNX graph built
 * from the engine's own architectures (so what is trained is exactly what renders):
 *
 * - `vaeObjective`: AutoencoderKL encoder -> reparameterised sample
 *   z = mean + exp(logvar / 2) · noise -> decoder; loss = mean (x̂ - x)² + mean |x̂ - x|
 *   + chromaWeight · (mean Δ(G - (R+B)/2)² + mean Δ(B - R)²) + klWeight · mean KL(q(z|x) || N(0, 1)).
 * - `denoiserObjective`: CLIP text model -> last_hidden_state -> UNet; loss = mean over
 *   samples of w_b · mean (eps_pred - eps)² (epsilon prediction, the SD 1.x objective;
 *   per-sample weights w_b allow Min-SNR weighting, ones give the plain loss). The token-embedding
 *   lookup is cut out of the graph: the caller feeds the gathered rows (`tokenInput`)
 *   and scatters their gradient into the table on the host, instead of a one-hot
 *   product over the 49408-row vocabulary in every step.
 *
 * @example
 *   const o = vaeObjective(cfg.vae, { weights, batch: 16, size: 64, klWeight: 1e-3 });
 *   const t = await GraphTrainer.create({ model: o.model, trainable, inputShapes: o.inputShapes, adam: { lr: 1e-3 } });
 */
import { chainModels, cutAt } from '../onnx/compose.ts';
import { ModelExtension } from '../onnx/extend.ts';
import { abs, add, exp, mul, reduceMean, sub } from '../onnx/ops/math.ts';
import { slice } from '../onnx/ops/shape.ts';
import type { WeightSource } from '../onnx/external.ts';
import type { OnnxModel } from '../onnx/types.ts';
import { ONNX_DTYPE } from '../onnx/types.ts';
import type { ClipTextConfig } from '../models/clip/config.ts';
import { buildClipTextGraph } from '../models/clip/graph.ts';
import { clipTextParams } from '../models/clip/params.ts';
import type { UNetConfig } from '../models/unet/config.ts';
import { buildUNetGraph } from '../models/unet/graph.ts';
import { unetParams } from '../models/unet/params.ts';
import type { VaeConfig } from '../models/vae/config.ts';
import { buildVaeDecoderGraph, buildVaeEncoderGraph, vaeSpatialFactor } from '../models/vae/graph.ts';

export interface Objective {
  model: OnnxModel;
  /** Dims of every non-weight input. */
  inputShapes: Record<string, number[]>;
  /** Weights the graph reads (trainable candidates). */
  params: string[];
}

export interface VaeObjectiveOptions {
  weights: WeightSource;
  batch: number;
  /** Image size in pixels (square). */
  size: number;
  /** Weight of the mean KL term. Default 1e-3. */
  klWeight?: number;
  /**
   * Weight of an extra squared error on the two chroma axes (G - (R+B)/2 and B - R).
   * Default 0. It weights colour errors above the plain L2 + L1 when a VAE's colours
   * matter more than its detail. (It did not fix the first world VAE's lost colours:
   * their cause was one channel per GroupNorm group, an instance norm, in the preset.)
   */
  chromaWeight?: number;
}

export interface VaeObjective extends Objective {
  /** The decoder's weights (post_quant_conv and decoder.*): train only these to keep the latent space. */
  decoderParams: string[];
}

/** Inputs: `sample` [B, 3, S, S] in [-1, 1], `noise` [B, C, S/f, S/f]. Outputs: loss, recon, kl, reconstruction. */
export function vaeObjective(cfg: VaeConfig, o: VaeObjectiveOptions): VaeObjective {
  const f = vaeSpatialFactor(cfg);
  const h = o.size / f;
  if (!Number.isInteger(h)) throw new RangeError(`vaeObjective: size ${o.size} is not a multiple of the VAE's factor ${f}`);
  const c = cfg.latentChannels;
  const enc = buildVaeEncoderGraph(cfg, { weights: o.weights, height: o.size, width: o.size, name: 'vae_encoder' });
  const dec = buildVaeDecoderGraph(cfg, { weights: o.weights, height: h, width: h, name: 'vae_decoder' });
  const e = new ModelExtension(enc.model, { name: 'vae_train_z' });
  const moments = e.ref('moments');
  const mean = slice(moments, [0], [c], [1]);
  const logvar = e.g.op('Clip', [slice(moments, [c], [2 * c], [1]), e.g.constant(new Float32Array([-30]), { shape: [] }), e.g.constant(new Float32Array([20]), { shape: [] })]);
  const noise = e.g.input('noise', 'float32', [o.batch, c, h, h]);
  const z = add(mean, mul(exp(mul(logvar, 0.5)), noise));
  // KL per element: 0.5 (mean² + var - 1 - logvar)
  const kl = reduceMean(mul(sub(add(mul(mean, mean), exp(logvar)), add(logvar, 1)), 0.5), [0, 1, 2, 3], false);
  const withZ = e.finish({ outputs: [{ value: z, name: 'z' }, { value: kl, name: 'kl' }], keepOutputs: false });
  const chained = chainModels(withZ, dec.model, { connect: { latent_sample: 'z' }, name: 'vae_train' });
  const x = new ModelExtension(chained, { name: 'vae_train' });
  const recon = x.ref(chained.graph.output.at(-1)!.name);
  const target = x.ref('sample');
  const d = sub(recon, target);
  const l2 = reduceMean(mul(d, d), [0, 1, 2, 3], false);
  const l1 = reduceMean(abs(d), [0, 1, 2, 3], false);
  let recLoss = add(l2, l1);
  if (o.chromaWeight) {
    const ch = (k: number) => slice(d, [k], [k + 1], [1]);
    const [dr, dg, db] = [ch(0), ch(1), ch(2)];
    const greenMagenta = sub(dg, mul(add(dr, db), 0.5));
    const blueYellow = sub(db, dr);
    const chroma = add(reduceMean(mul(greenMagenta, greenMagenta), [0, 1, 2, 3], false), reduceMean(mul(blueYellow, blueYellow), [0, 1, 2, 3], false));
    recLoss = add(recLoss, mul(chroma, o.chromaWeight));
  }
  const loss = add(recLoss, mul(x.ref('kl'), o.klWeight ?? 1e-3));
  const model = x.finish({ outputs: [{ value: loss, name: 'loss' }, { value: recLoss, name: 'recon' }, { value: recon, name: 'reconstruction' }], keepOutputs: ['kl'] });
  return {
    model,
    inputShapes: { sample: [o.batch, cfg.inChannels, o.size, o.size], noise: [o.batch, c, h, h] },
    params: [...new Set([...enc.params, ...dec.params])],
    decoderParams: [...dec.params],
  };
}

export interface DenoiserObjectiveOptions {
  weights: WeightSource;
  batch: number;
  /** Latent size (square). */
  latentSize: number;
  /** Text sequence length. Default the text config's max positions (77). */
  sequence?: number;
  /**
   * `weight` is per latent cell, [B, 1, h, w] (broadcast over channels), instead of per
   * sample: loss = mean over samples, channels and cells of w · (eps_pred - eps)². E.g.
   * Min-SNR times a map that weights the subject's region above the background.
   */
  spatialWeight?: boolean;
}

export interface DenoiserObjective extends Objective {
  /** The graph input that takes the gathered token embeddings [B, seq, hidden]. */
  tokenInput: string;
  /** The token-embedding table's weight name (updated on the host). */
  tokenTable: string;
}

/**
 * Inputs: `input_ids` int32 [B, seq] (for pooling), `<tokenInput>` [B, seq, hidden], `sample`
 * (noisy latents) [B, 4, h, w], `timestep` [B], `target` (the noise) [B, 4, h, w], `weight`
 * (per-sample loss weight) [B], or [B, 1, h, w] with `spatialWeight`. Output: loss.
 */
export function denoiserObjective(unetCfg: UNetConfig, textCfg: ClipTextConfig, o: DenoiserObjectiveOptions): DenoiserObjective {
  const seq = o.sequence ?? textCfg.maxPositionEmbeddings;
  const clip = buildClipTextGraph(textCfg, { weights: o.weights, seqLength: seq, withProjection: false });
  const tokenTable = 'text_model.embeddings.token_embedding.weight';
  const gather = clip.model.graph.node.find((n) => n.opType === 'Gather' && n.input[0] === tokenTable);
  if (!gather) throw new Error('denoiserObjective: the text graph has no token-embedding Gather');
  const tokenInput = gather.output[0]!;
  const cut = cutAt(clip.model, tokenInput, { elemType: ONNX_DTYPE.float32, dims: [o.batch, seq, textCfg.hiddenSize] });
  const unet = buildUNetGraph(unetCfg, { weights: o.weights, name: 'unet' });
  const chained = chainModels(cut, unet.model, { connect: { encoder_hidden_states: 'last_hidden_state' }, name: 'denoiser_train', keepFirstOutputs: false });
  const x = new ModelExtension(chained, { name: 'denoiser_train' });
  const out = x.ref(chained.graph.output.find((v) => v.name.endsWith('out_sample'))!.name);
  const lat = [o.batch, unetCfg.inChannels, o.latentSize, o.latentSize];
  const target = x.g.input('target', 'float32', lat);
  const weightShape = o.spatialWeight ? [o.batch, 1, o.latentSize, o.latentSize] : [o.batch];
  const weight = x.g.input('weight', 'float32', weightShape);
  const d = sub(out, target);
  const loss = o.spatialWeight ? reduceMean(mul(mul(d, d), weight), [0, 1, 2, 3], false) : reduceMean(mul(reduceMean(mul(d, d), [1, 2, 3], false), weight), [0], false);
  const model = x.finish({ outputs: [{ value: loss, name: 'loss' }], keepOutputs: false });
  const read = new Set<string>();
  for (const n of model.graph.node) for (const i of n.input) read.add(i);
  const specs = new Set([...clipTextParams(textCfg, { withProjection: false }), ...unetParams(unetCfg)].map((s) => s.name));
  const params = model.graph.initializer.map((t) => t.name!).filter((n) => read.has(n) && specs.has(n));
  return {
    model,
    inputShapes: { input_ids: [o.batch, seq], [tokenInput]: [o.batch, seq, textCfg.hiddenSize], sample: lat, timestep: [o.batch], target: lat, weight: weightShape },
    params,
    tokenInput,
    tokenTable,
  };
}
