/**
 * Small SVG and colour helpers for the world's drawings: element builders with
 * compact number formatting, hex colour parsing, mixing and saturation, and the
 * `Paint` that styles use to transform every colour a drawing asks for.
 *
 * @example
 *   const p = identityPaint();
 *   circle(50, 40, 10, p.c('orange'));   // '<circle cx="50" cy="40" r="10" fill="#f08a24"/>'
 *   mixHex('#000000', '#ffffff', 0.5);   // '#808080'
 */
import { COLORS } from './catalog.ts';

/** A number with at most two decimals. */
export function n(v: number): string {
  return String(Math.round(v * 100) / 100);
}

export function hexToRgb(hex: string): [number, number, number] {
  const h = hex.replace('#', '');
  const full = h.length === 3 ? h.replace(/./g, (x) => x + x) : h;
  const v = parseInt(full, 16);
  return [(v >> 16) & 255, (v >> 8) & 255, v & 255];
}

export function rgbToHex(r: number, g: number, b: number): string {
  const c = (x: number) => Math.max(0, Math.min(255, Math.round(x))).toString(16).padStart(2, '0');
  return `#${c(r)}${c(g)}${c(b)}`;
}

/** A colour name of the world (COLORS) or a hex value -> hex. */
export function resolveColor(color: string): string {
  return COLORS[color] ?? color;
}

/** Linear mix: t = 0 gives a, 1 gives b. */
export function mixHex(a: string, b: string, t: number): string {
  const x = hexToRgb(resolveColor(a));
  const y = hexToRgb(resolveColor(b));
  return rgbToHex(x[0] + (y[0] - x[0]) * t, x[1] + (y[1] - x[1]) * t, x[2] + (y[2] - x[2]) * t);
}

/** Scale the distance from grey (k > 1 saturates, k < 1 desaturates). */
export function saturateHex(hex: string, k: number): string {
  const [r, g, b] = hexToRgb(resolveColor(hex));
  const l = 0.299 * r + 0.587 * g + 0.114 * b;
  return rgbToHex(l + (r - l) * k, l + (g - l) * k, l + (b - l) * k);
}

/** Darker (f < 1) or lighter (f > 1) by multiplying the channels. */
export function shadeHex(hex: string, f: number): string {
  const [r, g, b] = hexToRgb(resolveColor(hex));
  return rgbToHex(r * f, g * f, b * f);
}

/** How a style turns the colours a drawing asks for into SVG paint. */
export interface Paint {
  /** A colour name or hex -> the fill or stroke value to write. */
  c(color: string): string;
}

export function identityPaint(): Paint {
  return { c: resolveColor };
}

type Extra = string | undefined;
const x = (extra: Extra) => (extra ? ` ${extra}` : '');

export function circle(cx: number, cy: number, r: number, fill: string, extra?: Extra): string {
  return `<circle cx="${n(cx)}" cy="${n(cy)}" r="${n(r)}" fill="${fill}"${x(extra)}/>`;
}

export function ellipse(cx: number, cy: number, rx: number, ry: number, fill: string, extra?: Extra): string {
  return `<ellipse cx="${n(cx)}" cy="${n(cy)}" rx="${n(rx)}" ry="${n(ry)}" fill="${fill}"${x(extra)}/>`;
}

export function rect(x0: number, y0: number, w: number, h: number, fill: string, extra?: Extra): string {
  return `<rect x="${n(x0)}" y="${n(y0)}" width="${n(w)}" height="${n(h)}" fill="${fill}"${x(extra)}/>`;
}

/** A closed polygon from flat [x0, y0, x1, y1, ...]. */
export function poly(points: readonly number[], fill: string, extra?: Extra): string {
  const pts: string[] = [];
  for (let i = 0; i + 1 < points.length; i += 2) pts.push(`${n(points[i]!)},${n(points[i + 1]!)}`);
  return `<polygon points="${pts.join(' ')}" fill="${fill}"${x(extra)}/>`;
}

export function path(d: string, fill: string, extra?: Extra): string {
  return `<path d="${d}" fill="${fill}"${x(extra)}/>`;
}

/** An unfilled stroked path (lines, tails, handles). */
export function line(d: string, stroke: string, width: number, extra?: Extra): string {
  return `<path d="${d}" fill="none" stroke="${stroke}" stroke-width="${n(width)}" stroke-linecap="round" stroke-linejoin="round"${x(extra)}/>`;
}
