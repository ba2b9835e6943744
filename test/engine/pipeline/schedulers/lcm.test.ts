import { describe, expect, it } from 'vitest';
import { createRandom } from '../../../../src/engine/pipeline/random.ts';
import { LCMScheduler } from '../../../../src/engine/pipeline/schedulers/index.ts';
import { dummyModel, dummySample } from './reference-harness.ts';

describe('LCMScheduler', () => {
  it.each([
    [1, [999]],
    [2, [999, 499]],
    [4, [999, 759, 499, 259]],
  ])('%i steps select %j from the 50-step distillation schedule', (n, want) => {
    const s = new LCMScheduler({});
    s.setTimesteps(n);
    expect([...s.timesteps]).toEqual(want);
  });

  it('boundary condition: c_skip -> 1 and c_out -> 0 at t = 0', () => {
    const s = new LCMScheduler({});
    expect(s.boundaryScalings(0)).toEqual({ cSkip: 1, cOut: 0 });
    const { cSkip, cOut } = s.boundaryScalings(999);
    expect(cSkip).toBeLessThan(1e-6);
    expect(cOut).toBeCloseTo(1, 6);
  });

  it('multistep sampling re-noises between steps, reproducibly', () => {
    const run = (seed: number) => {
      const s = new LCMScheduler({});
      s.setTimesteps(4);
      const rng = createRandom(seed);
      let x = dummySample([4, 3, 8, 8]);
      for (const t of s.timesteps) x = s.step(dummyModel(x, t), t, x, rng.normal).prevSample;
      return x;
    };
    expect(run(0)).toEqual(run(0));
    expect(run(0)).not.toEqual(run(1));
  });

  it('refuses more steps than the distillation schedule has', () => {
    expect(() => new LCMScheduler({}).setTimesteps(51)).toThrow(expect.objectContaining({ code: 'scheduler.invalid-steps' }));
  });
});
