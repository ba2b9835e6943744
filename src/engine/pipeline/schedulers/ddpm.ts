/**
 * DDPM (Ho et al. 2020): ancestral steps in alpha space with fresh noise at every
 * t > 0; also takes a custom descending timestep list.
 *
 * @example
 *   const s = new DdpmScheduler({});
 *   s.setTimesteps({ timesteps: [999, 800, 500, 100, 0] });
 *   x = s.step(eps, 999, x, rng.normal).prevSample;
 */
import { ZipbankError } from '../../../errors/index.ts';
import { BaseScheduler, clampInPlace, f32, noiseWithAlpha, stepOptions, thresholdSample } from './common.ts';
import { noiseTables } from './betas.ts';
import { requireOneOf, resolveOptions, type SchedulerConfig } from './config.ts';
import { splitPrediction } from './ddim.ts';
import { spacedTimesteps, TIMESTEP_SPACINGS } from './spacing.ts';
import type { NormalSource, StepOptions, StepResult, TimestepRequest } from './types.ts';

export const DDPM_DEFAULTS = {
  numTrainTimesteps: 1000,
  betaStart: 0.0001,
  betaEnd: 0.02,
  betaSchedule: 'linear',
  trainedBetas: null as number[] | null,
  varianceType: 'fixed_small' as string | null,
  clipSample: true,
  predictionType: 'epsilon',
  thresholding: false,
  dynamicThresholdingRatio: 0.995,
  clipSampleRange: 1.0,
  sampleMaxValue: 1.0,
  timestepSpacing: 'leading',
  stepsOffset: 0,
  rescaleBetasZeroSnr: false,
} satisfies SchedulerConfig;

export type DdpmOptions = typeof DDPM_DEFAULTS;

const VARIANCE_TYPES = ['fixed_small', 'fixed_small_log', 'fixed_large'];

export class DdpmScheduler extends BaseScheduler {
  readonly name = 'DDPMScheduler';
  readonly options: DdpmOptions;
  readonly alphasCumprod: Float32Array;
  private custom = false;

  constructor(config: SchedulerConfig = {}) {
    super(config);
    const o = resolveOptions(config, DDPM_DEFAULTS);
    requireOneOf(this.name, 'timestep_spacing', o.timestepSpacing, TIMESTEP_SPACINGS);
    requireOneOf(this.name, 'prediction_type', o.predictionType, ['epsilon', 'sample', 'v_prediction']);
    requireOneOf(this.name, 'variance_type', o.varianceType ?? 'fixed_small', VARIANCE_TYPES);
    this.options = o;
    const allowed = ['linear', 'scaled_linear', 'squaredcos_cap_v2', 'laplace', 'sigmoid'] as const;
    this.alphasCumprod = noiseTables(this.name, o, allowed).alphasCumprod;
  }

  setTimesteps(steps: number | TimestepRequest): void {
    const o = this.options;
    const req = this.timestepRequest(steps, ['timesteps']);
    if (req.timesteps) {
      const ts = this.customTimesteps(req.timesteps, o.numTrainTimesteps);
      this.schedule = ts;
      this.custom = true;
      this.numInferenceSteps = ts.length;
      return;
    }
    const n = this.stepCount(req.steps!, o.numTrainTimesteps);
    this.numInferenceSteps = n;
    this.custom = false;
    this.schedule = spacedTimesteps(this.name, o.timestepSpacing, o.numTrainTimesteps, n, o.stepsOffset, true);
  }

  /** The timestep after `t` in the schedule (-1 after the last), or t - 1 before setTimesteps. */
  previousTimestep(t: number): number {
    return this.custom || this.numInferenceSteps !== null ? this.nextInSchedule(t) : t - 1;
  }

  private alpha(t: number): number {
    if (t < 0) return 1;
    const a = this.alphasCumprod[t];
    if (!Number.isInteger(t) || a === undefined) {
      throw new ZipbankError('scheduler.unknown-timestep', { scheduler: this.name, timestep: t });
    }
    return a;
  }

  /** The variance of the step from `t` (its standard deviation for fixed_small_log). */
  variance(t: number): number {
    const a = this.alpha(t);
    const aPrev = this.alpha(this.previousTimestep(t));
    const beta = f32(1 - f32(a / aPrev));
    const small = Math.max(f32(f32(f32(1 - aPrev) / f32(1 - a)) * beta), f32(1e-20));
    switch (this.options.varianceType) {
      case 'fixed_small_log':
        return f32(Math.exp(f32(0.5 * f32(Math.log(small)))));
      case 'fixed_large':
        return beta;
      default:
        return small;
    }
  }

  step(modelOutput: Float32Array, t: number, sample: Float32Array, options?: NormalSource | StepOptions): StepResult {
    const o = this.options;
    const opts = stepOptions(options);
    this.checkSize('model output', sample.length, modelOutput);
    const a = this.alpha(t);
    const aPrev = this.alpha(this.previousTimestep(t));
    const b = f32(1 - a);
    const bPrev = f32(1 - aPrev);
    const curAlpha = f32(a / aPrev);
    const curBeta = f32(1 - curAlpha);
    let { x0 } = splitPrediction(o.predictionType, a, modelOutput, sample);
    if (o.thresholding) x0 = thresholdSample(this.name, x0, o.dynamicThresholdingRatio, o.sampleMaxValue, opts.batchSize);
    else if (o.clipSample) clampInPlace(x0, o.clipSampleRange);
    const x0Coef = f32(f32(f32(Math.sqrt(aPrev)) * curBeta) / b);
    const xCoef = f32(f32(f32(Math.sqrt(curAlpha)) * bPrev) / b);
    let std = 0;
    let noise: Float32Array | null = null;
    if (t > 0) {
      noise = this.drawNoise(sample.length, opts);
      const v = this.variance(t);
      std = o.varianceType === 'fixed_small_log' ? v : f32(Math.sqrt(v));
    }
    const prev = new Float32Array(sample.length);
    for (let i = 0; i < prev.length; i++) {
      const mean = f32(f32(x0Coef * x0[i]!) + f32(xCoef * sample[i]!));
      prev[i] = noise ? mean + f32(std * noise[i]!) : mean;
    }
    return { prevSample: prev, predOriginalSample: x0 };
  }

  addNoise(original: Float32Array, noise: Float32Array, t: number): Float32Array {
    this.checkSize('noise', original.length, noise);
    return noiseWithAlpha(this.alpha(t), original, noise);
  }
}
