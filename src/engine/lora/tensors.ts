/**
 * Materialising a module's tensors as Float32 (F32/F16/BF16/F64 converted): the
 * LoRA factors as matrices, and the exact dense dW for any algorithm. The update a
 * module applies is ΔW = module.scale · dW.
 *
 * @example
 *   const st = await SafetensorsFile.open(lora.path);
 *   const { down, up } = await loraFactors(st, lora.modules[0]);   // down [r, in·kh·kw], up [out, r]
 *   const dW = await denseDelta(st, lora.modules[0]);              // shape = the base weight's
 *   await st.close();
 */
import type { Factors, LoraModule, TensorRef } from './types.ts';

/** Anything that reads a named tensor as Float32 (a `SafetensorsFile`, or a map in tests). */
export interface TensorSource {
  readFloat32(name: string): Promise<Float32Array>;
}

/** C[m, n] = A[m, k] · B[k, n]. */
export function matmul(a: Float32Array, b: Float32Array, m: number, k: number, n: number): Float32Array {
  const c = new Float32Array(m * n);
  for (let i = 0; i < m; i++) {
    const row = i * n;
    for (let p = 0; p < k; p++) {
      const av = a[i * k + p]!;
      if (av === 0) continue;
      const brow = p * n;
      for (let j = 0; j < n; j++) c[row + j]! += av * b[brow + j]!;
    }
  }
  return c;
}

/** Kronecker product of A [p, q] and B [r, s] -> [p·r, q·s]. */
export function kron(a: Float32Array, p: number, q: number, b: Float32Array, r: number, s: number): Float32Array {
  const cols = q * s;
  const out = new Float32Array(p * r * cols);
  for (let i = 0; i < p; i++) {
    for (let j = 0; j < q; j++) {
      const av = a[i * q + j]!;
      for (let k = 0; k < r; k++) {
        const o = (i * r + k) * cols + j * s;
        const bo = k * s;
        for (let l = 0; l < s; l++) out[o + l] = av * b[bo + l]!;
      }
    }
  }
  return out;
}

function transpose(a: Float32Array, rows: number, cols: number): Float32Array {
  const t = new Float32Array(a.length);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) t[j * rows + i] = a[i * cols + j]!;
  return t;
}

/**
 * The CP (Tucker) reconstruction LyCORIS uses: W[p, q, kh, kw] = Σ_ij t[i, j, kh, kw] · wa[i, p] · wb[j, q],
 * with t [r1, r2, kh, kw], wa [r1, P], wb [r2, Q]; returned flat as [P, Q·kh·kw].
 */
export function cpWeight(t: Float32Array, tShape: number[], wa: Float32Array, P: number, wb: Float32Array, Q: number): Float32Array {
  const [r1, r2, kh, kw] = tShape as [number, number, number, number];
  const kk = kh * kw;
  // U[i, q, k] = Σ_j t[i, j, k] wb[j, q]
  const u = new Float32Array(r1 * Q * kk);
  for (let i = 0; i < r1; i++) {
    for (let j = 0; j < r2; j++) {
      for (let q = 0; q < Q; q++) {
        const w = wb[j * Q + q]!;
        if (w === 0) continue;
        const uo = (i * Q + q) * kk;
        const to = (i * r2 + j) * kk;
        for (let k = 0; k < kk; k++) u[uo + k]! += t[to + k]! * w;
      }
    }
  }
  return matmul(transpose(wa, r1, P), u, P, r1, Q * kk);
}

async function read(src: TensorSource, r: TensorRef): Promise<Float32Array> {
  return src.readFloat32(r.name);
}

const cols = (r: TensorRef) => r.shape.slice(1).reduce((a, n) => a * n, 1);

/** A LoRA module's factors as matrices: down [r, in·kh·kw] (mid folded in), up [out, r]. */
export async function loraFactors(src: TensorSource, m: LoraModule): Promise<{ down: Float32Array; up: Float32Array; rank: number }> {
  const f = m.factors;
  if (f.algo !== 'lora') throw new TypeError(`loraFactors: module ${m.target} is ${f.algo}, not low-rank; use denseDelta`);
  const up = await read(src, f.up);
  let down = await read(src, f.down);
  const r = f.down.shape[0]!;
  if (f.mid) {
    const mid = await read(src, f.mid);
    const [mr, , kh, kw] = f.mid.shape as [number, number, number, number];
    const inp = f.down.shape[1]!;
    // down'[n, j, k] = Σ_m mid[n, m, k] · down[m, j]
    const kk = kh * kw;
    const out = new Float32Array(mr * inp * kk);
    for (let n = 0; n < mr; n++) {
      for (let mm = 0; mm < r; mm++) {
        for (let j = 0; j < inp; j++) {
          const d = down[mm * inp + j]!;
          if (d === 0) continue;
          const o = (n * inp + j) * kk;
          const mo = (n * r + mm) * kk;
          for (let k = 0; k < kk; k++) out[o + k]! += mid[mo + k]! * d;
        }
      }
    }
    return { down: out, up, rank: mr };
  }
  return { down, up, rank: r };
}

async function side(src: TensorSource, a: TensorRef, b: TensorRef, t: TensorRef | undefined): Promise<{ w: Float32Array; rows: number; cols: number }> {
  const [av, bv] = [await read(src, a), await read(src, b)];
  if (t) {
    const tv = await read(src, t);
    const rows = a.shape[1]!;
    const c = b.shape[1]! * t.shape[2]! * t.shape[3]!;
    return { w: cpWeight(tv, t.shape, av, rows, bv, b.shape[1]!), rows, cols: c };
  }
  return { w: matmul(av, bv, a.shape[0]!, a.shape[1]!, b.shape[1]!), rows: a.shape[0]!, cols: b.shape[1]! };
}

async function dense(src: TensorSource, f: Factors): Promise<Float32Array> {
  switch (f.algo) {
    case 'lora':
      throw new TypeError('unreachable');
    case 'full':
      return read(src, f.diff);
    case 'loha': {
      const s1 = await side(src, f.w1a, f.w1b, f.t1);
      const s2 = await side(src, f.w2a, f.w2b, f.t2);
      const w = s1.w;
      for (let i = 0; i < w.length; i++) w[i]! *= s2.w[i]!;
      return w;
    }
    case 'lokr': {
      const w1 = f.w1 ? { w: await read(src, f.w1), rows: f.w1.shape[0]!, cols: f.w1.shape[1]! } : await side(src, f.w1a!, f.w1b!, undefined);
      const w2 = f.w2 ? { w: await read(src, f.w2), rows: f.w2.shape[0]!, cols: cols(f.w2) } : await side(src, f.w2a!, f.w2b!, f.t2);
      return kron(w1.w, w1.rows, w1.cols, w2.w, w2.rows, w2.cols);
    }
  }
}

/**
 * The exact dense dW of a module (unscaled: ΔW = module.scale · dW), flat in the
 * base weight's layout [out, in] or [out, in, kh, kw].
 */
export async function denseDelta(src: TensorSource, m: LoraModule): Promise<{ data: Float32Array; shape: number[] }> {
  const b = m.base;
  const shape = b.kind === 'linear' ? [b.outFeatures, b.inFeatures] : [b.outFeatures, b.inFeatures, ...b.kernel];
  if (m.factors.algo === 'lora') {
    const { down, up, rank } = await loraFactors(src, m);
    return { data: matmul(up, down, b.outFeatures, rank, down.length / rank), shape };
  }
  return { data: await dense(src, m.factors), shape };
}
