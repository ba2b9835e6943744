import { describe, expect, it } from 'vitest';
import { createRandom, randn } from '../../../src/engine/pipeline/random.ts';

describe('seeded random numbers', () => {
  it.each([[0], [42], [2 ** 40 + 7], [18446744073709551615n]])('seed %s gives the same numbers twice', (seed) => {
    expect(randn(seed, 1000)).toEqual(randn(seed, 1000));
    const a = createRandom(seed);
    const b = createRandom(seed);
    for (let i = 0; i < 100; i++) expect(a.uint32()).toBe(b.uint32());
  });

  it('different seeds differ, also in the high 32 bits', () => {
    expect(randn(1, 16)).not.toEqual(randn(2, 16));
    expect(randn(1, 16)).not.toEqual(randn(1 + 2 ** 32, 16));
    expect(randn(5, 16)).toEqual(randn(5n, 16));
  });

  it('is pinned: these values must not change between versions', () => {
    expect([...randn(42, 8)].map((v) => v.toFixed(6))).toEqual(
      ['0.309420', '0.030486', '0.177432', '0.392298', '0.372797', '-0.825535', '0.443723', '-0.108568'],
    );
  });

  it('draws standard normals (moments over 200k draws)', () => {
    const x = randn(7, 200_000);
    let m1 = 0;
    let m2 = 0;
    let m4 = 0;
    for (const v of x) {
      m1 += v;
      m2 += v * v;
      m4 += v ** 4;
    }
    m1 /= x.length;
    m2 /= x.length;
    m4 /= x.length;
    expect(Math.abs(m1)).toBeLessThan(0.01);
    expect(Math.abs(m2 - 1)).toBeLessThan(0.015);
    expect(Math.abs(m4 - 3)).toBeLessThan(0.08);
  });

  it('draws uniforms in [0, 1)', () => {
    const r = createRandom(3);
    let min = 1;
    let max = 0;
    for (let i = 0; i < 10_000; i++) {
      const u = r.uniform();
      min = Math.min(min, u);
      max = Math.max(max, u);
    }
    expect(min).toBeGreaterThanOrEqual(0);
    expect(max).toBeLessThan(1);
    expect(max - min).toBeGreaterThan(0.99);
  });

  it('a bound normal source keeps its state', () => {
    const { normal } = createRandom(9);
    const direct = createRandom(9);
    for (let i = 0; i < 5; i++) expect(normal()).toBe(direct.normal());
  });

  it.each([[-1], [1.5], [Number.MAX_SAFE_INTEGER + 2], [-1n], [2n ** 64n]])('refuses seed %s', (seed) => {
    expect(() => createRandom(seed)).toThrow(expect.objectContaining({ code: 'scheduler.invalid-seed' }));
  });
});
