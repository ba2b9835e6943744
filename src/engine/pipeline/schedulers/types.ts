/**
 * The interface every scheduler implements. Latents are flat Float32Arrays; the
 * caller knows their shape. Tables, scalar coefficients and element-wise arithmetic
 * follow the dtype and operation order of the reference (diffusers on CPU torch):
 * float64 where it uses numpy or Python floats, float32 (Math.fround after each
 * operation) where it uses float32 tensors.
 *
 * @example
 *   scheduler.setTimesteps(30);
 *   let x = rng.normals(n).map((v) => v * scheduler.initNoiseSigma);
 *   for (const t of scheduler.timesteps) {
 *     const eps = await unet(scheduler.scaleModelInput(x, t), t);
 *     x = scheduler.step(eps, t, x, rng.normal).prevSample;
 *   }
 */
import type { NormalSource } from '../random.ts';
import type { SchedulerConfig } from './config.ts';

export type { NormalSource };

/** diffusers class names of the schedulers zipbank implements. */
export const SCHEDULER_CLASSES = [
  'DDIMScheduler',
  'DDPMScheduler',
  'EulerDiscreteScheduler',
  'EulerAncestralDiscreteScheduler',
  'LMSDiscreteScheduler',
  'HeunDiscreteScheduler',
  'PNDMScheduler',
  'DPMSolverMultistepScheduler',
  'UniPCMultistepScheduler',
  'LCMScheduler',
] as const;
export type SchedulerClass = (typeof SCHEDULER_CLASSES)[number];

export interface StepOptions {
  /** Standard normal source for schedulers that add noise while stepping. */
  rng?: NormalSource;
  /** The noise itself (one value per sample element); wins over `rng`. */
  noise?: Float32Array;
  /** DDIM's eta: 0 is deterministic DDIM, 1 is DDPM-like. Default 0. */
  eta?: number;
  /** Batch items in the sample, for per-item dynamic thresholding. Default 1. */
  batchSize?: number;
}

export interface StepResult {
  prevSample: Float32Array;
  /** The model's estimate of the clean sample, where the scheduler computes one. */
  predOriginalSample?: Float32Array;
  /** LCM's boundary-condition output. */
  denoised?: Float32Array;
}

/** A custom schedule: explicit timesteps or sigmas instead of a step count (only some schedulers take them). */
export interface TimestepRequest {
  steps?: number;
  timesteps?: readonly number[];
  sigmas?: readonly number[];
}

export interface Scheduler {
  readonly name: SchedulerClass;
  /** The keys that were set explicitly (what a switch to another scheduler carries over). */
  readonly config: Readonly<SchedulerConfig>;
  /** Model evaluations per solver step (2 for Heun; its timesteps list repeats entries). */
  readonly order: number;
  readonly timesteps: readonly number[];
  readonly numInferenceSteps: number | null;
  /** Standard deviation of the initial noise; multiply fresh N(0, 1) latents by it. */
  readonly initNoiseSigma: number;
  setTimesteps(steps: number | TimestepRequest): void;
  /** Start stepping at this index of `timesteps` (img2img); otherwise the index is found from `t`. */
  setBeginIndex(index: number): void;
  scaleModelInput(sample: Float32Array, t: number): Float32Array;
  /** One denoising step. The fourth argument is a normal source or the full options. */
  step(modelOutput: Float32Array, t: number, sample: Float32Array, options?: NormalSource | StepOptions): StepResult;
  /** Forward diffusion of `original` to timestep `t` with the given noise. */
  addNoise(original: Float32Array, noise: Float32Array, t: number): Float32Array;
}
