/**
 * Renders world scenes to pixels: the scene becomes an SVG (context background,
 * then the subject placed by its layout, with the style's colours, outlines and
 * shading), librsvg rasterises it at twice the asked size, the style's pixel
 * post-processing runs on that, and a 2x box filter gives the final anti-aliased
 * RGB image. Deterministic: the same scene gives byte-identical pixels.
 *
 * @example
 *   const scene = sampleScene(1, { classId: 'dog', styleId: 'watercolor' });
 *   const img = await renderScene(scene);           // RawImage 64 x 64 RGB
 *   const imgs = await renderScenes(scenes, 64, 4); // in order, 4 at a time
 */
import { rasterizeSvgRgba, type RawImage } from '../engine/image/index.ts';
import { ZipbankError } from '../errors/index.ts';
import { getClass, getContext, getStyle } from './catalog.ts';
import { drawContext } from './contexts.ts';
import { toRaw, type FloatImage } from './effects.ts';
import { Rng, deriveSeed } from './rng.ts';
import type { Scene } from './scene.ts';
import { styleImpl } from './styles.ts';
import { drawSubject } from './subjects.ts';
import { n } from './svg.ts';

export const MIN_SIZE = 16;
export const MAX_SIZE = 1024;
/** Rasterisation happens at this multiple of the output size. */
export const SUPERSAMPLE = 2;

export interface SvgOptions {
  /** Draw the background (default true). */
  background?: boolean;
  /** Draw the subject (default true). */
  subject?: boolean;
}

function withDetailWidth(svg: string, width: number | undefined): string {
  return width === undefined ? svg : svg.replaceAll('<g class="detail">', `<g class="detail" stroke-width="${n(width)}">`);
}

/**
 * The SVG elements of a scene on the 64 x 64 unit canvas. Flat fills only (no
 * gradients, masks or filters): gradients under rotation rasterise with
 * position-dependent rounding, and a scene must not depend on its atlas slot.
 */
function sceneBody(scene: Scene, o: SvgOptions = {}): string {
  getClass(scene.classId);
  getContext(scene.contextId);
  getStyle(scene.styleId);
  const impl = styleImpl(scene.styleId);
  const p = impl.paint;
  const L = scene.layout;
  const s = L.size / 100;
  const parts: string[] = [];
  const outline = impl.outline;
  const strokeAttrs = (scale: number) =>
    outline ? ` stroke="${outline.color}" stroke-width="${n(outline.width / scale)}" stroke-linejoin="round"` : '';
  if (o.background !== false) {
    const bg = drawContext(scene.contextId, new Rng(deriveSeed(scene.seed, 'background')), p);
    parts.push(`<g${strokeAttrs(1)}>${withDetailWidth(bg, outline?.detailWidth)}</g>`);
  }
  if (o.subject !== false) {
    const tf = `translate(${n(L.cx)} ${n(L.cy)}) rotate(${n(L.rotation)}) scale(${n(L.flip ? -s : s)} ${n(s)}) translate(-50 -50)`;
    if (impl.shadow && o.background !== false) {
      parts.push(`<ellipse cx="${n(L.cx)}" cy="${n(L.cy + L.size / 2 - 0.5)}" rx="${n(L.size * 0.42)}" ry="${n(L.size * 0.06)}" fill="#000000" opacity="0.28"/>`);
    }
    const subject = drawSubject(scene.classId, scene.attributes, p);
    parts.push(`<g transform="${tf}"${strokeAttrs(s)}>${withDetailWidth(subject, outline ? outline.detailWidth / s : undefined)}</g>`);
  }
  return parts.join('');
}

/**
 * The SVG of a scene (before pixel post-processing), `pixels` wide and high, on the
 * 64 x 64 unit canvas. Unknown ids are ZipbankErrors.
 */
export function sceneSvg(scene: Scene, pixels: number, o: SvgOptions = {}): string {
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${pixels}" height="${pixels}" viewBox="0 0 64 64">${sceneBody(scene, o)}</svg>`;
}

