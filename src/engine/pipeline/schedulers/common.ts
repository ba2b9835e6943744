/**
 * What the schedulers share: step-index bookkeeping (diffusers' `index_for_timestep`
 * rule: when a timestep occurs twice, the second occurrence is used), option and
 * size checks, noise drawing, and dynamic thresholding (Saharia et al. 2022).
 *
 * @example
 *   class MyScheduler extends BaseScheduler { ... }   // see ddim.ts
 */
import { ZipbankError } from '../../../errors/index.ts';
import type { SchedulerConfig } from './config.ts';
import type { NormalSource, Scheduler, SchedulerClass, StepOptions, StepResult, TimestepRequest } from './types.ts';

export const f32 = Math.fround;

export abstract class BaseScheduler implements Scheduler {
  abstract readonly name: SchedulerClass;
  readonly config: Readonly<SchedulerConfig>;
  readonly order: number = 1;
  numInferenceSteps: number | null = null;
  protected schedule: number[] = [];
  protected stepIndex: number | null = null;
  protected beginIndex: number | null = null;

  constructor(config: SchedulerConfig) {
    this.config = Object.freeze({ ...config });
  }

  get timesteps(): readonly number[] {
    return this.schedule;
  }

  get initNoiseSigma(): number {
    return 1;
  }

  abstract setTimesteps(steps: number | TimestepRequest): void;
  abstract step(
    modelOutput: Float32Array,
    t: number,
    sample: Float32Array,
    options?: NormalSource | StepOptions,
  ): StepResult;
  abstract addNoise(original: Float32Array, noise: Float32Array, t: number): Float32Array;

  setBeginIndex(index: number): void {
    this.beginIndex = index;
  }

  scaleModelInput(sample: Float32Array, _t: number): Float32Array {
    return sample;
  }

  protected requireReady(): void {
    if (this.numInferenceSteps === null) throw new ZipbankError('scheduler.not-ready', { scheduler: this.name });
  }

  /** Index of `t` in the schedule; the second one when it occurs twice. */
  protected indexFor(t: number, notFound: 'throw' | 'last' = 'throw'): number {
    const first = this.schedule.indexOf(t);
    if (first < 0) {
      if (notFound === 'last') return this.schedule.length - 1;
      throw new ZipbankError('scheduler.unknown-timestep', { scheduler: this.name, timestep: t });
    }
    const second = this.schedule.indexOf(t, first + 1);
    return second < 0 ? first : second;
  }

  protected currentIndex(t: number, notFound: 'throw' | 'last' = 'throw'): number {
    if (this.stepIndex === null) this.stepIndex = this.beginIndex ?? this.indexFor(t, notFound);
    return this.stepIndex;
  }

  /** The schedule index `addNoise` uses for `t`. */
  protected noiseIndex(t: number, notFound: 'throw' | 'last' = 'throw'): number {
    if (this.beginIndex === null) return this.indexFor(t, notFound);
    return this.stepIndex ?? this.beginIndex;
  }

  protected checkSize(what: string, expected: number, actual: Float32Array): void {
    if (actual.length !== expected) {
      throw new ZipbankError('scheduler.size-mismatch', { scheduler: this.name, what, expected, actual: actual.length });
    }
  }

  protected stepCount(steps: number, max: number): number {
    if (!Number.isInteger(steps) || steps < 1) {
      throw new ZipbankError('scheduler.invalid-steps', { scheduler: this.name, steps, reason: 'it must be a positive integer' });
    }
    if (steps > max) {
      throw new ZipbankError('scheduler.invalid-steps', {
        scheduler: this.name,
        steps,
        reason: `the model was trained with ${max} timesteps, so at most ${max} steps are possible`,
      });
    }
    return steps;
  }

  /** A setTimesteps argument with exactly one of: a step count, or (where accepted) timesteps or sigmas. */
  protected timestepRequest(
    steps: number | TimestepRequest,
    accepts: readonly ('timesteps' | 'sigmas')[] = [],
  ): TimestepRequest {
    const req = typeof steps === 'number' ? { steps } : steps;
    const allowed = ['a step count', ...accepts.map((a) => `custom ${a}`)].join(' or ');
    const given = (['steps', 'timesteps', 'sigmas'] as const).filter((k) => req[k] !== undefined);
    if (given.length === 0) throw this.invalidTimesteps(`pass ${allowed}`);
    if (given.length > 1) throw this.invalidTimesteps(`pass only one of: ${allowed}`);
    if (given[0] !== 'steps' && !accepts.includes(given[0]!)) throw this.invalidTimesteps(`this scheduler takes ${allowed}`);
    return req;
  }

  /** A validated step count from `setTimesteps`' argument, for schedulers that take nothing else. */
  protected onlyStepCount(steps: number | TimestepRequest, max: number): number {
    return this.stepCount(this.timestepRequest(steps).steps!, max);
  }

