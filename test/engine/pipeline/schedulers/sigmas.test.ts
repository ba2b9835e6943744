import { describe, expect, it } from 'vitest';
import { cumprodAlphas, logF32, makeBetas, trainSigmas } from '../../../../src/engine/pipeline/schedulers/betas.ts';
import { exponentialSigmas, interpSigmas, karrasSigmas, sigmaToT } from '../../../../src/engine/pipeline/schedulers/sigmas.ts';

const train = trainSigmas(cumprodAlphas(makeBetas({ schedule: 'scaled_linear', numTrainTimesteps: 1000, betaStart: 0.00085, betaEnd: 0.012 })));
const logs = logF32(train);

describe('sigma helpers', () => {
  it('interpolates linearly between training sigmas and clamps at the ends', () => {
    expect(interpSigmas([0, 999, 1200, -3], train)).toEqual([train[0], train[999], train[999], train[0]]);
    expect(interpSigmas([10.25], train)[0]).toBeCloseTo(train[10]! * 0.75 + train[11]! * 0.25, 12);
  });

  it('Karras and exponential schedules run from max to min', () => {
    for (const make of [karrasSigmas, exponentialSigmas]) {
      const s = make(0.03, 14.6, 8);
      expect(s).toHaveLength(8);
      expect(s[0]).toBeCloseTo(14.6, 10);
      expect(s[7]).toBeCloseTo(0.03, 10);
      for (let i = 1; i < 8; i++) expect(s[i]!).toBeLessThan(s[i - 1]!);
    }
    expect(karrasSigmas(0.03, 14.6, 1)[0]).toBeCloseTo(14.6, 10);
  });

  it('sigmaToT inverts the training table (log-linear between entries)', () => {
    for (const t of [0, 1, 250, 777, 998, 999]) expect(sigmaToT(train[t]!, logs)).toBeCloseTo(t, 3);
    const mid = Math.exp((logs[100]! + logs[101]!) / 2);
    expect(sigmaToT(mid, logs)).toBeCloseTo(100.5, 6);
    expect(sigmaToT(1e-6, logs)).toBe(0);
    expect(sigmaToT(1e6, logs)).toBe(999);
  });
});
