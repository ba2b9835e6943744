/**
 * SVG backgrounds of the world's contexts on the 64 x 64 unit canvas. Each has a
 * structure that survives any style (a horizon and bands, fir trees, stars and a
 * moon, buildings with windows, a wall and a table edge); details (sun position,
 * tree heights, skyline) vary with the seeded generator.
 *
 * @example
 *   import { drawContext } from './contexts.ts';
 *   const svgElements = drawContext('beach', new Rng(1), identityPaint());
 */
import type { Rng } from './rng.ts';
import { circle, ellipse, line, n, poly, rect, type Paint } from './svg.ts';

type Drawer = (r: Rng, p: Paint) => string;

/** The sky rectangle never gets an outline (it is the canvas). */
const NO_STROKE = 'stroke="none"';

function beach(r: Rng, p: Paint): string {
  const hz = r.range(27, 33);
  const shore = hz + r.range(6, 9);
  const out: string[] = [rect(0, 0, 64, hz + 1, p.c('#8fd3ff'), NO_STROKE)];
  out.push(circle(r.range(8, 56), r.range(7, 13), 4.5, p.c('#ffd23f')));
  for (let k = 0; k < 2; k++) {
    const cx = r.range(4, 60);
    const cy = r.range(6, hz - 8);
    out.push(ellipse(cx, cy, 6, 2.2, p.c('#ffffff')), ellipse(cx + 3, cy - 1.6, 3.5, 2, p.c('#ffffff')));
  }
  out.push(rect(-1, hz, 66, shore - hz + 1, p.c('#1f78c8')));
  out.push(line(`M2 ${n(hz + 2.5)} h10 M22 ${n(hz + 4)} h12 M44 ${n(hz + 2.5)} h14`, p.c('#d8f0ff'), 0.8));
  out.push(`<path d="M-1 ${n(shore)} Q16 ${n(shore - 1.5)} 32 ${n(shore)} T65 ${n(shore)} L65 65 L-1 65 Z" fill="${p.c('#f2dd9b')}"/>`);
  for (let k = 0; k < 3; k++) out.push(circle(r.range(3, 61), r.range(shore + 4, 62), 0.9, p.c('#c9a76a')));
  return out.join('');
}

function snow(r: Rng, p: Paint): string {
  const hz = r.range(32, 38);
  const out: string[] = [rect(0, 0, 64, 65, p.c('#9fbfdc'), NO_STROKE)];
  let x = r.range(-14, -4);
  while (x < 64) {
    const w = r.range(18, 28);
    const h = r.range(12, 20);
    out.push(poly([x, hz + 1, x + w / 2, hz - h, x + w, hz + 1], p.c('#7f95ad')));
    out.push(poly([x + w / 2 - w * 0.15, hz - h * 0.7, x + w / 2, hz - h, x + w / 2 + w * 0.15, hz - h * 0.7], p.c('#ffffff')));
    x += w * r.range(0.55, 0.8);
  }
  out.push(`<path d="M-1 ${n(hz)} Q20 ${n(hz - 3)} 40 ${n(hz + 1)} T65 ${n(hz)} L65 65 L-1 65 Z" fill="${p.c('#f7f9fc')}"/>`);
  out.push(ellipse(r.range(10, 54), r.range(hz + 10, 60), 12, 2, p.c('#d5e2ef')));
  for (let k = 0; k < 16; k++) out.push(circle(r.range(1, 63), r.range(1, hz + 20), r.range(0.6, 1.1), p.c('#ffffff')));
  return out.join('');
}

function forest(r: Rng, p: Paint): string {
  const hz = r.range(34, 40);
  const out: string[] = [rect(0, 0, 64, 65, p.c('#d4ecc4'), NO_STROKE)];
  const trees: string[] = [];
  let x = r.range(-6, 0);
  while (x < 66) {
    const h = r.range(16, 30);
    const w = r.range(9, 13);
    const col = r.pick(['#1f5a2a', '#2e6b30', '#27613a']);
    trees.push(rect(x - 1, hz - 4, 2, 6, p.c('#6b4423')));
    trees.push(poly([x - w / 2, hz - 3, x, hz - 3 - h, x + w / 2, hz - 3], p.c(col)));
    x += r.range(6, 9);
  }
  out.push(...trees);
  out.push(rect(-1, hz, 66, 66 - hz, p.c('#5fa04a')));
  for (let k = 0; k < 6; k++) {
    const gx = r.range(2, 62);
    const gy = r.range(hz + 4, 62);
    out.push(line(`M${n(gx - 1.5)} ${n(gy)} l1 -2.5 M${n(gx)} ${n(gy)} l0 -3 M${n(gx + 1.5)} ${n(gy)} l-1 -2.5`, p.c('#3d7a2f'), 0.6));
  }
  return out.join('');
}

