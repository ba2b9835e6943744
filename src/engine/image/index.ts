/**
 * Images: the only importer of sharp. Probing and normalising user images,
 * encoding rendered pixels, and rasterising SVG charts.
 *
 * @example
 *   const img = await normalizeImage('/tmp/dog.jpg'); // PNG bytes, EXIF orientation applied, metadata stripped
 *   const png = await rasterizeSvg('<svg xmlns="http://www.w3.org/2000/svg" width="64" height="32"/>'); // 64x32 PNG
 */
import sharp, { type Metadata } from 'sharp';
import { ZipbankError } from '../../errors/index.ts';

export interface NormalizedImage {
  png: Buffer;
  width: number;
  height: number;
  /** The format the input was in. */
  sourceFormat: string;
}

export interface NormalizeOptions {
  /** Name for messages. */
  displayName?: string;
  maxSide?: number;
  maxBytes?: number;
}

const ACCEPTED = new Set(['png', 'jpeg', 'webp']);

/**
 * Validate a user image (PNG, JPEG or WebP, size limits) and re-encode it as PNG
 * with orientation applied and all metadata (EXIF, GPS) dropped.
 */
export async function normalizeImage(input: string | Buffer, options: NormalizeOptions = {}): Promise<NormalizedImage> {
  const file = options.displayName ?? (typeof input === 'string' ? input : 'image');
  const maxSide = options.maxSide ?? 4096;
  let meta: Metadata;
  try {
    meta = await sharp(input).metadata();
  } catch (e) {
    throw new ZipbankError('image.unreadable', { file, reason: (e as Error).message }, { cause: e });
  }
  if (!meta.format || !ACCEPTED.has(meta.format)) {
    throw new ZipbankError('image.format', { file, format: meta.format ?? 'unknown' });
  }
  if (options.maxBytes && meta.size && meta.size > options.maxBytes) {
    throw new ZipbankError('image.too-large', { file, detail: `${meta.size} bytes, limit ${options.maxBytes}` });
  }
  const w = meta.width ?? 0;
  const h = meta.height ?? 0;
  if (w < 8 || h < 8 || w > maxSide || h > maxSide) {
    throw new ZipbankError('image.too-large', { file, detail: `${w}x${h}, allowed 8..${maxSide} per side` });
  }
  try {
    const { data, info } = await sharp(input).rotate().png().toBuffer({ resolveWithObject: true });
    return { png: data, width: info.width, height: info.height, sourceFormat: meta.format };
  } catch (e) {
    throw new ZipbankError('image.unreadable', { file, reason: (e as Error).message }, { cause: e });
  }
}

/** 8-bit RGB pixels, row-major, 3 bytes per pixel. */
export interface RawImage {
  width: number;
  height: number;
  data: Uint8Array;
}

/**
 * Decoder output [B, 3, H, W] in [-1, 1] -> B RGB images (x / 2 + 0.5, clamped,
 * rounded to 8 bits), as diffusers' image processor does.
 */
export function tensorToImages(data: Float32Array, shape: readonly number[]): RawImage[] {
  const [b, c, h, w] = shape as [number, number, number, number];
  if (shape.length !== 4 || c !== 3 || data.length !== b * c * h * w) {
    throw new RangeError(`tensorToImages: expected [B, 3, H, W] matching ${data.length} values, got [${shape.join(', ')}]`);
  }
  const plane = h * w;
  const images: RawImage[] = [];
  for (let n = 0; n < b; n++) {
    const out = new Uint8Array(plane * 3);
    const base = n * 3 * plane;
    for (let i = 0; i < plane; i++) {
      for (let ch = 0; ch < 3; ch++) {
        const v = data[base + ch * plane + i]! / 2 + 0.5;
        out[i * 3 + ch] = Math.round(Math.min(1, Math.max(0, Number.isNaN(v) ? 0 : v)) * 255);
      }
    }
    images.push({ width: w, height: h, data: out });
  }
  return images;
}

/**
 * An image file (or bytes) -> [1, 3, H, W] in [-1, 1], resized to cover H x W and
 * centre-cropped: the VAE encoder's input.
 */
export async function imageToTensor(input: string | Buffer, width: number, height: number): Promise<Float32Array> {
  const { data } = await sharp(input)
    .rotate()
    .removeAlpha()
    .resize(width, height, { fit: 'cover', position: 'centre' })
    .raw()
    .toBuffer({ resolveWithObject: true });
  const plane = width * height;
  const out = new Float32Array(3 * plane);
  for (let i = 0; i < plane; i++) for (let ch = 0; ch < 3; ch++) out[ch * plane + i] = (data[i * 3 + ch]! / 255) * 2 - 1;
  return out;
}

