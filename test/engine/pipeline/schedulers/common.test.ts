import { describe, expect, it } from 'vitest';
import { solveLinear, stepOptions, thresholdSample } from '../../../../src/engine/pipeline/schedulers/common.ts';

describe('dynamic thresholding', () => {
  it('clamps each batch item to its own quantile when that is in [1, max]', () => {
    const x = Float32Array.of(0.5, -3, 2, 1, /* item 2 */ 0.1, 0.2, -0.3, 0.4);
    const out = thresholdSample('t', x, 0.5, 10, 2);
    // item 1: |x| sorted 0.5, 1, 2, 3 -> median 1.5; item 2: median 0.25 -> raised to 1.
    expect([...out.subarray(0, 4)].map((v) => +v.toFixed(6))).toEqual([0.333333, -1, 1, 0.666667]);
    expect([...out.subarray(4)].map((v) => +v.toFixed(6))).toEqual([0.1, 0.2, -0.3, 0.4]);
  });

  it('a max below 1 wins, like torch.clamp(min=1, max<1)', () => {
    const out = thresholdSample('t', Float32Array.of(0.2, -0.9, 0.4), 0.87, 0.5);
    expect([...out].map((v) => +v.toFixed(6))).toEqual([0.4, -1, 0.8]);
  });

  it('refuses a batch size that does not divide the sample', () => {
    expect(() => thresholdSample('t', new Float32Array(5), 0.9, 1, 2)).toThrow(
      expect.objectContaining({ code: 'scheduler.invalid-batch' }),
    );
  });
});

describe('helpers', () => {
  it('solves small linear systems', () => {
    const x = solveLinear([[0, 2, 1], [1, 1, 1], [2, 0, 3]], [7, 6, 11]);
    x.forEach((v, i) => expect(v).toBeCloseTo([1, 2, 3][i]!, 12));
  });

  it('takes a normal source or full step options', () => {
    const rng = () => 0;
    expect(stepOptions(rng)).toEqual({ rng });
    expect(stepOptions({ eta: 1 })).toEqual({ eta: 1 });
    expect(stepOptions(undefined)).toEqual({});
  });
});
