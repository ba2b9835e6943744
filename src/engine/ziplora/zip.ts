/**
 * ZipLoRA (Shah et al. 2023) on a loaded pipeline, as ../shared/docs/ziplora.md
 * specifies: one merger coefficient per input column of every LoRA-adapted UNet
 * matrix (convs: per input channel), initialised to 1, learned by Adam (lr 0.01) on
 *
 *     Σ_k MSE(eps_merged(x_k, t, p_k), eps_k(x_k, t, p_k)) + lambda Σ_layers Σ_{a<b} |cos(m_a, m_b)|
 *
 * with lambda 0.01, at most 100 steps, one shared timestep t ~ U[0, T) and one
 * shared noise draw per step, x_k the noisy latent of one of LoRA k's reference
 * images, p_k its instance prompt, eps_k the UNet with LoRA k alone (no gradient).
 * Two LoRAs are the paper; more get pairwise cosine terms. The loop stops early when
 * the mean |cos| over layers falls below `cosineThreshold` (default 0.01).
 *
 * Text encoders: LoRA text-encoder parts stay frozen and out of the optimisation:
 * each prompt is encoded with its own LoRA's text-encoder part (the single-LoRA
 * model the target comes from), and the same conditioning is fed to the merged UNet.
 * The exported zip merges text-encoder parts directly (m = 1).
 *
 * Reference images: given files, or generated once with the single LoRA and its
 * instance prompt (seeded) when a LoRA has none; they are returned for storage.
 *
 * Deterministic for a seed on a provider. Cancellable between steps (the result then
 * says stopReason 'cancelled'); `onProgress` is called per step.
 *
 * @example
 *   const pipe = await DiffusionPipeline.load('models/sd15');
 *   const r = await zipLoras(pipe, { inputs: [
 *     { lora: corgi, role: 'subject', prompt: 'a photo of sks dog', images: ['c1.png', 'c2.png', 'c3.png'] },
 *     { lora: watercolor, role: 'style', prompt: 'a cat in watercolor painting style' } ] });
 *   r.stats.maxMove;          // [0.61, 0.58]
 *   await writeMergers('zip.safetensors', r.mergers);
 */
import { ZipbankError } from '../../errors/index.ts';
import { encodeImage } from '../image/index.ts';
import { pipelineLoraLayers } from '../lora/apply.ts';
import { coefficientFeeds, loraFeeds } from '../lora/feeds.ts';
import { loraContext, type InjectionPlan } from '../lora/inject.ts';
import type { MergerSet } from '../lora/mergers.ts';
import { planLoras, type LoraSource } from '../lora/plan.ts';
import type { LoraFile } from '../lora/types.ts';
import { buildUNetGraph } from '../models/unet/graph.ts';
import { sdxlTimeIds, type Embeddings } from '../pipeline/conditioning.ts';
import { encodeImages, releaseEncoder } from '../pipeline/encode.ts';
import { createRandom } from '../pipeline/random.ts';
import { BETA_SCHEDULES, noiseTables } from '../pipeline/schedulers/betas.ts';
import { noiseWithAlpha } from '../pipeline/schedulers/common.ts';
import type { DiffusionPipeline } from '../pipeline/text-to-image.ts';
import { asFloat32, tensor, type Feeds, type Session } from '../runtime/index.ts';
import { Adam } from '../train/adam.ts';
import { buildZipObjective } from './objective.ts';
import { measureSparsity, SPARSITY_FRACTIONS } from './sparsity.ts';
import type { LayerStat, ZipStats } from './stats.ts';

export const ZIP_DEFAULTS = {
  steps: 100,
  learningRate: 0.01,
  lambda: 0.01,
  seed: 0,
  /** Stop when the mean |cos| over layers (and pairs) is below this. */
  cosineThreshold: 0.01,
  /** A zip whose mergers all moved less than this from 1 is reported as stuck (a direct merge in effect). */
  stuckThreshold: 0.05,
  /** Reference images generated per LoRA that has none. */
  referenceCount: 1,
} as const;

