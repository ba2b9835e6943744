/**
 * The base of the exponential-integrator multistep solvers (DPM-Solver++, UniPC):
 * integer timesteps with a float32 sigma table, alpha_t = 1 / sqrt(sigma^2 + 1)
 * and sigma_t = sigma * alpha_t (or 1 - sigma and sigma for flow-matching
 * sigmas), lambda = log(alpha_t) - log(sigma_t), the data-prediction (x0)
 * conversion of a model output, and the history of converted outputs.
 *
 * @example
 *   class DPMSolverMultistepScheduler extends MultistepScheduler { ... }   // see dpm-multistep.ts
 */
import { BaseScheduler, f32, thresholdSample } from './common.ts';
import { logF32, noiseTables, trainSigmas } from './betas.ts';
import { requireOneOf, type SchedulerConfig } from './config.ts';
import { TIMESTEP_SPACINGS } from './spacing.ts';

export interface MultistepBaseOptions {
  numTrainTimesteps: number;
  betaStart: number;
  betaEnd: number;
  betaSchedule: string;
  trainedBetas: number[] | null;
  predictionType: string;
  rescaleBetasZeroSnr: boolean;
  solverOrder: number;
  thresholding: boolean;
  dynamicThresholdingRatio: number;
  sampleMaxValue: number;
  useFlowSigmas: boolean;
  timestepSpacing: string;
}

export interface AlphaSigma {
  alpha: number;
  sigma: number;
  lambda: number;
}

export abstract class MultistepScheduler extends BaseScheduler {
  readonly alphasCumprod: Float32Array;
  /** Training sigmas, ascending in t. */
  readonly trainSigmas: Float32Array;
  readonly logSigmas: Float32Array;
  protected sigmaTable: Float32Array;
  protected modelOutputs: (Float32Array | null)[];
  protected lowerOrderNums = 0;
  private readonly base: MultistepBaseOptions;

  constructor(name: string, config: SchedulerConfig, o: MultistepBaseOptions, predictionTypes: readonly string[]) {
    super(config);
    requireOneOf(name, 'prediction_type', o.predictionType, predictionTypes);
    requireOneOf(name, 'timestep_spacing', o.timestepSpacing, TIMESTEP_SPACINGS);
    if (!Number.isInteger(o.solverOrder) || o.solverOrder < 1 || o.solverOrder > 3) {
      requireOneOf(name, 'solver_order', o.solverOrder, [1, 2, 3]);
    }
    this.base = o;
    this.alphasCumprod = noiseTables(name, o, ['linear', 'scaled_linear', 'squaredcos_cap_v2'], true).alphasCumprod;
    this.trainSigmas = trainSigmas(this.alphasCumprod);
    this.logSigmas = logF32(this.trainSigmas);
    this.sigmaTable = Float32Array.from(this.trainSigmas);
    this.modelOutputs = new Array<Float32Array | null>(o.solverOrder).fill(null);
  }

  get sigmas(): Float32Array {
    return this.sigmaTable;
  }

  /** alpha_t, sigma_t and lambda_t for a table sigma, in float32. */
  protected alphaSigma(sigma: number): AlphaSigma {
    let alpha: number;
    let s: number;
    if (this.base.useFlowSigmas) {
      alpha = f32(1 - sigma);
      s = sigma;
    } else {
      alpha = f32(1 / f32(Math.sqrt(f32(f32(sigma * sigma) + 1))));
      s = f32(sigma * alpha);
    }
    return { alpha, sigma: s, lambda: f32(f32(Math.log(alpha)) - f32(Math.log(s))) };
  }

  protected resetHistory(): void {
    this.modelOutputs = new Array<Float32Array | null>(this.base.solverOrder).fill(null);
    this.lowerOrderNums = 0;
    this.stepIndex = null;
    this.beginIndex = null;
  }

  protected pushModelOutput(x: Float32Array): void {
    this.modelOutputs.shift();
    this.modelOutputs.push(x);
  }

  /** Converted model output `k` steps back (0 = newest). */
  protected history(k: number): Float32Array {
    return this.modelOutputs[this.modelOutputs.length - 1 - k]!;
  }

  /** The data prediction x0 for a model output at the current step. */
  protected toX0(modelOutput: Float32Array, sample: Float32Array, index: number, batchSize?: number): Float32Array {
    const o = this.base;
    const sigma = this.sigmaTable[index]!;
    const { alpha, sigma: st } = this.alphaSigma(sigma);
    const x0 = new Float32Array(sample.length);
    for (let i = 0; i < x0.length; i++) {
      const x = sample[i]!;
      const m = modelOutput[i]!;
      if (o.predictionType === 'epsilon') x0[i] = f32(x - f32(st * m)) / alpha;
      else if (o.predictionType === 'sample') x0[i] = m;
      else if (o.predictionType === 'v_prediction') x0[i] = f32(alpha * x) - f32(st * m);
      else x0[i] = x - f32(sigma * m);
    }
    if (!o.thresholding) return x0;
    return thresholdSample(this.name, x0, o.dynamicThresholdingRatio, o.sampleMaxValue, batchSize);
  }

  addNoise(original: Float32Array, noise: Float32Array, t: number): Float32Array {
    this.checkSize('noise', original.length, noise);
    const { alpha, sigma } = this.alphaSigma(this.sigmaTable[this.noiseIndex(t, 'last')]!);
    const out = new Float32Array(original.length);
    for (let i = 0; i < out.length; i++) out[i] = f32(alpha * original[i]!) + f32(sigma * noise[i]!);
    return out;
  }
}
