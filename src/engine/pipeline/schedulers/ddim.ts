/**
 * DDIM (Song et al. 2021): deterministic (eta = 0) or stochastic steps between
 * integer timesteps, in alpha space.
 *
 * @example
 *   const s = new DdimScheduler({ betaSchedule: 'scaled_linear', betaStart: 0.00085, betaEnd: 0.012 });
 *   s.setTimesteps(50);
 *   x = s.step(eps, s.timesteps[0]!, x, { eta: 0 }).prevSample;
 */
import { ZipbankError } from '../../../errors/index.ts';
import { BaseScheduler, clampInPlace, f32, noiseWithAlpha, stepOptions, thresholdSample } from './common.ts';
import { noiseTables } from './betas.ts';
import { requireOneOf, resolveOptions, type SchedulerConfig } from './config.ts';
import { spacedTimesteps, TIMESTEP_SPACINGS } from './spacing.ts';
import type { NormalSource, StepOptions, StepResult, TimestepRequest } from './types.ts';

export const DDIM_DEFAULTS = {
  numTrainTimesteps: 1000,
  betaStart: 0.0001,
  betaEnd: 0.02,
  betaSchedule: 'linear',
  trainedBetas: null as number[] | null,
  clipSample: true,
  setAlphaToOne: true,
  stepsOffset: 0,
  predictionType: 'epsilon',
  thresholding: false,
  dynamicThresholdingRatio: 0.995,
  clipSampleRange: 1.0,
  sampleMaxValue: 1.0,
  timestepSpacing: 'leading',
  rescaleBetasZeroSnr: false,
} satisfies SchedulerConfig;

export type DdimOptions = typeof DDIM_DEFAULTS;

/** x0 and epsilon from a model output, for alpha-space schedulers (DDIM, DDPM, LCM). */
export function splitPrediction(
  predictionType: string,
  alphaProd: number,
  modelOutput: Float32Array,
  sample: Float32Array,
): { x0: Float32Array; eps: Float32Array } {
  const sa = f32(Math.sqrt(alphaProd));
  const sb = f32(Math.sqrt(f32(1 - alphaProd)));
  const x0 = new Float32Array(sample.length);
  const eps = new Float32Array(sample.length);
  for (let i = 0; i < sample.length; i++) {
    const x = sample[i]!;
    const m = modelOutput[i]!;
    if (predictionType === 'epsilon') {
      x0[i] = f32(x - f32(sb * m)) / sa;
      eps[i] = m;
    } else if (predictionType === 'sample') {
      x0[i] = m;
      eps[i] = f32(x - f32(sa * m)) / sb;
    } else {
      x0[i] = f32(sa * x) - f32(sb * m);
      eps[i] = f32(sa * m) + f32(sb * x);
    }
  }
  return { x0, eps };
}

export class DdimScheduler extends BaseScheduler {
  readonly name = 'DDIMScheduler';
  readonly options: DdimOptions;
  readonly alphasCumprod: Float32Array;
  readonly finalAlphaCumprod: number;

  constructor(config: SchedulerConfig = {}) {
    super(config);
    const o = resolveOptions(config, DDIM_DEFAULTS);
    requireOneOf(this.name, 'prediction_type', o.predictionType, ['epsilon', 'sample', 'v_prediction']);
    requireOneOf(this.name, 'timestep_spacing', o.timestepSpacing, TIMESTEP_SPACINGS);
    this.options = o;
    this.alphasCumprod = noiseTables(this.name, o, ['linear', 'scaled_linear', 'squaredcos_cap_v2']).alphasCumprod;
    this.finalAlphaCumprod = o.setAlphaToOne ? 1 : this.alphasCumprod[0]!;
  }

  setTimesteps(steps: number | TimestepRequest): void {
    const o = this.options;
    const n = this.onlyStepCount(steps, o.numTrainTimesteps);
    this.numInferenceSteps = n;
    this.schedule = spacedTimesteps(this.name, o.timestepSpacing, o.numTrainTimesteps, n, o.stepsOffset, true);
  }

  private alphaAt(t: number): number {
    return t >= 0 ? this.alphaIndex(t) : this.finalAlphaCumprod;
  }

  private alphaIndex(t: number): number {
    const a = this.alphasCumprod[t];
    if (!Number.isInteger(t) || a === undefined) {
      throw new ZipbankError('scheduler.unknown-timestep', { scheduler: this.name, timestep: t });
    }
    return a;
  }

  /** DDIM's sigma_t^2 / eta^2 between `t` and `prevT` (eq. 16). */
  variance(t: number, prevT: number): number {
    const a = this.alphaIndex(t);
    const aPrev = this.alphaAt(prevT);
    const b = f32(1 - a);
    const bPrev = f32(1 - aPrev);
    return f32(f32(bPrev / b) * f32(1 - f32(a / aPrev)));
  }

  step(modelOutput: Float32Array, t: number, sample: Float32Array, options?: NormalSource | StepOptions): StepResult {
    this.requireReady();
    const o = this.options;
    const opts = stepOptions(options);
    const eta = opts.eta ?? 0;
    this.checkSize('model output', sample.length, modelOutput);
    const prevT = t - Math.floor(o.numTrainTimesteps / this.numInferenceSteps!);
    const a = this.alphaIndex(t);
    const aPrev = this.alphaAt(prevT);
    let { x0, eps } = splitPrediction(o.predictionType, a, modelOutput, sample);
    if (o.thresholding) x0 = thresholdSample(this.name, x0, o.dynamicThresholdingRatio, o.sampleMaxValue, opts.batchSize);
    else if (o.clipSample) clampInPlace(x0, o.clipSampleRange);
    const std = f32(eta * Math.sqrt(this.variance(t, prevT)));
    const dirCoef = f32(Math.sqrt(f32(f32(1 - aPrev) - f32(std * std))));
    const x0Coef = f32(Math.sqrt(aPrev));
    const noise = eta > 0 ? this.drawNoise(sample.length, opts) : null;
    const prev = new Float32Array(sample.length);
    for (let i = 0; i < prev.length; i++) {
      const v = f32(x0Coef * x0[i]!) + f32(dirCoef * eps[i]!);
      prev[i] = noise ? f32(v) + f32(std * noise[i]!) : v;
    }
    return { prevSample: prev, predOriginalSample: x0 };
  }

  addNoise(original: Float32Array, noise: Float32Array, t: number): Float32Array {
    this.checkSize('noise', original.length, noise);
    return noiseWithAlpha(this.alphaIndex(t), original, noise);
  }
}