export async function encodeImage(img: RawImage, format: 'png' | 'webp' = 'png', quality = 90): Promise<Buffer> {
  const s = sharp(img.data, { raw: { width: img.width, height: img.height, channels: 3 } });
  return format === 'png' ? s.png().toBuffer() : s.webp({ quality }).toBuffer();
}

/**
 * Images side by side in a grid (row-major, `cols` per row; 2x2 for four images),
 * with an optional gap. All cells take the size of the largest image.
 */
export async function composeGrid(images: (RawImage | Buffer)[], options: { cols?: number; gap?: number; format?: 'png' | 'webp'; quality?: number } = {}): Promise<Buffer> {
  if (images.length === 0) throw new RangeError('composeGrid: no images');
  const cols = Math.min(options.cols ?? Math.ceil(Math.sqrt(images.length)), images.length);
  const gap = options.gap ?? 0;
  const tiles = await Promise.all(
    images.map(async (img) => {
      if (Buffer.isBuffer(img)) {
        const m = await sharp(img).metadata();
        return { input: await sharp(img).removeAlpha().png().toBuffer(), width: m.width ?? 0, height: m.height ?? 0 };
      }
      return { input: await encodeImage(img), width: img.width, height: img.height };
    }),
  );
  const cw = Math.max(...tiles.map((t) => t.width));
  const ch = Math.max(...tiles.map((t) => t.height));
  const rows = Math.ceil(tiles.length / cols);
  const canvas = sharp({
    create: { width: cols * cw + (cols - 1) * gap, height: rows * ch + (rows - 1) * gap, channels: 3, background: '#202020' },
  }).composite(tiles.map((t, i) => ({ input: t.input, left: (i % cols) * (cw + gap), top: Math.floor(i / cols) * (ch + gap) })));
  return options.format === 'webp' ? canvas.webp({ quality: options.quality ?? 90 }).toBuffer() : canvas.png().toBuffer();
}

/**
 * An SVG document -> PNG bytes (librsvg through sharp). At the default density of
 * 72 one SVG user unit is one pixel; density 144 renders at twice the size. Text
 * uses the fonts installed on the machine (nothing is fetched), so SVGs should name
 * generic families such as 'DejaVu Sans, sans-serif'. Malformed SVG is refused.
 */
export async function rasterizeSvg(svg: string, options: { density?: number } = {}): Promise<Buffer> {
  const density = options.density ?? 72;
  if (!(density > 0) || density > 2400) throw new RangeError(`rasterizeSvg: density must be in (0, 2400], got ${density}`);
  try {
    return await sharp(Buffer.from(svg, 'utf8'), { density }).png().toBuffer();
  } catch (e) {
    throw new Error(`rasterizeSvg: cannot render the SVG: ${(e as Error).message}`, { cause: e });
  }
}

/**
 * An SVG document -> RGB pixels (librsvg through sharp), at the SVG's own size
 * (one user unit of width/height per pixel at density 72) or resized to
 * `width` x `height`. Transparent areas are flattened onto `background` (white).
 */
export async function rasterizeSvgRaw(svg: string, options: { width?: number; height?: number; background?: string } = {}): Promise<RawImage> {
  try {
    let s = sharp(Buffer.from(svg, 'utf8'), { density: 72 }).flatten({ background: options.background ?? '#ffffff' });
    if (options.width !== undefined || options.height !== undefined) s = s.resize(options.width, options.height, { fit: 'fill' });
    const { data, info } = await s.removeAlpha().raw().toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) throw new Error(`expected 3 channels, got ${info.channels}`);
    return { width: info.width, height: info.height, data: new Uint8Array(data.buffer, data.byteOffset, data.length) };
  } catch (e) {
    throw new Error(`rasterizeSvgRaw: cannot render the SVG: ${(e as Error).message}`, { cause: e });
  }
}

/** 8-bit RGBA pixels (not premultiplied), row-major, 4 bytes per pixel. */
export interface RawRgbaImage {
  width: number;
  height: number;
  data: Uint8Array;
}

/**
 * An SVG document -> RGBA pixels at the SVG's own size (density 72), alpha kept:
 * the cheapest path from librsvg to JS (no flattening or resampling).
 */
export async function rasterizeSvgRgba(svg: string): Promise<RawRgbaImage> {
  try {
    const { data, info } = await sharp(Buffer.from(svg, 'utf8'), { density: 72 }).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
    return { width: info.width, height: info.height, data: new Uint8Array(data.buffer, data.byteOffset, data.length) };
  } catch (e) {
    throw new Error(`rasterizeSvgRgba: cannot render the SVG: ${(e as Error).message}`, { cause: e });
  }
}
