/**
 * Beta schedules and the tables derived from them (alphas_cumprod, sigmas), built in
 * float32 the way CPU torch builds them: `torch.linspace` in float32 (two roundings
 * per value), `cumprod` accumulated in double and stored as float32, sigma as
 * float32 `sqrt((1 - a) / a)`. Matching these to the bit keeps large-magnitude
 * results within the reference tests' tolerances.
 *
 * @example
 *   const betas = makeBetas({ schedule: 'scaled_linear', numTrainTimesteps: 1000, betaStart: 0.00085, betaEnd: 0.012 });
 *   const alphasCumprod = cumprodAlphas(betas);
 *   const sigmas = trainSigmas(alphasCumprod);   // ascending in t
 */
import { requireOneOf } from './config.ts';

const f32 = Math.fround;

export const BETA_SCHEDULES = ['linear', 'scaled_linear', 'squaredcos_cap_v2', 'exp', 'sigmoid', 'laplace'] as const;
export type BetaSchedule = (typeof BETA_SCHEDULES)[number];

/** `torch.linspace(start, end, steps, dtype=float32)` on CPU. */
export function torchLinspaceF32(start: number, end: number, steps: number): Float32Array {
  const out = new Float32Array(steps);
  if (steps === 1) {
    out[0] = start;
    return out;
  }
  const s = f32(start);
  const e = f32(end);
  const step = f32(f32(e - s) / (steps - 1));
  const halfway = Math.floor(steps / 2);
  for (let i = 0; i < steps; i++) {
    out[i] = i < halfway ? s + f32(step * i) : e - f32(step * (steps - i - 1));
  }
  return out;
}

type AlphaBar = (t: number) => number;

const ALPHA_BARS: Record<'cosine' | 'exp' | 'laplace', AlphaBar> = {
  cosine: (t) => Math.cos((((t + 0.008) / 1.008) * Math.PI) / 2) ** 2,
  exp: (t) => Math.exp(t * -12.0),
  laplace: (t) => {
    const lmb = -0.5 * Math.sign(0.5 - t || 1) * Math.log(1 - 2 * Math.abs(0.5 - t) + 1e-6);
    const snr = Math.exp(lmb);
    return Math.sqrt(snr / (1 + snr));
  },
};

/** Betas that discretise a continuous alpha_bar(t), capped at `maxBeta` (computed in float64). */
export function betasForAlphaBar(n: number, kind: keyof typeof ALPHA_BARS, maxBeta = 0.999): Float32Array {
  const bar = ALPHA_BARS[kind];
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.min(1 - bar((i + 1) / n) / bar(i / n), maxBeta);
  return out;
}

export interface BetaOptions {
  schedule: BetaSchedule;
  numTrainTimesteps: number;
  betaStart: number;
  betaEnd: number;
  trainedBetas?: readonly number[] | null;
}

/** The betas of a schedule; `trainedBetas` wins over the named schedule. */
export function makeBetas(o: BetaOptions): Float32Array {
  if (o.trainedBetas) return Float32Array.from(o.trainedBetas);
  const n = o.numTrainTimesteps;
  switch (o.schedule) {
    case 'linear':
      return torchLinspaceF32(o.betaStart, o.betaEnd, n);
    case 'scaled_linear':
      return torchLinspaceF32(o.betaStart ** 0.5, o.betaEnd ** 0.5, n).map((b) => b * b);
    case 'squaredcos_cap_v2':
      return betasForAlphaBar(n, 'cosine');
    case 'exp':
      return betasForAlphaBar(n, 'exp');
    case 'laplace':
      return betasForAlphaBar(n, 'laplace');
    case 'sigmoid': {
      const scale = f32(o.betaEnd - o.betaStart);
      return torchLinspaceF32(-6, 6, n).map((x) => f32(f32(1 / (1 + Math.exp(-x))) * scale) + f32(o.betaStart));
    }
  }
}

/** alphas_cumprod: float32 alphas, product accumulated in float64, stored as float32. */
export function cumprodAlphas(betas: Float32Array): Float32Array {
  const out = new Float32Array(betas.length);
  let acc = 1;
  for (let i = 0; i < betas.length; i++) {
    acc *= f32(1 - betas[i]!);
    out[i] = acc;
  }
  return out;
}

/** Rescales betas to zero terminal SNR (Lin et al. 2023, Algorithm 1), in float32. */
export function rescaleZeroTerminalSnr(betas: Float32Array): Float32Array {
  const sqrtBar = cumprodAlphas(betas).map(Math.sqrt);
  const first = sqrtBar[0]!;
  const last = sqrtBar[sqrtBar.length - 1]!;
  const scale = f32(first / f32(first - last));
  const bar = sqrtBar.map((v) => {
    const r = f32(f32(v - last) * scale);
    return r * r;
  });
  const out = new Float32Array(betas.length);
  for (let i = 0; i < bar.length; i++) {
    const alpha = i === 0 ? bar[0]! : f32(bar[i]! / bar[i - 1]!);
    out[i] = 1 - alpha;
  }
  return out;
}

/** sigma_t = sqrt((1 - a_t) / a_t) in float32, ascending in t. */
export function trainSigmas(alphasCumprod: Float32Array): Float32Array {
  return alphasCumprod.map((a) => Math.sqrt(f32(f32(1 - a) / a)));
}

/** float32 `log` of each value (numpy on a float32 array). */
export function logF32(values: Float32Array): Float32Array {
  return values.map(Math.log);
}

export interface NoiseTableOptions {
  numTrainTimesteps: number;
  betaStart: number;
  betaEnd: number;
  betaSchedule: string;
  trainedBetas: readonly number[] | null;
  rescaleBetasZeroSnr?: boolean;
}

/**
 * Validated betas and alphas_cumprod for a scheduler. `zeroSnrFloor`: the sigma-space
 * schedulers replace the last alphas_cumprod (exactly 0 after rescaling) with 2^-24.
 */
export function noiseTables(
  scheduler: string,
  o: NoiseTableOptions,
  allowed: readonly BetaSchedule[],
  zeroSnrFloor = false,
): { betas: Float32Array; alphasCumprod: Float32Array } {
  if (!o.trainedBetas) requireOneOf(scheduler, 'beta_schedule', o.betaSchedule as BetaSchedule, allowed);
  let betas = makeBetas({ ...o, schedule: o.betaSchedule as BetaSchedule });
  if (o.rescaleBetasZeroSnr) betas = rescaleZeroTerminalSnr(betas);
  const alphasCumprod = cumprodAlphas(betas);
  if (o.rescaleBetasZeroSnr && zeroSnrFloor) alphasCumprod[alphasCumprod.length - 1] = 2 ** -24;
  return { betas, alphasCumprod };
}
