/**
 * How each world style looks: what it changes in the SVG (colour mapping, outlines,
 * shading) and the pixel post-processing applied after rasterisation (edges,
 * textures, palettes, cells). Post-processing works on the supersampled image; `u`
 * is its number of pixels per world unit (the canvas is 64 units wide), so every
 * texture scales with the render size.
 *
 * @example
 *   const impl = styleImpl('watercolor');
 *   const paint = impl.paint;                       // used while drawing the SVG
 *   const out = impl.post(img, { u: 2, seed: 7 });  // FloatImage -> FloatImage
 */
import { deriveSeed, mix32 } from './rng.ts';
import {
  blank,
  blur,
  blurGray,
  colorEdges,
  displace,
  grain,
  luminance,
  quantize,
  saturate,
  sobel,
  valueNoise,
  vignette,
  voronoi,
  type FloatImage,
} from './effects.ts';
import { mixHex, resolveColor, saturateHex, type Paint } from './svg.ts';

export interface PostContext {
  /** Pixels per world unit of the image being processed. */
  u: number;
  /** The scene's seed (textures derive their own streams from it). */
  seed: number;
}

export interface StyleImpl {
  paint: Paint;
  /** Outline every shape: colour and width in world units (details get `detailWidth`). */
  outline?: { color: string; width: number; detailWidth: number };
  /** A soft shadow under the subject (photo-like styles). */
  shadow?: boolean;
  post(img: FloatImage, ctx: PostContext): FloatImage;
}

const clamp01 = (v: number) => (v < 0 ? 0 : v > 1 ? 1 : v);
const identity: Paint = { c: resolveColor };
const none = (img: FloatImage) => img;

function mapPixels(img: FloatImage, f: (r: number, g: number, b: number, i: number, out: Float32Array, o: number) => void): FloatImage {
  const out = new Float32Array(img.d.length);
  for (let i = 0; i < img.w * img.h; i++) f(img.d[i * 3]!, img.d[i * 3 + 1]!, img.d[i * 3 + 2]!, i, out, i * 3);
  return { w: img.w, h: img.h, d: out };
}

function photo(img: FloatImage, { u, seed }: PostContext): FloatImage {
  const out = blur(img, 0.45 * u);
  const { w, h } = out;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const light = 1.12 - 0.3 * ((x / w) * 0.6 + (y / h) * 0.4);
      const i = (y * w + x) * 3;
      out.d[i] = out.d[i]! * light * 1.05;
      out.d[i + 1] = out.d[i + 1]! * light;
      out.d[i + 2] = out.d[i + 2]! * light * 0.9;
    }
  }
  grain(out, deriveSeed(seed, 'photo-grain'), 0.03);
  vignette(out, 0.4);
  return out;
}

function sketch(img: FloatImage, { u, seed }: PostContext): FloatImage {
  const { w, h } = img;
  const wob = 0.5 * u;
  const moved = displace(img, valueNoise(deriveSeed(seed, 'sk-x'), w, h, 3 * u), valueNoise(deriveSeed(seed, 'sk-y'), w, h, 3 * u), wob);
  const lum = luminance(moved);
  const edges = sobel(lum, w, h);
  const paper = valueNoise(deriveSeed(seed, 'sk-paper'), w, h, 0.7 * u);
  const period = Math.max(2, Math.round(2.5 * u));
  const thick = Math.max(1, Math.round(0.6 * u));
  const out = new Float32Array(img.d.length);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = y * w + x;
      const L = lum[i]!;
      let v = 0.97 - 0.05 * paper[i]!;
      v -= 0.75 * clamp01(edges[i]! * 4 - 0.05);
      if (L < 0.62 && (x + y) % period < thick) v -= 0.35 + 0.4 * (0.62 - L);
      if (L < 0.36 && ((x - y) % period + period) % period < thick) v -= 0.3;
      v = clamp01(v);
      out[i * 3] = v;
      out[i * 3 + 1] = v * 0.99;
      out[i * 3 + 2] = v * 0.96;
    }
  }
  return { w, h, d: out };
}

