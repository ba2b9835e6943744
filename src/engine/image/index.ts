/**
 * Images: the only importer of sharp. Probing and normalising user images, and
 * encoding rendered pixels.
 *
 * @example
 *   const img = await normalizeImage('/tmp/dog.jpg'); // PNG bytes, EXIF orientation applied, metadata stripped
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
