/**
 * The options of a text-to-image render, their defaults and their checks.
 * Defaults: steps 25; guidance from `GUIDANCE_DEFAULTS` by family (diffusers'
 * pipelines: 7.5 for SD, 5.0 for SDXL); width and height the UNet's sample_size times
 * the VAE factor (512 for SD 1.5, 1024 for SDXL); the scheduler the model's
 * scheduler_config.json names; one image; a random seed below 2^32.
 * A model folder may name its own steps, guidance and scheduler in model_index.json
 * (`MODEL_DEFAULTS_KEY`; diffusers ignores keys that start with "_"): the bundled
 * world model does (src/world/sampling.ts).
 *
 * Seeds: image i of a batch uses seed + i (`imageSeed`), for its initial noise and
 * for the noise ancestral schedulers draw, so image i of a batch rendered with seed s
 * is the image rendered alone with seed s + i (bot "variations" use nearby seeds).
 *
 * @example
 *   const r = resolveRenderOptions(model, { prompt: 'a corgi', seed: 7, count: 2 });
 *   r.seeds; // [7, 8]
 */
import { ZipbankError } from '../../errors/index.ts';
import type { PipelineFamily } from './conditioning.ts';
import type { PipelineModel } from './model.ts';
import { SCHEDULER_NAMES, createScheduler } from './schedulers/index.ts';

export const GUIDANCE_DEFAULTS: Readonly<Record<PipelineFamily, number>> = { sd: 7.5, sdxl: 5.0 };
/** sample_size of the official SD 1.5 / SDXL UNets, for configs without one. */
const SAMPLE_SIZE_DEFAULTS: Readonly<Record<PipelineFamily, number>> = { sd: 64, sdxl: 128 };

export const RENDER_DEFAULTS = { steps: 25, count: 1, negativePrompt: '' } as const;
export const MAX_COUNT = 4;
export const MAX_STEPS = 1000;
/** Largest width or height in pixels. */
export const MAX_SIDE = 4096;

export interface SizeOptions {
  width?: number;
  height?: number;
}

export interface RenderOptionsInput extends SizeOptions {
  prompt: string;
  negativePrompt?: string;
  seed?: number;
  steps?: number;
  guidance?: number;
  scheduler?: string;
  count?: number;
}

export interface RenderOptions {
  prompt: string;
  negativePrompt: string;
  seed: number;
  seeds: number[];
  steps: number;
  guidance: number;
  /** Scheduler name as given, or the config's class. */
  scheduler: string;
  count: number;
  width: number;
  height: number;
}

/** model_index.json key of a folder's own render defaults, e.g. {"num_inference_steps": 20, "guidance_scale": 3, "scheduler": "dpm++2m-karras"}. */
export const MODEL_DEFAULTS_KEY = '_zipbank_render_defaults';

/** A model folder's own render defaults (each optional). */
export interface ModelRenderDefaults {
  steps?: number;
  guidance?: number;
  scheduler?: string;
}

/** Reads and checks `MODEL_DEFAULTS_KEY` of a parsed model_index.json; `file` names it in errors. */
export function parseModelRenderDefaults(index: Record<string, unknown>, file: string): ModelRenderDefaults {
  const raw = index[MODEL_DEFAULTS_KEY];
  if (raw === undefined) return {};
  const invalid = (key: string, value: unknown, expected: string) => new ZipbankError('model.invalid-config', { file, key, value, expected });
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw invalid(MODEL_DEFAULTS_KEY, raw, 'an object with num_inference_steps, guidance_scale and/or scheduler');
  const r = raw as Record<string, unknown>;
  const known = ['num_inference_steps', 'guidance_scale', 'scheduler'];
  for (const k of Object.keys(r)) if (!known.includes(k)) throw invalid(`${MODEL_DEFAULTS_KEY}.${k}`, r[k], `one of the keys ${known.join(', ')}`);
  const out: ModelRenderDefaults = {};
  const steps = r['num_inference_steps'];
  if (steps !== undefined) {
    if (typeof steps !== 'number' || !Number.isInteger(steps) || steps < 1 || steps > MAX_STEPS) throw invalid(`${MODEL_DEFAULTS_KEY}.num_inference_steps`, steps, `an integer from 1 to ${MAX_STEPS}`);
    out.steps = steps;
  }
  const guidance = r['guidance_scale'];
  if (guidance !== undefined) {
    if (typeof guidance !== 'number' || !Number.isFinite(guidance) || guidance < 0 || guidance > 100) throw invalid(`${MODEL_DEFAULTS_KEY}.guidance_scale`, guidance, 'a number from 0 to 100');
    out.guidance = guidance;
  }
  const scheduler = r['scheduler'];
  if (scheduler !== undefined) {
    if (typeof scheduler !== 'string' || !SCHEDULER_NAMES.includes(scheduler)) throw invalid(`${MODEL_DEFAULTS_KEY}.scheduler`, scheduler, `one of ${SCHEDULER_NAMES.join(', ')}`);
    out.scheduler = scheduler;
  }
  return out;
}

