/**
 * Euler ancestral: an Euler step down to sigma_down, then fresh noise of standard
 * deviation sigma_up, with sigma_up^2 + sigma_down^2 = sigma_next^2 (eta = 1).
 * Needs a normal source (or the noise) at every step.
 *
 * @example
 *   const rng = createRandom(7);
 *   const s = new EulerAncestralDiscreteScheduler({});
 *   s.setTimesteps(30);
 *   x = s.step(eps, s.timesteps[0]!, x, rng.normal).prevSample;
 */
import { f32, stepOptions } from './common.ts';
import { resolveOptions, type SchedulerConfig } from './config.ts';
import { SigmaScheduler } from './sigma-base.ts';
import { spacedTimesteps } from './spacing.ts';
import type { NormalSource, StepOptions, StepResult, TimestepRequest } from './types.ts';

export const EULER_ANCESTRAL_DEFAULTS = {
  numTrainTimesteps: 1000,
  betaStart: 0.0001,
  betaEnd: 0.02,
  betaSchedule: 'linear',
  trainedBetas: null as number[] | null,
  predictionType: 'epsilon',
  timestepSpacing: 'linspace',
  stepsOffset: 0,
  rescaleBetasZeroSnr: false,
} satisfies SchedulerConfig;

export type EulerAncestralOptions = typeof EULER_ANCESTRAL_DEFAULTS;

export class EulerAncestralDiscreteScheduler extends SigmaScheduler {
  readonly name = 'EulerAncestralDiscreteScheduler';
  readonly options: EulerAncestralOptions;

  constructor(config: SchedulerConfig = {}) {
    const o = resolveOptions(config, EULER_ANCESTRAL_DEFAULTS);
    const schedules = ['linear', 'scaled_linear', 'squaredcos_cap_v2'] as const;
    super('EulerAncestralDiscreteScheduler', config, o, schedules, ['epsilon', 'v_prediction']);
    this.options = o;
    this.schedule = spacedTimesteps(this.name, 'linspace', o.numTrainTimesteps, o.numTrainTimesteps, 0, false);
  }

  setTimesteps(steps: number | TimestepRequest): void {
    const o = this.options;
    const n = this.onlyStepCount(steps, o.numTrainTimesteps);
    this.numInferenceSteps = n;
    const timesteps = spacedTimesteps(this.name, o.timestepSpacing, o.numTrainTimesteps, n, o.stepsOffset, false);
    this.sigmaTable = Float32Array.from([...this.interpolated(timesteps), 0]);
    this.schedule = timesteps;
    this.stepIndex = null;
    this.beginIndex = null;
  }

  step(modelOutput: Float32Array, t: number, sample: Float32Array, options?: NormalSource | StepOptions): StepResult {
    this.requireReady();
    this.checkSize('model output', sample.length, modelOutput);
    const opts = stepOptions(options);
    const i = this.currentIndex(t);
    const sigma = this.sigmaTable[i]!;
    const next = this.sigmaTable[i + 1]!;
    const x0 = this.denoised(sigma, modelOutput, sample);
    const s2 = f32(sigma * sigma);
    const n2 = f32(next * next);
    const up = f32(Math.sqrt(f32(f32(n2 * f32(s2 - n2)) / s2)));
    const down = f32(Math.sqrt(f32(n2 - f32(up * up))));
    const dt = f32(down - sigma);
    const noise = this.drawNoise(sample.length, opts);
    const prev = new Float32Array(sample.length);
    for (let k = 0; k < prev.length; k++) {
      const derivative = f32(f32(sample[k]! - x0[k]!) / sigma);
      prev[k] = f32(sample[k]! + f32(derivative * dt)) + f32(noise[k]! * up);
    }
    this.stepIndex = i + 1;
    return { prevSample: prev, predOriginalSample: x0 };
  }
}
