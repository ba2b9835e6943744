/**
 * DreamBooth-style LoRA training on the engine, as the ZipLoRA paper trains its
 * inputs: a subject from 3-5 images with an instance prompt using a rare token
 * ("a sks dog"), or a style from ONE image ("a dog in sks style"). The UNet carries
 * LoRA branches whose factors are graph inputs (lora/inject.ts); the loss is the
 * epsilon-prediction MSE on the reference latents at random timesteps, its gradient
 * w.r.t. every factor comes from our autodiff, and Adam updates the factors on the
 * host. Text encoders and the base weights stay frozen. Optional prior preservation
 * (DreamBooth): images of the class generated once by the base model are mixed into
 * every batch with their class prompt and a weight.
 *
 * The result is a standard LoRA (kohya names, alpha = rank) with the instance prompt,
 * the training settings and the references' hashes in its metadata.
 *
 * @example
 *   const pipe = await DiffusionPipeline.load('models/world');
 *   const r = await trainLora(pipe, { kind: 'subject', images: ['a.png', 'b.png', 'c.png'], prompt: 'a sks dog' });
 *   await writeLora('corgi.safetensors', r.lora, 'kohya');
 */
import { createHash } from 'node:crypto';
import { ZipbankError } from '../../errors/index.ts';
import { loraContext, loraInputName, makePlan, type InjectionPlan, type PlannedModule } from '../lora/inject.ts';
import type { LoraToWrite, ModuleToWrite } from '../lora/write.ts';
import { addModules, type ModuleShape } from '../models/modules.ts';
import { buildUNetGraph } from '../models/unet/graph.ts';
import { unetParams } from '../models/unet/params.ts';
import { ModelExtension } from '../onnx/extend.ts';
import { mul, reduceMean, sub } from '../onnx/ops/math.ts';
import { encodeImages } from '../pipeline/encode.ts';
import { createRandom, type Random } from '../pipeline/random.ts';
import type { DiffusionPipeline } from '../pipeline/text-to-image.ts';
import { tensor, type Feeds } from '../runtime/index.ts';
import { trainingAlphas } from '../ziplora/zip.ts';
import { learningRate } from './base-model.ts';
import { GraphTrainer } from './trainer.ts';
import { encodeImage } from '../image/index.ts';
import { configFamily } from '../lora/apply.ts';

export interface LoraTrainOptions {
  kind: 'subject' | 'style';
  /** Reference images (files or bytes): 3-5 for a subject, 1 for a style (1-10 accepted). */
  images: readonly (string | Buffer)[];
  /** Instance prompt with the rare token: "a sks dog", "a dog in sks style". */
  prompt: string;
  /** Prior preservation: the class prompt ("a dog") and how many class images to generate. Default off. */
  classPrompt?: string;
  priorImages?: number;
  /** Weight of the prior samples' loss. Default 1. */
  priorWeight?: number;
  /** LoRA rank. Default 8. */
  rank?: number;
  /** 'attn' (default; the paper's scope: attention projections) or 'all' linear/conv layers. */
  targets?: 'attn' | 'all';
  /** Default 400. */
  steps?: number;
  /** Samples per step. Default 2. */
  batch?: number;
  /** Adam learning rate. Default 1e-3 (the paper's 5e-5 is for SDXL's rank-64 LoRAs; see LORA_TRAIN_DEFAULTS). */
  learningRate?: number;
  seed?: number;
  /** Training size in pixels (default the model's). */
  width?: number;
  height?: number;
  /** Horizontal flips of the references. Default true for subjects, false for styles. */
  flip?: boolean;
  onProgress?: (p: { step: number; total: number; loss: number; secondsPerStep: number }) => void;
  signal?: AbortSignal;
  /** Session options: default no weight pre-packing. */
  prepack?: boolean;
}

export interface LoraTrainResult {
  lora: LoraToWrite;
  /** Loss per step. */
  loss: number[];
  steps: number;
  seconds: number;
  stopReason: 'max-steps' | 'cancelled';
  /** PNG bytes of the generated prior images (empty without prior preservation). */
  priorImages: Buffer[];
}

