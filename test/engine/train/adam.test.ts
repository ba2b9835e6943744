/**
 * Adam: the first step against its closed form, and row-sparse updates (only the
 * rows of a table that ever had a gradient) give exactly the dense result.
 */
import { describe, expect, it } from 'vitest';
import { Adam } from '../../../src/engine/train/adam.ts';
import { createRandom } from '../../../src/engine/pipeline/random.ts';

describe('Adam', () => {
  it('first step moves each weight by lr * g / (|g| + eps)', () => {
    const p = new Map([['w', Float32Array.from([1, -2, 3])]]);
    new Adam({ lr: 0.1, eps: 1e-8 }).step(p, new Map([['w', Float32Array.from([0.5, -4, 0])]]));
    expect(p.get('w')![0]).toBeCloseTo(0.9, 6);
    expect(p.get('w')![1]).toBeCloseTo(-1.9, 6);
    expect(p.get('w')![2]).toBe(3);
  });

  it('scales the learning rate of the parameters named in lrScale, and refuses a bad scale', () => {
    const p = new Map([
      ['table', Float32Array.from([1, 1])],
      ['w', Float32Array.from([1, 1])],
    ]);
    const g = new Map([
      ['table', Float32Array.from([2, -2])],
      ['w', Float32Array.from([2, -2])],
    ]);
    new Adam({ lr: 0.01, lrScale: { table: 5 } }).step(p, g);
    expect(Array.from(p.get('w')!)).toEqual([Math.fround(0.99), Math.fround(1.01)]);
    expect(p.get('table')![0]).toBeCloseTo(0.95, 6);
    expect(p.get('table')![1]).toBeCloseTo(1.05, 6);
    expect(() => new Adam({ lr: 0.01, lrScale: { table: 0 } })).toThrow(/learning-rate scale of table must be a positive number/);
  });

  it('row-sparse steps on a table equal dense steps bit for bit', () => {
    const rowsN = 50;
    const width = 4;
    const r = createRandom(3);
    const init = r.normals(rowsN * width);
    const other = r.normals(7);
    const dense = { t: init.slice(), o: other.slice(), adam: new Adam({ lr: 0.01 }) };
    const sparse = { t: init.slice(), o: other.slice(), adam: new Adam({ lr: 0.01 }) };
    const touched = new Set<number>();
    for (let step = 0; step < 12; step++) {
      // A few rows per step; rows touched once keep moving (their moments decay) afterwards.
      const hit = [step % 5, 10 + ((step * 3) % 7), 20 + (step % 2)];
      const g = new Float32Array(rowsN * width);
      for (const row of hit) for (let k = 0; k < width; k++) g[row * width + k] = r.normal();
      const go = r.normals(7);
      hit.forEach((row) => touched.add(row));
      dense.adam.step(new Map([['table', dense.t], ['o', dense.o]]), new Map([['table', g], ['o', go]]), 0.01);
      sparse.adam.step(new Map([['table', sparse.t], ['o', sparse.o]]), new Map([['table', g], ['o', go]]), 0.01, new Map([['table', { width, rows: touched }]]));
    }
    expect(Array.from(sparse.t)).toEqual(Array.from(dense.t));
    expect(Array.from(sparse.o)).toEqual(Array.from(dense.o));
    // Rows never touched did not move.
    expect(Array.from(sparse.t.subarray(49 * width))).toEqual(Array.from(init.subarray(49 * width)));
    // The saved moments are the dense ones too.
    expect(Array.from(sparse.adam.save().v.get('table')!)).toEqual(Array.from(dense.adam.save().v.get('table')!));
  });

  it('refuses row-sparse steps with weight decay, rows out of range, and bad gradients', () => {
    const p = new Map([['t', new Float32Array(8)]]);
    const g = new Map([['t', new Float32Array(8)]]);
    expect(() => new Adam({ lr: 0.1, weightDecay: 0.01 }).step(p, g, 0.1, new Map([['t', { width: 2, rows: [0] }]]))).toThrow(/weight decay/);
    expect(() => new Adam({ lr: 0.1 }).step(p, g, 0.1, new Map([['t', { width: 2, rows: [4] }]]))).toThrow(/row 4 of t is outside its 4 rows/);
    expect(() => new Adam({ lr: 0.1 }).step(p, g, 0.1, new Map([['t', { width: 3, rows: [0] }]]))).toThrow(/8 values are not rows of 3/);
    expect(() => new Adam({ lr: 0.1 }).step(p, new Map([['t', Float32Array.from([NaN, 0, 0, 0, 0, 0, 0, 0])]]))).toThrow(/not finite/);
    expect(() => new Adam({ lr: 0 })).toThrow(/positive/);
  });
});
