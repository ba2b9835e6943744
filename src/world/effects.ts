/**
 * Pixel post-processing for the world's styles, on float RGB images in [0, 1]:
 * Gaussian blur, edges, seeded value noise, displacement, grain, vignette,
 * palette quantisation, Voronoi cells, and rounding back to 8-bit pixels. Plain
 * loops over small images (64 x 64 for a 64-pixel render), deterministic.
 *
 * @example
 *   const img = blank(64, 64, [1, 1, 1]);  // a white FloatImage
 *   const soft = blur(img, 1.5);           // sigma in pixels
 *   const edges = sobel(luminance(soft), soft.w, soft.h);
 *   const raw = toRaw(soft);               // RawImage, 8-bit RGB
 */
import type { RawImage } from '../engine/image/index.ts';
import { Rng, mix32 } from './rng.ts';

export interface FloatImage {
  w: number;
  h: number;
  /** RGB, row-major, 3 floats per pixel, nominally in [0, 1]. */
  d: Float32Array;
}

export function blank(w: number, h: number, rgb: readonly [number, number, number] = [0, 0, 0]): FloatImage {
  const d = new Float32Array(w * h * 3);
  for (let i = 0; i < w * h; i++) {
    d[i * 3] = rgb[0];
    d[i * 3 + 1] = rgb[1];
    d[i * 3 + 2] = rgb[2];
  }
  return { w, h, d };
}

/** Rounds to 8 bits (clamped). */
export function toRaw(img: FloatImage): RawImage {
  const out = new Uint8Array(img.d.length);
  for (let i = 0; i < out.length; i++) {
    const v = img.d[i]! * 255;
    out[i] = v <= 0 ? 0 : v >= 255 ? 255 : Math.round(v);
  }
  return { width: img.w, height: img.h, data: out };
}

function gaussKernel(sigma: number): Float32Array {
  const r = Math.max(1, Math.ceil(sigma * 2.5));
  const k = new Float32Array(2 * r + 1);
  let sum = 0;
  for (let i = -r; i <= r; i++) sum += k[i + r] = Math.exp(-(i * i) / (2 * sigma * sigma));
  for (let i = 0; i < k.length; i++) k[i]! /= sum;
  return k;
}

/** Separable Gaussian blur of `channels` interleaved channels (clamped edges). */
function gaussian(src: Float32Array, w: number, h: number, channels: number, sigma: number): Float32Array {
  if (!(sigma >= 0.2)) return src;
  const k = gaussKernel(sigma);
  const r = (k.length - 1) / 2;
  const tmp = new Float32Array(src.length);
  const out = new Float32Array(src.length);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      for (let c = 0; c < channels; c++) {
        let acc = 0;
        for (let i = -r; i <= r; i++) {
          const xx = x + i < 0 ? 0 : x + i >= w ? w - 1 : x + i;
          acc += k[i + r]! * src[(y * w + xx) * channels + c]!;
        }
        tmp[(y * w + x) * channels + c] = acc;
      }
    }
  }
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      for (let c = 0; c < channels; c++) {
        let acc = 0;
        for (let i = -r; i <= r; i++) {
          const yy = y + i < 0 ? 0 : y + i >= h ? h - 1 : y + i;
          acc += k[i + r]! * tmp[(yy * w + x) * channels + c]!;
        }
        out[(y * w + x) * channels + c] = acc;
      }
    }
  }
  return out;
}

/** Gaussian blur of an RGB image with standard deviation `sigma` pixels (below 0.2: unchanged). */
export function blur(img: FloatImage, sigma: number): FloatImage {
  return { w: img.w, h: img.h, d: gaussian(img.d, img.w, img.h, 3, sigma) };
}

/** Gaussian blur of a one-channel image. */
export function blurGray(g: Float32Array, w: number, h: number, sigma: number): Float32Array {
  return gaussian(g, w, h, 1, sigma);
}

export function luminance(img: FloatImage): Float32Array {
  const out = new Float32Array(img.w * img.h);
  for (let i = 0; i < out.length; i++) out[i] = 0.299 * img.d[i * 3]! + 0.587 * img.d[i * 3 + 1]! + 0.114 * img.d[i * 3 + 2]!;
  return out;
}

/** Sobel gradient magnitude of a one-channel image (/4: a unit step gives 1). Clamped borders. */
export function sobel(g: Float32Array, w: number, h: number): Float32Array {
  const out = new Float32Array(w * h);
  for (let y = 0; y < h; y++) {
    const ym = (y > 0 ? y - 1 : 0) * w;
    const y0 = y * w;
    const yp = (y < h - 1 ? y + 1 : h - 1) * w;
    for (let x = 0; x < w; x++) {
      const xm = x > 0 ? x - 1 : 0;
      const xp = x < w - 1 ? x + 1 : w - 1;
      const a = g[ym + xm]!;
      const c = g[ym + xp]!;
      const gg = g[yp + xm]!;
      const ii = g[yp + xp]!;
      const gx = c + 2 * g[y0 + xp]! + ii - a - 2 * g[y0 + xm]! - gg;
      const gy = gg + 2 * g[yp + x]! + ii - a - 2 * g[ym + x]! - c;
      out[y0 + x] = Math.sqrt(gx * gx + gy * gy) * 0.25;
    }
  }
  return out;
}

