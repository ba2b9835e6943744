/**
 * Training a text-to-image base model from scratch on our engine, into a diffusers
 * folder the pipeline loads like any other: first the AutoencoderKL (on random
 * crops, reconstruction + small KL), then its latents of the whole dataset, then the
 * CLIP text encoder and the UNet together on the epsilon objective with caption
 * dropout (for classifier-free guidance). Adam with warm-up and cosine decay, an
 * exponential moving average of the weights (what is exported), checkpoints every
 * few hundred steps; a run restarted with the same options resumes where it
 * stopped (phases already finished are skipped). Batches are drawn from a generator
 * seeded by (seed, phase, step), so a resumed run sees the same data as an
 * uninterrupted one.
 *
 * @example
 *   await trainBaseModel({ out: 'models/world', preset: 'world', data, seed: 1,
 *     onProgress: (p) => console.log(p.phase, p.step, p.total, p.loss) });
 */
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { memoryWeights, type InitializerSpec } from '../onnx/external.ts';
import { presetConfigs } from '../models/presets.ts';
import { writeRandomModel } from '../models/random.ts';
import { buildVaeEncoderGraph, vaeSpatialFactor } from '../models/vae/graph.ts';
import type { VaeConfig } from '../models/vae/config.ts';
import { ClipTokenizer } from '../pipeline/tokenizer.ts';
import { createRandom, type Random } from '../pipeline/random.ts';
import { BETA_SCHEDULES, noiseTables } from '../pipeline/schedulers/betas.ts';
import { asFloat32, createSession, tensor } from '../runtime/index.ts';
import { SafetensorsFile, encodeSafetensors, type TensorToWrite } from '../weights/safetensors.ts';
import { loadCheckpoint, saveCheckpoint } from './checkpoint.ts';
import { denoiserObjective, vaeObjective } from './objectives.ts';
import { GraphTrainer } from './trainer.ts';
import { stripUndefined } from '../../util/objects.ts';
import { pathExists } from '../../util/fs.ts';

/** Images (RGB uint8, HWC, `size` x `size`, concatenated) and one caption each. */
export interface ImageDataset {
  size: number;
  count: number;
  pixels: Uint8Array;
  captions: readonly string[];
  /** Per image, the subject's box in pixels: [x0, y0, x1, y1] x count. Needed for `denoiser.subjectWeight`. */
  subjectBoxes?: Float32Array;
}

export interface PhaseOptions {
  steps: number;
  batch: number;
  lr: number;
  /** Linear warm-up steps. */
  warmup?: number;
  /**
   * Wall-clock budget of this run of the phase, in seconds: after a few steps the
   * phase measures its speed and ends its schedule (cosine included) at the step the
   * budget reaches, at most `steps`. For time-boxed machines.
   */
  budgetSeconds?: number;
}

export interface BaseTrainOptions {
  /** Output model folder (created from the preset with random weights if absent). */
  out: string;
  preset: string;
  data: ImageDataset;
  seed?: number;
  vae?: Partial<PhaseOptions> & { crop?: number; klWeight?: number; chromaWeight?: number };
  denoiser?: Partial<PhaseOptions> & {
    captionDropout?: number;
    emaDecay?: number;
    minSnrGamma?: number;
    /**
     * Loss weight of the latent cells inside the subject's box relative to the rest (each
     * sample's map is normalised to mean 1). Default 1 (off). Above 1 it needs
     * `data.subjectBoxes`: the subject, a small part of each image, then counts for more
     * of the loss than the background, which the captions' context words already pin down.
     */
    subjectWeight?: number;
    /** Learning-rate multiplier of the token-embedding table. Default 1. */
    tokenLrScale?: number;
  };
  /** Checkpoint every N steps. Default 250. */
  checkpointEvery?: number;
  onProgress?: (p: TrainProgress) => void;
  signal?: AbortSignal;
  /** Stop a phase after this many steps in this call (the rest resumes later). For tests and time-boxed runs. */
  maxStepsThisRun?: number;
  /** Checkpoints, latents and state. Default <out>/.train. */
  workDir?: string;
}

export interface TrainProgress {
  phase: 'vae' | 'latents' | 'denoiser' | 'vae-decoder';
  step: number;
  total: number;
  loss?: number;
  /** Seconds per step, recent average. */
  secondsPerStep?: number;
  /** Where the steps of this run went, seconds per step on average: making the batch on the host, the graph (forward + gradients), the update (Adam, EMA). */
  split?: { batch: number; graph: number; update: number };
  etaSeconds?: number;
}

export interface PhaseReport {
  steps: number;
  seconds: number;
  firstLoss: number;
  lastLoss: number;
  /** Mean loss over the last 10% of steps of this run. */
  finalLoss: number;
  resumedFrom: number;
}

export interface BaseTrainReport {
  vae?: PhaseReport;
  /** With the settings it ran under, so world.json says how the weights were trained. */
  denoiser?: PhaseReport & { settings?: DenoiserSettings };
  latentSeconds?: number;
  scalingFactor: number;
  complete: boolean;
}