export interface ZipInput {
  lora: LoraFile;
  /** 'subject', 'style', ... (recorded in the mergers file). */
  role: string;
  /** The LoRA's instance prompt, e.g. 'a photo of sks dog'. */
  prompt: string;
  /** Reference images (files or bytes); generated when absent. */
  images?: readonly (string | Buffer)[];
}

export interface ZipProgress {
  phase: 'references' | 'building' | 'targets' | 'optimizing';
  step: number;
  total: number;
  loss?: number;
  /** Mean |cos| over layers and pairs after this step. */
  cosine?: number;
}

export interface ZipOptions {
  inputs: readonly ZipInput[];
  /** 'ziplora' (default) learns mergers; 'direct' keeps them at 1 (the paper's baseline). */
  method?: 'ziplora' | 'direct';
  steps?: number;
  learningRate?: number;
  lambda?: number;
  seed?: number;
  cosineThreshold?: number;
  /** Image size in pixels for references and the objective. Default the model's default size. */
  width?: number;
  height?: number;
  referenceCount?: number;
  /** Denoising steps for generated references. Default the pipeline's. */
  referenceSteps?: number;
  /**
   * Dispose the pipeline's own (render) sessions once the prompts are encoded and the
   * references made, before the zip's sessions load: on a CPU box a full-size UNet
   * otherwise sits in memory three times. Default false (a bot renders right after).
   */
  releaseRenderSessions?: boolean;
  /**
   * Pre-pack weights and pre-plan memory in the zip's sessions (faster on CPU; a second
   * weight copy, and an arena that grows by a second activation plan). Default true;
   * false is the low-memory mode for full-size models on CPU.
   */
  prepack?: boolean;
  /** Measure the paper's Fig. 3a sparsity of each LoRA (a few extra UNet runs and one more session). Default true. */
  sparsity?: boolean;
  signal?: AbortSignal;
  onProgress?: (p: ZipProgress) => void;
}

export interface ZipReference {
  role: string;
  generated: boolean;
  /** PNGs of generated references (given images are the caller's). */
  png: Buffer[];
}

export interface ZipResult {
  method: 'ziplora' | 'direct';
  mergers: MergerSet;
  /** The inputs as LoRA sources with their learned coefficients (for `mergeLoras` or rendering). */
  sources: LoraSource[];
  stats: ZipStats;
  references: ZipReference[];
  plan: InjectionPlan;
  /** What the objective was evaluated on: reopen it with `openZipContext(pipe, result.context)` to compare mergers. */
  context: ZipContextOptions;
}

/** Mean |cos| per module over pairs, from the current mergers. */
export function layerCosines(vectors: readonly (readonly Float32Array[])[]): number[] {
  const n = vectors.length;
  const modules = vectors[0]?.length ?? 0;
  const out: number[] = [];
  for (let j = 0; j < modules; j++) {
    let sum = 0;
    let pairs = 0;
    for (let a = 0; a < n; a++) {
      for (let b = a + 1; b < n; b++) {
        const x = vectors[a]![j]!;
        const y = vectors[b]![j]!;
        let dot = 0;
        let nx = 0;
        let ny = 0;
        for (let i = 0; i < x.length; i++) {
          dot += x[i]! * y[i]!;
          nx += x[i]! * x[i]!;
          ny += y[i]! * y[i]!;
        }
        sum += Math.abs(dot / (Math.sqrt(nx * ny) + 1e-12));
        pairs++;
      }
    }
    out.push(pairs ? sum / pairs : 0);
  }
  return out;
}

const mean = (xs: readonly number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0);

function checkAbort(signal: AbortSignal | undefined): boolean {
  return !!signal?.aborted;
}

