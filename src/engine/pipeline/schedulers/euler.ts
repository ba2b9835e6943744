/**
 * Euler (Karras et al. 2022, Algorithm 2 without churn): one first-order step per
 * timestep in sigma space. Takes linear or log-linear sigma interpolation, Karras
 * or exponential sigmas, and custom timesteps or sigmas.
 *
 * @example
 *   const s = new EulerDiscreteScheduler({ useKarrasSigmas: true });
 *   s.setTimesteps(25);
 *   let x = latents.map((v) => v * s.initNoiseSigma);
 *   for (const t of s.timesteps) x = s.step(await unet(s.scaleModelInput(x, t), t), t, x).prevSample;
 */
import { ZipbankError } from '../../../errors/index.ts';
import { f32 } from './common.ts';
import { torchLinspaceF32 } from './betas.ts';
import { requireOneOf, resolveOptions, type SchedulerConfig } from './config.ts';
import { SigmaScheduler, type SigmaKind } from './sigma-base.ts';
import { sigmaToT } from './sigmas.ts';
import { spacedTimesteps } from './spacing.ts';
import type { NormalSource, StepOptions, StepResult, TimestepRequest } from './types.ts';

export const EULER_DEFAULTS = {
  numTrainTimesteps: 1000,
  betaStart: 0.0001,
  betaEnd: 0.02,
  betaSchedule: 'linear',
  trainedBetas: null as number[] | null,
  predictionType: 'epsilon',
  interpolationType: 'linear',
  useKarrasSigmas: false,
  useExponentialSigmas: false,
  useBetaSigmas: false,
  sigmaMin: null as number | null,
  sigmaMax: null as number | null,
  timestepSpacing: 'linspace',
  timestepType: 'discrete',
  stepsOffset: 0,
  rescaleBetasZeroSnr: false,
  finalSigmasType: 'zero',
} satisfies SchedulerConfig;

export type EulerOptions = typeof EULER_DEFAULTS;

/** Which sigma schedule the flags pick; at most one may be set. */
export function sigmaKind(
  name: string,
  o: { useKarrasSigmas: boolean; useExponentialSigmas: boolean; useBetaSigmas: boolean },
): SigmaKind {
  requireOneOf(name, 'use_beta_sigmas', o.useBetaSigmas, [false]);
  if (o.useKarrasSigmas && o.useExponentialSigmas) {
    throw new ZipbankError('scheduler.unsupported-option', {
      scheduler: name,
      key: 'use_karras_sigmas + use_exponential_sigmas',
      value: true,
      supported: 'at most one of them',
    });
  }
  return o.useKarrasSigmas ? 'karras' : o.useExponentialSigmas ? 'exponential' : 'interpolated';
}

export class EulerDiscreteScheduler extends SigmaScheduler {
  readonly name = 'EulerDiscreteScheduler';
  readonly options: EulerOptions;
  private readonly kind: SigmaKind;

  constructor(config: SchedulerConfig = {}) {
    const o = resolveOptions(config, EULER_DEFAULTS);
    const schedules = ['linear', 'scaled_linear', 'squaredcos_cap_v2'] as const;
    super('EulerDiscreteScheduler', config, o, schedules, ['epsilon', 'sample', 'v_prediction']);
    requireOneOf(this.name, 'interpolation_type', o.interpolationType, ['linear', 'log_linear']);
    requireOneOf(this.name, 'timestep_type', o.timestepType, ['discrete']);
    requireOneOf(this.name, 'final_sigmas_type', o.finalSigmasType, ['zero', 'sigma_min']);
    this.kind = sigmaKind(this.name, o);
    this.options = o;
    this.schedule = spacedTimesteps(this.name, 'linspace', o.numTrainTimesteps, o.numTrainTimesteps, 0, false);
  }

  setTimesteps(steps: number | TimestepRequest): void {
    const o = this.options;
    const req = this.timestepRequest(steps, ['timesteps', 'sigmas']);
    if (req.timesteps && this.kind !== 'interpolated') {
      throw this.invalidTimesteps(`custom timesteps cannot be used with ${this.kind} sigmas`);
    }
    let n: number;
    if (req.steps !== undefined) n = this.stepCount(req.steps, o.numTrainTimesteps);
    else n = req.timesteps ? req.timesteps.length : req.sigmas!.length - 1;
    this.numInferenceSteps = n;
    let timesteps: number[];
    let sigmas: number[];
    if (req.sigmas) {
      sigmas = req.sigmas.map(f32);
      timesteps = sigmas.slice(0, -1).map((s) => sigmaToT(s, this.logSigmas));
    } else {
      timesteps = req.timesteps
        ? req.timesteps.map(f32)
        : spacedTimesteps(this.name, o.timestepSpacing, o.numTrainTimesteps, n, o.stepsOffset, false);
      const logMax = this.logSigmas[this.logSigmas.length - 1]!;
      sigmas =
        o.interpolationType === 'linear'
          ? this.interpolated(timesteps)
          : [...torchLinspaceF32(logMax, this.logSigmas[0]!, n + 1).map(Math.exp)];
      const reshaped = this.reshape(this.kind, sigmas, n, { min: o.sigmaMin, max: o.sigmaMax });
      sigmas = reshaped.sigmas;
      timesteps = reshaped.timesteps ?? timesteps;
      sigmas.push(o.finalSigmasType === 'sigma_min' ? this.trainSigmas[0]! : 0);
    }
    this.sigmaTable = Float32Array.from(sigmas);
    this.schedule = timesteps.map(f32);
    this.stepIndex = null;
    this.beginIndex = null;
  }

  step(modelOutput: Float32Array, t: number, sample: Float32Array, _options?: NormalSource | StepOptions): StepResult {
    this.requireReady();
    this.checkSize('model output', sample.length, modelOutput);
    const i = this.currentIndex(t);
    const sigma = this.sigmaTable[i]!;
    const x0 = this.denoised(sigma, modelOutput, sample);
    const dt = f32(this.sigmaTable[i + 1]! - sigma);
    const prev = new Float32Array(sample.length);
    for (let k = 0; k < prev.length; k++) {
      const derivative = f32(f32(sample[k]! - x0[k]!) / sigma);
      prev[k] = sample[k]! + f32(derivative * dt);
    }
    this.stepIndex = i + 1;
    return { prevSample: prev, predOriginalSample: x0 };
  }
}