/**
 * Defaults scaled to the bundled 64x64 model: rank 8 (its attention widths are
 * 32-128, so rank 64 would be full rank), 400 steps of batch 2 and Adam at 1e-3.
 * The paper's SDXL settings are rank 64, 1000 steps of batch 1, lr 5e-5.
 */
export const LORA_TRAIN_DEFAULTS = { rank: 8, steps: 400, batch: 2, learningRate: 1e-3, seed: 1, priorWeight: 1 } as const;

const ATTENTION = /\.attn[12]\.(to_q|to_k|to_v|to_out\.0)$/;

/** The UNet modules a LoRA of this scope adapts. */
export function trainableModules(pipe: DiffusionPipeline, targets: 'attn' | 'all'): { path: string; base: ModuleShape }[] {
  const table = new Map<string, ModuleShape>();
  addModules(table, 'unet', unetParams(pipe.model.folder.configs.unet));
  const out: { path: string; base: ModuleShape }[] = [];
  for (const [target, base] of table) {
    if (targets === 'attn' && !ATTENTION.test(target)) continue;
    if (base.kind === 'conv' && (base.kernel[0] !== 1 || base.kernel[1] !== 1) && targets === 'attn') continue;
    out.push({ path: target.slice('unet.'.length), base });
  }
  return out;
}

function bad(option: string, value: unknown, expected: string): ZipbankError {
  return new ZipbankError('train.bad-option', { option, value: String(value), expected });
}

