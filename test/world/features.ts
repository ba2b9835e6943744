/**
 * Test helpers for the world: simple image features and a small softmax classifier
 * (full-batch gradient descent, zero init, so fully deterministic), used to check
 * that styles and contexts are separable without training a CNN.
 *
 * @example
 *   const clf = trainSoftmax(trainX, trainY, 14);
 *   clf(styleFeatures(img)); // predicted class index
 */
import type { RawImage } from '../../src/engine/image/index.ts';

/** Colour, saturation, hue, luminance and gradient histograms, high-frequency energy, blockiness, colour count. */
export function styleFeatures(im: RawImage): number[] {
  const { width: w, height: h, data } = im;
  const n = w * h;
  const L = new Float32Array(n);
  const lh = new Array<number>(8).fill(0);
  const sh = new Array<number>(4).fill(0);
  const hh = new Array<number>(6).fill(0);
  let mr = 0;
  let mg = 0;
  let mb = 0;
  for (let i = 0; i < n; i++) {
    const r = data[i * 3]! / 255;
    const g = data[i * 3 + 1]! / 255;
    const b = data[i * 3 + 2]! / 255;
    L[i] = 0.299 * r + 0.587 * g + 0.114 * b;
    mr += r;
    mg += g;
    mb += b;
    const mx = Math.max(r, g, b);
    const mn = Math.min(r, g, b);
    lh[Math.min(7, Math.floor(L[i]! * 8))]!++;
    sh[Math.min(3, Math.floor((mx - mn) * 4))]!++;
    if (mx - mn > 0.15) {
      const hue = mx === r ? ((g - b) / (mx - mn) + 6) % 6 : mx === g ? (b - r) / (mx - mn) + 2 : (r - g) / (mx - mn) + 4;
      hh[Math.min(5, Math.floor(hue))]!++;
    }
  }
  const gh = new Array<number>(5).fill(0);
  let hf = 0;
  let bnd = 0;
  let inn = 0;
  let nb = 0;
  let ni = 0;
  for (let y = 1; y < h - 1; y++) {
    for (let x = 1; x < w - 1; x++) {
      const i = y * w + x;
      const dx = Math.abs(L[i]! - L[i - 1]!);
      const g = dx + Math.abs(L[i]! - L[i - w]!);
      gh[g < 0.02 ? 0 : g < 0.06 ? 1 : g < 0.15 ? 2 : g < 0.35 ? 3 : 4]!++;
      hf += Math.abs(4 * L[i]! - L[i - 1]! - L[i + 1]! - L[i - w]! - L[i + w]!);
      if (x % 3 === 0) {
        bnd += dx;
        nb++;
      } else {
        inn += dx;
        ni++;
      }
    }
  }
  const colors = new Set<number>();
  for (let i = 0; i < n; i++) colors.add(((data[i * 3]! >> 3) << 10) | ((data[i * 3 + 1]! >> 3) << 5) | (data[i * 3 + 2]! >> 3));
  return [
    mr / n, mg / n, mb / n,
    ...lh.map((v) => v / n), ...sh.map((v) => v / n), ...hh.map((v) => v / n), ...gh.map((v) => v / n),
    hf / n, bnd / nb / (inn / ni + 1e-3), Math.log(colors.size),
  ];
}

/** An 8x8 RGB thumbnail plus a 16-band profile of horizontal edges (layout of the background). */
export function layoutFeatures(im: RawImage): number[] {
  const w = im.width;
  const s = w / 8;
  const f: number[] = [];
  for (let by = 0; by < 8; by++) {
    for (let bx = 0; bx < 8; bx++) {
      let r = 0;
      let g = 0;
      let b = 0;
      for (let y = by * s; y < (by + 1) * s; y++) {
        for (let x = bx * s; x < (bx + 1) * s; x++) {
          const i = (y * w + x) * 3;
          r += im.data[i]!;
          g += im.data[i + 1]!;
          b += im.data[i + 2]!;
        }
      }
      f.push(r / s / s / 255, g / s / s / 255, b / s / s / 255);
    }
  }
  const band = w / 16;
  for (let by = 0; by < 16; by++) {
    let e = 0;
    for (let y = by * band; y < (by + 1) * band; y++) {
      for (let x = 1; x < w; x++) {
        const i = (y * w + x) * 3;
        e += Math.abs(im.data[i]! - im.data[i - 3]!) + Math.abs(im.data[i + 1]! - im.data[i - 2]!);
      }
    }
    f.push(e / (band * w * 255));
  }
  return f;
}

/** Multinomial logistic regression on standardised features; returns a predictor. */
export function trainSoftmax(X: number[][], y: number[], k: number, iters = 300, lr = 0.5, l2 = 1e-3): (x: number[]) => number {
  const d = X[0]!.length;
  const mu = new Array<number>(d).fill(0);
  const sd = new Array<number>(d).fill(0);
  for (const x of X) x.forEach((v, j) => (mu[j]! += v / X.length));
  for (const x of X) x.forEach((v, j) => (sd[j]! += (v - mu[j]!) ** 2 / X.length));
  const z = (x: number[]) => [...x.map((v, j) => (v - mu[j]!) / Math.sqrt(sd[j]! + 1e-9)), 1];
  const Z = X.map(z);
  const W = Array.from({ length: k }, () => new Array<number>(d + 1).fill(0));
  const probs = (zx: number[]) => {
    const s = W.map((w) => w.reduce((a, v, j) => a + v * zx[j]!, 0));
    const m = Math.max(...s);
    const e = s.map((v) => Math.exp(v - m));
    const t = e.reduce((a, b) => a + b, 0);
    return e.map((v) => v / t);
  };
  for (let it = 0; it < iters; it++) {
    const G = Array.from({ length: k }, () => new Array<number>(d + 1).fill(0));
    Z.forEach((zx, i) => {
      const p = probs(zx);
      for (let c = 0; c < k; c++) {
        const g = p[c]! - (y[i] === c ? 1 : 0);
        for (let j = 0; j <= d; j++) G[c]![j]! += (g * zx[j]!) / Z.length;
      }
    });
    for (let c = 0; c < k; c++) for (let j = 0; j <= d; j++) W[c]![j]! -= lr * (G[c]![j]! + l2 * W[c]![j]!);
  }
  return (x: number[]) => {
    const p = probs(z(x));
    return p.indexOf(Math.max(...p));
  };
}

/** Mean absolute difference per channel value (0-255). */
export function meanAbsDiff(a: RawImage, b: RawImage): number {
  let s = 0;
  for (let i = 0; i < a.data.length; i++) s += Math.abs(a.data[i]! - b.data[i]!);
  return s / a.data.length;
}
