/**
 * How render parameters are chosen: defaults per base model (overridable by the
 * bot's options and by a community's `defaults`), the style-strength steps of the
 * -/+ buttons, the seeds of variations, and the copy of a parent's parameters that
 * every child render (variation, re-roll, strength, remix) starts from.
 *
 * @example
 *   stepStrength(0.9, +1);       // 1 (clamped)
 *   variationSeed(100, 2, 0);    // 106: image 2 of seed 100 is seed 101; its first variation starts 4 later
 */
import type { Community, Render } from '../../bank/schema.ts';
import { WORLD_SAMPLING } from '../../world/sampling.ts';
import { MAX_SEED, METHODS, STRENGTH_STEP } from './commands.ts';

export type BaseModel = 'sd15' | 'sd2' | 'sdxl' | 'world';

export interface RenderDefaults {
  width: number;
  height: number;
  steps: number;
  guidance: number;
  scheduler: string;
  count: number;
  method: 'ziplora' | 'direct';
  styleStrength: number;
}

/** Sizes and guidance as diffusers' pipelines use them; 25 steps with DPM++ 2M Karras. */
export const RENDER_DEFAULTS: Readonly<Record<BaseModel, RenderDefaults>> = {
  sd15: { width: 512, height: 512, steps: 25, guidance: 7.5, scheduler: 'dpm++2m-karras', count: 4, method: 'ziplora', styleStrength: 1 },
  sd2: { width: 768, height: 768, steps: 25, guidance: 7.5, scheduler: 'dpm++2m-karras', count: 4, method: 'ziplora', styleStrength: 1 },
  sdxl: { width: 1024, height: 1024, steps: 25, guidance: 5, scheduler: 'dpm++2m-karras', count: 4, method: 'ziplora', styleStrength: 1 },
  // The bundled world model (64x64 pixels), sampled as measured best (src/world/sampling.ts).
  world: { width: 64, height: 64, ...WORLD_SAMPLING, count: 4, method: 'ziplora', styleStrength: 1 },
};

const posInt = (v: unknown, max: number) => (typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= max ? v : undefined);

/**
 * Defaults for one base model: the table, then the bot's overrides, then the
 * community's `defaults` JSON (keys as in `RenderDefaults`; values of the wrong type
 * or out of range are ignored).
 */
export function renderDefaults(base: BaseModel, override?: Partial<RenderDefaults>, community?: Pick<Community, 'defaults'>): RenderDefaults {
  const d: RenderDefaults = { ...RENDER_DEFAULTS[base], ...override };
  const c = community?.defaults ?? {};
  const width = posInt(c.width, 4096);
  const height = posInt(c.height, 4096);
  const steps = posInt(c.steps, 100);
  const count = posInt(c.count, 4);
  if (width && width % 8 === 0) d.width = width;
  if (height && height % 8 === 0) d.height = height;
  if (steps) d.steps = steps;
  if (count) d.count = count;
  if (typeof c.guidance === 'number' && c.guidance >= 0 && c.guidance <= 30) d.guidance = c.guidance;
  if (typeof c.scheduler === 'string' && /^[\w+-]{1,40}$/.test(c.scheduler)) d.scheduler = c.scheduler;
  if (typeof c.method === 'string' && (METHODS as readonly string[]).includes(c.method)) d.method = c.method as RenderDefaults['method'];
  if (typeof c.styleStrength === 'number' && c.styleStrength >= 0 && c.styleStrength <= 1) d.styleStrength = c.styleStrength;
  return d;
}

/** One step of the style-strength buttons, clamped to 0..1 and rounded to 2 decimals. */
export function stepStrength(current: number, delta: -1 | 1): number {
  const next = Math.min(1, Math.max(0, current + delta * STRENGTH_STEP));
  return Math.round(next * 100) / 100;
}

/**
 * The first seed of the `k`-th variation (0-based) of image `index` (1-based) of a
 * render with `seed`: image i was drawn with seed + i - 1, and its variations take
 * the nearby seeds after the render's own block of 4, in blocks of 4.
 */
export function variationSeed(seed: number, index: number, k: number): number {
  const s = seed + (index - 1) + 4 * (k + 1);
  return s > MAX_SEED ? s % (MAX_SEED + 1) : s;
}

/** A fresh seed from a uniform [0, 1) source. */
export function randomSeed(random: () => number): number {
  return Math.floor(random() * (MAX_SEED + 1)) % (MAX_SEED + 1);
}

/** The parameters a child render copies from its parent (the requester and changes are set by the caller). */
export function inheritedParams(p: Render): Pick<
  Render,
  'subjectId' | 'styleId' | 'prompt' | 'negativePrompt' | 'seed' | 'steps' | 'guidance' | 'width' | 'height' | 'count' | 'styleStrength' | 'scheduler' | 'method'
> {
  return {
    subjectId: p.subjectId,
    styleId: p.styleId,
    prompt: p.prompt,
    negativePrompt: p.negativePrompt,
    seed: p.seed,
    steps: p.steps,
    guidance: p.guidance,
    width: p.width,
    height: p.height,
    count: p.count,
    styleStrength: p.styleStrength,
    scheduler: p.scheduler,
    method: p.method,
  };
}
