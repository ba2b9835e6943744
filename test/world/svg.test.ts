import { describe, expect, it } from 'vitest';
import { circle, hexToRgb, identityPaint, mixHex, n, poly, resolveColor, rgbToHex, saturateHex, shadeHex } from '../../src/world/svg.ts';

describe('world/svg', () => {
  it('converts, mixes, saturates and shades colours', () => {
    expect(hexToRgb('#0a14ff')).toEqual([10, 20, 255]);
    expect(hexToRgb('#fff')).toEqual([255, 255, 255]);
    expect(rgbToHex(300, -4, 127.6)).toBe('#ff0080');
    expect(resolveColor('orange')).toBe('#f08a24');
    expect(resolveColor('#123456')).toBe('#123456');
    expect(mixHex('#000000', '#ffffff', 0.5)).toBe('#808080');
    expect(saturateHex('#808080', 2)).toBe('#808080');
    expect(saturateHex('#ff0000', 0)).toBe(rgbToHex(76.245, 76.245, 76.245));
    expect(shadeHex('#204060', 0.5)).toBe('#102030');
  });

  it('writes compact elements', () => {
    expect(n(1.23456)).toBe('1.23');
    expect(circle(50, 40, 10, identityPaint().c('orange'))).toBe('<circle cx="50" cy="40" r="10" fill="#f08a24"/>');
    expect(poly([0, 0, 1.5, 2, 3, 0], '#000', 'opacity="0.5"')).toBe('<polygon points="0,0 1.5,2 3,0" fill="#000" opacity="0.5"/>');
  });
});
