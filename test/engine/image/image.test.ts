import { describe, expect, it } from 'vitest';
import sharp from 'sharp';
import { composeGrid, encodeImage, imageToTensor, normalizeImage, tensorToImages } from '../../../src/engine/image/index.ts';
import { isZipbankError } from '../../../src/errors/index.ts';

describe('engine/image', () => {
  it('maps decoder output [-1, 1] to 8-bit RGB, clamping and handling NaN', () => {
    // one 1x2 image: channel planes R, G, B
    const data = new Float32Array([-1, 1, 0, 2, Number.NaN, -3]);
    const [img] = tensorToImages(data, [1, 3, 1, 2]);
    expect(img).toMatchObject({ width: 2, height: 1 });
    expect(Array.from(img!.data)).toEqual([0, 128, 0, 255, 255, 0]);
    expect(() => tensorToImages(data, [1, 3, 2, 2])).toThrow(/expected \[B, 3, H, W\]/);
  });

  it('round-trips pixels through PNG and back to a [-1, 1] tensor', async () => {
    const img = { width: 4, height: 2, data: new Uint8Array(24).map((_, i) => (i * 37) % 256) };
    const png = await encodeImage(img);
    const t = await imageToTensor(png, 4, 2);
    const back = tensorToImages(t, [1, 3, 2, 4])[0]!;
    expect(Array.from(back.data)).toEqual(Array.from(img.data));
  });

  it('composes a 2x2 grid with a gap', async () => {
    const tile = (v: number) => ({ width: 8, height: 6, data: new Uint8Array(8 * 6 * 3).fill(v) });
    const grid = await composeGrid([tile(10), tile(60), tile(110), tile(160)], { gap: 2 });
    const { data, info } = await sharp(grid).raw().toBuffer({ resolveWithObject: true });
    expect([info.width, info.height]).toEqual([18, 14]);
    const px = (x: number, y: number) => data[(y * info.width + x) * info.channels]!;
    expect([px(0, 0), px(17, 0), px(0, 13), px(17, 13)]).toEqual([10, 60, 110, 160]);
  });

  it('normalises user images to PNG and refuses non-images with a coded error', async () => {
    const jpg = await sharp({ create: { width: 20, height: 10, channels: 3, background: '#123456' } }).jpeg().toBuffer();
    const n = await normalizeImage(jpg, { displayName: 'dog.jpg' });
    expect(n).toMatchObject({ width: 20, height: 10, sourceFormat: 'jpeg' });
    const err = await normalizeImage(Buffer.from('not an image'), { displayName: 'x.png' }).catch((e: unknown) => e);
    expect(isZipbankError(err, 'image.unreadable')).toBe(true);
    const tiny = await sharp({ create: { width: 4, height: 4, channels: 3, background: '#000' } }).png().toBuffer();
    await expect(normalizeImage(tiny, { displayName: 't.png' })).rejects.toThrow(/t\.png has an unsupported size: 4x4/);
  });
});