export async function zipLoras(pipe: DiffusionPipeline, o: ZipOptions): Promise<ZipResult> {
  const started = performance.now();
  const m = pipe.model;
  const method = o.method ?? 'ziplora';
  const maxSteps = method === 'direct' ? 0 : o.steps ?? ZIP_DEFAULTS.steps;
  const lr = o.learningRate ?? ZIP_DEFAULTS.learningRate;
  const lambda = o.lambda ?? ZIP_DEFAULTS.lambda;
  const seed = o.seed ?? ZIP_DEFAULTS.seed;
  const threshold = o.cosineThreshold ?? ZIP_DEFAULTS.cosineThreshold;
  const bad = (option: string, value: unknown, expected: string) => new ZipbankError('ziplora.bad-option', { option, value: String(value), expected });
  if (o.inputs.length < 2) throw bad('inputs', o.inputs.length, 'at least two LoRAs (a subject and a style)');
  if (!Number.isInteger(maxSteps) || maxSteps < 0 || maxSteps > 1000) throw bad('steps', maxSteps, 'a whole number from 0 to 1000 (the paper uses at most 100)');
  if (!(lr > 0)) throw bad('learning rate', lr, 'a positive number (the paper: 0.01)');
  if (!(lambda >= 0)) throw bad('lambda', lambda, 'a number >= 0 (the paper: 0.01)');
  for (const i of o.inputs) if (!i.prompt.trim()) throw bad('prompt', `(empty for ${i.role})`, `an instance prompt for ${i.lora.file}, e.g. "a photo of sks dog"`);
  const size = pipe.defaults;
  const width = o.width ?? size.width;
  const height = o.height ?? size.height;
  if (width % size.sizeMultiple || height % size.sizeMultiple) throw bad('size', `${width}x${height}`, `multiples of ${size.sizeMultiple}`);

  const sources: LoraSource[] = o.inputs.map((i) => ({ lora: i.lora }));
  const plan = planLoras(sources, { slots: 'per-lora', components: ['unet'], dtype: 'float32' }).unet;
  if (!plan) throw new ZipbankError('ziplora.no-unet-modules', { files: o.inputs.map((i) => i.lora.file) });
  const n = o.inputs.length;

  // Conditioning of each prompt through its own LoRA's text encoders, and references.
  const conditions: Embeddings[] = [];
  const references: ZipReference[] = [];
  const latents: Float32Array[][] = [];
  for (const [k, input] of o.inputs.entries()) {
    const single = await pipelineLoraLayers(m, [sources[k]!]);
    const te = input.lora.modules.some((x) => x.component !== 'unet');
    conditions.push((await pipe.conditioning({ prompt: input.prompt, guidance: 1, ...(te ? { layers: single } : {}) })).cond);
    o.onProgress?.({ phase: 'references', step: k, total: n });
    if (input.images && input.images.length > 0) {
      latents.push(await encodeImages(m, input.images, width, height));
      references.push({ role: input.role, generated: false, png: [] });
    } else {
      const r = await pipe.generate({
        prompt: input.prompt,
        seed: seed + 1000 * (k + 1),
        count: o.referenceCount ?? ZIP_DEFAULTS.referenceCount,
        width,
        height,
        layers: single,
        ...(o.referenceSteps ? { steps: o.referenceSteps } : {}),
        ...(o.signal ? { signal: o.signal } : {}),
      });
      const png = await Promise.all(r.images.map((img) => encodeImage(img)));
      latents.push(await encodeImages(m, png, width, height));
      references.push({ role: input.role, generated: true, png });
    }
  }

  // Mergers, initialised to 1.
  const vectors: Float32Array[][] = o.inputs.map(() => plan.modules.map((pm) => new Float32Array(pm.base.inFeatures).fill(1)));
  const targets = plan.modules.map((pm) => `unet.${pm.path}`);
  const cosBefore = layerCosines(vectors);
  const loss: ZipStats['loss'] = [];
  let stopReason: ZipStats['stopReason'] = 'max-steps';
  let steps = 0;

  if (maxSteps > 0) {
    o.onProgress?.({ phase: 'building', step: 0, total: maxSteps });
    if (o.releaseRenderSessions) {
      await m.releaseSessions();
      await releaseEncoder(m);
    }
    const ctx = await openZipContext(pipe, { plan, sources, conditions, latents, width, height }, { prepack: o.prepack ?? true });
    const rng = createRandom(seed);
    const adam = new Adam({ lr });
    const params = new Map<string, Float32Array>();
    ctx.mergerInputs.forEach((row, k) => row.forEach((name, j) => params.set(name, vectors[k]![j]!)));
    // The draws do not depend on the mergers: the same sequence either way.
    const draws = Array.from({ length: maxSteps }, () => ctx.draw(rng));
    // Low-memory mode: every target first, then the target session goes before the objective's loads.
    let given: Float32Array[][] | undefined;
    if (o.prepack === false) {
      given = [];
      for (const [i, d] of draws.entries()) {
        if (checkAbort(o.signal)) break;
        given.push(await ctx.targetsFor(d));
        o.onProgress?.({ phase: 'targets', step: i + 1, total: maxSteps });
      }
      await ctx.releaseTargets();
    }
    for (let step = 0; step < maxSteps; step++) {
      if (checkAbort(o.signal)) {
        stopReason = 'cancelled';
        break;
      }
      if (given && !given[step]) {
        stopReason = 'cancelled';
        break;
      }
      const r = await ctx.run(vectors, draws[step]!, lambda, given?.[step]);
      loss.push({ step: step + 1, total: r.loss, subject: r.mse[0]!, style: r.mse[1]!, cosine: lambda * r.cosine });
      adam.step(params, r.grads);
      steps = step + 1;
      const cos = mean(layerCosines(vectors));
      o.onProgress?.({ phase: 'optimizing', step: steps, total: maxSteps, loss: r.loss, cosine: cos });
      if (cos < threshold) {
        stopReason = 'converged';
        break;
      }
    }
    if (o.releaseRenderSessions) await ctx.release();
  }

  const context: ZipContextOptions = { plan, sources, conditions, latents, width, height };
  const sparsity = o.sparsity === false || stopReason === 'cancelled' ? [] : await measureSparsity(pipe, context, SPARSITY_FRACTIONS, seed);
  const cosAfter = layerCosines(vectors);
  const layers: LayerStat[] = targets.map((target, j) => ({
    target,
    cosBefore: cosBefore[j]!,
    cosAfter: cosAfter[j]!,
    maxMove: vectors.map((row) => row[j]!.reduce((mx, v) => Math.max(mx, Math.abs(v - 1)), 0)),
  }));
  const maxMove = vectors.map((_, k) => layers.reduce((mx, l) => Math.max(mx, l.maxMove[k]!), 0));
  const stuck = method === 'ziplora' && maxMove.every((v) => v < ZIP_DEFAULTS.stuckThreshold);
  const stats: ZipStats = {
    method,
    steps,
    maxSteps,
    seconds: (performance.now() - started) / 1000,
    loss,
    layers,
    maxMove,
    stopReason,
    stuck,
    sparsity: { subject: sparsity[0] ?? [], style: sparsity[1] ?? [] },
    seed,
    provider: m.provider,
  };
  const mergers: MergerSet = {
    roles: o.inputs.map((i) => i.role),
    vectors: new Map(targets.map((t, j) => [t, vectors.map((row) => row[j]!)])),
    metadata: { method, steps: String(steps), lambda: String(lambda), learning_rate: String(lr), seed: String(seed) },
  };
  const withCoefficients = sources.map((s, k) => ({ ...s, coefficients: new Map(targets.map((t, j) => [t, vectors[k]![j]!])) }));
  return { method, mergers, sources: withCoefficients, stats, references, plan, context };
}

