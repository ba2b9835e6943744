/**
 * UniPC (Zhao et al. 2023): a multistep predictor (UniP) with a corrector (UniC)
 * that reuses the model output of the next step, B(h) variants bh1 / bh2, in data
 * (x0) or noise prediction form. Also takes flow-matching sigmas.
 *
 * @example
 *   const s = new UniPCMultistepScheduler({ useKarrasSigmas: true });
 *   s.setTimesteps(20);
 */
import { ZipbankError } from '../../../errors/index.ts';
import { f32, solveLinear, stepOptions } from './common.ts';
import { requireOneOf, resolveOptions, type SchedulerConfig } from './config.ts';
import { sigmaKind } from './euler.ts';
import { MultistepScheduler } from './multistep-base.ts';
import { exponentialSigmas, interpSigmas, karrasSigmas, sigmaToT } from './sigmas.ts';
import { multistepTimesteps, npLinspace, roundHalfEven } from './spacing.ts';
import type { NormalSource, StepOptions, StepResult, TimestepRequest } from './types.ts';

export const UNIPC_DEFAULTS = {
  numTrainTimesteps: 1000,
  betaStart: 0.0001,
  betaEnd: 0.02,
  betaSchedule: 'linear',
  trainedBetas: null as number[] | null,
  solverOrder: 2,
  predictionType: 'epsilon',
  thresholding: false,
  dynamicThresholdingRatio: 0.995,
  sampleMaxValue: 1.0,
  predictX0: true,
  solverType: 'bh2',
  lowerOrderFinal: true,
  disableCorrector: [] as number[],
  useKarrasSigmas: false,
  useExponentialSigmas: false,
  useBetaSigmas: false,
  useFlowSigmas: false,
  flowShift: 1.0,
  timestepSpacing: 'linspace',
  stepsOffset: 0,
  finalSigmasType: 'zero',
  rescaleBetasZeroSnr: false,
  useDynamicShifting: false,
  timeShiftType: 'exponential',
  sigmaMin: null as number | null,
  sigmaMax: null as number | null,
  shiftTerminal: null as number | null,
} satisfies SchedulerConfig;

export type UniPcOptions = typeof UNIPC_DEFAULTS;

export class UniPCMultistepScheduler extends MultistepScheduler {
  readonly name = 'UniPCMultistepScheduler';
  readonly options: UniPcOptions;
  private lastSample: Float32Array | null = null;
  private thisOrder = 1;

  constructor(config: SchedulerConfig = {}) {
    const resolved = resolveOptions(config, UNIPC_DEFAULTS);
    const solverType = ['midpoint', 'heun', 'logrho'].includes(resolved.solverType) ? 'bh2' : resolved.solverType;
    const o = { ...resolved, solverType };
    super('UniPCMultistepScheduler', config, o, ['epsilon', 'sample', 'v_prediction', 'flow_prediction']);
    requireOneOf(this.name, 'solver_type', o.solverType, ['bh1', 'bh2']);
    requireOneOf(this.name, 'final_sigmas_type', o.finalSigmasType, ['zero', 'sigma_min']);
    requireOneOf(this.name, 'use_dynamic_shifting', o.useDynamicShifting, [false]);
    requireOneOf(this.name, 'shift_terminal', o.shiftTerminal, [null]);
    if (!o.predictX0 && o.finalSigmasType === 'zero') {
      throw new ZipbankError('scheduler.unsupported-option', {
        scheduler: this.name,
        key: 'final_sigmas_type',
        value: 'zero',
        supported: '"sigma_min" when predict_x0 is false (a noise-prediction step to sigma 0 is undefined)',
      });
    }
    sigmaKind(this.name, o);
    this.options = o;
  }