export async function trainLora(pipe: DiffusionPipeline, o: LoraTrainOptions): Promise<LoraTrainResult> {
  const started = performance.now();
  const m = pipe.model;
  if (m.family !== 'sd') throw bad('model', 'SDXL', 'an SD 1.x/2.x model (SDXL LoRA training is not supported yet)');
  const rank = o.rank ?? LORA_TRAIN_DEFAULTS.rank;
  const steps = o.steps ?? LORA_TRAIN_DEFAULTS.steps;
  const batch = o.batch ?? LORA_TRAIN_DEFAULTS.batch;
  const lr = o.learningRate ?? LORA_TRAIN_DEFAULTS.learningRate;
  const seed = o.seed ?? LORA_TRAIN_DEFAULTS.seed;
  const priorCount = o.priorImages ?? 0;
  const priorWeight = o.priorWeight ?? LORA_TRAIN_DEFAULTS.priorWeight;
  if (!['subject', 'style'].includes(o.kind)) throw bad('kind', o.kind, 'subject or style');
  if (o.images.length < 1 || o.images.length > 10) throw bad('images', o.images.length, o.kind === 'subject' ? '3 to 5 images of the subject (1-10 accepted)' : 'one image of the style (1-10 accepted)');
  if (!o.prompt.trim()) throw bad('prompt', '(empty)', o.kind === 'subject' ? 'an instance prompt with a rare token, e.g. "a sks dog"' : 'a prompt such as "a dog in sks style"');
  if (!Number.isInteger(rank) || rank < 1 || rank > 256) throw bad('rank', rank, 'a whole number from 1 to 256');
  if (!Number.isInteger(steps) || steps < 1 || steps > 20000) throw bad('steps', steps, 'a whole number from 1 to 20000');
  if (!Number.isInteger(batch) || batch < 1 || batch > 64) throw bad('batch', batch, 'a whole number from 1 to 64');
  if (!(lr > 0)) throw bad('learning rate', lr, 'a positive number');
  if (priorCount > 0 && !o.classPrompt?.trim()) throw bad('class prompt', '(empty)', 'a class prompt such as "a dog" for prior preservation');
  const width = o.width ?? pipe.defaults.width;
  const height = o.height ?? pipe.defaults.height;
  if (width % pipe.defaults.sizeMultiple || height % pipe.defaults.sizeMultiple) throw bad('size', `${width}x${height}`, `multiples of ${pipe.defaults.sizeMultiple}`);
  const flip = o.flip ?? o.kind === 'subject';

  // Frozen inputs: reference latents (and their mirror images), prompt states, prior images.
  const instance = await encodeImages(m, o.images, width, height);
  const prior: Buffer[] = [];
  let priorLatents: Float32Array[] = [];
  if (priorCount > 0) {
    const r = await pipe.generate({ prompt: o.classPrompt!, seed: seed + 7777, count: Math.min(4, priorCount), width, height, ...(o.signal ? { signal: o.signal } : {}) });
    for (let k = 0; k < priorCount; k += 4) {
      const rr = k === 0 ? r : await pipe.generate({ prompt: o.classPrompt!, seed: seed + 7777 + k, count: Math.min(4, priorCount - k), width, height });
      prior.push(...(await Promise.all(rr.images.map((im) => encodeImage(im)))));
    }
    priorLatents = await encodeImages(m, prior, width, height);
  }
  const instanceCond = (await pipe.conditioning({ prompt: o.prompt, guidance: 1 })).cond.hidden;
  const classCond = priorCount > 0 ? (await pipe.conditioning({ prompt: o.classPrompt!, guidance: 1 })).cond.hidden : undefined;

  // The graph: UNet with one LoRA slot on the trainable modules, loss appended.
  const modules: PlannedModule[] = trainableModules(pipe, o.targets ?? 'attn').map((x) => ({ path: x.path, kind: 'lora', base: x.base }));
  if (modules.length === 0) throw bad('targets', o.targets, 'a scope with at least one module');
  const plan: InjectionPlan = makePlan('unet', modules, { rank, dtype: 'float32' });
  const cfg = m.folder.configs.unet;
  const lh = height / m.vaeFactor;
  const lw = width / m.vaeFactor;
  const c = m.latentChannels;
  const unet = buildUNetGraph(cfg, { weights: m.folder.components.unet!.weights, name: 'lora_train', layers: loraContext(plan) });
  const ext = new ModelExtension(unet.model, { name: 'lora_train' });
  const out = ext.ref('out_sample');
  const lat = [batch, c, lh, lw];
  const target = ext.g.input('target', 'float32', lat);
  const weight = ext.g.input('weight', 'float32', [batch]);
  const d = sub(out, target);
  const loss = reduceMean(mul(reduceMean(mul(d, d), [1, 2, 3], false), weight), [0], false);
  const model = ext.finish({ outputs: [{ value: loss, name: 'loss' }], keepOutputs: false });
  const [, seq, hidden] = instanceCond.dims as [number, number, number];
  const inputShapes: Record<string, number[]> = { sample: lat, timestep: [batch], encoder_hidden_states: [batch, seq, hidden], target: lat, weight: [batch] };
  const factorNames: string[] = [];
  const factors = new Map<string, Float32Array>();
  const init = createRandom(seed);
  for (const pm of plan.modules) {
    const inFlat = pm.base.inFeatures * pm.base.kernel[0] * pm.base.kernel[1];
    const down = loraInputName(pm.path, 0, 'down');
    const up = loraInputName(pm.path, 0, 'up');
    // Standard LoRA init: down ~ N(0, 1/in), up = 0 (the model starts unchanged).
    factors.set(down, Float32Array.from(init.normals(rank * inFlat), (v) => v / Math.sqrt(inFlat)));
    factors.set(up, new Float32Array(pm.base.outFeatures * rank));
    factorNames.push(down, up);
    inputShapes[down] = pm.base.kind === 'conv' ? [rank, pm.base.inFeatures, ...pm.base.kernel] : [rank, pm.base.inFeatures];
    inputShapes[up] = [pm.base.outFeatures, rank];
    inputShapes[loraInputName(pm.path, 0, 'm')] = [pm.base.inFeatures];
  }
  const trainer = await GraphTrainer.create({
    model,
    trainable: new Map(),
    inputShapes,
    inputGradients: factorNames,
    adam: { lr },
    externalDataDir: m.folder.root,
    name: 'lora-train',
    session: { ...m.sessionOptions, prepack: o.prepack ?? false },
  });
  const ones: Feeds = {};
  for (const pm of plan.modules) ones[loraInputName(pm.path, 0, 'm')] = tensor('float32', new Float32Array(pm.base.inFeatures).fill(1), [pm.base.inFeatures]);

  const alphas = trainingAlphas(m);
  const T = alphas.length;
  const per = c * lh * lw;
  const losses: number[] = [];
  let stopReason: LoraTrainResult['stopReason'] = 'max-steps';
  let last = performance.now();
  try {
    for (let step = 0; step < steps; step++) {
      if (o.signal?.aborted) {
        stopReason = 'cancelled';
        break;
      }
      const r: Random = createRandom(seed * 1_000_003 + step);
      const sample = new Float32Array(batch * per);
      const tgt = new Float32Array(batch * per);
      const ts = new Float32Array(batch);
      const w = new Float32Array(batch);
      const states = new Float32Array(batch * seq * hidden);
      for (let b = 0; b < batch; b++) {
        // With prior preservation, every other sample is a class sample.
        const isPrior = priorLatents.length > 0 && b % 2 === 1;
        const pool = isPrior ? priorLatents : instance;
        const x0 = pool[Math.floor(r.uniform() * pool.length) % pool.length]!;
        const mirrored = flip && r.uniform() < 0.5;
        const t = Math.min(T - 1, Math.floor(r.uniform() * T));
        ts[b] = t;
        w[b] = isPrior ? priorWeight : 1;
        states.set((isPrior ? classCond! : instanceCond).data, b * seq * hidden);
        const a = Math.sqrt(alphas[t]!);
        const s = Math.sqrt(1 - alphas[t]!);
        for (let ch = 0; ch < c; ch++) {
          for (let y = 0; y < lh; y++) {
            for (let x = 0; x < lw; x++) {
              const src = ch * lh * lw + y * lw + (mirrored ? lw - 1 - x : x);
              const eps = r.normal();
              const i = b * per + ch * lh * lw + y * lw + x;
              sample[i] = a * x0[src]! + s * eps;
              tgt[i] = eps;
            }
          }
        }
      }
      const feeds: Feeds = { ...ones, sample: tensor('float32', sample, lat), timestep: tensor('float32', ts, [batch]), encoder_hidden_states: tensor('float32', states, [batch, seq, hidden]), target: tensor('float32', tgt, lat), weight: tensor('float32', w, [batch]) };
      for (const n of factorNames) feeds[n] = tensor('float32', factors.get(n)!, inputShapes[n]!);
      const res = await trainer.compute(feeds);
      trainer.apply(res.grads, learningRate(lr, step, steps, Math.min(20, Math.floor(steps / 10))), factors);
      losses.push(res.loss);
      const now = performance.now();
      o.onProgress?.({ step: step + 1, total: steps, loss: res.loss, secondsPerStep: (now - last) / 1000 });
      last = now;
    }
  } finally {
    await trainer.close();
  }

  const written: ModuleToWrite[] = plan.modules.map((pm) => ({
    target: `unet.${pm.path}`,
    base: pm.base,
    rank,
    alpha: rank,
    down: factors.get(loraInputName(pm.path, 0, 'down'))!,
    up: factors.get(loraInputName(pm.path, 0, 'up'))!,
  }));
  const hashes = await Promise.all(o.images.map(async (img) => createHash('sha256').update(typeof img === 'string' ? await (await import('node:fs/promises')).readFile(img) : img).digest('hex').slice(0, 16)));
  const metadata: Record<string, string> = {
    ss_network_module: 'networks.lora',
    ss_network_dim: String(rank),
    ss_network_alpha: String(rank),
    ss_base_model_version: configFamily(pipe.model.folder.configs) === 'world' ? 'zipbank-world' : 'sd_v1',
    ss_seed: String(seed),
    ss_max_train_steps: String(steps),
    ss_learning_rate: String(lr),
    ss_training_comment: `zipbank DreamBooth LoRA (${o.kind}); instance prompt: ${o.prompt}`,
    zipbank_kind: o.kind,
    zipbank_instance_prompt: o.prompt,
    zipbank_reference_sha256: hashes.join(','),
    zipbank_targets: o.targets ?? 'attn',
    ...(priorCount > 0 ? { zipbank_class_prompt: o.classPrompt!, zipbank_prior_images: String(priorCount), zipbank_prior_weight: String(priorWeight) } : {}),
  };
  return { lora: { family: 'sd15', modules: written, metadata }, loss: losses, steps: losses.length, seconds: (performance.now() - started) / 1000, stopReason, priorImages: prior };
}