/** Scenes per rasterised atlas (one librsvg call draws this many scenes side by side). */
export const ATLAS = 16;
const ATLAS_COLS = 4;

function checkSize(size: number): void {
  if (!Number.isInteger(size) || size < MIN_SIZE || size > MAX_SIZE) {
    throw new ZipbankError('world.bad-size', { size, min: MIN_SIZE, max: MAX_SIZE });
  }
}

/** Tile `k` of an RGBA atlas, box-averaged by SUPERSAMPLE and composited onto white, as a float image. */
function extractTile(atlas: { data: Uint8Array; width: number }, k: number, tile: number, size: number): FloatImage {
  const f = SUPERSAMPLE;
  const x0 = (k % ATLAS_COLS) * tile;
  const y0 = Math.floor(k / ATLAS_COLS) * tile;
  const d = new Float32Array(size * size * 3);
  const norm = 1 / (255 * f * f);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      let r = 0;
      let g = 0;
      let b = 0;
      let a = 0;
      for (let dy = 0; dy < f; dy++) {
        let i = ((y0 + y * f + dy) * atlas.width + x0 + x * f) * 4;
        for (let dx = 0; dx < f; dx++, i += 4) {
          const al = atlas.data[i + 3]!;
          r += atlas.data[i]! * al;
          g += atlas.data[i + 1]! * al;
          b += atlas.data[i + 2]! * al;
          a += al;
        }
      }
      // premultiplied sums over the block, then over white
      const o = (y * size + x) * 3;
      const white = 1 - a * norm;
      d[o] = (r / 255) * norm + white;
      d[o + 1] = (g / 255) * norm + white;
      d[o + 2] = (b / 255) * norm + white;
    }
  }
  return { w: size, h: size, d };
}

/** Up to ATLAS scenes, rasterised in one SVG, each post-processed by its style. */
async function renderBatch(scenes: readonly Scene[], size: number, o: SvgOptions): Promise<RawImage[]> {
  const tile = size * SUPERSAMPLE;
  const cols = Math.min(ATLAS_COLS, scenes.length);
  const rows = Math.ceil(scenes.length / ATLAS_COLS);
  const tiles = scenes.map(
    (sc, k) =>
      `<svg x="${(k % ATLAS_COLS) * tile}" y="${Math.floor(k / ATLAS_COLS) * tile}" width="${tile}" height="${tile}" viewBox="0 0 64 64">${sceneBody(sc, o)}</svg>`,
  );
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${cols * tile}" height="${rows * tile}">${tiles.join('')}</svg>`;
  const atlas = await rasterizeSvgRgba(svg);
  return scenes.map((sc, k) => {
    const img = extractTile(atlas, k, tile, size);
    return toRaw(styleImpl(sc.styleId).post(img, { u: size / 64, seed: sc.seed }));
  });
}

/** A scene as `size` x `size` RGB pixels (default 64). */
export async function renderScene(scene: Scene, size = 64): Promise<RawImage> {
  checkSize(size);
  return (await renderBatch([scene], size, {}))[0]!;
}

/**
 * Many scenes, in order, identical to rendering each alone. Scenes are drawn ATLAS
 * at a time in one SVG (that amortises librsvg's per-call cost); `concurrency`
 * atlases are in flight at once (default 2).
 */
export async function renderScenes(scenes: readonly Scene[], size = 64, concurrency = 2): Promise<RawImage[]> {
  checkSize(size);
  const out: RawImage[] = new Array(scenes.length);
  let next = 0;
  const worker = async () => {
    while (next < scenes.length) {
      const start = next;
      next += ATLAS;
      const batch = scenes.slice(start, start + ATLAS);
      const imgs = await renderBatch(batch, size, {});
      imgs.forEach((img, k) => (out[start + k] = img));
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, Math.ceil(scenes.length / ATLAS))) }, worker));
  return out;
}
