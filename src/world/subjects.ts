/**
 * SVG drawings of the world's subject classes in a 100 x 100 frame (ground at the
 * bottom, facing right), one function per class, driven by the subject's attributes.
 * Every colour goes through the style's `Paint`; small details sit in
 * `<g class="detail">` so styles can give them thinner outlines.
 *
 * @example
 *   import { drawSubject } from './subjects.ts';
 *   const svgElements = drawSubject('dog', { variant: 'floppy-ears', body: 'brown', secondary: 'white', marking: 'spots', accessory: 'none' }, identityPaint());
 */
import type { Attributes } from './catalog.ts';
import { circle, ellipse, line, path, poly, rect, shadeHex, resolveColor, type Paint } from './svg.ts';

type Drawer = (a: Attributes, p: Paint) => string;

const detail = (s: string) => `<g class="detail">${s}</g>`;
const SKY = '#bfe6ff';
const INK = '#222222';

function dog(a: Attributes, p: Paint): string {
  const long = a.variant === 'long-body';
  const body = p.c(a.body);
  const sec = p.c(a.secondary);
  const out: string[] = [];
  // tail
  out.push(path(long ? 'M16 62 Q4 52 8 40 Q12 50 22 56 Z' : 'M22 52 Q8 40 12 24 Q18 40 28 46 Z', p.c(a.secondary)));
  // legs
  const legTop = long ? 68 : 60;
  const legH = long ? 24 : 34;
  const legXs = long ? [20, 30, 66, 76] : [26, 36, 60, 70];
  for (const lx of legXs) out.push(rect(lx, legTop, 8, legH, body));
  for (const lx of legXs) out.push(ellipse(lx + 5, legTop + legH, 6, 3, p.c(a.secondary)));
  // body
  out.push(long ? ellipse(48, 64, 38, 12, body) : ellipse(48, 56, 30, 15, body));
  // neck + head
  out.push(poly(long ? [70, 66, 76, 40, 90, 40, 86, 66] : [64, 56, 72, 34, 86, 36, 80, 60], body));
  const hx = long ? 84 : 80;
  const hy = long ? 36 : 32;
  out.push(circle(hx, hy, 12, body));
  out.push(ellipse(hx + 11, hy + 6, 8, 5.5, sec));
  if (a.marking === 'white-chest') {
    out.push(ellipse(long ? 80 : 74, long ? 58 : 52, 9, 12, p.c('white')));
    out.push(ellipse(hx + 10, hy + 7, 9, 6, p.c('white')));
  }
  // ears
  if (a.variant === 'pointy-ears') out.push(poly([hx - 10, hy - 4, hx - 6, hy - 24, hx + 2, hy - 10], sec));
  else out.push(ellipse(hx - 8, hy + 4, 5, 12, sec, `transform="rotate(15 ${hx - 8} ${hy + 4})"`));
  const d: string[] = [];
  d.push(circle(hx + 18, hy + 4, 2.6, p.c('black')));
  d.push(circle(hx + 3, hy - 3, 2.2, p.c('black')));
  if (a.marking === 'spots') {
    d.push(circle(40, long ? 62 : 52, 5, p.c(shadeHex(resolveColor(a.body), 0.45))));
    d.push(circle(56, long ? 66 : 60, 4, p.c(shadeHex(resolveColor(a.body), 0.45))));
    d.push(circle(28, long ? 64 : 56, 3.5, p.c(shadeHex(resolveColor(a.body), 0.45))));
  }
  if (a.marking === 'eye-patch') d.push(circle(hx + 3, hy - 3, 5.5, p.c(shadeHex(resolveColor(a.body), 0.4))), circle(hx + 3, hy - 3, 2.2, p.c('black')));
  out.push(detail(d.join('')));
  if (a.accessory === 'blue-collar' || a.accessory === 'red-collar') {
    const col = p.c(a.accessory === 'red-collar' ? 'red' : 'blue');
    out.push(poly(long ? [74, 48, 90, 46, 90, 53, 74, 55] : [68, 42, 86, 44, 84, 51, 66, 49], col));
    out.push(detail(circle(long ? 82 : 76, long ? 56 : 51, 2.5, p.c('gold'))));
  }
  if (a.accessory === 'party-hat') {
    out.push(poly([hx - 8, hy - 9, hx + 4, hy - 34, hx + 10, hy - 6], p.c('purple')));
    out.push(detail(circle(hx + 4, hy - 34, 3, p.c('yellow'))));
  }
  return out.join('');
}