export const BASE_TRAIN_DEFAULTS = {
  seed: 1,
  vae: { steps: 2000, batch: 16, lr: 1e-3, warmup: 100, crop: 32, klWeight: 1e-3, chromaWeight: 0 },
  denoiser: { steps: 3000, batch: 32, lr: 1e-3, warmup: 200, captionDropout: 0.1, emaDecay: 0.999, minSnrGamma: 5, subjectWeight: 1, tokenLrScale: 1 },
  checkpointEvery: 250,
} as const;

type Weights = Map<string, { values: Float32Array; shape: number[] }>;

async function readComponent(file: string): Promise<Weights> {
  const f = await SafetensorsFile.open(file);
  try {
    const out: Weights = new Map();
    for (const t of f.tensors) out.set(t.name, { values: await f.readFloat32(t.name), shape: [...t.shape] });
    return out;
  } finally {
    await f.close();
  }
}

async function writeComponent(file: string, w: Weights, metadata: Record<string, string>): Promise<void> {
  const tensors: TensorToWrite[] = [...w].map(([name, t]) => ({ name, dtype: 'F32', shape: t.shape, data: new Uint8Array(t.values.buffer, t.values.byteOffset, t.values.byteLength) }));
  const partial = `${file}.partial`;
  await writeFile(partial, encodeSafetensors(tensors, metadata));
  await rename(partial, file);
}

function source(w: Weights): ReturnType<typeof memoryWeights> {
  const specs: Record<string, InitializerSpec> = {};
  for (const [n, t] of w) specs[n] = { dtype: 'float32', shape: t.shape, values: t.values };
  return memoryWeights(specs, 'training weights');
}

/** Warm-up then cosine decay to 10% of the peak. */
export function learningRate(peak: number, step: number, total: number, warmup: number): number {
  if (step < warmup) return (peak * (step + 1)) / warmup;
  const p = Math.min(1, (step - warmup) / Math.max(1, total - warmup));
  return peak * (0.1 + 0.9 * 0.5 * (1 + Math.cos(Math.PI * p)));
}

function stepRandom(seed: number, phase: string, step: number): Random {
  let h = 2166136261;
  for (const ch of `${seed}:${phase}:${step}`) h = Math.imul(h ^ ch.charCodeAt(0), 16777619) >>> 0;
  return createRandom(h);
}

class Timer {
  private times: number[] = [];
  private last = performance.now();
  tick(): number {
    const now = performance.now();
    this.times.push((now - this.last) / 1000);
    this.last = now;
    if (this.times.length > 20) this.times.shift();
    return this.times.reduce((a, b) => a + b, 0) / this.times.length;
  }
}

/** What a text encoder + UNet run was started with (recorded in its report and checkpoint state). */
export interface DenoiserSettings {
  images: number;
  batch: number;
  lr: number;
  warmup: number;
  subjectWeight: number;
  tokenLrScale: number;
  captionDropout: number;
  minSnrGamma: number;
  emaDecay: number;
}

interface State {
  vaeDone?: boolean;
  scalingFactor?: number;
  denoiserDone?: boolean;
  /** What the text encoder + UNet phase's checkpoint was started with. */
  denoiserSettings?: DenoiserSettings;
}

async function readState(path: string): Promise<State> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as State;
  } catch {
    return {};
  }
}

/**
 * Images [n of idx] -> [n, 3, crop, crop] in [-1, 1], crops at random offsets, random
 * horizontal flips (or, with `flip` given, all flipped or none).
 */
function pixelBatch(d: ImageDataset, idx: readonly number[], crop: number, r: Random, forceFlip?: boolean): Float32Array {
  const s = d.size;
  const plane = crop * crop;
  const out = new Float32Array(idx.length * 3 * plane);
  idx.forEach((k, b) => {
    const ox = crop < s ? Math.floor(r.uniform() * (s - crop + 1)) : 0;
    const oy = crop < s ? Math.floor(r.uniform() * (s - crop + 1)) : 0;
    const flip = forceFlip ?? r.uniform() < 0.5;
    const base = k * s * s * 3;
    for (let y = 0; y < crop; y++) {
      for (let x = 0; x < crop; x++) {
        const sx = ox + (flip ? crop - 1 - x : x);
        const p = base + ((oy + y) * s + sx) * 3;
        for (let c = 0; c < 3; c++) out[b * 3 * plane + c * plane + y * crop + x] = (d.pixels[p + c]! / 255) * 2 - 1;
      }
    }
  });
  return out;
}

/**
 * `encodeLatents` stores the latents of the left-right mirrored images (harmless: batches
 * flip half of them again, and no caption says left or right); `subjectMask` follows.
 */
export const LATENTS_MIRRORED = true;

/** Whole images [n of idx] -> [n, 3, size, size] in [-1, 1], in the frame `encodeLatents` stores. */
export function latentFramePixels(d: ImageDataset, idx: readonly number[]): Float32Array {
  return pixelBatch(d, idx, d.size, createRandom(0), LATENTS_MIRRORED);
}

