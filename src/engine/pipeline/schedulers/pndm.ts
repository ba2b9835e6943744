/**
 * PNDM (Liu et al. 2022): pseudo numerical methods in alpha space. Without
 * `skip_prk_steps` it warms up with pseudo Runge-Kutta steps (4 model calls per
 * step, 3 steps) before linear multistep (PLMS); with it, PLMS starts at once
 * (SD 1.x ships that way). `step` picks the method from the call count.
 *
 * @example
 *   const s = new PNDMScheduler(await loadSchedulerConfig('sd15/scheduler/scheduler_config.json'));
 *   s.setTimesteps(50);   // [981, 961, 961, 941, ...]
 */
import { ZipbankError } from '../../../errors/index.ts';
import { BaseScheduler, f32, noiseWithAlpha } from './common.ts';
import { noiseTables } from './betas.ts';
import { requireOneOf, resolveOptions, type SchedulerConfig } from './config.ts';
import { ascendingTimesteps, TIMESTEP_SPACINGS } from './spacing.ts';
import type { NormalSource, StepOptions, StepResult, TimestepRequest } from './types.ts';

export const PNDM_DEFAULTS = {
  numTrainTimesteps: 1000,
  betaStart: 0.0001,
  betaEnd: 0.02,
  betaSchedule: 'linear',
  trainedBetas: null as number[] | null,
  skipPrkSteps: false,
  setAlphaToOne: false,
  predictionType: 'epsilon',
  timestepSpacing: 'leading',
  stepsOffset: 0,
} satisfies SchedulerConfig;

export type PndmOptions = typeof PNDM_DEFAULTS;

const PNDM_ORDER = 4;

export class PNDMScheduler extends BaseScheduler {
  readonly name = 'PNDMScheduler';
  readonly options: PndmOptions;
  readonly alphasCumprod: Float32Array;
  readonly finalAlphaCumprod: number;
  prkTimesteps: number[] = [];
  plmsTimesteps: number[] = [];
  private counter = 0;
  private ets: Float32Array[] = [];
  private curModelOutput: Float32Array | null = null;
  private curSample: Float32Array | null = null;

  constructor(config: SchedulerConfig = {}) {
    super(config);
    const o = resolveOptions(config, PNDM_DEFAULTS);
    requireOneOf(this.name, 'timestep_spacing', o.timestepSpacing, TIMESTEP_SPACINGS);
    requireOneOf(this.name, 'prediction_type', o.predictionType, ['epsilon', 'v_prediction']);
    this.options = o;
    this.alphasCumprod = noiseTables(this.name, o, ['linear', 'scaled_linear', 'squaredcos_cap_v2']).alphasCumprod;
    this.finalAlphaCumprod = o.setAlphaToOne ? 1 : this.alphasCumprod[0]!;
  }

  setTimesteps(steps: number | TimestepRequest): void {
    const o = this.options;
    const n = this.onlyStepCount(steps, o.numTrainTimesteps);
    this.numInferenceSteps = n;
    const base = ascendingTimesteps(this.name, o.timestepSpacing, o.numTrainTimesteps, n, o.stepsOffset);
    if (o.skipPrkSteps) {
      this.prkTimesteps = [];
      this.plmsTimesteps = [...base.slice(0, -1), ...base.slice(-2, -1), ...base.slice(-1)].reverse();
    } else {
      const half = Math.floor(Math.floor(o.numTrainTimesteps / n) / 2);
      const prk = base.slice(-PNDM_ORDER).flatMap((t) => [t, t + half]);
      this.prkTimesteps = prk
        .slice(0, -1)
        .flatMap((t) => [t, t])
        .slice(1, -1)
        .reverse();
      this.plmsTimesteps = base.slice(0, -3).reverse();
    }
    this.schedule = [...this.prkTimesteps, ...this.plmsTimesteps];
    this.ets = [];
    this.counter = 0;
    this.curModelOutput = null;
    this.curSample = null;
  }

  step(modelOutput: Float32Array, t: number, sample: Float32Array, _options?: NormalSource | StepOptions): StepResult {
    if (this.counter < this.prkTimesteps.length && !this.options.skipPrkSteps) return this.stepPrk(modelOutput, t, sample);
    return this.stepPlms(modelOutput, t, sample);
  }