  /** Checks custom integer timesteps: descending, starting below `numTrain`. */
  protected customTimesteps(timesteps: readonly number[], numTrain: number): number[] {
    const ts = [...timesteps];
    if (ts.length === 0 || !ts.every(Number.isInteger)) throw this.invalidTimesteps('custom timesteps must be integers');
    for (let i = 1; i < ts.length; i++) {
      if (ts[i]! >= ts[i - 1]!) throw this.invalidTimesteps('custom timesteps must be in descending order');
    }
    if (ts[0]! >= numTrain) throw this.invalidTimesteps(`timesteps must start below num_train_timesteps (${numTrain})`);
    return ts;
  }

  /** The timestep after `t` in the schedule, -1 after the last one. */
  protected nextInSchedule(t: number): number {
    const i = this.schedule.indexOf(t);
    if (i < 0) throw new ZipbankError('scheduler.unknown-timestep', { scheduler: this.name, timestep: t });
    return i === this.schedule.length - 1 ? -1 : this.schedule[i + 1]!;
  }

  protected invalidTimesteps(reason: string): ZipbankError {
    return new ZipbankError('scheduler.invalid-timesteps', { scheduler: this.name, reason });
  }

  /** Fresh N(0, 1) noise for a step: the given array, else drawn from the rng. */
  protected drawNoise(n: number, o: StepOptions): Float32Array {
    if (o.noise) {
      this.checkSize('noise', n, o.noise);
      return o.noise;
    }
    if (!o.rng) throw new ZipbankError('scheduler.needs-noise', { scheduler: this.name });
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = o.rng();
    return out;
  }
}

export function stepOptions(options: NormalSource | StepOptions | undefined): StepOptions {
  if (options === undefined) return {};
  return typeof options === 'function' ? { rng: options } : options;
}

/** `torch.quantile` (linear interpolation) of the absolute values. */
function absQuantile(values: Float32Array, q: number): number {
  const sorted = Float32Array.from(values, Math.abs).sort();
  const rank = q * (sorted.length - 1);
  const lo = Math.floor(rank);
  const hi = Math.min(lo + 1, sorted.length - 1);
  const w = f32(rank - lo);
  const a = sorted[lo]!;
  const b = sorted[hi]!;
  return w < 0.5 ? f32(a + f32(w * f32(b - a))) : f32(b - f32(f32(b - a) * f32(1 - w)));
}

/**
 * Dynamic thresholding: per batch item, s = clamp(quantile(|x|, ratio), 1, maxValue);
 * x = clamp(x, -s, s) / s. As in torch, a lower bound above the upper one yields the
 * upper one.
 */
export function thresholdSample(
  scheduler: string,
  x: Float32Array,
  ratio: number,
  maxValue: number,
  batchSize = 1,
): Float32Array {
  if (!Number.isInteger(batchSize) || batchSize < 1 || x.length % batchSize !== 0) {
    throw new ZipbankError('scheduler.invalid-batch', { scheduler, length: x.length, batchSize });
  }
  const per = x.length / batchSize;
  const out = new Float32Array(x.length);
  for (let b = 0; b < batchSize; b++) {
    const row = x.subarray(b * per, (b + 1) * per);
    const s = f32(Math.min(Math.max(absQuantile(row, ratio), 1), maxValue));
    for (let i = 0; i < per; i++) out[b * per + i] = Math.min(Math.max(row[i]!, -s), s) / s;
  }
  return out;
}

export function clampInPlace(x: Float32Array, range: number): Float32Array {
  for (let i = 0; i < x.length; i++) x[i] = Math.min(Math.max(x[i]!, -range), range);
  return x;
}

/** sqrt(a) * x + sqrt(1 - a) * noise with float32 coefficients (alpha-space forward diffusion). */
export function noiseWithAlpha(alphaProd: number, original: Float32Array, noise: Float32Array): Float32Array {
  const ca = f32(Math.sqrt(alphaProd));
  const cb = f32(Math.sqrt(f32(1 - alphaProd)));
  const out = new Float32Array(original.length);
  for (let i = 0; i < out.length; i++) out[i] = f32(ca * original[i]!) + f32(cb * noise[i]!);
  return out;
}

/** Solves A x = b (small, dense) by Gaussian elimination with partial pivoting. */
export function solveLinear(a: readonly (readonly number[])[], b: readonly number[]): number[] {
  const n = b.length;
  const m = a.map((row, i) => [...row, b[i]!]);
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(m[r]![c]!) > Math.abs(m[p]![c]!)) p = r;
    [m[c], m[p]] = [m[p]!, m[c]!];
    for (let r = c + 1; r < n; r++) {
      const f = m[r]![c]! / m[c]![c]!;
      for (let k = c; k <= n; k++) m[r]![k]! -= f * m[c]![k]!;
    }
  }
  const x = new Array<number>(n).fill(0);
  for (let r = n - 1; r >= 0; r--) {
    let s = m[r]![n]!;
    for (let k = r + 1; k < n; k++) s -= m[r]![k]! * x[k]!;
    x[r] = s / m[r]![r]!;
  }
  return x;
}
