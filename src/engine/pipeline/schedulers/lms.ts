/**
 * LMS: linear multistep (Adams-Bashforth in sigma) over up to `order` (default 4)
 * past derivatives. The coefficients are the exact integrals of the Lagrange basis
 * polynomials through the past sigmas over [sigma_i, sigma_{i+1}] (the reference
 * integrates numerically to 1e-4; the polynomials are at most cubic).
 *
 * @example
 *   const s = new LMSDiscreteScheduler({ betaSchedule: 'scaled_linear', betaStart: 0.00085, betaEnd: 0.012 });
 *   s.setTimesteps(50);
 */
import { f32 } from './common.ts';
import { resolveOptions, type SchedulerConfig } from './config.ts';
import { sigmaKind } from './euler.ts';
import { SigmaScheduler, type SigmaKind } from './sigma-base.ts';
import { spacedTimesteps } from './spacing.ts';
import type { NormalSource, StepOptions, StepResult, TimestepRequest } from './types.ts';

export const LMS_DEFAULTS = {
  numTrainTimesteps: 1000,
  betaStart: 0.0001,
  betaEnd: 0.02,
  betaSchedule: 'linear',
  trainedBetas: null as number[] | null,
  useKarrasSigmas: false,
  useExponentialSigmas: false,
  useBetaSigmas: false,
  predictionType: 'epsilon',
  timestepSpacing: 'linspace',
  stepsOffset: 0,
} satisfies SchedulerConfig;

export type LmsOptions = typeof LMS_DEFAULTS;

/** Multiplies the polynomial `p` (coefficients, lowest degree first) by (x - root) / scale. */
function mulLinear(p: number[], root: number, scale: number): number[] {
  const out = new Array<number>(p.length + 1).fill(0);
  for (let k = 0; k < p.length; k++) {
    out[k + 1]! += p[k]! / scale;
    out[k]! -= (p[k]! * root) / scale;
  }
  return out;
}

function integrate(p: number[], a: number, b: number): number {
  let total = 0;
  for (let k = 0; k < p.length; k++) total += (p[k]! * (b ** (k + 1) - a ** (k + 1))) / (k + 1);
  return total;
}

/** Coefficient `j` of an order-`order` LMS step from sigmas[i] to sigmas[i + 1]. */
export function lmsCoefficient(sigmas: ArrayLike<number>, order: number, i: number, j: number): number {
  let p = [1];
  for (let k = 0; k < order; k++) {
    if (k === j) continue;
    p = mulLinear(p, sigmas[i - k]!, sigmas[i - j]! - sigmas[i - k]!);
  }
  return integrate(p, sigmas[i]!, sigmas[i + 1]!);
}

export class LMSDiscreteScheduler extends SigmaScheduler {
  readonly name = 'LMSDiscreteScheduler';
  readonly options: LmsOptions;
  /** Highest order used by `step`. */
  lmsOrder = 4;
  private readonly kind: SigmaKind;
  private derivatives: Float32Array[] = [];

  constructor(config: SchedulerConfig = {}) {
    const o = resolveOptions(config, LMS_DEFAULTS);
    const schedules = ['linear', 'scaled_linear', 'squaredcos_cap_v2'] as const;
    super('LMSDiscreteScheduler', config, o, schedules, ['epsilon', 'sample', 'v_prediction']);
    this.kind = sigmaKind(this.name, o);
    this.options = o;
    this.schedule = spacedTimesteps(this.name, 'linspace', o.numTrainTimesteps, o.numTrainTimesteps, 0, false);
  }

  setTimesteps(steps: number | TimestepRequest): void {
    const o = this.options;
    const n = this.onlyStepCount(steps, o.numTrainTimesteps);
    this.numInferenceSteps = n;
    const spaced = spacedTimesteps(this.name, o.timestepSpacing, o.numTrainTimesteps, n, o.stepsOffset, false);
    const { sigmas, timesteps } = this.reshape(this.kind, this.interpolated(spaced), n);
    this.sigmaTable = Float32Array.from([...sigmas, 0]);
    this.schedule = (timesteps ?? spaced).map(f32);
    this.derivatives = [];
    this.stepIndex = null;
    this.beginIndex = null;
  }

  step(modelOutput: Float32Array, t: number, sample: Float32Array, _options?: NormalSource | StepOptions): StepResult {
    this.requireReady();
    this.checkSize('model output', sample.length, modelOutput);
    const i = this.currentIndex(t);
    const sigma = this.sigmaTable[i]!;
    const x0 = this.denoised(sigma, modelOutput, sample);
    const derivative = new Float32Array(sample.length);
    for (let k = 0; k < derivative.length; k++) derivative[k] = f32(sample[k]! - x0[k]!) / sigma;
    this.derivatives.push(derivative);
    if (this.derivatives.length > this.lmsOrder) this.derivatives.shift();
    const order = Math.min(i + 1, this.lmsOrder);
    const terms = Math.min(order, this.derivatives.length);
    const coeffs = Array.from({ length: terms }, (_, j) => f32(lmsCoefficient(this.sigmaTable, order, i, j)));
    const prev = new Float32Array(sample.length);
    for (let k = 0; k < prev.length; k++) {
      let sum = 0;
      for (let j = 0; j < terms; j++) sum = f32(sum + f32(coeffs[j]! * this.derivatives[this.derivatives.length - 1 - j]![k]!));
      prev[k] = sample[k]! + sum;
    }
    this.stepIndex = i + 1;
    return { prevSample: prev, predOriginalSample: x0 };
  }
}
