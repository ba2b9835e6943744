/**
 * LCM (Luo et al. 2023): latent consistency model sampling. Timesteps are a subset
 * of the `original_inference_steps` distillation schedule; each step applies the
 * consistency boundary condition (c_skip, c_out) and, except at the last step,
 * re-noises to the next timestep (which needs a normal source).
 *
 * @example
 *   const s = new LCMScheduler({});
 *   s.setTimesteps(4);            // [999, 759, 499, 259]
 */
import { ZipbankError } from '../../../errors/index.ts';
import { BaseScheduler, clampInPlace, f32, noiseWithAlpha, stepOptions, thresholdSample } from './common.ts';
import { noiseTables } from './betas.ts';
import { requireOneOf, resolveOptions, type SchedulerConfig } from './config.ts';
import { splitPrediction } from './ddim.ts';
import { npLinspace } from './spacing.ts';
import type { NormalSource, StepOptions, StepResult, TimestepRequest } from './types.ts';

export const LCM_DEFAULTS = {
  numTrainTimesteps: 1000,
  betaStart: 0.00085,
  betaEnd: 0.012,
  betaSchedule: 'scaled_linear',
  trainedBetas: null as number[] | null,
  originalInferenceSteps: 50,
  clipSample: false,
  clipSampleRange: 1.0,
  setAlphaToOne: true,
  stepsOffset: 0,
  predictionType: 'epsilon',
  thresholding: false,
  dynamicThresholdingRatio: 0.995,
  sampleMaxValue: 1.0,
  timestepSpacing: 'leading',
  timestepScaling: 10.0,
  rescaleBetasZeroSnr: false,
} satisfies SchedulerConfig;

export type LcmOptions = typeof LCM_DEFAULTS;

const SIGMA_DATA = 0.5;

export class LCMScheduler extends BaseScheduler {
  readonly name = 'LCMScheduler';
  readonly options: LcmOptions;
  readonly alphasCumprod: Float32Array;
  readonly finalAlphaCumprod: number;
  private custom = false;

  constructor(config: SchedulerConfig = {}) {
    super(config);
    const o = resolveOptions(config, LCM_DEFAULTS);
    requireOneOf(this.name, 'prediction_type', o.predictionType, ['epsilon', 'sample', 'v_prediction']);
    this.options = o;
    this.alphasCumprod = noiseTables(this.name, o, ['linear', 'scaled_linear', 'squaredcos_cap_v2']).alphasCumprod;
    this.finalAlphaCumprod = o.setAlphaToOne ? 1 : this.alphasCumprod[0]!;
  }

  /** A step count, or custom descending timesteps; `strength` < 1 starts part-way (img2img). */
  setTimesteps(steps: number | (TimestepRequest & { strength?: number; originalSteps?: number })): void {
    const o = this.options;
    const req = this.timestepRequest(steps, ['timesteps']);
    const extra = typeof steps === 'number' ? {} : steps;
    const strength = extra.strength ?? 1;
    const original = extra.originalSteps ?? o.originalInferenceSteps;
    if (original > o.numTrainTimesteps) {
      throw this.invalidTimesteps(`original_inference_steps (${original}) exceeds num_train_timesteps (${o.numTrainTimesteps})`);
    }
    const k = Math.floor(o.numTrainTimesteps / original);
    const origin = Array.from({ length: Math.trunc(original * strength) }, (_, i) => (i + 1) * k - 1);
    if (req.timesteps) {
      const ts = this.customTimesteps(req.timesteps, o.numTrainTimesteps);
      this.numInferenceSteps = ts.length;
      this.custom = true;
      const init = Math.min(Math.trunc(ts.length * strength), ts.length);
      this.schedule = ts.slice(Math.max(ts.length - init, 0));
    } else {
      const n = this.stepCount(req.steps!, o.numTrainTimesteps);
      if (Math.floor(origin.length / n) < 1) {
        throw new ZipbankError('scheduler.invalid-steps', {
          scheduler: this.name,
          steps: n,
          reason: `original_inference_steps x strength (${original} x ${strength}) leaves fewer timesteps than that`,
        });
      }
      if (n > original) {
        throw new ZipbankError('scheduler.invalid-steps', {
          scheduler: this.name,
          steps: n,
          reason: `it cannot exceed original_inference_steps (${original})`,
        });
      }
      this.numInferenceSteps = n;
      this.custom = false;
      const reversed = origin.reverse();
      this.schedule = npLinspace(0, reversed.length, n, false).map((v) => reversed[Math.floor(v)]!);
    }
    this.stepIndex = null;
    this.beginIndex = null;
  }

  /** The timestep after `t` in the schedule (-1 after the last), or t - 1 before setTimesteps. */
  previousTimestep(t: number): number {
    return this.custom || this.numInferenceSteps !== null ? this.nextInSchedule(t) : t - 1;
  }

  private alpha(t: number): number {
    const a = this.alphasCumprod[t];
    if (!Number.isInteger(t) || a === undefined) {
      throw new ZipbankError('scheduler.unknown-timestep', { scheduler: this.name, timestep: t });
    }
    return a;
  }

  /** The consistency-model boundary condition: c_skip and c_out at timestep t. */
  boundaryScalings(t: number): { cSkip: number; cOut: number } {
    const scaled = f32(t * this.options.timestepScaling);
    const d2 = SIGMA_DATA ** 2;
    const denom = f32(f32(scaled * scaled) + d2);
    return { cSkip: f32(d2 / denom), cOut: f32(scaled / f32(Math.sqrt(denom))) };
  }

  step(modelOutput: Float32Array, t: number, sample: Float32Array, options?: NormalSource | StepOptions): StepResult {
    this.requireReady();
    this.checkSize('model output', sample.length, modelOutput);
    const o = this.options;
    const opts = stepOptions(options);
    const i = this.currentIndex(t);
    const prevT = i + 1 < this.schedule.length ? this.schedule[i + 1]! : t;
    const a = this.alpha(t);
    const aPrev = prevT >= 0 ? this.alpha(prevT) : this.finalAlphaCumprod;
    const { cSkip, cOut } = this.boundaryScalings(t);
    let { x0 } = splitPrediction(o.predictionType, a, modelOutput, sample);
    if (o.thresholding) x0 = thresholdSample(this.name, x0, o.dynamicThresholdingRatio, o.sampleMaxValue, opts.batchSize);
    else if (o.clipSample) clampInPlace(x0, o.clipSampleRange);
    const denoised = x0.map((v, k) => f32(cOut * v) + f32(cSkip * sample[k]!));
    let prev = denoised;
    if (i !== this.numInferenceSteps! - 1) {
      const noise = this.drawNoise(sample.length, opts);
      const ca = f32(Math.sqrt(aPrev));
      const cb = f32(Math.sqrt(f32(1 - aPrev)));
      prev = denoised.map((d, k) => f32(ca * d) + f32(cb * noise[k]!));
    }
    this.stepIndex = i + 1;
    return { prevSample: prev, predOriginalSample: x0, denoised };
  }

  addNoise(original: Float32Array, noise: Float32Array, t: number): Float32Array {
    this.checkSize('noise', original.length, noise);
    return noiseWithAlpha(this.alpha(t), original, noise);
  }
}