export interface ZipContextOptions {
  plan: InjectionPlan;
  sources: readonly LoraSource[];
  /** Per LoRA: its prompt's conditioning. */
  conditions: readonly Embeddings[];
  /** Per LoRA: the latents of its reference images. */
  latents: readonly (readonly Float32Array[])[];
  width: number;
  height: number;
}

/** One step's random draw: the shared timestep and noise, and which reference each LoRA uses. */
export interface ZipDraw {
  t: number;
  noise: Float32Array;
  picks: number[];
}

export interface ZipRun {
  loss: number;
  /** MSE(merged, single-LoRA target) per LoRA on its own inputs. */
  mse: number[];
  /** Σ_layers Σ_pairs |cos| (unweighted). */
  cosine: number;
  /** Gradient of the loss per merger input name. */
  grads: Map<string, Float32Array>;
  /** Seconds in the target passes and in the objective's forward + backward pass. */
  targetSeconds: number;
  objectiveSeconds: number;
}

/**
 * The sessions and fixed feeds of one zip: the objective (forward + backward) and
 * the single-LoRA target UNet. `run` evaluates the objective and its gradient for
 * given mergers and a draw (computing the targets first); `zipLoras` loops it, and
 * tests and benchmarks call it to compare mergers on the same inputs.
 */
