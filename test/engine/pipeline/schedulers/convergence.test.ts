import { describe, expect, it } from 'vitest';
import { createRandom } from '../../../../src/engine/pipeline/random.ts';
import { createScheduler, type Scheduler } from '../../../../src/engine/pipeline/schedulers/index.ts';

/**
 * An oracle model that knows the clean sample c: it returns the exact epsilon (or v)
 * for the current noisy sample. Every sampler, deterministic or ancestral, must then
 * land on c. This checks solver paths the reference fixture has no values for.
 */
const N = 64;
const clean = Float32Array.from({ length: N }, (_, i) => 0.5 * Math.sin(i + 1));

type Tables = Scheduler & { sigmas?: Float32Array; alphasCumprod?: Float32Array };

const SIGMA_SPACE = new Set(['EulerDiscreteScheduler', 'EulerAncestralDiscreteScheduler', 'LMSDiscreteScheduler', 'HeunDiscreteScheduler']);
const TABLE_SIGMA = new Set(['DPMSolverMultistepScheduler', 'UniPCMultistepScheduler']);

/** alpha and sigma of x = alpha * c + sigma * eps at loop index i / timestep t. */
function noiseLevel(s: Tables, i: number, t: number): { alpha: number; sigma: number } {
  if (SIGMA_SPACE.has(s.name)) return { alpha: 1, sigma: s.sigmas![i]! };
  if (TABLE_SIGMA.has(s.name)) {
    const sg = s.sigmas![i]!;
    const a = 1 / Math.sqrt(sg * sg + 1);
    return { alpha: a, sigma: sg * a };
  }
  const ab = s.alphasCumprod![t]!;
  return { alpha: Math.sqrt(ab), sigma: Math.sqrt(1 - ab) };
}

function oracle(s: Tables, prediction: string, x: Float32Array, i: number, t: number): Float32Array {
  const { alpha, sigma } = noiseLevel(s, i, t);
  return x.map((v, k) => {
    const eps = (v - alpha * clean[k]!) / sigma;
    if (prediction === 'epsilon') return eps;
    if (prediction === 'sample') return clean[k]!;
    // v = alpha_t * eps - sigma_t * x0 in the variance-preserving frame.
    const vpAlpha = SIGMA_SPACE.has(s.name) ? 1 / Math.sqrt(sigma * sigma + 1) : alpha;
    const vpSigma = SIGMA_SPACE.has(s.name) ? sigma * vpAlpha : sigma;
    return vpAlpha * eps - vpSigma * clean[k]!;
  });
}

function sample(name: string, config: Record<string, unknown>, steps: number): number {
  const s = createScheduler({ beta_schedule: 'scaled_linear', beta_start: 0.00085, beta_end: 0.012, ...config }, name) as Tables;
  s.setTimesteps(steps);
  const rng = createRandom(123);
  let x: Float32Array = rng.normals(N).map((v) => v * s.initNoiseSigma);
  const prediction = (config['prediction_type'] as string | undefined) ?? 'epsilon';
  s.timesteps.forEach((t, i) => {
    const out = oracle(s, prediction, x, i, t);
    x = s.step(out, t, x, rng.normal).prevSample;
  });
  let err = 0;
  x.forEach((v, k) => (err = Math.max(err, Math.abs(v - clean[k]!))));
  return err;
}

const VARIANTS: [string, Record<string, unknown>, number, number][] = [
  ['ddim', {}, 20, 1e-4],
  ['ddim', { timestep_spacing: 'trailing', prediction_type: 'v_prediction' }, 20, 1e-4],
  ['ddim', { timestep_spacing: 'linspace', prediction_type: 'sample', clip_sample: false }, 20, 1e-4],
  ['ddpm', {}, 30, 1e-4],
  // These three end at sigma_min (or alpha_0), not 0: ~0.03 * |noise| is left.
  ['pndm', { skip_prk_steps: true, steps_offset: 1, set_alpha_to_one: false }, 30, 0.1],
  ['pndm', { set_alpha_to_one: true }, 30, 1e-3],
  ['euler', {}, 20, 1e-4],
  ['euler', { timestep_spacing: 'leading', steps_offset: 1, use_karras_sigmas: true }, 20, 1e-4],
  ['euler', { use_exponential_sigmas: true, prediction_type: 'v_prediction' }, 20, 1e-4],
  ['euler', { interpolation_type: 'log_linear', prediction_type: 'sample' }, 20, 0.1],
  ['euler-a', {}, 20, 1e-4],
  ['euler-a', { timestep_spacing: 'trailing', prediction_type: 'v_prediction' }, 20, 1e-4],
  ['lms', {}, 20, 1e-4],
  ['lms', { use_karras_sigmas: true }, 20, 1e-4],
  ['heun', {}, 15, 1e-4],
  ['heun', { use_karras_sigmas: true, prediction_type: 'v_prediction' }, 15, 1e-4],
  ['dpm++2m', {}, 20, 1e-4],
  ['dpm++2m-karras', {}, 20, 1e-4],
  ['dpm++2m', { solver_order: 3, solver_type: 'heun' }, 20, 1e-4],
  ['dpm++2m', { use_lu_lambdas: true, prediction_type: 'v_prediction' }, 20, 1e-4],
  ['dpm++2m', { use_exponential_sigmas: true, timestep_spacing: 'trailing' }, 20, 1e-4],
  ['dpm++2m', { final_sigmas_type: 'sigma_min', lower_order_final: false }, 20, 0.1],
  ['dpm++2m-sde', {}, 20, 1e-4],
  ['dpm++2m-sde-karras', { solver_order: 3 }, 20, 1e-4],
  ['unipc', {}, 20, 1e-4],
  ['unipc', { solver_type: 'bh1', use_karras_sigmas: true }, 20, 1e-4],
  ['unipc', { predict_x0: false, solver_order: 3, final_sigmas_type: 'sigma_min' }, 20, 0.1],
  ['unipc', { prediction_type: 'v_prediction', timestep_spacing: 'leading', steps_offset: 1 }, 20, 1e-4],
  ['lcm', {}, 4, 1e-4],
  ['lcm', { prediction_type: 'v_prediction' }, 1, 1e-4],
];

describe('samplers land on the clean sample under an exact model', () => {
  it.each(VARIANTS)('%s %j (%i steps)', (name, config, steps, tol) => {
    const err = sample(name, config, steps);
    expect(err).toBeLessThan(tol);
  });
});
