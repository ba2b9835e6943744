import { describe, expect, it } from 'vitest';
import { rasterizeSvgRaw, rasterizeSvgRgba } from '../../../src/engine/image/index.ts';

const svg = '<svg xmlns="http://www.w3.org/2000/svg" width="8" height="4"><rect width="4" height="4" fill="#ff0000"/></svg>';

describe('engine/image SVG to raw pixels', () => {
  it('rasterises to RGBA with transparency kept', async () => {
    const img = await rasterizeSvgRgba(svg);
    expect([img.width, img.height, img.data.length]).toEqual([8, 4, 8 * 4 * 4]);
    expect(Array.from(img.data.subarray(0, 4))).toEqual([255, 0, 0, 255]);
    expect(img.data[(0 * 8 + 7) * 4 + 3]).toBe(0);
  });

  it('rasterises to RGB flattened on white, optionally resized', async () => {
    const img = await rasterizeSvgRaw(svg);
    expect([img.width, img.height, img.data.length]).toEqual([8, 4, 8 * 4 * 3]);
    expect(Array.from(img.data.subarray(0, 3))).toEqual([255, 0, 0]);
    expect(Array.from(img.data.subarray(7 * 3, 8 * 3))).toEqual([255, 255, 255]);
    const small = await rasterizeSvgRaw(svg, { width: 4, height: 2 });
    expect([small.width, small.height]).toEqual([4, 2]);
  });

  it('refuses malformed SVG', async () => {
    await expect(rasterizeSvgRgba('<svg')).rejects.toThrow(/rasterizeSvgRgba: cannot render/);
    await expect(rasterizeSvgRaw('<svg')).rejects.toThrow(/rasterizeSvgRaw: cannot render/);
  });
});