  /** One pseudo Runge-Kutta sub-step (four per step). */
  stepPrk(modelOutput: Float32Array, t: number, sample: Float32Array): StepResult {
    this.requireReady();
    this.checkSize('model output', sample.length, modelOutput);
    const n = this.numInferenceSteps!;
    const diffToPrev = this.counter % 2 ? 0 : Math.floor(Math.floor(this.options.numTrainTimesteps / n) / 2);
    const prevT = t - diffToPrev;
    const alphaT = this.prkTimesteps[Math.floor(this.counter / 4) * 4]!;
    const phase = this.counter % 4;
    let output = modelOutput;
    const acc = this.curModelOutput ?? new Float32Array(modelOutput.length);
    const weight = phase === 0 || phase === 3 ? f32(1 / 6) : f32(1 / 3);
    if (phase === 3) {
      output = acc.map((v, i) => v + f32(weight * modelOutput[i]!));
      this.curModelOutput = null;
    } else {
      this.curModelOutput = acc.map((v, i) => v + f32(weight * modelOutput[i]!));
      if (phase === 0) {
        this.ets.push(Float32Array.from(modelOutput));
        this.curSample = Float32Array.from(sample);
      }
    }
    const prev = this.prevSample(this.curSample ?? sample, alphaT, prevT, output);
    this.counter++;
    return { prevSample: prev };
  }

  /** One pseudo linear multistep step. */
  stepPlms(modelOutput: Float32Array, t: number, sample: Float32Array): StepResult {
    this.requireReady();
    this.checkSize('model output', sample.length, modelOutput);
    if (!this.options.skipPrkSteps && this.ets.length < 3) {
      throw new ZipbankError('scheduler.plms-too-early', { scheduler: this.name, residuals: this.ets.length });
    }
    const stride = Math.floor(this.options.numTrainTimesteps / this.numInferenceSteps!);
    let from = t;
    let prevT = t - stride;
    if (this.counter !== 1) {
      this.ets = this.ets.slice(-3);
      this.ets.push(Float32Array.from(modelOutput));
    } else {
      prevT = t;
      from = t + stride;
    }
    const e = this.ets;
    const m = e.length;
    let output: Float32Array;
    let x = sample;
    if (m === 1 && this.counter === 0) {
      output = modelOutput;
      this.curSample = Float32Array.from(sample);
    } else if (m === 1 && this.counter === 1) {
      output = modelOutput.map((v, i) => f32(v + e[0]![i]!) / 2);
      x = this.curSample!;
      this.curSample = null;
    } else if (m === 2) {
      output = e[1]!.map((v, i) => f32(f32(3 * v) - e[0]![i]!) / 2);
    } else if (m === 3) {
      output = e[2]!.map((v, i) => f32(f32(f32(23 * v) - f32(16 * e[1]![i]!)) + f32(5 * e[0]![i]!)) / 12);
    } else {
      const c = f32(1 / 24);
      output = e[3]!.map(
        (v, i) => c * f32(f32(f32(f32(55 * v) - f32(59 * e[2]![i]!)) + f32(37 * e[1]![i]!)) - f32(9 * e[0]![i]!)),
      );
    }
    const prev = this.prevSample(x, from, prevT, output);
    this.counter++;
    return { prevSample: prev };
  }

  private alpha(t: number): number {
    const a = this.alphasCumprod[t];
    if (!Number.isInteger(t) || a === undefined) {
      throw new ZipbankError('scheduler.unknown-timestep', { scheduler: this.name, timestep: t });
    }
    return a;
  }

  /** Eq. 11 of the paper: x_{t-1} from x_t and the combined model output. */
  private prevSample(sample: Float32Array, t: number, prevT: number, modelOutput: Float32Array): Float32Array {
    const a = this.alpha(t);
    const aPrev = prevT >= 0 ? this.alpha(prevT) : this.finalAlphaCumprod;
    const b = f32(1 - a);
    const bPrev = f32(1 - aPrev);
    let eps = modelOutput;
    if (this.options.predictionType === 'v_prediction') {
      const sa = f32(Math.sqrt(a));
      const sb = f32(Math.sqrt(b));
      eps = modelOutput.map((m, i) => f32(sa * m) + f32(sb * sample[i]!));
    }
    const sampleCoef = f32(Math.sqrt(f32(aPrev / a)));
    const denom = f32(f32(a * f32(Math.sqrt(bPrev))) + f32(Math.sqrt(f32(f32(a * b) * aPrev))));
    const diff = f32(aPrev - a);
    return sample.map((x, i) => f32(sampleCoef * x) - f32(f32(diff * eps[i]!) / denom));
  }

  addNoise(original: Float32Array, noise: Float32Array, t: number): Float32Array {
    this.checkSize('noise', original.length, noise);
    return noiseWithAlpha(this.alpha(t), original, noise);
  }
}