/** Edges of a colour image: the largest per-channel Sobel magnitude (/4). */
export function colorEdges(img: FloatImage): Float32Array {
  const { w, h, d } = img;
  const out = new Float32Array(w * h);
  for (let y = 0; y < h; y++) {
    const ym = (y > 0 ? y - 1 : 0) * w;
    const y0 = y * w;
    const yp = (y < h - 1 ? y + 1 : h - 1) * w;
    for (let x = 0; x < w; x++) {
      const xm = x > 0 ? x - 1 : 0;
      const xp = x < w - 1 ? x + 1 : w - 1;
      let best = 0;
      for (let ch = 0; ch < 3; ch++) {
        const a = d[(ym + xm) * 3 + ch]!;
        const c = d[(ym + xp) * 3 + ch]!;
        const gg = d[(yp + xm) * 3 + ch]!;
        const ii = d[(yp + xp) * 3 + ch]!;
        const gx = c + 2 * d[(y0 + xp) * 3 + ch]! + ii - a - 2 * d[(y0 + xm) * 3 + ch]! - gg;
        const gy = gg + 2 * d[(yp + x) * 3 + ch]! + ii - a - 2 * d[(ym + x) * 3 + ch]! - c;
        const m = gx * gx + gy * gy;
        if (m > best) best = m;
      }
      out[y0 + x] = Math.sqrt(best) * 0.25;
    }
  }
  return out;
}

/**
 * Seeded fractal value noise in [0, 1] over a w x h grid: `octaves` layers, the
 * first with lattice cells of `cell` pixels, each next one half the size and weight.
 * `stretch` > 1 elongates features along x (streaks).
 */
export function valueNoise(seed: number, w: number, h: number, cell: number, octaves = 1, stretch = 1): Float32Array {
  const out = new Float32Array(w * h);
  let amp = 1;
  let total = 0;
  let c = Math.max(1, cell);
  for (let o = 0; o < octaves; o++) {
    const cx = c * stretch;
    const cy = c;
    const gw = Math.ceil(w / cx) + 2;
    const gh = Math.ceil(h / cy) + 2;
    const r = new Rng(mix32(seed, o));
    const lattice = new Float32Array(gw * gh);
    for (let i = 0; i < lattice.length; i++) lattice[i] = r.float();
    for (let y = 0; y < h; y++) {
      const fy = y / cy;
      const iy = Math.floor(fy);
      let ty = fy - iy;
      ty = ty * ty * (3 - 2 * ty);
      for (let x = 0; x < w; x++) {
        const fx = x / cx;
        const ix = Math.floor(fx);
        let tx = fx - ix;
        tx = tx * tx * (3 - 2 * tx);
        const a = lattice[iy * gw + ix]!;
        const b = lattice[iy * gw + ix + 1]!;
        const cc = lattice[(iy + 1) * gw + ix]!;
        const d = lattice[(iy + 1) * gw + ix + 1]!;
        out[y * w + x]! += amp * (a + (b - a) * tx + (cc - a + (a - b - cc + d) * tx) * ty);
      }
    }
    total += amp;
    amp *= 0.5;
    c = Math.max(1, c / 2);
  }
  for (let i = 0; i < out.length; i++) out[i]! /= total;
  return out;
}

/** Moves pixels by (nx - 0.5, ny - 0.5) * 2 * amp (noise fields in [0, 1]), bilinear, clamped. */
export function displace(img: FloatImage, nx: Float32Array, ny: Float32Array, amp: number): FloatImage {
  const { w, h, d } = img;
  const out = new Float32Array(d.length);
  const k = 2 * amp;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = y * w + x;
      let sx = x + (nx[i]! - 0.5) * k;
      let sy = y + (ny[i]! - 0.5) * k;
      sx = sx < 0 ? 0 : sx > w - 1 ? w - 1 : sx;
      sy = sy < 0 ? 0 : sy > h - 1 ? h - 1 : sy;
      const x0 = Math.floor(sx);
      const y0 = Math.floor(sy);
      const x1 = x0 < w - 1 ? x0 + 1 : x0;
      const y1 = y0 < h - 1 ? y0 + 1 : y0;
      const tx = sx - x0;
      const ty = sy - y0;
      const wa = (1 - tx) * (1 - ty);
      const wb = tx * (1 - ty);
      const wc = (1 - tx) * ty;
      const wd = tx * ty;
      const a = (y0 * w + x0) * 3;
      const b = (y0 * w + x1) * 3;
      const c = (y1 * w + x0) * 3;
      const e = (y1 * w + x1) * 3;
      const o = i * 3;
      out[o] = d[a]! * wa + d[b]! * wb + d[c]! * wc + d[e]! * wd;
      out[o + 1] = d[a + 1]! * wa + d[b + 1]! * wb + d[c + 1]! * wc + d[e + 1]! * wd;
      out[o + 2] = d[a + 2]! * wa + d[b + 2]! * wb + d[c + 2]! * wc + d[e + 2]! * wd;
    }
  }
  return { w, h, d: out };
}