export interface ZipContext {
  mergerInputs: string[][];
  /** Targets (module paths as `unet.<path>`), the layout of merger vectors. */
  targets: string[];
  timesteps: number;
  draw(rng: { uniform(): number; normals(n: number): Float32Array }): ZipDraw;
  /** The single-LoRA targets of a draw (the target session; no gradient). */
  targetsFor(draw: ZipDraw): Promise<Float32Array[]>;
  /** The objective and its gradient; targets computed unless given (from `targetsFor`). */
  run(vectors: readonly (readonly Float32Array[])[], draw: ZipDraw, lambda: number, targets?: Float32Array[]): Promise<ZipRun>;
  /** Seconds spent building graphs and sessions. */
  buildSeconds: number;
  /** Dispose the context's sessions (they are cached on the model until then). */
  release(): Promise<void>;
  /** Dispose only the target session (after precomputing every target). */
  releaseTargets(): Promise<void>;
}

export async function openZipContext(pipe: DiffusionPipeline, c: ZipContextOptions, so: { prepack?: boolean } = {}): Promise<ZipContext> {
  const built = performance.now();
  const m = pipe.model;
  const { plan, sources, conditions, latents } = c;
  const n = sources.length;
  const h = c.height / m.vaeFactor;
  const w = c.width / m.vaeFactor;
  const perLatent = m.latentChannels * h * w;
  const unetCfg = m.folder.configs.unet;
  const weights = m.folder.components.unet!.weights;
  const lean = so.prepack === false;
  const sessionOptions = { ...m.sessionOptions, ...(lean ? { prepack: false, memoryPattern: false } : {}) };
  const objective = buildZipObjective(unetCfg, { weights, plan, height: h, width: w, sequence: conditions[0]!.hidden.dims[1]! });
  // Sessions open on first use, so a caller can compute every target first and release that session.
  let train: Promise<Session> | undefined;
  let target: Promise<Session> | undefined;
  const trainSession = () =>
    (train ??= m.cache.get({ model: objective.model, name: 'ziplora', externalDataDir: m.folder.root }, sessionOptions));
  const targetSession = () => {
    if (!target) {
      const g = buildUNetGraph(unetCfg, { weights, dtype: 'float32', fusedAttention: m.fusedAttention, layers: loraContext(plan), name: 'ziplora_target' });
      target = m.cache.get({ model: g.model, name: 'ziplora_target', externalDataDir: m.folder.root }, sessionOptions);
    }
    return target;
  };
  const factors = await loraFeeds(plan, sources);
  const alphasCumprod = trainingAlphas(m);
  const T = alphasCumprod.length;
  const sdxl = m.family === 'sdxl';
  const ids = sdxl ? sdxlTimeIds({ width: c.width, height: c.height }) : undefined;
  const hiddenDims = conditions[0]!.hidden.dims;
  const stack = (parts: readonly Float32Array[], dims: number[]) => {
    const out = new Float32Array(parts.reduce((a, p) => a + p.length, 0));
    let off = 0;
    for (const p of parts) {
      out.set(p, off);
      off += p.length;
    }
    return tensor('float32', out, dims);
  };
  const text: Feeds = { encoder_hidden_states: stack(conditions.map((x) => x.hidden.data), [n, hiddenDims[1]!, hiddenDims[2]!]) };
  if (sdxl) {
    text.text_embeds = stack(conditions.map((x) => x.pooled!.data), [n, conditions[0]!.pooled!.dims[1]!]);
    text.time_ids = stack(conditions.map(() => ids!), [n, ids!.length]);
  }
  const targets = plan.modules.map((pm) => `unet.${pm.path}`);
  const mergerFeeds = (vectors: readonly (readonly Float32Array[])[]): Feeds => {
    const f: Feeds = {};
    for (let k = 0; k < n; k++) Object.assign(f, coefficientFeeds(plan, k, new Map(targets.map((t, j) => [t, vectors[k]![j]! as Float32Array]))));
    return f;
  };
  const solo = Array.from({ length: n }, (_, k) => {
    const f: Feeds = {};
    for (let j = 0; j < n; j++) Object.assign(f, coefficientFeeds(plan, j, undefined, j === k ? 1 : 0));
    return f;
  });
  const noisyOf = (d: ZipDraw) => latents.map((refs, k) => noiseWithAlpha(alphasCumprod[d.t]!, refs[d.picks[k]!]!, d.noise));
  const computeTargets = async (d: ZipDraw, noisy = noisyOf(d)): Promise<Float32Array[]> => {
    const session = await targetSession();
    const eps: Float32Array[] = [];
    for (let k = 0; k < n; k++) {
      const f: Feeds = {
        ...factors,
        ...solo[k]!,
        sample: tensor('float32', noisy[k]!, [1, m.latentChannels, h, w]),
        timestep: tensor('float32', new Float32Array([d.t]), [1]),
        encoder_hidden_states: tensor('float32', conditions[k]!.hidden.data, [1, hiddenDims[1]!, hiddenDims[2]!]),
      };
      if (sdxl) {
        f.text_embeds = tensor('float32', conditions[k]!.pooled!.data, [1, conditions[k]!.pooled!.dims[1]!]);
        f.time_ids = tensor('float32', ids!, [1, ids!.length]);
      }
      eps.push(asFloat32((await session.run(f, ['out_sample'])).out_sample!));
    }
    return eps;
  };
  const evict = async (p: Promise<Session> | undefined) => {
    const s = p ? await p.catch(() => undefined) : undefined;
    if (s) await m.cache.evict(s);
  };
  return {
    mergerInputs: objective.mergerInputs,
    targets,
    timesteps: T,
    buildSeconds: (performance.now() - built) / 1000,
    async release() {
      await evict(train);
      await evict(target);
      train = target = undefined;
    },
    async releaseTargets() {
      await evict(target);
      target = undefined;
    },
    draw(rng) {
      const t = Math.min(T - 1, Math.floor(rng.uniform() * T));
      const noise = rng.normals(perLatent);
      const picks = latents.map((refs) => Math.floor(rng.uniform() * refs.length));
      return { t, noise, picks };
    },
    targetsFor: (d) => computeTargets(d),
    async run(vectors, d, lambda, given) {
      const noisy = noisyOf(d);
      const t0 = performance.now();
      const eps = given ?? (await computeTargets(d, noisy));
      const session = await trainSession();
      const t1 = performance.now();
      const out = await session.run({
        ...factors,
        ...mergerFeeds(vectors),
        ...text,
        sample: stack(noisy, [n, m.latentChannels, h, w]),
        timestep: tensor('float32', new Float32Array(n).fill(d.t), [n]),
        target: stack(eps, [n, unetCfg.outChannels, h, w]),
        lambda: tensor('float32', new Float32Array([lambda]), []),
      });
      const t2 = performance.now();
      const value = (name: string) => asFloat32(out[name]!)[0]!;
      const grads = new Map<string, Float32Array>();
      objective.mergerInputs.forEach((row, k) => row.forEach((name, j) => grads.set(name, asFloat32(out[objective.gradOutputs[k]![j]!]!))));
      return {
        loss: value('loss'),
        mse: Array.from({ length: n }, (_, k) => value(`mse.${k}`)),
        cosine: value('cosine'),
        grads,
        targetSeconds: (t1 - t0) / 1000,
        objectiveSeconds: (t2 - t1) / 1000,
      };
    },
  };
}

/** alphas_cumprod of the model's training noise schedule (from its scheduler config). */
export function trainingAlphas(m: DiffusionPipeline['model']): Float32Array {
  const sched = m.schedulerConfig;
  return noiseTables(
    'ziplora',
    {
      numTrainTimesteps: sched.numTrainTimesteps ?? 1000,
      betaStart: sched.betaStart ?? 0.0001,
      betaEnd: sched.betaEnd ?? 0.02,
      betaSchedule: sched.betaSchedule ?? 'linear',
      trainedBetas: sched.trainedBetas ?? null,
      rescaleBetasZeroSnr: sched.rescaleBetasZeroSnr ?? false,
    },
    BETA_SCHEDULES,
  ).alphasCumprod;
}