/**
 * The loss weights of one sample's latent cells, in the frame the latents are stored in
 * (mirrored when LATENTS_MIRRORED): `inside` for
 * cells whose centre lies in the subject's box, 1 elsewhere, scaled to mean 1.
 */
export function subjectMask(box: ArrayLike<number>, size: number, ls: number, inside: number, out = new Float32Array(ls * ls)): Float32Array {
  const f = size / ls;
  const [x0, y0, x1, y1] = [box[0]!, box[1]!, box[2]!, box[3]!];
  let sum = 0;
  for (let y = 0; y < ls; y++) {
    const cy = (y + 0.5) * f;
    for (let x = 0; x < ls; x++) {
      const cx = LATENTS_MIRRORED ? size - (x + 0.5) * f : (x + 0.5) * f;
      const w = cx >= x0 && cx <= x1 && cy >= y0 && cy <= y1 ? inside : 1;
      out[y * ls + x] = w;
      sum += w;
    }
  }
  const k = (ls * ls) / sum;
  for (let i = 0; i < out.length; i++) out[i]! *= k;
  return out;
}

function draw(r: Random, n: number, count: number): number[] {
  return Array.from({ length: n }, () => Math.floor(r.uniform() * count) % count);
}

export async function trainBaseModel(o: BaseTrainOptions): Promise<BaseTrainReport> {
  const seed = o.seed ?? BASE_TRAIN_DEFAULTS.seed;
  const presets = presetConfigs(o.preset);
  if (!presets.vae || !presets.textEncoder || presets.textEncoder2) throw new RangeError(`trainBaseModel: preset ${o.preset} is not a single-text-encoder (SD 1.x) pipeline`);
  const cfg = { unet: presets.unet, vae: presets.vae, textEncoder: presets.textEncoder };
  // Checked before any phase runs, so a bad setting costs no VAE training. Undefined
  // fields fall back to the defaults (a spread would let them override them).
  const d = { ...BASE_TRAIN_DEFAULTS.denoiser, ...stripUndefined(o.denoiser ?? {}) };
  for (const k of ['lr', 'subjectWeight', 'tokenLrScale'] as const) {
    if (!(d[k] > 0) || !Number.isFinite(d[k])) throw new RangeError(`trainBaseModel: denoiser.${k} must be a positive number, got ${d[k]}`);
  }
  if (!Number.isInteger(d.batch) || d.batch < 1) throw new RangeError(`trainBaseModel: denoiser.batch must be a positive whole number, got ${d.batch}`);
  if (d.subjectWeight !== 1 && o.data.subjectBoxes?.length !== o.data.count * 4) {
    throw new RangeError(`trainBaseModel: denoiser.subjectWeight ${d.subjectWeight} needs data.subjectBoxes, 4 numbers for each of the ${o.data.count} images`);
  }
  const ckptDir = o.workDir ?? join(o.out, '.train');
  await mkdir(ckptDir, { recursive: true });
  // A denoiser checkpoint continues only under the settings it was started with (its
  // Adam state, step count and schedule belong to them); steps and budget may change.
  const settings: DenoiserSettings = { images: o.data.count, batch: d.batch, lr: d.lr, warmup: d.warmup, subjectWeight: d.subjectWeight, tokenLrScale: d.tokenLrScale, captionDropout: d.captionDropout, minSnrGamma: d.minSnrGamma, emaDecay: d.emaDecay };
  const denoiserCkpt = join(ckptDir, 'denoiser.ckpt.safetensors');
  const statePath = join(ckptDir, 'state.json');
  const state = await readState(statePath);
  {
    const saved = state.denoiserSettings;
    if (saved && (await pathExists(denoiserCkpt))) {
      const diff = (Object.keys(settings) as (keyof DenoiserSettings)[]).filter((k) => saved[k] !== undefined && saved[k] !== settings[k]);
      if (diff.length > 0) {
        throw new RangeError(
          `trainBaseModel: the unfinished text encoder + UNet run in ${ckptDir} was started with ${diff.map((k) => `${k} ${saved[k]}`).join(', ')}, not ${diff.map((k) => `${k} ${settings[k]}`).join(', ')}. Resume it with the same settings, or delete ${denoiserCkpt} to start the phase over`,
        );
      }
    }
  }
  if (!(await pathExists(join(o.out, 'model_index.json')))) {
    const tmp = `${o.out}.init`;
    await rm(tmp, { recursive: true, force: true });
    await writeRandomModel({ preset: o.preset, out: tmp, seed });
    // Move the fresh files in (the folder already holds .train/).
    for (const f of ['model_index.json', 'scheduler', 'tokenizer', 'text_encoder', 'unet', 'vae']) await rename(join(tmp, f), join(o.out, f));
    await rm(tmp, { recursive: true, force: true });
  }
  const saveState = () => writeFile(statePath, JSON.stringify(state, null, 2));
  const every = o.checkpointEvery ?? BASE_TRAIN_DEFAULTS.checkpointEvery;
  const report: BaseTrainReport = { scalingFactor: state.scalingFactor ?? cfg.vae.scalingFactor, complete: false };

  // ---- VAE ----
  const vaeFile = join(o.out, 'vae', 'diffusion_pytorch_model.safetensors');
  if (!state.vaeDone) {
    const v = { ...BASE_TRAIN_DEFAULTS.vae, ...o.vae };
    const weights = await readComponent(vaeFile);
    const obj = vaeObjective(cfg.vae, { weights: source(weights), batch: v.batch, size: v.crop, klWeight: v.klWeight, chromaWeight: v.chromaWeight });
    const trainable = new Map(obj.params.map((n) => [n, weights.get(n)!.values]));
    const trainer = await GraphTrainer.create({ model: obj.model, trainable, inputShapes: obj.inputShapes, adam: { lr: v.lr }, name: 'vae-train' });
    const ckpt = join(ckptDir, 'vae.ckpt.safetensors');
    const saved = await loadCheckpoint(ckpt);
    if (saved) trainer.restore(saved);
    const r = await runPhase('vae', trainer, v, o, ckpt, every, async (step) => {
      const rr = stepRandom(seed, 'vae', step);
      const idx = draw(rr, v.batch, o.data.count);
      const f = vaeSpatialFactor(cfg.vae);
      const noise = rr.normals(v.batch * cfg.vae.latentChannels * (v.crop / f) ** 2);
      return { sample: tensor('float32', pixelBatch(o.data, idx, v.crop, rr), obj.inputShapes.sample!), noise: tensor('float32', noise, obj.inputShapes.noise!) };
    });
    report.vae = r.report;
    for (const [n, p] of trainer.params) weights.get(n)!.values.set(p);
    await trainer.close();
    if (!r.finished) return report;
    await writeComponent(vaeFile, weights, { format: 'pt', trained_by: 'zipbank', steps: String(v.steps) });
    state.vaeDone = true;
    delete state.scalingFactor;
    await saveState();
  }

  // ---- latents (mean and std of q(z|x) for every image), scaling factor ----
  const latentFile = join(ckptDir, 'latents.f32');
  const vaeWeights = await readComponent(vaeFile);
  const f = vaeSpatialFactor(cfg.vae);
  const ls = o.data.size / f;
  const per = cfg.vae.latentChannels * ls * ls;
  let latents: Float32Array;
  if (await pathExists(latentFile)) {
    const buf = await readFile(latentFile);
    latents = new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4);
    if (latents.length !== o.data.count * per * 2) latents = await encodeLatents(cfg.vae, vaeWeights, o, per, latentFile, report);
  } else {
    latents = await encodeLatents(cfg.vae, vaeWeights, o, per, latentFile, report);
  }
  if (state.scalingFactor === undefined) {
    // 1 / std of sampled latents, as SD's 0.18215 was chosen.
    const r = createRandom(seed);
    let sum = 0;
    let sq = 0;
    let n = 0;
    for (let k = 0; k < Math.min(o.data.count, 2000); k++) {
      for (let i = 0; i < per; i++) {
        const z = latents[k * 2 * per + i]! + latents[k * 2 * per + per + i]! * r.normal();
        sum += z;
        sq += z * z;
        n++;
      }
    }
    const std = Math.sqrt(sq / n - (sum / n) ** 2);
    state.scalingFactor = Math.round((1 / std) * 1e5) / 1e5;
    const vaeCfgPath = join(o.out, 'vae', 'config.json');
    const raw = JSON.parse(await readFile(vaeCfgPath, 'utf8')) as Record<string, unknown>;
    raw.scaling_factor = state.scalingFactor;
    await writeFile(vaeCfgPath, `${JSON.stringify(raw, null, 2)}\n`);
    await saveState();
  }
  report.scalingFactor = state.scalingFactor;

  // ---- text encoder + UNet ----
  if (!state.denoiserDone) {
    const unetFile = join(o.out, 'unet', 'diffusion_pytorch_model.safetensors');
    const textFile = join(o.out, 'text_encoder', 'model.safetensors');
    const unetW = await readComponent(unetFile);
    const textW = await readComponent(textFile);
    const all: Weights = new Map([...unetW, ...textW]);
    const spatial = d.subjectWeight !== 1;
    const obj = denoiserObjective(cfg.unet, cfg.textEncoder, { weights: source(all), batch: d.batch, latentSize: ls, spatialWeight: spatial });
    const table = textW.get(obj.tokenTable)!;
    const trainable = new Map(obj.params.filter((n) => n !== obj.tokenTable).map((n) => [n, all.get(n)!.values]));
    const adam = { lr: d.lr, ...(d.tokenLrScale !== 1 ? { lrScale: { [obj.tokenTable]: d.tokenLrScale } } : {}) };
    const trainer = await GraphTrainer.create({ model: obj.model, trainable, inputShapes: obj.inputShapes, inputGradients: [obj.tokenInput], adam, name: 'denoiser-train' });
    const tableValues = table.values;
    const ckpt = denoiserCkpt;
    // EMA of every trained weight including the token table.
    const ema = new Map<string, Float32Array>([...trainer.params].map(([n, p]) => [n, p.slice()]));
    ema.set(obj.tokenTable, tableValues.slice());
    const saved = await loadCheckpoint(ckpt);
    if (!saved) {
      state.denoiserSettings = settings;
      await saveState();
    }
    const hidden = cfg.textEncoder.hiddenSize;
    // Token rows that have ever had a gradient: Adam and the EMA skip the others (their
    // update is exactly zero), which is most of the 49408-row table.
    const touched = new Set<number>();
    if (saved) {
      trainer.restore(saved);
      const t = saved.params.get(obj.tokenTable);
      if (t) tableValues.set(t.values);
      for (const [n, e] of ema) {
        const s = saved.params.get(`ema/${n}`);
        if (s) e.set(s.values);
      }
      const v = (saved.adam as { v: Map<string, Float32Array> }).v.get(obj.tokenTable);
      if (v) {
        for (let row = 0; row < v.length / hidden; row++) {
          for (let h = 0; h < hidden; h++) {
            if (v[row * hidden + h] !== 0) {
              touched.add(row);
              break;
            }
          }
        }
      }
    }
    const tok = await ClipTokenizer.fromFolder(join(o.out, 'tokenizer'));
    const seq = obj.inputShapes.input_ids![1]!;
    const ids = new Int32Array(o.data.count * seq);
    const idCache = new Map<string, Int32Array>();
    const encode = (text: string) => {
      let e = idCache.get(text);
      if (!e) {
        e = Int32Array.from(tok.encodeForModel(text, { maxLength: seq }).ids);
        idCache.set(text, e);
      }
      return e;
    };
    o.data.captions.forEach((c, k) => ids.set(encode(c), k * seq));
    const empty = encode('');
    const alphas = trainAlphas(o.out);
    const T = alphas.length;
    const scale = state.scalingFactor;
    const tableGrad = new Float32Array(tableValues.length);
    const extra = new Map([[obj.tokenTable, tableValues]]);
    const r = await runPhase(
      'denoiser',
      trainer,
      d,
      o,
      ckpt,
      every,
      async (step) => {
        const rr = stepRandom(seed, 'denoiser', step);
        const idx = draw(rr, d.batch, o.data.count);
        const batchIds = new Int32Array(d.batch * seq);
        const embeds = new Float32Array(d.batch * seq * hidden);
        const sample = new Float32Array(d.batch * per);
        const target = new Float32Array(d.batch * per);
        const timestep = new Float32Array(d.batch);
        const cells = ls * ls;
        const weight = new Float32Array(spatial ? d.batch * cells : d.batch);
        const mask = new Float32Array(cells);
        idx.forEach((k, b) => {
          const row = rr.uniform() < d.captionDropout ? empty : ids.subarray(k * seq, (k + 1) * seq);
          batchIds.set(row, b * seq);
          for (let s = 0; s < seq; s++) embeds.set(tableValues.subarray(row[s]! * hidden, (row[s]! + 1) * hidden), (b * seq + s) * hidden);
          const t = Math.min(T - 1, Math.floor(rr.uniform() * T));
          timestep[b] = t;
          // Min-SNR-gamma weighting (Hang et al. 2023) for epsilon prediction: min(SNR, gamma) / SNR.
          const snr = alphas[t]! / (1 - alphas[t]!);
          const snrWeight = d.minSnrGamma > 0 ? Math.min(snr, d.minSnrGamma) / snr : 1;
          const a = Math.sqrt(alphas[t]!);
          const sg = Math.sqrt(1 - alphas[t]!);
          // Horizontal flip of the latent half of the time (the world is mirror-symmetric).
          const flip = rr.uniform() < 0.5;
          if (!spatial) weight[b] = snrWeight;
          else {
            subjectMask(o.data.subjectBoxes!.subarray(k * 4, k * 4 + 4), o.data.size, ls, d.subjectWeight, mask);
            for (let y = 0; y < ls; y++) for (let x = 0; x < ls; x++) weight[b * cells + y * ls + x] = snrWeight * mask[y * ls + (flip ? ls - 1 - x : x)]!;
          }
          const base = k * 2 * per;
          for (let c = 0; c < cfg.vae.latentChannels; c++) {
            for (let y = 0; y < ls; y++) {
              for (let x = 0; x < ls; x++) {
                const src = c * ls * ls + y * ls + (flip ? ls - 1 - x : x);
                const z = (latents[base + src]! + latents[base + per + src]! * rr.normal()) * scale;
                const eps = rr.normal();
                const i = b * per + c * ls * ls + y * ls + x;
                sample[i] = a * z + sg * eps;
                target[i] = eps;
              }
            }
          }
        });
        return {
          feeds: {
            input_ids: tensor('int32', batchIds, obj.inputShapes.input_ids!),
            [obj.tokenInput]: tensor('float32', embeds, obj.inputShapes[obj.tokenInput]!),
            sample: tensor('float32', sample, obj.inputShapes.sample!),
            timestep: tensor('float32', timestep, [d.batch]),
            target: tensor('float32', target, obj.inputShapes.target!),
            weight: tensor('float32', weight, obj.inputShapes.weight!),
          },
          ids: batchIds,
        };
      },
      {
        // Scatter the gathered rows' gradient into the table, update everything, then the EMA.
        apply: (grads, outputs, aux, lr) => {
          for (const row of touched) tableGrad.fill(0, row * hidden, (row + 1) * hidden);
          const g = asFloat32(outputs[`grad.${obj.tokenInput}`]!);
          const batchIds = aux as Int32Array;
          for (let i = 0; i < batchIds.length; i++) {
            touched.add(batchIds[i]!);
            const row = batchIds[i]! * hidden;
            for (let h = 0; h < hidden; h++) tableGrad[row + h]! += g[i * hidden + h]!;
          }
          trainer.apply(new Map([...grads, [obj.tokenTable, tableGrad]]), lr, extra, new Map([[obj.tokenTable, { width: hidden, rows: touched }]]));
          const step = trainer.updates;
          const decay = Math.min(d.emaDecay, (1 + step) / (10 + step));
          for (const [n, e] of ema) {
            if (n === obj.tokenTable) {
              for (const row of touched) for (let i = row * hidden; i < (row + 1) * hidden; i++) e[i] = decay * e[i]! + (1 - decay) * tableValues[i]!;
              continue;
            }
            const p = trainer.params.get(n)!;
            for (let i = 0; i < e.length; i++) e[i] = decay * e[i]! + (1 - decay) * p[i]!;
          }
        },
        extraCheckpoint: () => {
          const m = new Map<string, { values: Float32Array; shape: number[] }>([[obj.tokenTable, { values: tableValues, shape: table.shape }]]);
          for (const [n, e] of ema) m.set(`ema/${n}`, { values: e, shape: n === obj.tokenTable ? table.shape : trainer.shapes.get(n)! });
          return m;
        },
      },
    );
    report.denoiser = { ...r.report, settings };
    await trainer.close();
    // Export the EMA weights (untrained tensors keep their values).
    for (const [n, e] of ema) (unetW.get(n) ?? textW.get(n))!.values.set(e);
    await writeComponent(unetFile, unetW, { format: 'pt', trained_by: 'zipbank', steps: String(trainer.updates) });
    await writeComponent(textFile, textW, { format: 'pt', trained_by: 'zipbank', steps: String(trainer.updates) });
    if (!r.finished) return report;
    state.denoiserDone = true;
    await saveState();
  }
  report.complete = true;
  return report;
}

