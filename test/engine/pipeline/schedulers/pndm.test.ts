import { describe, expect, it } from 'vitest';
import { PNDMScheduler } from '../../../../src/engine/pipeline/schedulers/index.ts';
import { dummyModel, dummySample } from './reference-harness.ts';

const SHAPE = [4, 3, 8, 8];

describe('PNDMScheduler', () => {
  it('step() runs the PRK warm-up and then PLMS, like calling them explicitly', () => {
    const a = new PNDMScheduler({});
    const b = new PNDMScheduler({});
    a.setTimesteps(10);
    b.setTimesteps(10);
    let x = dummySample(SHAPE);
    let y = dummySample(SHAPE);
    for (const t of a.timesteps) x = a.step(dummyModel(x, t), t, x).prevSample;
    for (const t of b.prkTimesteps) y = b.stepPrk(dummyModel(y, t), t, y).prevSample;
    for (const t of b.plmsTimesteps) y = b.stepPlms(dummyModel(y, t), t, y).prevSample;
    expect(x).toEqual(y);
  });

  it('skip_prk_steps: the second call (same timestep) restarts from the first call\'s sample', () => {
    const run = (garbage: boolean) => {
      const s = new PNDMScheduler({ skipPrkSteps: true, stepsOffset: 1, betaSchedule: 'scaled_linear', betaStart: 0.00085, betaEnd: 0.012 });
      s.setTimesteps(50);
      const [t0, t1] = s.timesteps as [number, number];
      expect(t0).toBe(981);
      expect(t1).toBe(961);
      const x0 = dummySample(SHAPE);
      const x1 = s.step(dummyModel(x0, t0), t0, x0).prevSample;
      const eps1 = dummyModel(x1, t1);
      return s.step(eps1, t1, garbage ? new Float32Array(x1.length).fill(123) : x1).prevSample;
    };
    expect(run(true)).toEqual(run(false));
  });

  it('skip_prk_steps runs a full 50-step loop to finite values', () => {
    const s = new PNDMScheduler({ skipPrkSteps: true });
    s.setTimesteps(50);
    let x = dummySample(SHAPE);
    for (const t of s.timesteps) x = s.step(dummyModel(x, t), t, x).prevSample;
    expect(x.every(Number.isFinite)).toBe(true);
  });
});
