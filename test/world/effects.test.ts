import { describe, expect, it } from 'vitest';
import { blank, blur, colorEdges, displace, luminance, quantize, sobel, toRaw, valueNoise, voronoi } from '../../src/world/effects.ts';

describe('world/effects', () => {
  it('blur keeps a flat image flat and spreads a step symmetrically', () => {
    const flat = blank(16, 16, [0.3, 0.5, 0.7]);
    const b = blur(flat, 2);
    for (let i = 0; i < b.d.length; i += 3) expect([b.d[i], b.d[i + 1], b.d[i + 2]].map((v) => +v!.toFixed(5))).toEqual([0.3, 0.5, 0.7]);
    const step = blank(16, 1);
    for (let x = 8; x < 16; x++) step.d.fill(1, x * 3, x * 3 + 3);
    const s = blur(step, 1.5);
    expect(s.d[7 * 3]! + s.d[8 * 3]!).toBeCloseTo(1, 5);
    expect(s.d[7 * 3]!).toBeGreaterThan(0.1);
    expect(s.d[0]!).toBeLessThan(1e-3);
    expect(blur(step, 0.1).d).toBe(step.d);
  });

  it('finds edges at a vertical boundary only', () => {
    const img = blank(8, 8);
    for (let y = 0; y < 8; y++) for (let x = 4; x < 8; x++) img.d.fill(1, (y * 8 + x) * 3, (y * 8 + x) * 3 + 3);
    const e = sobel(luminance(img), 8, 8);
    expect(e[3 * 8 + 4]).toBeCloseTo(1, 5);
    expect(e[3 * 8 + 1]).toBe(0);
    expect(Array.from(colorEdges(img))).toEqual(Array.from(e).map((v) => Math.fround(v)));
  });

  it('value noise is seeded, in [0, 1], and smooth at its cell size', () => {
    const a = valueNoise(5, 32, 32, 8, 2);
    expect(Array.from(valueNoise(5, 32, 32, 8, 2))).toEqual(Array.from(a));
    expect(Array.from(valueNoise(6, 32, 32, 8, 2))).not.toEqual(Array.from(a));
    let jump = 0;
    for (let i = 0; i < a.length; i++) {
      expect(a[i]! >= 0 && a[i]! <= 1).toBe(true);
      if (i % 32) jump = Math.max(jump, Math.abs(a[i]! - a[i - 1]!));
    }
    expect(jump).toBeLessThan(0.35);
  });

  it('displacement by a centred field is the identity; quantize snaps to the palette; toRaw clamps', () => {
    const img = blank(4, 4, [0.2, 0.4, 0.6]);
    img.d[5] = 0.9;
    const half = new Float32Array(16).fill(0.5);
    expect(Array.from(displace(img, half, half, 3).d)).toEqual(Array.from(img.d));
    quantize(img, [[0, 0, 0], [0.25, 0.4, 0.55]]);
    expect(Array.from(img.d.subarray(0, 3)).map((v) => +v.toFixed(2))).toEqual([0.25, 0.4, 0.55]);
    const raw = toRaw({ w: 1, h: 1, d: new Float32Array([-1, 0.5, 2]) });
    expect(Array.from(raw.data)).toEqual([0, 128, 255]);
  });

  it('voronoi assigns each pixel its nearest site, with small border values between cells', () => {
    const v = voronoi(32, 32, 8, 1);
    for (const [x, y] of [[3, 3], [20, 11], [31, 31]] as const) {
      const k = v.cell[y * 32 + x]!;
      const d = Math.hypot(v.sites[k * 2]! - x, v.sites[k * 2 + 1]! - y);
      for (let j = 0; j < v.sites.length / 2; j++) expect(Math.hypot(v.sites[j * 2]! - x, v.sites[j * 2 + 1]! - y)).toBeGreaterThanOrEqual(d - 1e-4);
    }
    expect(Math.min(...v.border)).toBeLessThan(1);
    expect(Math.max(...v.border)).toBeGreaterThan(3);
  });
});