export interface DecoderRefineOptions extends Partial<PhaseOptions> {
  /** The model folder whose vae/ is refined in place (encoder, latent space and scaling factor untouched). */
  out: string;
  preset: string;
  /** Images to reconstruct; any subset of what the model will be asked to draw (captions unused). */
  data: ImageDataset;
  seed?: number;
  /** Square crop in pixels, a multiple of the VAE's factor. Default 32. */
  crop?: number;
  checkpointEvery?: number;
  onProgress?: (p: TrainProgress) => void;
  signal?: AbortSignal;
  maxStepsThisRun?: number;
  /** Where the checkpoint lives. Default <out>/.train. */
  workDir?: string;
}

export const DECODER_REFINE_DEFAULTS = { steps: 3000, batch: 16, lr: 5e-4, warmup: 100, crop: 32 } as const;

/**
 * The settings of a decoder refinement with their defaults, checked (a RangeError
 * names the bad one), so a caller can refuse bad input before preparing any data.
 */
export function decoderRefineSettings(preset: string, o: Pick<DecoderRefineOptions, 'steps' | 'batch' | 'lr' | 'warmup' | 'crop'>, imageSize: number): { steps: number; batch: number; lr: number; warmup: number; crop: number } {
  const vae = presetConfigs(preset).vae;
  if (!vae) throw new RangeError(`refineVaeDecoder: preset ${preset} has no VAE`);
  const v = { ...DECODER_REFINE_DEFAULTS, ...stripUndefined({ steps: o.steps, batch: o.batch, lr: o.lr, warmup: o.warmup, crop: o.crop }) };
  const f = vaeSpatialFactor(vae);
  if (!(v.lr > 0) || !Number.isFinite(v.lr)) throw new RangeError(`refineVaeDecoder: lr must be a positive number, got ${v.lr}`);
  for (const k of ['steps', 'batch'] as const) {
    if (!Number.isInteger(v[k]) || v[k] < 1) throw new RangeError(`refineVaeDecoder: ${k} must be a positive whole number, got ${v[k]}`);
  }
  if (!Number.isInteger(v.crop) || v.crop % f !== 0 || v.crop < f || v.crop > imageSize) {
    throw new RangeError(`refineVaeDecoder: crop ${v.crop} must be a multiple of the VAE's factor ${f}, at most the image size ${imageSize}`);
  }
  return v;
}