function pastel(img: FloatImage, { u }: PostContext): FloatImage {
  return blur(img, 0.4 * u);
}

function sepia(img: FloatImage, { u, seed }: PostContext): FloatImage {
  const soft = blur(img, 0.4 * u);
  const out = mapPixels(soft, (r, g, b, _i, o, k) => {
    const L = clamp01((0.299 * r + 0.587 * g + 0.114 * b - 0.5) * 1.15 + 0.5);
    o[k] = 0.22 + 0.78 * L;
    o[k + 1] = 0.12 + 0.8 * L;
    o[k + 2] = 0.05 + 0.68 * L;
  });
  grain(out, deriveSeed(seed, 'sepia-grain'), 0.03);
  vignette(out, 0.45);
  return out;
}

function blueprint(img: FloatImage, { u }: PostContext): FloatImage {
  const { w, h } = img;
  const edges = colorEdges(img);
  const gridStep = 8 * u;
  const bg = [0.1, 0.3, 0.6] as const;
  const out = new Float32Array(img.d.length);
  for (let y = 0; y < h; y++) {
    const gy = y % gridStep < 1 ? 1 : 0;
    for (let x = 0; x < w; x++) {
      const i = y * w + x;
      const grid = gy || x % gridStep < 1 ? 0.18 : 0;
      const line = clamp01(edges[i]! * 5 - 0.08);
      const t = Math.max(grid, line * 0.92);
      out[i * 3] = bg[0] + (0.92 - bg[0]) * t;
      out[i * 3 + 1] = bg[1] + (0.96 - bg[1]) * t;
      out[i * 3 + 2] = bg[2] + (1 - bg[2]) * t;
    }
  }
  return { w, h, d: out };
}

function crayon(img: FloatImage, { u, seed }: PostContext): FloatImage {
  const { w, h } = img;
  const moved = displace(img, valueNoise(deriveSeed(seed, 'cr-x'), w, h, 1.2 * u), valueNoise(deriveSeed(seed, 'cr-y'), w, h, 1.2 * u), 0.7 * u);
  const streak = valueNoise(deriveSeed(seed, 'cr-streak'), w, h, 0.5 * u, 2, 5);
  const paper = [0.99, 0.97, 0.9] as const;
  return mapPixels(moved, (r, g, b, i, o, k) => {
    const t = clamp01((streak[i]! - 0.58) * 5);
    o[k] = r + (paper[0] - r) * t;
    o[k + 1] = g + (paper[1] - g) * t;
    o[k + 2] = b + (paper[2] - b) * t;
  });
}

function watercolor(img: FloatImage, { u, seed }: PostContext): FloatImage {
  const { w, h } = img;
  const moved = displace(img, valueNoise(deriveSeed(seed, 'wc-x'), w, h, 5 * u, 2), valueNoise(deriveSeed(seed, 'wc-y'), w, h, 5 * u, 2), 1.8 * u);
  const soft = blur(moved, 0.8 * u);
  const edges = sobel(luminance(soft), w, h);
  const bloom = valueNoise(deriveSeed(seed, 'wc-bloom'), w, h, 9 * u, 2);
  const tex = valueNoise(deriveSeed(seed, 'wc-paper'), w, h, 0.8 * u);
  const paper = [1, 0.985, 0.95] as const;
  return mapPixels(soft, (r, g, b, i, o, k) => {
    const wash = 0.42 + 0.12 * bloom[i]!;
    const rim = 1 - 0.55 * clamp01(edges[i]! * 5);
    const t = (0.94 + 0.06 * tex[i]!) * rim;
    o[k] = (r + (paper[0] - r) * wash) * t;
    o[k + 1] = (g + (paper[1] - g) * wash) * t;
    o[k + 2] = (b + (paper[2] - b) * wash) * t;
  });
}