  setTimesteps(steps: number | TimestepRequest): void {
    const o = this.options;
    const n = this.onlyStepCount(steps, o.numTrainTimesteps);
    let timesteps = multistepTimesteps(this.name, o.timestepSpacing, o.numTrainTimesteps, n, o.stepsOffset);
    const kind = sigmaKind(this.name, o);
    const descending = [...this.trainSigmas].reverse();
    let sigmas: number[];
    let last: number;
    if (kind !== 'interpolated') {
      const min = o.sigmaMin ?? descending[descending.length - 1]!;
      const max = o.sigmaMax ?? descending[0]!;
      sigmas = kind === 'karras' ? karrasSigmas(min, max, n) : exponentialSigmas(min, max, n);
      if (o.useFlowSigmas && kind === 'karras') {
        sigmas = sigmas.map((s) => s / (s + 1));
        timesteps = sigmas.map((s) => Math.trunc(s * o.numTrainTimesteps));
      } else {
        timesteps = sigmas.map((s) => sigmaToT(s, this.logSigmas));
        if (kind === 'karras') timesteps = timesteps.map(roundHalfEven);
      }
      last = sigmas[sigmas.length - 1]!;
    } else if (o.useFlowSigmas) {
      sigmas = npLinspace(1, 1 / o.numTrainTimesteps, n + 1)
        .slice(0, -1)
        .map((s) => (o.flowShift * s) / (1 + (o.flowShift - 1) * s));
      if (Math.abs(sigmas[0]! - 1) < 1e-6) sigmas[0] = sigmas[0]! - 1e-6;
      timesteps = sigmas.map((s) => Math.trunc(s * o.numTrainTimesteps));
      last = sigmas[sigmas.length - 1]!;
    } else {
      sigmas = interpSigmas(timesteps, this.trainSigmas);
      last = this.trainSigmas[0]!;
    }
    sigmas.push(o.finalSigmasType === 'sigma_min' ? last : 0);
    this.sigmaTable = Float32Array.from(sigmas);
    this.schedule = timesteps.map(Math.trunc);
    this.numInferenceSteps = this.schedule.length;
    this.lastSample = null;
    this.resetHistory();
  }

  step(modelOutput: Float32Array, t: number, sample: Float32Array, options?: NormalSource | StepOptions): StepResult {
    this.requireReady();
    this.checkSize('model output', sample.length, modelOutput);
    const o = this.options;
    const i = this.currentIndex(t, 'last');
    const useCorrector = i > 0 && !o.disableCorrector.includes(i - 1) && this.lastSample !== null;
    const converted = this.convert(modelOutput, sample, i, stepOptions(options).batchSize);
    let x = sample;
    if (useCorrector) x = this.uniC(converted, this.lastSample!, i, this.thisOrder);
    this.pushModelOutput(converted);
    const order = o.lowerOrderFinal ? Math.min(o.solverOrder, this.schedule.length - i) : o.solverOrder;
    this.thisOrder = Math.min(order, this.lowerOrderNums + 1);
    this.lastSample = x === sample ? Float32Array.from(sample) : x;
    const prev = this.uniP(x, i, this.thisOrder);
    if (this.lowerOrderNums < o.solverOrder) this.lowerOrderNums++;
    this.stepIndex = i + 1;
    return { prevSample: prev };
  }

  private convert(modelOutput: Float32Array, sample: Float32Array, i: number, batchSize?: number): Float32Array {
    if (this.options.predictX0) return this.toX0(modelOutput, sample, i, batchSize);
    const pt = this.options.predictionType;
    if (pt === 'epsilon') return Float32Array.from(modelOutput);
    const { alpha, sigma } = this.alphaSigma(this.sigmaTable[i]!);
    if (pt === 'sample') return sample.map((x, k) => f32(x - f32(alpha * modelOutput[k]!)) / sigma);
    return sample.map((x, k) => f32(alpha * modelOutput[k]!) + f32(sigma * x));
  }