/**
 * Train the VAE's decoder further with its encoder frozen: the decoder learns to
 * reconstruct sharper images from the same latents (samples of q(z|x), as the
 * diffusion model's outputs are), so the UNet and text encoder trained on those
 * latents stay valid and the scaling factor stays. A fresh Adam, warm-up and cosine;
 * resumable from `<workDir>/vae-decoder.ckpt.safetensors` under the same settings.
 * Writes the VAE file once the schedule is done (or cut short by budget/abort: the
 * weights reached so far, with the checkpoint kept for a resume).
 * Measured on the world model: round trips get sharper, yet the class of generated
 * images falls a few points (README), so the UNet's latents are not quite q(z|x)'s.
 */
export async function refineVaeDecoder(o: DecoderRefineOptions): Promise<PhaseReport & { complete: boolean }> {
  const seed = o.seed ?? BASE_TRAIN_DEFAULTS.seed;
  const v = decoderRefineSettings(o.preset, o, o.data.size);
  const vae = presetConfigs(o.preset).vae!;
  const f = vaeSpatialFactor(vae);
  const vaeFile = join(o.out, 'vae', 'diffusion_pytorch_model.safetensors');
  if (!(await pathExists(vaeFile))) throw new RangeError(`refineVaeDecoder: ${vaeFile} does not exist: train the model first`);
  const workDir = o.workDir ?? join(o.out, '.train');
  await mkdir(workDir, { recursive: true });
  const ckpt = join(workDir, 'vae-decoder.ckpt.safetensors');
  const settings = { batch: v.batch, lr: v.lr, warmup: v.warmup, crop: v.crop, images: o.data.count };
  const saved = await loadCheckpoint(ckpt);
  if (saved) {
    const was = (saved.meta as { settings?: Record<string, unknown> }).settings ?? {};
    const diff = (Object.keys(settings) as (keyof typeof settings)[]).filter((k) => was[k] !== undefined && was[k] !== settings[k]);
    if (diff.length > 0) {
      throw new RangeError(
        `refineVaeDecoder: the unfinished decoder run in ${workDir} was started with ${diff.map((k) => `${k} ${String(was[k])}`).join(', ')}, not ${diff.map((k) => `${k} ${settings[k]}`).join(', ')}. Resume it with the same settings, or delete ${ckpt} to start over`,
      );
    }
  }
  const weights = await readComponent(vaeFile);
  const obj = vaeObjective(vae, { weights: source(weights), batch: v.batch, size: v.crop, klWeight: 0 });
  const trainable = new Map(obj.decoderParams.map((n) => [n, weights.get(n)!.values]));
  const trainer = await GraphTrainer.create({ model: obj.model, trainable, inputShapes: obj.inputShapes, adam: { lr: v.lr }, name: 'vae-decoder-train' });
  let r: Awaited<ReturnType<typeof runPhase>>;
  try {
    if (saved) trainer.restore(saved);
    r = await runPhase(
      'vae-decoder',
      trainer,
      { ...v, ...(o.budgetSeconds !== undefined ? { budgetSeconds: o.budgetSeconds } : {}) },
      o,
      ckpt,
      o.checkpointEvery ?? BASE_TRAIN_DEFAULTS.checkpointEvery,
      async (step) => {
        const rr = stepRandom(seed, 'vae-decoder', step);
        const idx = draw(rr, v.batch, o.data.count);
        const noise = rr.normals(v.batch * vae.latentChannels * (v.crop / f) ** 2);
        return { sample: tensor('float32', pixelBatch(o.data, idx, v.crop, rr), obj.inputShapes.sample!), noise: tensor('float32', noise, obj.inputShapes.noise!) };
      },
      { meta: { settings } },
    );
    for (const [n, p] of trainer.params) weights.get(n)!.values.set(p);
  } finally {
    await trainer.close();
  }
  const before = await SafetensorsFile.open(vaeFile);
  const meta = { ...before.metadata };
  await before.close();
  const done = Number(meta.decoder_refine_steps ?? 0) + r.report.steps;
  await writeComponent(vaeFile, weights, { ...meta, format: 'pt', trained_by: 'zipbank', decoder_refine_steps: String(done) });
  if (r.finished) await rm(ckpt, { force: true });
  return { ...r.report, complete: r.finished };
}

