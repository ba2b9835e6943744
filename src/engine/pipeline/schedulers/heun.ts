/**
 * Heun (Karras et al. 2022, Algorithm 1 without churn): a second-order method that
 * evaluates the model twice per interval. Its timesteps repeat every entry after the
 * first ([t0, t1, t1, ..., tn, tn]); calls alternate an Euler predictor and a
 * corrector that averages the two derivatives; the last call is an Euler step to 0.
 *
 * @example
 *   const s = new HeunDiscreteScheduler({});
 *   s.setTimesteps(20);            // s.timesteps.length === 39
 */
import { clampInPlace, f32 } from './common.ts';
import { resolveOptions, type SchedulerConfig } from './config.ts';
import { sigmaKind } from './euler.ts';
import { SigmaScheduler, type SigmaKind } from './sigma-base.ts';
import { spacedTimesteps } from './spacing.ts';
import type { NormalSource, StepOptions, StepResult, TimestepRequest } from './types.ts';

export const HEUN_DEFAULTS = {
  numTrainTimesteps: 1000,
  betaStart: 0.00085,
  betaEnd: 0.012,
  betaSchedule: 'linear',
  trainedBetas: null as number[] | null,
  predictionType: 'epsilon',
  useKarrasSigmas: false,
  useExponentialSigmas: false,
  useBetaSigmas: false,
  clipSample: false,
  clipSampleRange: 1.0,
  timestepSpacing: 'linspace',
  stepsOffset: 0,
} satisfies SchedulerConfig;

export type HeunOptions = typeof HEUN_DEFAULTS;

const doubled = (xs: readonly number[]): number[] => [xs[0]!, ...xs.slice(1).flatMap((x) => [x, x])];

export class HeunDiscreteScheduler extends SigmaScheduler {
  readonly name = 'HeunDiscreteScheduler';
  override readonly order = 2;
  readonly options: HeunOptions;
  private readonly kind: SigmaKind;
  private first: { derivative: Float32Array; dt: number; sample: Float32Array } | null = null;

  constructor(config: SchedulerConfig = {}) {
    const o = resolveOptions(config, HEUN_DEFAULTS);
    const schedules = ['linear', 'scaled_linear', 'squaredcos_cap_v2', 'exp'] as const;
    super('HeunDiscreteScheduler', config, o, schedules, ['epsilon', 'sample', 'v_prediction']);
    this.kind = sigmaKind(this.name, o);
    this.options = o;
  }

  setTimesteps(steps: number | TimestepRequest): void {
    const o = this.options;
    const req = this.timestepRequest(steps, ['timesteps']);
    if (req.timesteps && this.kind !== 'interpolated') {
      throw this.invalidTimesteps(`custom timesteps cannot be used with ${this.kind} sigmas`);
    }
    const n = req.timesteps ? req.timesteps.length : this.stepCount(req.steps!, o.numTrainTimesteps);
    this.numInferenceSteps = n;
    const spaced = req.timesteps
      ? req.timesteps.map(f32)
      : spacedTimesteps(this.name, o.timestepSpacing, o.numTrainTimesteps, n, o.stepsOffset, false);
    const { sigmas, timesteps } = this.reshape(this.kind, this.interpolated(spaced), n);
    const s32 = [...Float32Array.from([...sigmas, 0])];
    this.sigmaTable = Float32Array.from([s32[0]!, ...s32.slice(1, -1).flatMap((s) => [s, s]), 0]);
    this.schedule = doubled((timesteps ?? spaced).map(f32));
    this.first = null;
    this.stepIndex = null;
    this.beginIndex = null;
  }

  /** True when the next call is the Euler predictor of an interval. */
  get stateInFirstOrder(): boolean {
    return this.first === null;
  }

  step(modelOutput: Float32Array, t: number, sample: Float32Array, _options?: NormalSource | StepOptions): StepResult {
    this.requireReady();
    this.checkSize('model output', sample.length, modelOutput);
    const i = this.currentIndex(t);
    const first = this.first;
    const sigma = first ? this.sigmaTable[i - 1]! : this.sigmaTable[i]!;
    const next = first ? this.sigmaTable[i]! : this.sigmaTable[i + 1]!;
    const x0 = this.denoised(first ? next : sigma, modelOutput, sample);
    if (this.options.clipSample) clampInPlace(x0, this.options.clipSampleRange);
    const prev = new Float32Array(sample.length);
    if (!first) {
      const derivative = new Float32Array(sample.length);
      const dt = f32(next - sigma);
      for (let k = 0; k < prev.length; k++) {
        derivative[k] = f32(sample[k]! - x0[k]!) / sigma;
        prev[k] = sample[k]! + f32(derivative[k]! * dt);
      }
      this.first = { derivative, dt, sample: Float32Array.from(sample) };
    } else {
      for (let k = 0; k < prev.length; k++) {
        const d2 = f32(f32(sample[k]! - x0[k]!) / next);
        const d = f32(f32(first.derivative[k]! + d2) / 2);
        prev[k] = first.sample[k]! + f32(d * first.dt);
      }
      this.first = null;
    }
    this.stepIndex = i + 1;
    return { prevSample: prev, predOriginalSample: x0 };
  }
}