function cat(a: Attributes, p: Paint): string {
  const body = p.c(a.body);
  const sec = p.c(a.secondary);
  const chubby = a.variant === 'chubby';
  const out: string[] = [];
  const tailW = a.variant === 'fluffy-tail' ? 13 : 7;
  out.push(line('M32 90 Q6 88 10 62 Q12 46 22 40', body, tailW));
  out.push(ellipse(46, 70, chubby ? 27 : 21, 25, body));
  const paw = a.marking === 'socks' ? p.c('white') : body;
  out.push(rect(46, 70, 9, 24, body), rect(58, 70, 9, 24, body));
  out.push(ellipse(50.5, 94, 6, 3.5, paw), ellipse(62.5, 94, 6, 3.5, paw));
  // head
  out.push(poly([40, 30, 40, 6, 55, 20], body), poly([56, 20, 71, 6, 71, 30], body));
  out.push(poly([43, 25, 43, 13, 51, 20], sec), poly([60, 20, 68, 13, 68, 25], sec));
  out.push(circle(56, 34, 16, body));
  if (a.marking === 'mask') out.push(ellipse(56, 40, 10, 7, sec));
  const d: string[] = [];
  d.push(ellipse(49, 32, 2.4, 3.4, p.c('green')), ellipse(63, 32, 2.4, 3.4, p.c('green')));
  d.push(poly([54, 39, 58, 39, 56, 42], p.c('pink')));
  d.push(line('M60 42 L76 40 M60 44 L76 46 M52 42 L36 40 M52 44 L36 46', p.c(INK), 0.8));
  if (a.marking === 'stripes') {
    const dark = p.c(shadeHex(resolveColor(a.body), 0.35));
    d.push(line('M30 60 Q36 64 34 72 M38 54 Q46 60 44 70 M28 76 Q34 80 32 88 M50 22 L52 28 M56 20 L56 27 M62 22 L60 28', dark, 3.2));
    d.push(line('M14 64 L20 66 M11 74 L17 74 M14 84 L19 81', dark, 3));
  }
  out.push(detail(d.join('')));
  if (a.accessory === 'bell-collar') {
    out.push(rect(42, 48, 28, 5, p.c('red'), 'rx="2"'));
    out.push(detail(circle(56, 55, 3.5, p.c('gold'))));
  }
  if (a.accessory === 'pink-bow' || a.accessory === 'blue-bow') {
    const col = p.c(a.accessory === 'pink-bow' ? 'pink' : 'blue');
    out.push(poly([60, 16, 72, 8, 72, 24], col), poly([60, 16, 50, 6, 50, 24], col), circle(60, 16, 3.5, col));
  }
  return out.join('');
}

function teapot(a: Attributes, p: Paint): string {
  const body = p.c(a.body);
  const sec = p.c(a.secondary);
  const [cy, rx, ry] = a.variant === 'tall' ? [62, 24, 30] : a.variant === 'squat' ? [72, 34, 19] : [66, 30, 24];
  const top = cy - ry;
  const out: string[] = [];
  // handle (a ring drawn as a thick stroke) and spout
  out.push(line(`M${50 + rx - 6} ${cy - ry * 0.5} C${50 + rx + 20} ${cy - ry * 0.6} ${50 + rx + 20} ${cy + ry * 0.6} ${50 + rx - 6} ${cy + ry * 0.5}`, body, 7));
  out.push(poly([50 - rx + 6, cy - 4, 50 - rx - 16, cy - ry - 6, 50 - rx - 10, cy - ry - 9, 50 - rx + 8, cy + ry * 0.6], body));
  out.push(rect(36, cy + ry - 6, 28, 8, sec, 'rx="2"'));
  out.push(ellipse(50, cy, rx, ry, body));
  if (a.marking === 'band') out.push(ellipse(50, cy + 2, rx - 1, 5, sec));
  out.push(ellipse(50, top + 2, 15, 5.5, sec));
  out.push(circle(50, top - 5, 4.5, sec));
  const d: string[] = [];
  if (a.marking === 'flower') {
    for (let k = 0; k < 5; k++) {
      const t = (k / 5) * Math.PI * 2;
      d.push(circle(50 + Math.cos(t) * 5, cy + 2 + Math.sin(t) * 5, 3.6, p.c('pink')));
    }
    d.push(circle(50, cy + 2, 3, p.c('yellow')));
  }
  if (a.marking === 'polka-dots') {
    const dots = [[-14, -8], [2, -12], [16, -4], [-6, 4], [10, 10], [-18, 10], [24, 10], [-2, 18]] as const;
    for (const [dx, dy] of dots) d.push(circle(50 + dx * (rx / 30), cy + dy * (ry / 24), 4, p.c('blue')));
  }
  out.push(detail(d.join('')));
  if (a.accessory === 'steam') {
    const sx = 50 - rx - 14;
    const sy = cy - ry - 12;
    out.push(line(`M${sx} ${sy} q-4 -6 0 -12 q4 -6 0 -12 M${sx + 8} ${sy - 2} q-4 -6 0 -12 q4 -6 0 -12`, p.c('#9aa4ad'), 3));
  }
  if (a.accessory === 'cup') {
    out.push(path('M84 84 L100 84 L97 97 L87 97 Z', body), line('M99 87 q5 3 0 7', body, 2.5));
  }
  return out.join('');
}

