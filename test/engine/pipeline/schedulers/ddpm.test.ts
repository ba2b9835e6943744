import { describe, expect, it } from 'vitest';
import { createRandom } from '../../../../src/engine/pipeline/random.ts';
import { DdpmScheduler } from '../../../../src/engine/pipeline/schedulers/index.ts';
import { dummyModel, dummySample } from './reference-harness.ts';

function fullLoop(seed: number, varianceType = 'fixed_small', predictionType = 'epsilon'): Float32Array {
  const s = new DdpmScheduler({ varianceType, predictionType });
  s.setTimesteps(20);
  const rng = createRandom(seed);
  let x = dummySample([4, 3, 8, 8]);
  for (const t of s.timesteps) x = s.step(dummyModel(x, t), t, x, rng.normal).prevSample;
  return x;
}

describe('DdpmScheduler', () => {
  it.each([
    ['fixed_small', 'epsilon'],
    ['fixed_small_log', 'epsilon'],
    ['fixed_large', 'v_prediction'],
    ['fixed_small', 'sample'],
  ])('%s / %s is reproducible and finite', (variance, prediction) => {
    const a = fullLoop(4, variance, prediction);
    expect(a).toEqual(fullLoop(4, variance, prediction));
    expect(a).not.toEqual(fullLoop(5, variance, prediction));
    expect(a.every(Number.isFinite)).toBe(true);
  });

  it('the step at t = 0 draws no noise', () => {
    const s = new DdpmScheduler({});
    s.setTimesteps(10);
    const x = dummySample([4, 3, 8, 8]);
    const eps = dummyModel(x, 0);
    expect(s.step(eps, 0, x).prevSample).toEqual(s.step(eps, 0, x, createRandom(1).normal).prevSample);
  });

  it('fixed_small_log gives the standard deviation of fixed_small', () => {
    const small = new DdpmScheduler({ varianceType: 'fixed_small' });
    const log = new DdpmScheduler({ varianceType: 'fixed_small_log' });
    for (const t of [10, 487, 999]) expect(log.variance(t)).toBeCloseTo(Math.sqrt(small.variance(t)), 6);
  });
});
