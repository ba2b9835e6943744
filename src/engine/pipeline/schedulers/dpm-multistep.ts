/**
 * DPM-Solver++ multistep (Lu et al. 2022): "DPM++ 2M" with the default solver_order
 * 2, optionally 3M, Karras / exponential / Lu lambda sigma spacing, and the SDE
 * variant (sde-dpmsolver++, which needs a normal source).
 *
 * @example
 *   const s = createScheduler(config, 'dpm++2m-karras');
 *   s.setTimesteps(25);
 *   for (const t of s.timesteps) x = s.step(await unet(x, t), t, x).prevSample;
 */
import { f32, stepOptions } from './common.ts';
import { requireOneOf, resolveOptions, type SchedulerConfig } from './config.ts';
import { sigmaKind } from './euler.ts';
import { MultistepScheduler } from './multistep-base.ts';
import { exponentialSigmas, interpSigmas, karrasSigmas, sigmaToT, uniformBetween } from './sigmas.ts';
import { multistepTimesteps, roundHalfEven } from './spacing.ts';
import type { NormalSource, StepOptions, StepResult, TimestepRequest } from './types.ts';

export const DPM_MULTISTEP_DEFAULTS = {
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
  algorithmType: 'dpmsolver++',
  solverType: 'midpoint',
  lowerOrderFinal: true,
  eulerAtFinal: false,
  useKarrasSigmas: false,
  useExponentialSigmas: false,
  useBetaSigmas: false,
  useLuLambdas: false,
  useFlowSigmas: false,
  flowShift: 1.0,
  finalSigmasType: 'zero',
  lambdaMinClipped: -Infinity,
  varianceType: null as string | null,
  timestepSpacing: 'linspace',
  stepsOffset: 0,
  rescaleBetasZeroSnr: false,
  useDynamicShifting: false,
  timeShiftType: 'exponential',
} satisfies SchedulerConfig;

export type DpmMultistepOptions = typeof DPM_MULTISTEP_DEFAULTS;

/** How diffusers maps the solver names of sibling schedulers when switching. */
function normalize(o: DpmMultistepOptions): DpmMultistepOptions {
  const algorithmType = o.algorithmType === 'deis' ? 'dpmsolver++' : o.algorithmType;
  const solverType = ['logrho', 'bh1', 'bh2'].includes(o.solverType) ? 'midpoint' : o.solverType;
  return { ...o, algorithmType, solverType };
}

export class DPMSolverMultistepScheduler extends MultistepScheduler {
  readonly name = 'DPMSolverMultistepScheduler';
  readonly options: DpmMultistepOptions;

  constructor(config: SchedulerConfig = {}) {
    const o = normalize(resolveOptions(config, DPM_MULTISTEP_DEFAULTS));
    super('DPMSolverMultistepScheduler', config, o, ['epsilon', 'sample', 'v_prediction']);
    requireOneOf(this.name, 'algorithm_type', o.algorithmType, ['dpmsolver++', 'sde-dpmsolver++']);
    requireOneOf(this.name, 'solver_type', o.solverType, ['midpoint', 'heun']);
    requireOneOf(this.name, 'final_sigmas_type', o.finalSigmasType, ['zero', 'sigma_min']);
    requireOneOf(this.name, 'variance_type', o.varianceType, [null]);
    requireOneOf(this.name, 'use_flow_sigmas', o.useFlowSigmas, [false]);
    requireOneOf(this.name, 'use_dynamic_shifting', o.useDynamicShifting, [false]);
    sigmaKind(this.name, o);
    this.options = o;
  }

  /** Timesteps beyond which lambda would fall under lambda_min_clipped are not used. */
  private lastTimestep(): number {
    const o = this.options;
    let clipped = 0;
    for (let t = o.numTrainTimesteps - 1; t >= 0; t--) {
      const a = this.alphasCumprod[t]!;
      const lambda = f32(f32(Math.log(f32(Math.sqrt(a)))) - f32(Math.log(f32(Math.sqrt(f32(1 - a))))));
      if (lambda < o.lambdaMinClipped) clipped++;
      else break;
    }
    return o.numTrainTimesteps - clipped;
  }

  setTimesteps(steps: number | TimestepRequest): void {
    const o = this.options;
    const req = this.timestepRequest(steps, ['timesteps']);
    const kind = o.useLuLambdas ? 'lu' : sigmaKind(this.name, o);
    if (req.timesteps && kind !== 'interpolated') {
      throw this.invalidTimesteps(`custom timesteps cannot be used with ${kind} sigmas`);
    }
    let timesteps: number[];
    if (req.timesteps) {
      timesteps = req.timesteps.map(Math.trunc);
    } else {
      const n = this.stepCount(req.steps!, o.numTrainTimesteps);
      const last = this.lastTimestep();
      timesteps = multistepTimesteps(this.name, o.timestepSpacing, o.numTrainTimesteps, n, o.stepsOffset, last);
    }
    const n = timesteps.length;
    const descending = [...this.trainSigmas].reverse();
    const round = o.betaSchedule !== 'squaredcos_cap_v2' ? roundHalfEven : (t: number) => t;
    let sigmas: number[];
    if (kind === 'karras' || kind === 'exponential') {
      const min = descending[descending.length - 1]!;
      const max = descending[0]!;
      sigmas = kind === 'karras' ? karrasSigmas(min, max, n) : exponentialSigmas(min, max, n);
      timesteps = sigmas.map((s) => sigmaToT(s, this.logSigmas));
      if (kind === 'karras') timesteps = timesteps.map(round);
    } else if (kind === 'lu') {
      const lambdas = [...this.logSigmas].reverse();
      sigmas = uniformBetween(lambdas[lambdas.length - 1]!, lambdas[0]!, n).map(Math.exp);
      timesteps = sigmas.map((s) => round(sigmaToT(s, this.logSigmas)));
    } else {
      sigmas = interpSigmas(timesteps, this.trainSigmas);
    }
    sigmas.push(o.finalSigmasType === 'sigma_min' ? this.trainSigmas[0]! : 0);
    this.sigmaTable = Float32Array.from(sigmas);
    this.schedule = timesteps.map(Math.trunc);
    this.numInferenceSteps = n;
    this.resetHistory();
  }