function rocket(a: Attributes, p: Paint): string {
  const body = p.c(a.body);
  const sec = p.c(a.secondary);
  const hw = a.variant === 'chunky' ? 19 : a.variant === 'slim' ? 12 : 14;
  const l = 50 - hw;
  const r = 50 + hw;
  const tip = a.variant === 'pointy' ? -2 : 6;
  const out: string[] = [];
  if (a.accessory === 'flame') {
    out.push(poly([l + 4, 86, 50, 104, r - 4, 86], p.c('orange')), poly([l + 9, 86, 50, 98, r - 9, 86], p.c('yellow')));
  }
  if (a.accessory === 'smoke') {
    const g = p.c('#b8b8b8');
    out.push(circle(38, 96, 7, g), circle(50, 99, 8, g), circle(63, 96, 7, g), circle(27, 98, 5, g), circle(74, 98, 5, g));
  }
  out.push(poly([l, 58, l - 14, 88, l, 82], sec), poly([r, 58, r + 14, 88, r, 82], sec));
  out.push(rect(50 - hw * 0.6, 82, hw * 1.2, 7, p.c('grey')));
  out.push(path(`M${l} 84 L${l} 40 Q${l} 20 50 ${tip} Q${r} 20 ${r} 40 L${r} 84 Z`, body));
  out.push(path(`M${l + 2} 28 Q${l + 6} 14 50 ${tip} Q${r - 6} 14 ${r - 2} 28 Z`, sec));
  if (a.marking === 'stripe') out.push(rect(l, 64, hw * 2, 7, sec));
  const d: string[] = [];
  if (a.marking === 'checker') {
    const cells = 6;
    const w = (hw * 2) / cells;
    for (let row = 0; row < 2; row++) {
      for (let k = 0; k < cells; k++) d.push(rect(l + k * w, 62 + row * w, w, w, p.c((k + row) % 2 ? 'black' : 'white')));
    }
  }
  d.push(circle(50, 46, 7, p.c(SKY), `stroke="${p.c('grey')}" stroke-width="2.5"`));
  out.push(detail(d.join('')));
  return out.join('');
}

function house(a: Attributes, p: Paint): string {
  const body = p.c(a.body);
  const roof = p.c(a.secondary);
  const [x0, x1, y0] = a.variant === 'wide' ? [10, 90, 58] : a.variant === 'tall' ? [26, 74, 40] : [20, 80, 52];
  const w = x1 - x0;
  const peak = y0 - (a.variant === 'wide' ? 28 : 32);
  const out: string[] = [];
  out.push(rect(x1 - 18, peak + 6, 8, 24, p.c('#a2412f')));
  if (a.accessory === 'smoke') {
    const g = p.c('#b8b8b8');
    out.push(circle(x1 - 12, peak, 4, g), circle(x1 - 8, peak - 8, 5, g), circle(x1 - 2, peak - 17, 6, g));
  }
  out.push(rect(x0, y0, w, 96 - y0, body));
  out.push(poly([x0 - 7, y0 + 2, 50, peak, x1 + 7, y0 + 2], roof));
  const d: string[] = [];
  if (a.marking === 'bricks') {
    const dark = p.c(shadeHex(resolveColor(a.body), 0.6));
    const rows: string[] = [];
    for (let y = y0 + 6; y < 94; y += 7) rows.push(`M${x0 + 2} ${y} h${w - 4}`);
    d.push(line(rows.join(' '), dark, 1.2));
  }
  if (a.marking === 'round-window') d.push(circle(50, y0 - 10, 6, p.c(SKY), `stroke="${p.c('white')}" stroke-width="2.5"`));
  // door and windows
  d.push(rect(43, 74, 14, 22, p.c('brown')), circle(54, 86, 1.4, p.c('gold')));
  const win = (wx: number, wy: number) => {
    d.push(rect(wx, wy, 12, 12, p.c(SKY), `stroke="${p.c('white')}" stroke-width="2"`));
    if (a.marking === 'shutters') d.push(rect(wx - 5, wy, 4, 12, roof), rect(wx + 13, wy, 4, 12, roof));
  };
  win(x0 + 6, y0 + 8);
  win(x1 - 18, y0 + 8);
  if (a.variant === 'tall') {
    win(x0 + 6, y0 + 26);
    win(x1 - 18, y0 + 26);
  }
  out.push(detail(d.join('')));
  if (a.accessory === 'fence') {
    const f: string[] = [];
    for (let fx = 2; fx < 100; fx += 8) if (fx < 40 || fx > 60) f.push(poly([fx, 97, fx, 86, fx + 2.5, 83, fx + 5, 86, fx + 5, 97], p.c('white')));
    out.push(f.join(''), rect(0, 89, 40, 2.5, p.c('white')), rect(60, 89, 40, 2.5, p.c('white')));
  }
  if (a.accessory === 'sunflowers') {
    for (const sx of [4, 14, 88]) {
      out.push(line(`M${sx} 97 L${sx} 72`, p.c('green'), 2.5));
      out.push(circle(sx, 70, 6, p.c('yellow')), circle(sx, 70, 2.8, p.c('brown')));
    }
  }
  return out.join('');
}