/** A 16-colour palette for pixel art (chosen for the world's colours). */
const PIXEL_PALETTE: readonly (readonly [number, number, number])[] = [
  '#0b0b14', '#1e2a5a', '#6a2550', '#1d6b3a', '#9a5426', '#5a5a6a', '#b8bcc4', '#fff6ea',
  '#ff2448', '#ffa300', '#ffe14a', '#2fc24a', '#66c8ff', '#3a62d8', '#ff77a8', '#f0d08e',
].map((hex) => {
  const v = parseInt(hex.slice(1), 16);
  return [((v >> 16) & 255) / 255, ((v >> 8) & 255) / 255, (v & 255) / 255] as const;
});

function pixelArt(img: FloatImage, { u }: PostContext): FloatImage {
  const { w, h } = img;
  const block = Math.max(1, Math.round(3 * u));
  const bw = Math.ceil(w / block);
  const bh = Math.ceil(h / block);
  const small = blank(bw, bh);
  for (let by = 0; by < bh; by++) {
    for (let bx = 0; bx < bw; bx++) {
      // average of the block's central half: crisp, without edge mush
      let r = 0;
      let g = 0;
      let b = 0;
      let cnt = 0;
      const q = Math.floor(block / 4);
      for (let y = by * block + q; y < Math.min(h, (by + 1) * block - q); y++) {
        for (let x = bx * block + q; x < Math.min(w, (bx + 1) * block - q); x++) {
          const i = (y * w + x) * 3;
          r += img.d[i]!;
          g += img.d[i + 1]!;
          b += img.d[i + 2]!;
          cnt++;
        }
      }
      const o = (by * bw + bx) * 3;
      small.d[o] = r / Math.max(1, cnt);
      small.d[o + 1] = g / Math.max(1, cnt);
      small.d[o + 2] = b / Math.max(1, cnt);
    }
  }
  saturate(small, 1.25);
  quantize(small, PIXEL_PALETTE);
  const out = new Float32Array(img.d.length);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const o = (Math.floor(y / block) * bw + Math.floor(x / block)) * 3;
      const i = (y * w + x) * 3;
      out[i] = small.d[o]!;
      out[i + 1] = small.d[o + 1]!;
      out[i + 2] = small.d[o + 2]!;
    }
  }
  return { w, h, d: out };
}

function neon(img: FloatImage, { u }: PostContext): FloatImage {
  const { w, h } = img;
  const soft = blur(img, 0.4 * u);
  const edges = colorEdges(soft);
  const hue = blur(img, 1.2 * u);
  const lines = new Float32Array(img.d.length);
  const core = new Float32Array(w * h);
  for (let i = 0; i < w * h; i++) {
    const s = clamp01((edges[i]! - 0.03) * 6);
    let r = hue.d[i * 3]!;
    let g = hue.d[i * 3 + 1]!;
    let b = hue.d[i * 3 + 2]!;
    const mx = Math.max(r, g, b);
    const mn = Math.min(r, g, b);
    if (mx - mn < 0.12) {
      // greys glow cyan (light) or magenta (dark)
      [r, g, b] = mx > 0.5 ? [0.2, 1, 1] : [1, 0.2, 0.9];
    } else {
      r = (r - mn) / (mx - mn);
      g = (g - mn) / (mx - mn);
      b = (b - mn) / (mx - mn);
    }
    lines[i * 3] = r * s;
    lines[i * 3 + 1] = g * s;
    lines[i * 3 + 2] = b * s;
    core[i] = s * s;
  }
  const lineImg = { w, h, d: lines };
  const glow = blur(lineImg, 1.6 * u);
  const out = new Float32Array(img.d.length);
  for (let i = 0; i < w * h; i++) {
    const bgv = 0.02 + 0.05 * (i / (w * h));
    const c = core[i]! * 0.45;
    out[i * 3] = 0.03 + bgv * 0.6 + glow.d[i * 3]! * 1.7 + lines[i * 3]! + c;
    out[i * 3 + 1] = 0.01 + glow.d[i * 3 + 1]! * 1.7 + lines[i * 3 + 1]! + c;
    out[i * 3 + 2] = 0.07 + bgv + glow.d[i * 3 + 2]! * 1.7 + lines[i * 3 + 2]! + c;
  }
  return { w, h, d: out };
}

