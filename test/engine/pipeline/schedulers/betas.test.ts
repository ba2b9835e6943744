import { describe, expect, it } from 'vitest';
import {
  cumprodAlphas,
  makeBetas,
  rescaleZeroTerminalSnr,
  torchLinspaceF32,
  trainSigmas,
} from '../../../../src/engine/pipeline/schedulers/betas.ts';

describe('beta schedules', () => {
  it('linspace hits both ends exactly in float32', () => {
    const b = torchLinspaceF32(0.0001, 0.02, 1000);
    expect(b[0]).toBe(Math.fround(0.0001));
    expect(b[999]).toBe(Math.fround(0.02));
    expect(torchLinspaceF32(3, 4, 1)).toEqual(Float32Array.of(3));
  });

  it('scaled_linear squares a linspace of square roots', () => {
    const b = makeBetas({ schedule: 'scaled_linear', numTrainTimesteps: 1000, betaStart: 0.00085, betaEnd: 0.012 });
    expect(b[0]).toBeCloseTo(0.00085, 9);
    expect(b[999]).toBeCloseTo(0.012, 8);
    expect(Math.sqrt(b[500]!)).toBeCloseTo((Math.sqrt(0.00085) * 499 + Math.sqrt(0.012) * 500) / 999, 6);
  });

  it('squaredcos_cap_v2 increases and is capped at 0.999', () => {
    const b = makeBetas({ schedule: 'squaredcos_cap_v2', numTrainTimesteps: 1000, betaStart: 0, betaEnd: 0 });
    expect(b[999]).toBe(Math.fround(0.999));
    for (let i = 1; i < 1000; i++) expect(b[i]!).toBeGreaterThanOrEqual(b[i - 1]!);
  });

  it('trained betas win', () => {
    expect(makeBetas({ schedule: 'linear', numTrainTimesteps: 3, betaStart: 0, betaEnd: 1, trainedBetas: [0.1, 0.2, 0.3] })).toEqual(
      Float32Array.of(0.1, 0.2, 0.3),
    );
  });

  it('zero terminal SNR: the last alphas_cumprod is 0, the first is kept', () => {
    const b = makeBetas({ schedule: 'scaled_linear', numTrainTimesteps: 1000, betaStart: 0.00085, betaEnd: 0.012 });
    const before = cumprodAlphas(b);
    const after = cumprodAlphas(rescaleZeroTerminalSnr(b));
    expect(after[999]).toBe(0);
    expect(after[0]).toBeCloseTo(before[0]!, 6);
  });

  it('SD 1.x sigmas run from about 0.0292 to 14.6146', () => {
    const b = makeBetas({ schedule: 'scaled_linear', numTrainTimesteps: 1000, betaStart: 0.00085, betaEnd: 0.012 });
    const s = trainSigmas(cumprodAlphas(b));
    expect(s[0]).toBeCloseTo(0.0292, 4);
    expect(s[999]).toBeCloseTo(14.6146, 4);
  });
});
