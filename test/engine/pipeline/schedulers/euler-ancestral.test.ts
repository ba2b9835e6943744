import { describe, expect, it } from 'vitest';
import { createRandom } from '../../../../src/engine/pipeline/random.ts';
import { createScheduler, EulerAncestralDiscreteScheduler } from '../../../../src/engine/pipeline/schedulers/index.ts';
import { absSum, dummyModel, dummySample, loadReference } from './reference-harness.ts';

/** The EulerAncestralDiscreteSchedulerTest config (same as the Euler tests'). */
const CONFIG = loadReference().cases.find((c) => c.scheduler_class === 'EulerDiscreteScheduler')!.config;
const SHAPE = [4, 3, 8, 8];

function fullLoop(seed: number, predictionType = 'epsilon'): Float32Array {
  const s = new EulerAncestralDiscreteScheduler({ numTrainTimesteps: 1100, predictionType });
  s.setTimesteps(10);
  const rng = createRandom(seed);
  let x: Float32Array = dummySample(SHAPE).map((v) => v * s.initNoiseSigma);
  for (const t of s.timesteps) {
    x = s.scaleModelInput(x, t);
    x = s.step(dummyModel(x, t), t, x, rng.normal).prevSample;
  }
  return x;
}

describe('EulerAncestralDiscreteScheduler', () => {
  it('is reproducible from the seed', () => {
    expect(fullLoop(0)).toEqual(fullLoop(0));
    expect(fullLoop(0)).not.toEqual(fullLoop(1));
    expect(absSum(fullLoop(3, 'v_prediction'))).toBeGreaterThan(0);
  });

  it('steps to sigma_down, then adds sigma_up times the noise', () => {
    const s = createScheduler(CONFIG, 'EulerAncestralDiscreteScheduler');
    s.setTimesteps(10);
    const sigmas = (s as unknown as { sigmas: Float32Array }).sigmas;
    const t = s.timesteps[3]!;
    const x = dummySample(SHAPE).map((v) => v * 5);
    const eps = dummyModel(x, t);
    const noise = createRandom(11).normals(x.length);
    const still = s.step(eps, t, x, { noise: new Float32Array(x.length) }).prevSample;
    s.setTimesteps(10);
    const noisy = s.step(eps, t, x, { noise }).prevSample;
    const sigma = sigmas[3]!;
    const next = sigmas[4]!;
    const up = Math.sqrt((next ** 2 * (sigma ** 2 - next ** 2)) / sigma ** 2);
    const down = Math.sqrt(next ** 2 - up ** 2);
    for (let i = 0; i < x.length; i += 37) {
      const euler = x[i]! + eps[i]! * (down - sigma);
      expect(still[i]!).toBeCloseTo(euler, 4);
      expect(noisy[i]!).toBeCloseTo(euler + up * noise[i]!, 4);
    }
  });

  it('adds no noise on the last step (sigma_next = 0)', () => {
    const s = new EulerAncestralDiscreteScheduler({});
    s.setTimesteps(5);
    const t = s.timesteps.at(-1)!;
    const x = dummySample(SHAPE);
    const eps = dummyModel(x, t);
    s.setBeginIndex(4);
    const a = s.step(eps, t, x, createRandom(1).normal).prevSample;
    s.setTimesteps(5);
    s.setBeginIndex(4);
    const b = s.step(eps, t, x, createRandom(2).normal).prevSample;
    expect(a).toEqual(b);
  });

  it('refuses sample prediction, as the reference does', () => {
    expect(() => new EulerAncestralDiscreteScheduler({ predictionType: 'sample' })).toThrow(
      expect.objectContaining({ code: 'scheduler.unsupported-option' }),
    );
  });
});