  step(modelOutput: Float32Array, t: number, sample: Float32Array, options?: NormalSource | StepOptions): StepResult {
    this.requireReady();
    this.checkSize('model output', sample.length, modelOutput);
    const o = this.options;
    const opts = stepOptions(options);
    const i = this.currentIndex(t, 'last');
    const len = this.schedule.length;
    const shortRun = o.lowerOrderFinal && len < 15;
    const lowerFinal = i === len - 1 && (o.eulerAtFinal || shortRun || o.finalSigmasType === 'zero');
    const lowerSecond = i === len - 2 && shortRun;
    this.pushModelOutput(this.toX0(modelOutput, sample, i, opts.batchSize));
    const noise = o.algorithmType === 'sde-dpmsolver++' ? this.drawNoise(sample.length, opts) : null;
    let prev: Float32Array;
    if (o.solverOrder === 1 || this.lowerOrderNums < 1 || lowerFinal) prev = this.update(sample, i, 1, noise);
    else if (o.solverOrder === 2 || this.lowerOrderNums < 2 || lowerSecond) prev = this.update(sample, i, 2, noise);
    else prev = this.update(sample, i, 3, noise);
    if (this.lowerOrderNums < o.solverOrder) this.lowerOrderNums++;
    this.stepIndex = i + 1;
    return { prevSample: prev, predOriginalSample: Float32Array.from(this.history(0)) };
  }

  /** The order-`order` update from sigmas[i] to sigmas[i + 1] (eqs. of DPM-Solver++ 2M/3M, midpoint or heun). */
  private update(x: Float32Array, i: number, order: number, noise: Float32Array | null): Float32Array {
    const o = this.options;
    const sde = noise !== null;
    const t = this.alphaSigma(this.sigmaTable[i + 1]!);
    const s0 = this.alphaSigma(this.sigmaTable[i]!);
    const h = f32(t.lambda - s0.lambda);
    const em = f32(Math.exp(-h));
    const em2 = f32(Math.exp(f32(-2 * h)));
    const xCoef = sde ? f32(f32(t.sigma / s0.sigma) * em) : f32(t.sigma / s0.sigma);
    const phi = sde ? f32(t.alpha * f32(1 - em2)) : f32(-f32(t.alpha * f32(em - 1)));
    const noiseCoef = sde ? f32(t.sigma * f32(Math.sqrt(f32(1 - em2)))) : 0;
    const m0 = this.history(0);
    const out = new Float32Array(x.length);
    let c1 = 0;
    let c2 = 0;
    let r0 = 0;
    let r1 = 0;
    if (order >= 2) {
      const s1 = this.alphaSigma(this.sigmaTable[i - 1]!);
      r0 = f32(f32(s0.lambda - s1.lambda) / h);
      if (order === 2 && o.solverType === 'midpoint') c1 = f32(0.5 * phi);
      else if (sde) c1 = f32(t.alpha * f32(f32(f32(1 - em2) / f32(-2 * h)) + 1));
      else c1 = f32(t.alpha * f32(f32(f32(em - 1) / h) + 1));
    }
    if (order === 3) {
      const s2 = this.alphaSigma(this.sigmaTable[i - 2]!);
      const s1 = this.alphaSigma(this.sigmaTable[i - 1]!);
      r1 = f32(f32(s1.lambda - s2.lambda) / h);
      c2 = sde
        ? f32(t.alpha * f32(f32(f32(f32(1 - em2) - f32(2 * h)) / f32(f32(2 * h) ** 2)) - 0.5))
        : f32(-f32(t.alpha * f32(f32(f32(f32(em - 1) + h) / f32(h * h)) - 0.5)));
    }
    const m1 = order >= 2 ? this.history(1) : null;
    const m2 = order === 3 ? this.history(2) : null;
    const inv0 = f32(1 / r0);
    const inv1 = f32(1 / r1);
    const w1 = f32(r0 / f32(r0 + r1));
    const w2 = f32(1 / f32(r0 + r1));
    for (let k = 0; k < out.length; k++) {
      let v = f32(f32(xCoef * x[k]!) + f32(phi * m0[k]!));
      if (m1) {
        const d10 = f32(inv0 * f32(m0[k]! - m1[k]!));
        if (m2) {
          const d11 = f32(inv1 * f32(m1[k]! - m2[k]!));
          const d1 = f32(d10 + f32(w1 * f32(d10 - d11)));
          const d2 = f32(w2 * f32(d10 - d11));
          v = f32(f32(v + f32(c1 * d1)) + f32(c2 * d2));
        } else {
          v = f32(v + f32(c1 * d10));
        }
      }
      out[k] = noise ? v + f32(noiseCoef * noise[k]!) : v;
    }
    return out;
  }
}
