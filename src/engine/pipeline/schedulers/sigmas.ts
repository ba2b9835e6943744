/**
 * Sigma-space helpers shared by the Euler, LMS, Heun, DPM-Solver and UniPC
 * schedulers: interpolation of the training sigmas at fractional timesteps, the
 * Karras et al. (2022) rho-schedule, exponential and Lu et al. lambda spacing, and
 * the inverse map from a sigma back to a (fractional) timestep. float64 throughout,
 * like the numpy code of the reference.
 *
 * @example
 *   const sigmas = interpSigmas(timesteps, trainSigmas(alphasCumprod));
 *   const karras = karrasSigmas(sigmas.at(-1)!, sigmas[0]!, 10);
 *   const ts = karras.map((s) => sigmaToT(s, logF32(train)));
 */
import { npLinspace } from './spacing.ts';

/** numpy.interp(x, arange(len(fp)), fp). */
export function interpSigmas(x: readonly number[], fp: ArrayLike<number>): number[] {
  const last = fp.length - 1;
  return x.map((v) => {
    if (v <= 0) return fp[0]!;
    if (v >= last) return fp[last]!;
    const j = Math.floor(v);
    if (j === v) return fp[j]!;
    const slope = fp[j + 1]! - fp[j]!;
    return slope * (v - j) + fp[j]!;
  });
}

const ramp = (n: number): number[] => npLinspace(0, 1, n);

/** Karras et al. (2022) eq. 5 with rho = 7, from sigmaMax down to sigmaMin. */
export function karrasSigmas(sigmaMin: number, sigmaMax: number, n: number): number[] {
  const rho = 7.0;
  const minInv = sigmaMin ** (1 / rho);
  const maxInv = sigmaMax ** (1 / rho);
  return ramp(n).map((r) => (maxInv + r * (minInv - maxInv)) ** rho);
}

/** Log-uniform sigmas from sigmaMax down to sigmaMin. */
export function exponentialSigmas(sigmaMin: number, sigmaMax: number, n: number): number[] {
  return npLinspace(Math.log(sigmaMax), Math.log(sigmaMin), n).map(Math.exp);
}

/** Lu et al. (2022): values uniform between `max` and `min` (rho = 1). */
export function uniformBetween(min: number, max: number, n: number): number[] {
  return ramp(n).map((r) => max + r * (min - max));
}

/**
 * The fractional timestep whose sigma is `sigma`, interpolating linearly in
 * log-sigma between the two training timesteps around it. `logSigmas` ascends with t.
 */
export function sigmaToT(sigma: number, logSigmas: ArrayLike<number>): number {
  const logSigma = Math.log(Math.max(sigma, 1e-10));
  const n = logSigmas.length;
  let low = 0;
  for (let i = 0; i < n; i++) if (logSigma - logSigmas[i]! >= 0) low = i;
  low = Math.min(low, n - 2);
  const lo = logSigmas[low]!;
  const hi = logSigmas[low + 1]!;
  const w = Math.min(1, Math.max(0, (lo - logSigma) / (lo - hi)));
  return (1 - w) * low + w * (low + 1);
}
