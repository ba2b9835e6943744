/**
 * The base of the k-diffusion style schedulers (Euler, Euler ancestral, LMS, Heun):
 * a descending float32 sigma table with a trailing final sigma, input scaling by
 * 1 / sqrt(sigma^2 + 1), forward diffusion x + sigma * noise, and the conversion of
 * a model output to the denoised estimate.
 *
 * @example
 *   class EulerDiscreteScheduler extends SigmaScheduler { ... }   // see euler.ts
 */
import { BaseScheduler, f32 } from './common.ts';
import { logF32, noiseTables, trainSigmas, type BetaSchedule } from './betas.ts';
import { exponentialSigmas, interpSigmas, karrasSigmas, sigmaToT } from './sigmas.ts';
import { requireOneOf, type SchedulerConfig } from './config.ts';
import { TIMESTEP_SPACINGS } from './spacing.ts';

export interface SigmaBaseOptions {
  numTrainTimesteps: number;
  betaStart: number;
  betaEnd: number;
  betaSchedule: string;
  trainedBetas: number[] | null;
  predictionType: string;
  timestepSpacing: string;
  stepsOffset: number;
  rescaleBetasZeroSnr?: boolean;
}

export type SigmaKind = 'interpolated' | 'karras' | 'exponential';

export abstract class SigmaScheduler extends BaseScheduler {
  readonly alphasCumprod: Float32Array;
  /** Training sigmas, ascending in t. */
  readonly trainSigmas: Float32Array;
  readonly logSigmas: Float32Array;
  protected sigmaTable: Float32Array;
  private readonly base: SigmaBaseOptions;

  constructor(
    name: string,
    config: SchedulerConfig,
    o: SigmaBaseOptions,
    schedules: readonly BetaSchedule[],
    predictionTypes: readonly string[],
  ) {
    super(config);
    requireOneOf(name, 'prediction_type', o.predictionType, predictionTypes);
    requireOneOf(name, 'timestep_spacing', o.timestepSpacing, TIMESTEP_SPACINGS);
    this.base = o;
    this.alphasCumprod = noiseTables(name, o, schedules, true).alphasCumprod;
    this.trainSigmas = trainSigmas(this.alphasCumprod);
    this.logSigmas = logF32(this.trainSigmas);
    this.sigmaTable = Float32Array.from([...this.trainSigmas].reverse().concat(0));
  }

  /** The sigma table: one entry per timestep plus the final sigma. */
  get sigmas(): Float32Array {
    return this.sigmaTable;
  }

  override get initNoiseSigma(): number {
    const max = this.sigmaTable.reduce((m, s) => Math.max(m, s), -Infinity);
    if (this.base.timestepSpacing === 'linspace' || this.base.timestepSpacing === 'trailing') return max;
    return f32(Math.sqrt(f32(f32(max * max) + 1)));
  }

  /** Sigmas (float64) at the given timesteps, from the training table. */
  protected interpolated(timesteps: readonly number[]): number[] {
    return interpSigmas(timesteps, this.trainSigmas);
  }

  /** Replaces interpolated sigmas by a Karras or exponential schedule, with timesteps mapped back. */
  protected reshape(
    kind: SigmaKind,
    sigmas: number[],
    n: number,
    bounds: { min?: number | null; max?: number | null } = {},
  ): { sigmas: number[]; timesteps: number[] | null } {
    if (kind === 'interpolated') return { sigmas, timesteps: null };
    const min = bounds.min ?? sigmas[sigmas.length - 1]!;
    const max = bounds.max ?? sigmas[0]!;
    const out = kind === 'karras' ? karrasSigmas(min, max, n) : exponentialSigmas(min, max, n);
    return { sigmas: out, timesteps: out.map((s) => sigmaToT(s, this.logSigmas)) };
  }

  override scaleModelInput(sample: Float32Array, t: number): Float32Array {
    const sigma = this.sigmaTable[this.currentIndex(t)]!;
    const c = f32(Math.sqrt(f32(f32(sigma * sigma) + 1)));
    return sample.map((x) => x / c);
  }

  /** The denoised estimate for a model output at noise level `sigma`. */
  protected denoised(sigma: number, modelOutput: Float32Array, sample: Float32Array): Float32Array {
    const pt = this.base.predictionType;
    if (pt === 'sample') return Float32Array.from(modelOutput);
    const out = new Float32Array(sample.length);
    if (pt === 'epsilon') {
      for (let i = 0; i < out.length; i++) out[i] = sample[i]! - f32(sigma * modelOutput[i]!);
      return out;
    }
    const s2 = f32(f32(sigma * sigma) + 1);
    const cOut = f32(-sigma / f32(Math.sqrt(s2)));
    for (let i = 0; i < out.length; i++) out[i] = f32(modelOutput[i]! * cOut) + f32(sample[i]! / s2);
    return out;
  }

  addNoise(original: Float32Array, noise: Float32Array, t: number): Float32Array {
    this.checkSize('noise', original.length, noise);
    const sigma = this.sigmaTable[this.noiseIndex(t)]!;
    const out = new Float32Array(original.length);
    for (let i = 0; i < out.length; i++) out[i] = original[i]! + f32(noise[i]! * sigma);
    return out;
  }
}
