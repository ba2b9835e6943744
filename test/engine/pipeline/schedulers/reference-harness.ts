/**
 * The diffusers scheduler-test setup restated from the fixture's `dummies` and
 * `loops`: the deterministic dummy sample and noise, the dummy model, and the three
 * loop patterns. Shared by the reference-value and fact tests.
 */
import { readFileSync } from 'node:fs';
import { createScheduler, type Scheduler, type StepOptions } from '../../../../src/engine/pipeline/schedulers/index.ts';
import type { PNDMScheduler } from '../../../../src/engine/pipeline/schedulers/index.ts';

export const FIXTURES = new URL('../../../../../shared/fixtures/', import.meta.url);

const f32 = Math.fround;

export interface Expected {
  value: number;
  tol: number;
}

export interface RefCase {
  id: string;
  scheduler_class: string;
  scheduler_order: number;
  config: Record<string, unknown>;
  config_effective: Record<string, unknown>;
  num_inference_steps: number;
  set_timesteps: { num_inference_steps: number };
  sample_shape: number[];
  loop: 'plain' | 'sigma_scaled' | 'pndm_prk_then_plms';
  step_args: Record<string, unknown>;
  with_noise: { t_start: number; timesteps_used: number[] } | null;
  expected: { result_sum: Expected | null; result_mean: Expected };
  derived_by_reimplementation?: { timesteps?: number[]; sigmas?: number[]; init_noise_sigma?: number };
}

export interface Fact {
  id: string;
  scheduler_class?: string | string[];
  config?: Record<string, unknown>;
  value: unknown;
  values?: { timestep: number; prev_timestep?: number; value: number }[];
  tol?: number;
}

export interface ReferenceFixture {
  cases: RefCase[];
  facts: Fact[];
}

export function loadReference(): ReferenceFixture {
  return JSON.parse(readFileSync(new URL('schedulers/reference-values.json', FIXTURES), 'utf8')) as ReferenceFixture;
}

/** k = channel-major index with batch fastest; x[b, c, ...] = k / N (or (N - 1 - k) / N for the noise). */
function deterministic(shape: readonly number[], flip: boolean): Float32Array {
  const [batch, ...rest] = shape as [number, ...number[]];
  const per = rest.reduce((a, b) => a * b, 1);
  const n = batch * per;
  const out = new Float32Array(n);
  for (let b = 0; b < batch; b++) {
    for (let j = 0; j < per; j++) {
      const k = j * batch + b;
      out[b * per + j] = (flip ? n - 1 - k : k) / n;
    }
  }
  return out;
}

export const dummySample = (shape: readonly number[]): Float32Array => deterministic(shape, false);
export const dummyNoise = (shape: readonly number[]): Float32Array => deterministic(shape, true);

/** model(sample, t) = (sample * t) / (t + 1) in float32. */
export function dummyModel(sample: Float32Array, t: number): Float32Array {
  const tf = f32(t);
  const d = f32(tf + 1);
  return sample.map((x) => f32(x * tf) / d);
}

export function absSum(x: Float32Array): number {
  let s = 0;
  for (const v of x) s += Math.abs(v);
  return s;
}

function stepArgs(c: RefCase): StepOptions {
  return typeof c.step_args['eta'] === 'number' ? { eta: c.step_args['eta'] } : {};
}

/** Runs a case's full loop on `scheduler` (built from the case config unless given). */
export function runCase(c: RefCase, scheduler: Scheduler = createScheduler(c.config, c.scheduler_class)): Float32Array {
  scheduler.setTimesteps(c.set_timesteps.num_inference_steps);
  let sample = dummySample(c.sample_shape);
  const opts = stepArgs(c);
  if (c.loop === 'pndm_prk_then_plms') {
    const pndm = scheduler as PNDMScheduler;
    for (const t of pndm.prkTimesteps) sample = pndm.stepPrk(dummyModel(sample, t), t, sample).prevSample;
    for (const t of pndm.plmsTimesteps) sample = pndm.stepPlms(dummyModel(sample, t), t, sample).prevSample;
    return sample;
  }
  const scaled = c.loop === 'sigma_scaled';
  if (scaled) {
    const sigma = scheduler.initNoiseSigma;
    sample = sample.map((x) => x * sigma);
  }
  let timesteps = scheduler.timesteps;
  if (c.with_noise) {
    timesteps = timesteps.slice(c.with_noise.t_start * scheduler.order);
    sample = scheduler.addNoise(sample, dummyNoise(c.sample_shape), timesteps[0]!);
  }
  for (const t of timesteps) {
    if (scaled) sample = scheduler.scaleModelInput(sample, t);
    sample = scheduler.step(dummyModel(sample, t), t, sample, opts).prevSample;
  }
  return sample;
}
