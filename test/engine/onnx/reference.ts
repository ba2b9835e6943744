/**
 * Plain-JS reference computations (float64, loops) that the builder's op helpers
 * are checked against. Written for clarity, not speed; shapes stay tiny.
 */
export interface Nd {
  shape: number[];
  data: Float64Array;
}

export const size = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

export function stridesOf(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length).fill(1);
  for (let i = shape.length - 2; i >= 0; i--) s[i] = s[i + 1]! * shape[i + 1]!;
  return s;
}

export function unravel(i: number, shape: readonly number[]): number[] {
  const idx = new Array<number>(shape.length);
  for (let d = shape.length - 1; d >= 0; d--) {
    idx[d] = i % shape[d]!;
    i = Math.floor(i / shape[d]!);
  }
  return idx;
}

export function nd(shape: number[], f: (idx: number[], flat: number) => number): Nd {
  const data = new Float64Array(size(shape));
  for (let i = 0; i < data.length; i++) data[i] = f(unravel(i, shape), i);
  return { shape, data };
}

/** Deterministic values in [-scale, scale) (mulberry32). */
export function rand(shape: number[], seed: number, scale = 1): Nd {
  let a = seed >>> 0;
  return nd(shape, () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) / 4294967296 - 0.5) * 2 * scale;
  });
}

/** Values rounded to float32, as they reach onnxruntime. */
export const f32 = (x: Nd): Nd => ({ shape: x.shape, data: Float64Array.from(Float32Array.from(x.data)) });

export function map(x: Nd, f: (v: number) => number): Nd {
  return { shape: x.shape, data: x.data.map(f) };
}

export function broadcast(a: Nd, b: Nd, f: (x: number, y: number) => number): Nd {
  const n = Math.max(a.shape.length, b.shape.length);
  const pa = [...Array(n - a.shape.length).fill(1), ...a.shape];
  const pb = [...Array(n - b.shape.length).fill(1), ...b.shape];
  const shape = pa.map((d, i) => Math.max(d, pb[i]!));
  const sa = stridesOf(pa);
  const sb = stridesOf(pb);
  return nd(shape, (idx) => {
    let ia = 0;
    let ib = 0;
    idx.forEach((v, d) => {
      ia += (pa[d] === 1 ? 0 : v) * sa[d]!;
      ib += (pb[d] === 1 ? 0 : v) * sb[d]!;
    });
    return f(a.data[ia]!, b.data[ib]!);
  });
}

export function at(x: Nd, idx: readonly number[]): number {
  const s = stridesOf(x.shape);
  return x.data[idx.reduce((acc, v, d) => acc + v * s[d]!, 0)]!;
}

/** Matmul of [..., m, k] x [k, n] or equal-batch [..., k, n]. */
export function matmul(a: Nd, b: Nd): Nd {
  const m = a.shape.at(-2)!;
  const k = a.shape.at(-1)!;
  const n = b.shape.at(-1)!;
  const batch = a.shape.slice(0, -2);
  const bBatched = b.shape.length > 2;
  return nd([...batch, m, n], (idx) => {
    const bi = idx.slice(0, -2);
    const [i, j] = idx.slice(-2) as [number, number];
    let s = 0;
    for (let t = 0; t < k; t++) s += at(a, [...bi, i, t]) * at(b, bBatched ? [...bi, t, j] : [t, j]);
    return s;
  });
}

export function transpose(x: Nd, perm: readonly number[]): Nd {
  return nd(
    perm.map((p) => x.shape[p]!),
    (idx) => {
      const src = new Array<number>(idx.length);
      perm.forEach((p, i) => (src[p] = idx[i]!));
      return at(x, src);
    },
  );
}