function stainedGlass(img: FloatImage, { u, seed }: PostContext): FloatImage {
  const { w, h } = img;
  const spacing = 5 * u;
  const v = voronoi(w, h, spacing, deriveSeed(seed, 'glass'));
  const nSites = v.sites.length / 2;
  const sum = new Float32Array(nSites * 4);
  for (let i = 0; i < w * h; i++) {
    const c = v.cell[i]! * 4;
    sum[c]! += img.d[i * 3]!;
    sum[c + 1]! += img.d[i * 3 + 1]!;
    sum[c + 2]! += img.d[i * 3 + 2]!;
    sum[c + 3]! += 1;
  }
  const cellColor = new Float32Array(nSites * 3);
  for (let k = 0; k < nSites; k++) {
    const cnt = Math.max(1, sum[k * 4 + 3]!);
    let r = sum[k * 4]! / cnt;
    let g = sum[k * 4 + 1]! / cnt;
    let b = sum[k * 4 + 2]! / cnt;
    const l = 0.299 * r + 0.587 * g + 0.114 * b;
    const jit = 0.92 + 0.16 * ((mix32(seed, k) & 255) / 255);
    r = clamp01((l + (r - l) * 1.8) * 1.05 * jit);
    g = clamp01((l + (g - l) * 1.8) * 1.05 * jit);
    b = clamp01((l + (b - l) * 1.8) * 1.05 * jit);
    cellColor[k * 3] = r;
    cellColor[k * 3 + 1] = g;
    cellColor[k * 3 + 2] = b;
  }
  const edges = colorEdges(img);
  const lead = 0.9 * u;
  const out = new Float32Array(img.d.length);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = y * w + x;
      const k = v.cell[i]!;
      const isLead = v.border[i]! < lead || edges[i]! > 0.09;
      if (isLead) {
        out[i * 3] = 0.06;
        out[i * 3 + 1] = 0.05;
        out[i * 3 + 2] = 0.05;
        continue;
      }
      const dx = v.sites[k * 2]! - x;
      const dy = v.sites[k * 2 + 1]! - y;
      const glow = 1.12 - 0.35 * Math.min(1, Math.sqrt(dx * dx + dy * dy) / spacing);
      out[i * 3] = cellColor[k * 3]! * glow;
      out[i * 3 + 1] = cellColor[k * 3 + 1]! * glow;
      out[i * 3 + 2] = cellColor[k * 3 + 2]! * glow;
    }
  }
  return { w, h, d: out };
}

function woodcut(img: FloatImage, { u, seed }: PostContext): FloatImage {
  const { w, h } = img;
  const soft = blur(img, 0.4 * u);
  const lum = luminance(soft);
  const local = blurGray(lum, w, h, 2.5 * u);
  const edges = colorEdges(soft);
  const wave = valueNoise(deriveSeed(seed, 'wood'), w, h, 10 * u);
  const period = Math.max(3, 3.4 * u);
  const ink = [0.08, 0.07, 0.06] as const;
  const paper = [0.94, 0.89, 0.77] as const;
  const out = new Float32Array(img.d.length);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = y * w + x;
      const phase = (y + 2.2 * u * Math.sin((2 * Math.PI * x) / (16 * u)) + 3 * u * wave[i]!) / period;
      const t = 0.5 + 0.5 * Math.sin(2 * Math.PI * phase);
      const L = clamp01((lum[i]! - 0.5) * 1.3 + 0.5);
      let dark = L < 0.15 + 0.6 * t;
      // outlines are cut: ink lines in light areas, white lines carved out of dark ones
      if (edges[i]! > 0.07) dark = local[i]! > 0.3;
      const c = dark ? ink : paper;
      out[i * 3] = c[0];
      out[i * 3 + 1] = c[1];
      out[i * 3 + 2] = c[2];
    }
  }
  return { w, h, d: out };
}

