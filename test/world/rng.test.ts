import { describe, expect, it } from 'vitest';
import { Rng, deriveSeed, hashString, mix32 } from '../../src/world/rng.ts';

describe('world/rng', () => {
  it('repeats the same sequence for the same seed and differs for another', () => {
    const a = new Rng(42);
    const b = new Rng(42);
    const c = new Rng(43);
    const sa = Array.from({ length: 50 }, () => a.float());
    expect(Array.from({ length: 50 }, () => b.float())).toEqual(sa);
    expect(Array.from({ length: 50 }, () => c.float())).not.toEqual(sa);
  });

  it('stays in range and covers it: float, range, int, pick, bool', () => {
    const r = new Rng(7);
    const ints = new Set<number>();
    let lo = 1;
    let hi = 0;
    let trues = 0;
    for (let i = 0; i < 5000; i++) {
      const f = r.float();
      lo = Math.min(lo, f);
      hi = Math.max(hi, f);
      const x = r.range(-3, 5);
      expect(x >= -3 && x < 5).toBe(true);
      const k = r.int(1, 6);
      expect(Number.isInteger(k) && k >= 1 && k <= 6).toBe(true);
      ints.add(k);
      if (r.bool(0.25)) trues++;
    }
    expect(lo).toBeLessThan(0.01);
    expect(hi).toBeGreaterThan(0.99);
    expect([...ints].sort()).toEqual([1, 2, 3, 4, 5, 6]);
    expect(trues / 5000).toBeGreaterThan(0.2);
    expect(trues / 5000).toBeLessThan(0.3);
    expect(() => r.pick([])).toThrow(/empty/);
  });

  it('normal() has mean about 0 and deviation about 1', () => {
    const r = new Rng(3);
    const xs = Array.from({ length: 20000 }, () => r.normal());
    const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
    const sd = Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / xs.length);
    expect(Math.abs(mean)).toBeLessThan(0.03);
    expect(Math.abs(sd - 1)).toBeLessThan(0.03);
  });

  it('derives independent, stable sub-seeds per tag; handles seeds beyond 32 bits', () => {
    expect(deriveSeed(5, 'layout')).toBe(deriveSeed(5, 'layout'));
    expect(deriveSeed(5, 'layout')).not.toBe(deriveSeed(5, 'style'));
    expect(deriveSeed(5, 'layout')).not.toBe(deriveSeed(6, 'layout'));
    expect(deriveSeed(2 ** 32 + 5, 'x')).not.toBe(deriveSeed(5, 'x'));
    expect(hashString('abc')).toBe(hashString('abc'));
    expect(mix32(1, 2)).not.toBe(mix32(2, 1));
  });
});