function night(r: Rng, p: Paint): string {
  const out: string[] = [rect(0, 0, 64, 65, p.c('#0f1a3a'), NO_STROKE)];
  for (let k = 0; k < 22; k++) out.push(circle(r.range(1, 63), r.range(1, 44), r.range(0.4, 0.9), p.c(r.bool(0.7) ? '#ffffff' : '#fff3a0')));
  for (let k = 0; k < 2; k++) {
    const sx = r.range(6, 58);
    const sy = r.range(6, 36);
    out.push(poly([sx, sy - 2.5, sx + 0.7, sy - 0.7, sx + 2.5, sy, sx + 0.7, sy + 0.7, sx, sy + 2.5, sx - 0.7, sy + 0.7, sx - 2.5, sy, sx - 0.7, sy - 0.7], p.c('#ffffff')));
  }
  const mx = r.range(8, 56);
  const my = r.range(8, 16);
  out.push(circle(mx, my, 6, p.c('#fff6c8')), circle(mx + 3, my - 2, 5.2, p.c('#0f1a3a')));
  const hz = r.range(44, 50);
  out.push(`<path d="M-1 ${n(hz)} Q14 ${n(hz - 6)} 30 ${n(hz)} T65 ${n(hz - 2)} L65 65 L-1 65 Z" fill="${p.c('#1d2d22')}"/>`);
  return out.join('');
}

function city(r: Rng, p: Paint): string {
  const road = r.range(48, 52);
  const out: string[] = [rect(0, 0, 64, 65, p.c('#bcd4e6'), NO_STROKE)];
  let x = r.range(-4, 0);
  while (x < 64) {
    const w = r.range(8, 13);
    const top = r.range(10, 32);
    const col = r.pick(['#6c7a89', '#8a7f72', '#5a6b7d', '#9a8c98']);
    out.push(rect(x, top, w - 0.6, road - top + 1, p.c(col)));
    const win: string[] = [];
    for (let wy = top + 2.5; wy < road - 3; wy += 4) {
      for (let wx = x + 1.5; wx < x + w - 3; wx += 3.2) win.push(rect(wx, wy, 1.6, 2, p.c(r.bool(0.6) ? '#ffe27a' : '#3b4756')));
    }
    out.push(`<g class="detail">${win.join('')}</g>`);
    x += w;
  }
  out.push(rect(-1, road, 66, 66 - road, p.c('#4a4a4a')));
  out.push(line(`M2 ${n(road + 8)} h6 M14 ${n(road + 8)} h6 M26 ${n(road + 8)} h6 M38 ${n(road + 8)} h6 M50 ${n(road + 8)} h6`, p.c('#f4f4f0'), 1));
  return out.join('');
}

function table(r: Rng, p: Paint): string {
  const edge = r.range(40, 46);
  const out: string[] = [rect(0, 0, 64, 65, p.c('#e9d8b5'), NO_STROKE)];
  const stripes: string[] = [];
  for (let sx = r.range(0, 3); sx < 64; sx += 6) stripes.push(rect(sx, 0, 2.2, edge, p.c('#d9bf8f'), NO_STROKE));
  out.push(...stripes);
  const wx = r.range(4, 40);
  out.push(rect(wx, 6, 20, 18, p.c('#8fd3ff'), `stroke="${p.c('#ffffff')}" stroke-width="2"`));
  out.push(line(`M${n(wx + 10)} 6 v18 M${n(wx)} 15 h20`, p.c('#ffffff'), 1.5));
  out.push(rect(-1, edge, 66, 66 - edge, p.c('#a0683a')));
  out.push(rect(-1, edge, 66, 2.2, p.c('#7a4a22')));
  const grain: string[] = [];
  for (let gy = edge + 6; gy < 64; gy += r.range(4, 6)) grain.push(`M${n(r.range(-2, 10))} ${n(gy)} h${n(r.range(20, 40))}`);
  out.push(line(grain.join(' '), p.c('#87532a'), 0.8));
  return out.join('');
}

const DRAWERS: Record<string, Drawer> = { beach, snow, forest, night, city, table };

/** The SVG elements of a context's background on the 64 x 64 canvas. */
export function drawContext(contextId: string, r: Rng, p: Paint): string {
  const draw = DRAWERS[contextId];
  if (!draw) throw new RangeError(`drawContext: no drawing for context "${contextId}"`);
  return draw(r, p);
}

/** Context ids that have a drawing (tests check it covers CONTEXTS). */
export const DRAWN_CONTEXTS: readonly string[] = Object.keys(DRAWERS);