export function conv2d(x: Nd, w: Nd, b: Nd | null, pads: number[], strides: number[], group = 1): Nd {
  const [n, c, h, wd] = x.shape as [number, number, number, number];
  const [m, cg, kh, kw] = w.shape as [number, number, number, number];
  const oh = Math.floor((h + pads[0]! + pads[2]! - kh) / strides[0]!) + 1;
  const ow = Math.floor((wd + pads[1]! + pads[3]! - kw) / strides[1]!) + 1;
  const mPerGroup = m / group;
  void c;
  return nd([n, m, oh, ow], ([bn, om, y, xx]) => {
    const grp = Math.floor(om! / mPerGroup);
    let s = b ? b.data[om!]! : 0;
    for (let ci = 0; ci < cg; ci++) {
      for (let ky = 0; ky < kh; ky++) {
        for (let kx = 0; kx < kw; kx++) {
          const iy = y! * strides[0]! - pads[0]! + ky;
          const ix = xx! * strides[1]! - pads[1]! + kx;
          if (iy < 0 || iy >= h || ix < 0 || ix >= wd) continue;
          s += at(x, [bn!, grp * cg + ci, iy, ix]) * at(w, [om!, ci, ky, kx]);
        }
      }
    }
    return s;
  });
}

/** Normalise each contiguous block of `block` values; then per-element affine via `affine(i)`. */
function normBlocks(x: Nd, block: number, eps: number, affine: (flat: number) => [number, number]): Nd {
  const out = new Float64Array(x.data.length);
  for (let s = 0; s < x.data.length; s += block) {
    let mean = 0;
    for (let i = 0; i < block; i++) mean += x.data[s + i]!;
    mean /= block;
    let v = 0;
    for (let i = 0; i < block; i++) v += (x.data[s + i]! - mean) ** 2;
    v /= block;
    for (let i = 0; i < block; i++) {
      const [sc, bi] = affine(s + i);
      out[s + i] = ((x.data[s + i]! - mean) / Math.sqrt(v + eps)) * sc + bi;
    }
  }
  return { shape: x.shape, data: out };
}

export function layerNorm(x: Nd, scale: Nd, bias: Nd, eps = 1e-5): Nd {
  const d = x.shape.at(-1)!;
  return normBlocks(x, d, eps, (i) => [scale.data[i % d]!, bias.data[i % d]!]);
}

export function groupNorm(x: Nd, groups: number, scale: Nd, bias: Nd, eps = 1e-5): Nd {
  const c = x.shape[1]!;
  const spatial = size(x.shape.slice(2));
  return normBlocks(x, (c / groups) * spatial, eps, (i) => {
    const ch = Math.floor(i / spatial) % c;
    return [scale.data[ch]!, bias.data[ch]!];
  });
}

export function softmax(x: Nd): Nd {
  const d = x.shape.at(-1)!;
  const out = new Float64Array(x.data.length);
  for (let s = 0; s < x.data.length; s += d) {
    const row = x.data.subarray(s, s + d);
    const mx = Math.max(...row);
    const e = row.map((v) => Math.exp(v - mx));
    const sum = e.reduce((a, b) => a + b, 0);
    for (let i = 0; i < d; i++) out[s + i] = e[i]! / sum;
  }
  return { shape: x.shape, data: out };
}

/** erf with absolute error below 1.2e-7 (Numerical Recipes' erfc Chebyshev fit). */
export function erf(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const r =
    t *
    Math.exp(
      -z * z -
        1.26551223 +
        t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
    );
  return x >= 0 ? 1 - r : r - 1;
}

export const gelu = (v: number) => 0.5 * v * (1 + erf(v / Math.SQRT2));
export const geluTanh = (v: number) => 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v ** 3)));
export const sigmoid = (v: number) => 1 / (1 + Math.exp(-v));

/** Multi-head attention on [B, S, H*D] inputs with an optional additive mask [Sq, Sk]. */
export function attention(q: Nd, k: Nd, v: Nd, heads: number, mask?: Nd): Nd {
  const [b, sq, w] = q.shape as [number, number, number];
  const sk = k.shape[1]!;
  const d = w / heads;
  return nd([b, sq, w], ([bi, i, col]) => {
    const h = Math.floor(col! / d);
    const scores: number[] = [];
    for (let j = 0; j < sk; j++) {
      let s = 0;
      for (let t = 0; t < d; t++) s += at(q, [bi!, i!, h * d + t]) * at(k, [bi!, j, h * d + t]);
      scores.push(s / Math.sqrt(d) + (mask ? at(mask, [i!, j]) : 0));
    }
    const p = softmax({ shape: [sk], data: Float64Array.from(scores) }).data;
    let o = 0;
    for (let j = 0; j < sk; j++) o += p[j]! * at(v, [bi!, j, col!]);
    return o;
  });
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Infinity;
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}
