/**
 * Timestep spacing ("leading", "trailing", "linspace"; Lin et al. 2023, Table 2)
 * and the numpy primitives the reference builds them with, reproduced exactly
 * (float64 `linspace`/`arange`, round-half-to-even).
 *
 * @example
 *   integerTimesteps('leading', 1000, 5, 1);    // [801, 601, 401, 201, 1]
 *   integerTimesteps('trailing', 1000, 4, 0);   // [999, 749, 499, 249]
 */
import { requireOneOf } from './config.ts';

export const TIMESTEP_SPACINGS = ['leading', 'trailing', 'linspace'] as const;
export type TimestepSpacing = (typeof TIMESTEP_SPACINGS)[number];

/** numpy.linspace in float64 (endpoint included unless `endpoint` is false). */
export function npLinspace(start: number, stop: number, num: number, endpoint = true): number[] {
  const div = endpoint ? num - 1 : num;
  const step = (stop - start) / div;
  const out: number[] = [];
  for (let i = 0; i < num; i++) out.push(div > 0 ? i * step + start : start);
  if (endpoint && num > 1) out[num - 1] = stop;
  return out;
}

/** numpy.arange with a float step: length ceil((stop - start) / step), values start + i * delta. */
export function npArange(start: number, stop: number, step: number): number[] {
  const length = Math.max(0, Math.ceil((stop - start) / step));
  const delta = start + step - start;
  const out: number[] = [];
  for (let i = 0; i < length; i++) out.push(i === 0 ? start : i === 1 ? start + step : start + i * delta);
  return out;
}

/** numpy.round: halves go to the even neighbour. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

function checkSpacing(scheduler: string, spacing: string): asserts spacing is TimestepSpacing {
  requireOneOf(scheduler, 'timestep_spacing', spacing as TimestepSpacing, TIMESTEP_SPACINGS);
}

/**
 * Descending timesteps of DDIM/DDPM/Euler-family schedulers. `roundLinspace`: DDIM
 * and DDPM round "linspace" timesteps to integers; the sigma schedulers keep them
 * as float32.
 */
export function spacedTimesteps(
  scheduler: string,
  spacing: string,
  numTrain: number,
  n: number,
  stepsOffset: number,
  roundLinspace: boolean,
): number[] {
  checkSpacing(scheduler, spacing);
  if (spacing === 'linspace') {
    const ts = npLinspace(0, numTrain - 1, n).reverse();
    return ts.map((t) => (roundLinspace ? roundHalfEven(t) : Math.fround(t)));
  }
  if (spacing === 'leading') {
    const ratio = Math.floor(numTrain / n);
    return Array.from({ length: n }, (_, i) => (n - 1 - i) * ratio + stepsOffset);
  }
  return npArange(numTrain, 0, -(numTrain / n)).map((t) => roundHalfEven(t) - 1);
}

/**
 * Descending integer timesteps of the multistep solvers (DPM-Solver, UniPC): n + 1
 * points with the last dropped. `lastTimestep` is below `numTrain` when DPM-Solver
 * clips small lambdas.
 */
export function multistepTimesteps(
  scheduler: string,
  spacing: string,
  numTrain: number,
  n: number,
  stepsOffset: number,
  lastTimestep = numTrain,
): number[] {
  checkSpacing(scheduler, spacing);
  if (spacing === 'linspace') {
    return npLinspace(0, lastTimestep - 1, n + 1).map(roundHalfEven).reverse().slice(0, n);
  }
  if (spacing === 'leading') {
    const ratio = Math.floor(lastTimestep / (n + 1));
    return Array.from({ length: n }, (_, i) => (n - i) * ratio + stepsOffset);
  }
  return npArange(lastTimestep, 0, -(numTrain / n)).map((t) => roundHalfEven(t) - 1);
}

/** PNDM's base timesteps, ascending. */
export function ascendingTimesteps(
  scheduler: string,
  spacing: string,
  numTrain: number,
  n: number,
  stepsOffset: number,
): number[] {
  checkSpacing(scheduler, spacing);
  if (spacing === 'linspace') return npLinspace(0, numTrain - 1, n).map(roundHalfEven);
  if (spacing === 'leading') {
    const ratio = Math.floor(numTrain / n);
    return Array.from({ length: n }, (_, i) => i * ratio + stepsOffset);
  }
  return npArange(numTrain, 0, -(numTrain / n))
    .map((t) => roundHalfEven(t) - 1)
    .reverse();
}