interface PhaseHooks {
  /** Stored in the checkpoint's metadata beside the phase. */
  meta?: Record<string, unknown>;
  apply?: (grads: Map<string, Float32Array>, outputs: Record<string, import('../runtime/index.ts').HostTensor>, aux: unknown, lr: number) => void;
  extraCheckpoint?: () => Map<string, { values: Float32Array; shape: number[] }>;
}

async function runPhase(
  phase: TrainProgress['phase'],
  trainer: GraphTrainer,
  p: PhaseOptions,
  o: Pick<BaseTrainOptions, 'signal' | 'maxStepsThisRun' | 'onProgress'>,
  ckpt: string,
  every: number,
  batch: (step: number) => Promise<import('../runtime/index.ts').Feeds | { feeds: import('../runtime/index.ts').Feeds; ids: unknown }>,
  hooks: PhaseHooks = {},
): Promise<{ finished: boolean; report: PhaseReport }> {
  const start = trainer.updates;
  const losses: number[] = [];
  const timer = new Timer();
  const t0 = performance.now();
  const save = () => saveCheckpoint(ckpt, trainer.checkpoint({ phase, ...hooks.meta }, hooks.extraCheckpoint?.()));
  let finished = true;
  // With a budget the schedule's length is re-estimated from the measured speed.
  let total = p.steps;
  const split = { batch: 0, graph: 0, update: 0 };
  for (let step = start; step < total; step++) {
    if (o.signal?.aborted || (o.maxStepsThisRun !== undefined && step - start >= o.maxStepsThisRun)) {
      finished = false;
      break;
    }
    const tb = performance.now();
    const b = await batch(step);
    const feeds = 'feeds' in b ? (b.feeds as import('../runtime/index.ts').Feeds) : (b as import('../runtime/index.ts').Feeds);
    const lr = learningRate(p.lr, step, total, p.warmup ?? 0);
    const tg = performance.now();
    const r = await trainer.compute(feeds);
    const tu = performance.now();
    if (hooks.apply) hooks.apply(r.grads, r.outputs, 'ids' in b ? b.ids : undefined, lr);
    else trainer.apply(r.grads, lr);
    const te = performance.now();
    split.batch += (tg - tb) / 1000;
    split.graph += (tu - tg) / 1000;
    split.update += (te - tu) / 1000;
    losses.push(r.loss);
    const sps = timer.tick();
    if (p.budgetSeconds !== undefined) total = budgetedTotal(p.steps, step + 1, (performance.now() - t0) / 1000, sps, p.budgetSeconds);
    const n = losses.length;
    o.onProgress?.({ phase, step: step + 1, total, loss: r.loss, secondsPerStep: sps, etaSeconds: sps * (total - step - 1), split: { batch: split.batch / n, graph: split.graph / n, update: split.update / n } });
    if ((step + 1) % every === 0 && step + 1 < total) await save();
  }
  await save();
  const tail = losses.slice(-Math.max(1, Math.floor(losses.length / 10)));
  return {
    finished: finished && trainer.updates >= total,
    report: {
      steps: losses.length,
      seconds: (performance.now() - t0) / 1000,
      firstLoss: losses[0] ?? NaN,
      lastLoss: losses.at(-1) ?? NaN,
      finalLoss: tail.reduce((a, b) => a + b, 0) / tail.length,
      resumedFrom: start,
    },
  };
}