function mosaic(img: FloatImage, { u, seed }: PostContext): FloatImage {
  const { w, h } = img;
  const rowH = Math.max(2, Math.round(4 * u));
  const grout = Math.max(1, Math.round(0.75 * u));
  const groutC = [0.8, 0.78, 0.74] as const;
  const out = new Float32Array(img.d.length);
  let row = 0;
  for (let y0 = 0; y0 < h; y0 += rowH, row++) {
    const y1 = Math.min(h, y0 + rowH);
    const r = mix32(seed, 0x5eed, row);
    let x0 = -Math.round(((r & 1023) / 1023) * 3 * u);
    let tile = 0;
    while (x0 < w) {
      const tr = mix32(r, tile++);
      const tw = Math.max(2, Math.round((3 + 2 * ((tr & 255) / 255)) * u));
      const x1 = Math.min(w, x0 + tw);
      const xs = Math.max(0, x0);
      let cr = 0;
      let cg = 0;
      let cb = 0;
      let cnt = 0;
      for (let y = y0; y < y1; y++) {
        for (let x = xs; x < x1; x++) {
          const i = (y * w + x) * 3;
          cr += img.d[i]!;
          cg += img.d[i + 1]!;
          cb += img.d[i + 2]!;
          cnt++;
        }
      }
      const jit = 0.9 + 0.2 * (((tr >>> 8) & 255) / 255);
      cr = (cr / Math.max(1, cnt)) * jit;
      cg = (cg / Math.max(1, cnt)) * jit;
      cb = (cb / Math.max(1, cnt)) * jit;
      for (let y = y0; y < y1; y++) {
        for (let x = xs; x < x1; x++) {
          const i = (y * w + x) * 3;
          const isGrout = x - x0 < grout || y - y0 < grout;
          // a slight bevel: lighter near the tile's top-left
          const bevel = 1.06 - 0.12 * ((x - x0) / tw + (y - y0) / rowH) / 2;
          out[i] = isGrout ? groutC[0] : cr * bevel;
          out[i + 1] = isGrout ? groutC[1] : cg * bevel;
          out[i + 2] = isGrout ? groutC[2] : cb * bevel;
        }
      }
      x0 = x1;
    }
  }
  return { w, h, d: out };
}

const pastelPaint: Paint = { c: (col) => mixHex(saturateHex(resolveColor(col), 0.75), '#ffffff', 0.5) };
const vivid: Paint = { c: (col) => saturateHex(resolveColor(col), 1.35) };

const IMPLS: Record<string, StyleImpl> = {
  flat: { paint: identity, post: none },
  photo: { paint: identity, shadow: true, post: photo },
  cartoon: { paint: vivid, outline: { color: '#111111', width: 1.1, detailWidth: 0.5 }, post: none },
  sketch: { paint: identity, post: sketch },
  pastel: { paint: pastelPaint, post: pastel },
  sepia: { paint: identity, shadow: true, post: sepia },
  blueprint: { paint: identity, post: blueprint },
  crayon: { paint: vivid, outline: { color: '#3b2a1c', width: 0.6, detailWidth: 0.3 }, post: crayon },
  watercolor: { paint: identity, post: watercolor },
  'pixel-art': { paint: identity, post: pixelArt },
  neon: { paint: identity, post: neon },
  'stained-glass': { paint: vivid, post: stainedGlass },
  woodcut: { paint: identity, post: woodcut },
  mosaic: { paint: identity, post: mosaic },
};

/** The implementation of a style id (see catalog.ts STYLES). */
export function styleImpl(styleId: string): StyleImpl {
  const impl = IMPLS[styleId];
  if (!impl) throw new RangeError(`styleImpl: no implementation for style "${styleId}"`);
  return impl;
}

/** Style ids that have an implementation (tests check it covers STYLES). */
export const IMPLEMENTED_STYLES: readonly string[] = Object.keys(IMPLS);