function tree(a: Attributes, p: Paint): string {
  const leaves = p.c(a.body);
  const trunk = p.c(a.secondary);
  const out: string[] = [];
  out.push(poly([44, 97, 46, 50, 54, 50, 57, 97], trunk));
  if (a.accessory === 'swing') {
    out.push(line('M54 62 L84 58', trunk, 4));
    out.push(line('M70 60 L70 84 M82 58 L82 84', p.c('#c9b58a'), 2.2));
    out.push(rect(64, 82, 23, 5, p.c('red')));
  }
  const blobs: [number, number, number][] =
    a.variant === 'cloud' ? [[30, 44, 18], [70, 44, 18], [50, 28, 22], [50, 48, 18]] : a.variant === 'tall' ? [] : [[50, 36, 30]];
  for (const [x, y, r] of blobs) out.push(circle(x, y, r, leaves));
  if (a.variant === 'tall') out.push(ellipse(50, 38, 21, 36, leaves));
  const d: string[] = [];
  const spots: [number, number][] = [[38, 30], [60, 24], [44, 50], [64, 44], [30, 42], [52, 36], [70, 34], [40, 18]];
  if (a.marking === 'apples') for (const [x, y] of spots.slice(0, 6)) d.push(circle(x, y, 3.6, p.c('red')));
  if (a.marking === 'blossoms') for (const [x, y] of spots) d.push(circle(x, y, 3, p.c('white')), circle(x, y, 1.2, p.c('yellow')));
  if (a.accessory === 'birdhouse') {
    d.push(rect(44, 60, 12, 12, p.c('red')), poly([42, 61, 50, 54, 58, 61], p.c('brown')), circle(50, 66, 2, p.c(INK)));
  }
  out.push(detail(d.join('')));
  return out.join('');
}

function car(a: Attributes, p: Paint): string {
  const body = p.c(a.body);
  const sec = p.c(a.secondary);
  const out: string[] = [];
  const cabin =
    a.variant === 'van' ? [8, 58, 10, 28, 68, 28, 82, 58] : a.variant === 'hatch' ? [14, 58, 26, 36, 62, 36, 80, 58] : [22, 58, 34, 38, 64, 38, 78, 58];
  if (a.accessory === 'surfboard') out.push(ellipse(46, (cabin[3] ?? 36) - 5, 36, 3.6, p.c('yellow')), rect(28, (cabin[3] ?? 36) - 2, 4, 3, p.c(INK)), rect(60, (cabin[3] ?? 36) - 2, 4, 3, p.c(INK)));
  if (a.accessory === 'roof-box') out.push(rect(30, (cabin[3] ?? 36) - 8, 30, 8, p.c('grey'), 'rx="3"'));
  if (a.accessory === 'spoiler') out.push(poly([4, 56, 2, 46, 16, 46, 14, 56], sec));
  out.push(poly(cabin, body));
  out.push(rect(4, 56, 92, 26, body, 'rx="7"'));
  if (a.marking === 'two-tone') out.push(rect(4, 70, 92, 12, sec, 'rx="5"'));
  const d: string[] = [];
  const [ax, ay, bx, by, cx, cy, dx] = cabin as [number, number, number, number, number, number, number, number];
  const mid = (bx + cx) / 2;
  d.push(poly([ax + 6, ay - 2, bx + 3, by + 4, mid - 2, cy + 4, mid - 2, ay - 2], p.c(SKY)));
  d.push(poly([mid + 2, ay - 2, mid + 2, cy + 4, cx - 2, cy + 4, dx - 6, ay - 2], p.c(SKY)));
  if (a.marking === 'racing-stripe') d.push(rect(4, 63, 92, 5, p.c('white')), rect(40, by - 1, 16, 4, p.c('white')));
  d.push(rect(90, 60, 6, 5, p.c('yellow')), rect(4, 60, 4, 5, p.c('red')));
  out.push(detail(d.join('')));
  for (const wx of [26, 74]) out.push(circle(wx, 82, 11, p.c(INK)), circle(wx, 82, 4.5, sec));
  return out.join('');
}