  /** Shared coefficients of UniP and UniC over the interval from index `s` to `s + 1`. */
  private coefficients(s: number, back: number[], order: number) {
    const t = this.alphaSigma(this.sigmaTable[s + 1]!);
    const s0 = this.alphaSigma(this.sigmaTable[s]!);
    const h = f32(t.lambda - s0.lambda);
    const rks = back.map((si) => f32(f32(this.alphaSigma(this.sigmaTable[si]!).lambda - s0.lambda) / h));
    rks.push(1);
    const hh = this.options.predictX0 ? -h : h;
    const hPhi1 = f32(Math.expm1(hh));
    const bH = this.options.solverType === 'bh1' ? hh : hPhi1;
    let hPhiK = f32(f32(hPhi1 / hh) - 1);
    let factorial = 1;
    const b: number[] = [];
    for (let k = 1; k <= order; k++) {
      b.push(f32(f32(hPhiK * factorial) / bH));
      factorial *= k + 1;
      hPhiK = f32(f32(hPhiK / hh) - f32(1 / factorial));
    }
    const R = Array.from({ length: order }, (_, k) => rks.map((r) => f32(r ** k)));
    return { t, s0, rks, hPhi1, bH, b, R };
  }

  /**
   * x_t' = x-coefficient * x - c * m0 - B(h) * c' * sum(rho_k * D1_k), in data or noise form.
   * Without a residual the last term is left out rather than multiplied by 0: the
   * reference computes B(h) * 0, which is NaN when the final sigma is 0 and B(h) = h.
   */
  private combine(
    x: Float32Array,
    m0: Float32Array,
    c: ReturnType<UniPCMultistepScheduler['coefficients']>,
    residual: ((k: number) => number) | null,
  ): Float32Array {
    const x0 = this.options.predictX0;
    const xCoef = x0 ? f32(c.t.sigma / c.s0.sigma) : f32(c.t.alpha / c.s0.alpha);
    const mCoef = x0 ? f32(c.t.alpha * c.hPhi1) : f32(c.t.sigma * c.hPhi1);
    const rCoef = x0 ? f32(c.t.alpha * c.bH) : f32(c.t.sigma * c.bH);
    const out = new Float32Array(x.length);
    for (let k = 0; k < out.length; k++) {
      const v = f32(f32(xCoef * x[k]!) - f32(mCoef * m0[k]!));
      out[k] = residual ? v - f32(rCoef * residual(k)) : v;
    }
    return out;
  }

  /** Differences (m_i - m0) / r_i of the earlier outputs `k` steps back. */
  private differences(m0: Float32Array, rks: number[]): Float32Array[] {
    return rks.slice(0, -1).map((r, j) => {
      const mi = this.history(j + 1);
      return mi.map((v, k) => f32(v - m0[k]!) / r);
    });
  }

  private uniP(x: Float32Array, i: number, order: number): Float32Array {
    const m0 = this.history(0);
    const back = Array.from({ length: order - 1 }, (_, k) => i - (k + 1));
    const c = this.coefficients(i, back, order);
    const d1s = this.differences(m0, c.rks);
    if (d1s.length === 0) return this.combine(x, m0, c, null);
    const square = c.R.slice(0, -1).map((row) => row.slice(0, -1));
    const rhos = order === 2 ? [0.5] : solveLinear(square, c.b.slice(0, -1)).map(f32);
    return this.combine(x, m0, c, (k) => weighted(rhos, d1s, k));
  }

  private uniC(modelT: Float32Array, last: Float32Array, i: number, order: number): Float32Array {
    const m0 = this.history(0);
    const back = Array.from({ length: order - 1 }, (_, k) => i - (k + 2));
    const c = this.coefficients(i - 1, back, order);
    const d1s = this.differences(m0, c.rks);
    const rhos = order === 1 ? [0.5] : solveLinear(c.R, c.b).map(f32);
    const rLast = rhos[rhos.length - 1]!;
    return this.combine(last, m0, c, (k) => f32(weighted(rhos, d1s, k) + f32(rLast * f32(modelT[k]! - m0[k]!))));
  }
}

function weighted(rhos: number[], d1s: Float32Array[], k: number): number {
  let sum = 0;
  for (let j = 0; j < d1s.length; j++) sum = f32(sum + f32(rhos[j]! * d1s[j]![k]!));
  return sum;
}