/**
 * The step a budgeted phase ends at, after `done` steps, `elapsed` seconds into this
 * run at `secondsPerStep` (recent average): `done` plus the steps the rest of the
 * budget holds, never more than `steps`; `done` once the budget is spent. Estimated
 * again after every step, so the schedule follows the machine's real speed.
 */
export function budgetedTotal(steps: number, done: number, elapsed: number, secondsPerStep: number, budget: number): number {
  if (elapsed >= budget) return done;
  const left = Math.floor((budget - elapsed) / Math.max(secondsPerStep, 1e-6));
  return Math.max(done, Math.min(steps, done + left));
}

async function encodeLatents(cfg: VaeConfig, w: Weights, o: BaseTrainOptions, per: number, file: string, report: BaseTrainReport): Promise<Float32Array> {
  const t0 = performance.now();
  const s = o.data.size;
  const enc = buildVaeEncoderGraph(cfg, { weights: source(w), height: s, width: s, name: 'vae_encoder_train' });
  const session = await createSession({ model: enc.model, name: 'vae_encoder_train' });
  const out = new Float32Array(o.data.count * per * 2);
  const B = 64;
  const c = cfg.latentChannels;
  const plane = per / c;
  try {
    for (let k = 0; k < o.data.count; k += B) {
      const n = Math.min(B, o.data.count - k);
      const idx = Array.from({ length: n }, (_, i) => k + i);
      const px = latentFramePixels(o.data, idx);
      const m = asFloat32((await session.run({ sample: tensor('float32', px, [n, 3, s, s]) }, ['moments'])).moments!);
      for (let i = 0; i < n; i++) {
        const mo = m.subarray(i * 2 * per, (i + 1) * 2 * per);
        const dst = (k + i) * 2 * per;
        out.set(mo.subarray(0, per), dst);
        for (let j = 0; j < per; j++) out[dst + per + j] = Math.exp(0.5 * Math.min(20, Math.max(-30, mo[per + j]!)));
      }
      o.onProgress?.({ phase: 'latents', step: k + n, total: o.data.count });
    }
  } finally {
    await session.dispose();
  }
  void plane;
  await writeFile(`${file}.partial`, new Uint8Array(out.buffer));
  await rename(`${file}.partial`, file);
  report.latentSeconds = (performance.now() - t0) / 1000;
  return out;
}

function trainAlphas(folder: string): Float32Array {
  void folder;
  // The preset's scheduler (SD 1.5's): scaled_linear 0.00085..0.012 over 1000 steps.
  return noiseTables('train', { numTrainTimesteps: 1000, betaStart: 0.00085, betaEnd: 0.012, betaSchedule: 'scaled_linear', trainedBetas: null, rescaleBetasZeroSnr: false }, BETA_SCHEDULES).alphasCumprod;
}