function fish(a: Attributes, p: Paint): string {
  const body = p.c(a.body);
  const sec = p.c(a.secondary);
  const [rx, ry] = a.variant === 'long' ? [40, 13] : a.variant === 'round' ? [27, 26] : [33, 20];
  const cx = 56;
  const cy = 60;
  const out: string[] = [];
  if (a.accessory === 'bubbles') {
    const b = `stroke="${p.c('#6fa8dc')}" stroke-width="1.8"`;
    out.push(circle(cx + rx + 2, cy - ry - 6, 3, p.c('#e8f6ff'), b), circle(cx + rx - 2, cy - ry - 16, 4, p.c('#e8f6ff'), b), circle(cx + rx + 4, cy - ry - 28, 5, p.c('#e8f6ff'), b));
  }
  out.push(poly([cx - rx + 6, cy, cx - rx - 16, cy - 18, cx - rx - 12, cy, cx - rx - 16, cy + 18], sec));
  out.push(poly([cx - 14, cy - ry + 3, cx + 2, cy - ry - 16, cx + 12, cy - ry + 3], sec));
  out.push(poly([cx - 8, cy + ry - 3, cx, cy + ry + 10, cx + 8, cy + ry - 3], sec));
  out.push(ellipse(cx, cy, rx, ry, body));
  const d: string[] = [];
  if (a.marking === 'stripes') {
    const dark = p.c(shadeHex(resolveColor(a.body), 0.45));
    for (const t of [-0.45, -0.05, 0.35]) d.push(ellipse(cx + t * rx, cy, 3, ry * 0.85, dark));
  }
  if (a.marking === 'spots') {
    const dark = p.c(shadeHex(resolveColor(a.body), 0.5));
    for (const [dx, dy] of [[-16, -6], [-4, 6], [8, -8], [-22, 6], [2, -2]] as const) d.push(circle(cx + dx * (rx / 33), cy + dy * (ry / 20), 3, dark));
  }
  if (a.marking === 'white-bands') {
    for (const t of [-0.55, 0.05, 0.55]) d.push(ellipse(cx + t * rx, cy, 5, ry * 0.93 * Math.sqrt(1 - t * t), p.c('white'), `stroke="${p.c(INK)}" stroke-width="1.6"`));
  }
  d.push(circle(cx + rx * 0.62, cy - ry * 0.25, 5, p.c('white')), circle(cx + rx * 0.62 + 1, cy - ry * 0.25, 2.6, p.c(INK)));
  d.push(line(`M${cx + rx - 6} ${cy + ry * 0.3} q4 2 7 -1`, p.c(INK), 1.3));
  out.push(detail(d.join('')));
  if (a.accessory === 'crown') {
    const top = cy - ry;
    out.push(poly([cx + 4, top + 3, cx + 4, top - 10, cx + 9, top - 4, cx + 14, top - 12, cx + 19, top - 4, cx + 24, top - 10, cx + 24, top + 3], p.c('gold')));
  }
  return out.join('');
}

const DRAWERS: Record<string, Drawer> = { dog, cat, teapot, rocket, house, tree, car, fish };

/** The SVG elements of a subject in its 100 x 100 frame. */
export function drawSubject(classId: string, a: Attributes, p: Paint): string {
  const draw = DRAWERS[classId];
  if (!draw) throw new RangeError(`drawSubject: no drawing for class "${classId}"`);
  return draw(a, p);
}

/** Class ids that have a drawing (tests check it covers CLASSES). */
export const DRAWN_CLASSES: readonly string[] = Object.keys(DRAWERS);
