import { describe, expect, it } from 'vitest';
import {
  ascendingTimesteps,
  multistepTimesteps,
  roundHalfEven,
  spacedTimesteps,
} from '../../../../src/engine/pipeline/schedulers/spacing.ts';

describe('timestep spacing (numpy semantics)', () => {
  const table: [string, () => number[], number[]][] = [
    ['leading, 10 steps', () => spacedTimesteps('t', 'leading', 1000, 10, 0, true), [900, 800, 700, 600, 500, 400, 300, 200, 100, 0]],
    ['leading + offset 1, 5 steps', () => spacedTimesteps('t', 'leading', 1000, 5, 1, true), [801, 601, 401, 201, 1]],
    ['trailing, 10 steps', () => spacedTimesteps('t', 'trailing', 1000, 10, 0, true), [999, 899, 799, 699, 599, 499, 399, 299, 199, 99]],
    ['trailing, 3 steps', () => spacedTimesteps('t', 'trailing', 1000, 3, 0, true), [999, 666, 332]],
    ['trailing, 7 steps', () => spacedTimesteps('t', 'trailing', 1000, 7, 0, true), [999, 856, 713, 570, 428, 285, 142]],
    ['linspace rounded half-even, 7 steps', () => spacedTimesteps('t', 'linspace', 1000, 7, 0, true), [999, 832, 666, 500, 333, 166, 0]],
    ['linspace float32, 7 steps', () => spacedTimesteps('t', 'linspace', 1000, 7, 0, false), [999, 832.5, 666, 499.5, 333, 166.5, 0]],
    ['multistep linspace, 7 steps', () => multistepTimesteps('t', 'linspace', 1000, 7, 0), [999, 856, 714, 571, 428, 285, 143]],
    ['multistep leading + offset 1, 7 steps', () => multistepTimesteps('t', 'leading', 1000, 7, 1), [876, 751, 626, 501, 376, 251, 126]],
    ['pndm ascending leading, 4 steps', () => ascendingTimesteps('t', 'leading', 1000, 4, 1), [1, 251, 501, 751]],
  ];
  it.each(table)('%s', (_name, make, want) => {
    expect(make()).toEqual(want);
  });

  it.each([
    [0.5, 0],
    [1.5, 2],
    [2.5, 2],
    [-1.5, -2],
    [2.4999, 2],
  ])('roundHalfEven(%f) = %i', (x, want) => {
    expect(roundHalfEven(x)).toBe(want);
  });

  it('refuses an unknown spacing', () => {
    expect(() => spacedTimesteps('DDIMScheduler', 'uniform', 1000, 10, 0, true)).toThrow(
      expect.objectContaining({ code: 'scheduler.unsupported-option' }),
    );
  });
});