const bad = (option: string, value: unknown, expected: string) => new ZipbankError('pipeline.bad-option', { option, value, expected });

/** The seed image `index` of a batch uses. */
export function imageSeed(seed: number, index: number): number {
  return seed + index;
}

/** The default width and height of a model. */
export function defaultSize(m: Pick<PipelineModel, 'family' | 'vaeFactor' | 'folder'>): { width: number; height: number } {
  const side = (m.folder.configs.unet.sampleSize ?? SAMPLE_SIZE_DEFAULTS[m.family]) * m.vaeFactor;
  return { width: side, height: side };
}

/** Checks one side against the model's size multiple; names why the multiple is what it is. */
export function checkSide(what: 'width' | 'height', value: number, m: Pick<PipelineModel, 'vaeFactor' | 'sizeMultiple'>): void {
  const ok = Number.isInteger(value) && value > 0 && value % m.sizeMultiple === 0 && value <= MAX_SIDE;
  if (ok) return;
  const blocks = Math.log2(m.sizeMultiple / m.vaeFactor) + 1;
  const why =
    value > MAX_SIDE
      ? `and at most ${MAX_SIDE}`
      : `the VAE makes one latent of ${m.vaeFactor}x${m.vaeFactor} pixels, and the UNet's ${blocks} blocks halve the latents ${blocks - 1} time${blocks === 2 ? '' : 's'}`;
  throw new ZipbankError('pipeline.bad-size', { what, value, multiple: m.sizeMultiple, why });
}

export function resolveRenderOptions(m: PipelineModel, i: RenderOptionsInput): RenderOptions {
  if (typeof i.prompt !== 'string') throw bad('prompt', i.prompt, 'a string');
  const negativePrompt = i.negativePrompt ?? RENDER_DEFAULTS.negativePrompt;
  if (typeof negativePrompt !== 'string') throw bad('negativePrompt', negativePrompt, 'a string');
  const count = i.count ?? RENDER_DEFAULTS.count;
  if (!Number.isInteger(count) || count < 1 || count > MAX_COUNT) throw bad('count', count, `an integer from 1 to ${MAX_COUNT}`);
  const steps = i.steps ?? m.renderDefaults.steps ?? RENDER_DEFAULTS.steps;
  if (!Number.isInteger(steps) || steps < 1 || steps > MAX_STEPS) throw bad('steps', steps, `an integer from 1 to ${MAX_STEPS}`);
  const guidance = i.guidance ?? m.renderDefaults.guidance ?? GUIDANCE_DEFAULTS[m.family];
  if (!Number.isFinite(guidance) || guidance < 0 || guidance > 100) throw bad('guidance', guidance, 'a number from 0 to 100 (1 or less: no classifier-free guidance)');
  const seed = i.seed ?? Math.floor(Math.random() * 2 ** 32);
  if (!Number.isSafeInteger(seed) || seed < 0 || !Number.isSafeInteger(imageSeed(seed, count - 1))) {
    throw bad('seed', seed, `an integer from 0 to ${Number.MAX_SAFE_INTEGER - count + 1}`);
  }
  const size = defaultSize(m);
  const width = i.width ?? size.width;
  const height = i.height ?? size.height;
  checkSide('width', width, m);
  checkSide('height', height, m);
  const scheduler = i.scheduler ?? m.renderDefaults.scheduler ?? m.schedulerConfig.className;
  if (scheduler === undefined) throw new ZipbankError('scheduler.unknown', { name: undefined, known: SCHEDULER_NAMES });
  createScheduler(m.schedulerConfig, scheduler).setTimesteps(steps);
  return {
    prompt: i.prompt,
    negativePrompt,
    seed,
    seeds: Array.from({ length: count }, (_, k) => imageSeed(seed, k)),
    steps,
    guidance,
    scheduler,
    count,
    width,
    height,
  };
}