/** Adds zero-mean uniform noise of the given amplitude (the same to all channels when mono). */
export function grain(img: FloatImage, seed: number, amount: number, mono = true): void {
  const r = new Rng(seed);
  for (let i = 0; i < img.w * img.h; i++) {
    const v = (r.float() - 0.5) * 2 * amount;
    for (let c = 0; c < 3; c++) img.d[i * 3 + c]! += mono ? v : (r.float() - 0.5) * 2 * amount;
  }
}

/** Darkens towards the corners: factor 1 - strength * (r / rmax)^2. */
export function vignette(img: FloatImage, strength: number): void {
  const { w, h } = img;
  const cx = (w - 1) / 2;
  const cy = (h - 1) / 2;
  const rmax = cx * cx + cy * cy;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const f = 1 - strength * (((x - cx) ** 2 + (y - cy) ** 2) / rmax);
      const i = (y * w + x) * 3;
      img.d[i]! *= f;
      img.d[i + 1]! *= f;
      img.d[i + 2]! *= f;
    }
  }
}

/** Scales the distance from grey per pixel (k > 1 saturates). */
export function saturate(img: FloatImage, k: number): void {
  for (let i = 0; i < img.w * img.h; i++) {
    const r = img.d[i * 3]!;
    const g = img.d[i * 3 + 1]!;
    const b = img.d[i * 3 + 2]!;
    const l = 0.299 * r + 0.587 * g + 0.114 * b;
    img.d[i * 3] = l + (r - l) * k;
    img.d[i * 3 + 1] = l + (g - l) * k;
    img.d[i * 3 + 2] = l + (b - l) * k;
  }
}

/** Nearest palette colour (RGB in [0, 1]) for each pixel. */
export function quantize(img: FloatImage, palette: readonly (readonly [number, number, number])[]): void {
  for (let i = 0; i < img.w * img.h; i++) {
    const r = img.d[i * 3]!;
    const g = img.d[i * 3 + 1]!;
    const b = img.d[i * 3 + 2]!;
    let best = 0;
    let bestD = Infinity;
    for (let k = 0; k < palette.length; k++) {
      const p = palette[k]!;
      // weighted distance, closer to perceived difference than plain RGB
      const d = 2 * (r - p[0]) ** 2 + 4 * (g - p[1]) ** 2 + 3 * (b - p[2]) ** 2;
      if (d < bestD) {
        bestD = d;
        best = k;
      }
    }
    const p = palette[best]!;
    img.d[i * 3] = p[0];
    img.d[i * 3 + 1] = p[1];
    img.d[i * 3 + 2] = p[2];
  }
}

export interface Voronoi {
  /** Index of the nearest site per pixel. */
  cell: Int32Array;
  /** Distance to the second-nearest site minus distance to the nearest (0 on borders). */
  border: Float32Array;
  sites: Float32Array;
}

/** Voronoi cells of jittered grid sites, `spacing` pixels apart. */
export function voronoi(w: number, h: number, spacing: number, seed: number, jitter = 0.8): Voronoi {
  const gw = Math.ceil(w / spacing);
  const gh = Math.ceil(h / spacing);
  const r = new Rng(seed);
  const sites = new Float32Array(gw * gh * 2);
  for (let gy = 0; gy < gh; gy++) {
    for (let gx = 0; gx < gw; gx++) {
      const k = (gy * gw + gx) * 2;
      sites[k] = (gx + 0.5 + (r.float() - 0.5) * jitter) * spacing;
      sites[k + 1] = (gy + 0.5 + (r.float() - 0.5) * jitter) * spacing;
    }
  }
  const cell = new Int32Array(w * h);
  const border = new Float32Array(w * h);
  for (let y = 0; y < h; y++) {
    const gy = Math.floor(y / spacing);
    for (let x = 0; x < w; x++) {
      const gx = Math.floor(x / spacing);
      let d1 = Infinity;
      let d2 = Infinity;
      let best = 0;
      for (let oy = -1; oy <= 1; oy++) {
        const yy = gy + oy;
        if (yy < 0 || yy >= gh) continue;
        for (let ox = -1; ox <= 1; ox++) {
          const xx = gx + ox;
          if (xx < 0 || xx >= gw) continue;
          const k = yy * gw + xx;
          const dx = sites[k * 2]! - x;
          const dy = sites[k * 2 + 1]! - y;
          const dd = dx * dx + dy * dy;
          if (dd < d1) {
            d2 = d1;
            d1 = dd;
            best = k;
          } else if (dd < d2) d2 = dd;
        }
      }
      cell[y * w + x] = best;
      border[y * w + x] = Math.sqrt(d2) - Math.sqrt(d1);
    }
  }
  return { cell, border, sites };
}
