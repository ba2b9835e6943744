/**
 * Charts of a ZipLoRA run for the chat bot, as self-contained SVG (rasterised to PNG
 * through ../image): the loss per step, the per-layer merger cosine before vs after
 * (the paper's Fig. 3b) and the output change vs the fraction of dW zeroed (Fig. 3a).
 * White background, generic fonts (nothing is fetched), every piece of text escaped.
 * Empty or non-finite data gives a chart that says "no data" instead of failing.
 *
 * @example
 *   const svg = lossChartSvg(result.stats);          // '<svg xmlns=...>...</svg>'
 *   const { loss, cosine, sparsity } = await renderZipPlots(result.stats); // PNG bytes
 *   abbreviateTarget('unet.down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q'); // 'down0.a0.t0.attn1.q'
 */
import { rasterizeSvg } from '../image/index.ts';
import { cosineMeans, formatStat, type LayerStat, type ZipStats } from './stats.ts';

const FONT = 'DejaVu Sans, sans-serif';
const COLORS = { total: '#222222', subject: '#1f77b4', style: '#ff7f0e', cosine: '#2ca02c', before: '#c8c8c8', after: '#1f77b4', warn: '#c62828' };
/** Largest side, in SVG units, a chart may have (librsvg/cairo surfaces stop at 32767 px). */
const MAX_SIDE = 16000;

// ---------------------------------------------------------------------------
// Text

/** Escape text for SVG (element content and attribute values); characters XML cannot hold become U+FFFD. */
export function escapeXml(text: string): string {
  return text
    .replace(/[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
}

/** Rough width of text in DejaVu Sans at `size` px (no font metrics at hand). */
function textWidth(text: string, size: number): number {
  return [...text].length * size * 0.6;
}

/** Shorten to at most `max` characters with an ellipsis in the middle. */
function ellipsize(text: string, max: number): string {
  const chars = [...text];
  if (chars.length <= max) return text;
  const head = Math.ceil((max - 1) / 2);
  const tail = max - 1 - head;
  return `${chars.slice(0, head).join('')}…${tail > 0 ? chars.slice(chars.length - tail).join('') : ''}`;
}

interface TextOptions {
  size?: number;
  anchor?: 'start' | 'middle' | 'end';
  weight?: 'bold';
  fill?: string;
  rotate?: number;
  cls?: string;
}

function text(x: number, y: number, content: string, o: TextOptions = {}): string {
  const attrs = [`x="${n(x)}"`, `y="${n(y)}"`, `font-size="${o.size ?? 12}"`];
  if (o.anchor && o.anchor !== 'start') attrs.push(`text-anchor="${o.anchor}"`);
  if (o.weight) attrs.push(`font-weight="${o.weight}"`);
  attrs.push(`fill="${o.fill ?? '#222222'}"`);
  if (o.rotate) attrs.push(`transform="rotate(${o.rotate} ${n(x)} ${n(y)})"`);
  if (o.cls) attrs.push(`class="${o.cls}"`);
  return `<text ${attrs.join(' ')}>${escapeXml(content)}</text>`;
}

/** A coordinate with at most 2 decimals. */
function n(v: number): string {
  return String(Math.round(v * 100) / 100);
}

function svgDocument(width: number, height: number, body: string[], kind: string): string {
  const w = Math.ceil(width);
  const h = Math.ceil(height);
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" viewBox="0 0 ${w} ${h}" font-family="${FONT}" data-chart="${kind}">`,
    `<rect x="0" y="0" width="${w}" height="${h}" fill="#ffffff"/>`,
    ...body,
    '</svg>',
  ].join('\n');
}

// ---------------------------------------------------------------------------
// Numbers and ticks

function niceStep(span: number, count: number): number {
  const raw = span / Math.max(1, count);
  const p = 10 ** Math.floor(Math.log10(raw));
  const f = raw / p;
  return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 2.5 ? 2.5 : f <= 5 ? 5 : 10) * p;
}

interface Scale {
  lo: number;
  hi: number;
  ticks: number[];
  label: (v: number) => string;
  log: boolean;
}

function linearScale(min: number, max: number, o: { count?: number; integer?: boolean; format?: (v: number, step: number) => string } = {}): Scale {
  if (max === min) {
    const pad = min === 0 ? 1 : Math.abs(min) / 2;
    min -= o.integer ? Math.max(1, Math.round(pad)) : pad;
    max += o.integer ? Math.max(1, Math.round(pad)) : pad;
  }
  let step = niceStep(max - min, o.count ?? 5);
  if (o.integer) step = Math.max(1, Math.round(step));
  const lo = Math.floor(min / step + 1e-9) * step;
  const hi = Math.ceil(max / step - 1e-9) * step;
  const ticks: number[] = [];
  for (let i = 0; lo + i * step <= hi + step * 1e-9 && i < 100; i++) ticks.push(lo + i * step);
  const format = o.format ?? tickLabel;
  return { lo, hi, ticks, label: (v) => format(v, step), log: false };
}

/** A tick value with as many decimals as the tick step needs (exponent form when tiny or huge). */
function tickLabel(v: number, step: number): string {
  if (Math.abs(v) < step * 1e-9) return '0';
  const e = Math.floor(Math.log10(step) + 1e-9);
  const mantissa = step / 10 ** e;
  const extra = Math.abs(mantissa - Math.round(mantissa)) > 1e-6 ? 1 : 0;
  if (Math.abs(v) >= 1e5 || step < 1e-4) {
    const digits = Math.max(0, Math.floor(Math.log10(Math.abs(v)) + 1e-9) - e + extra);
    return v.toExponential(Math.min(8, digits)).replace(/\.?0+e/, 'e').replace('e+', 'e');
  }
  return v.toFixed(Math.min(8, Math.max(0, -e + extra)));
}

function logScale(min: number, max: number): Scale {
  let lo = Math.floor(Math.log10(min) + 1e-9);
  let hi = Math.ceil(Math.log10(max) - 1e-9);
  if (hi <= lo) hi = lo + 1;
  const every = Math.max(1, Math.ceil((hi - lo) / 8));
  lo = Math.floor(lo / every) * every;
  hi = Math.ceil(hi / every) * every;
  const ticks: number[] = [];
  for (let k = lo; k <= hi; k += every) ticks.push(10 ** k);
  const label = (v: number) => {
    const k = Math.round(Math.log10(v));
    if (k >= 0 && k <= 4) return String(10 ** k);
    if (k < 0 && k >= -4) return `0.${'0'.repeat(-k - 1)}1`;
    return `1e${k}`;
  };
  return { lo: 10 ** lo, hi: 10 ** hi, ticks, label, log: true };
}

function project(s: Scale, v: number, from: number, to: number): number {
  const t = s.log ? (Math.log10(v) - Math.log10(s.lo)) / (Math.log10(s.hi) - Math.log10(s.lo)) : (v - s.lo) / (s.hi - s.lo);
  return from + t * (to - from);
}

function percent(v: number, step: number): string {
  return `${tickLabel(v * 100, step * 100)}%`;
}

function minOf(values: readonly number[]): number {
  return values.reduce((a, b) => (b < a ? b : a), Infinity);
}

function maxOf(values: readonly number[]): number {
  return values.reduce((a, b) => (b > a ? b : a), -Infinity);
}

// ---------------------------------------------------------------------------
// Header, legend and "no data"

interface Header {
  title: string;
  subtitle?: string;
  warning?: string;
}

/** Title, subtitle and warning lines; returns the markup and the y below them. */
function header(h: Header, width: number): { markup: string[]; bottom: number } {
  const markup = [text(20, 30, ellipsize(h.title, Math.floor((width - 40) / 12)), { size: 20, weight: 'bold', cls: 'title' })];
  let y = 30;
  if (h.subtitle) {
    y += 22;
    markup.push(text(20, y, ellipsize(h.subtitle, Math.floor((width - 40) / 7.8)), { size: 13, fill: '#555555', cls: 'subtitle' }));
  }
  if (h.warning) {
    y += 20;
    markup.push(text(20, y, ellipsize(h.warning, Math.floor((width - 40) / 7.8)), { size: 13, weight: 'bold', fill: COLORS.warn, cls: 'warning' }));
  }
  return { markup, bottom: y + 10 };
}

interface LegendItem {
  name: string;
  color: string;
  shape: 'line' | 'box';
}

function legend(items: LegendItem[], x0: number, y0: number, maxX: number): { markup: string[]; bottom: number } {
  const markup: string[] = [];
  let x = x0;
  let y = y0 + 14;
  for (const it of items) {
    const w = 28 + textWidth(it.name, 13) + 20;
    if (x > x0 && x + w > maxX) {
      x = x0;
      y += 20;
    }
    markup.push(
      it.shape === 'line'
        ? `<line x1="${n(x)}" y1="${n(y - 4)}" x2="${n(x + 22)}" y2="${n(y - 4)}" stroke="${it.color}" stroke-width="3"/>`
        : `<rect x="${n(x + 5)}" y="${n(y - 11)}" width="12" height="12" fill="${it.color}"/>`,
    );
    markup.push(text(x + 28, y, it.name, { size: 13, cls: 'legend' }));
    x += w;
  }
  return { markup, bottom: y + 8 };
}

function noData(kind: string, h: Header, message: string, width = 960, height = 540): string {
  const head = header(h, width);
  return svgDocument(
    width,
    height,
    [
      ...head.markup,
      `<rect x="20" y="${n(head.bottom + 10)}" width="${width - 40}" height="${n(height - head.bottom - 40)}" fill="none" stroke="#cccccc"/>`,
      text(width / 2, (head.bottom + height) / 2, message, { size: 18, anchor: 'middle', fill: '#888888', cls: 'no-data' }),
    ],
    kind,
  );
}

// ---------------------------------------------------------------------------
// Line charts

interface Series {
  id: string;
  name: string;
  color: string;
  width?: number;
  points: readonly (readonly [number, number])[];
}

interface LineChart extends Header {
  kind: string;
  xLabel: string;
  yLabel: string;
  series: Series[];
  /** 'auto': log when the positive values span more than two decades. */
  logY: 'auto' | boolean;
  /** Fixed x range; otherwise the data's. */
  xDomain?: [number, number];
  integerX?: boolean;
  /** Include 0 in the y range (linear scale). */
  yFromZero?: boolean;
  xFormat?: (v: number, step: number) => string;
  yFormat?: (v: number, step: number) => string;
  empty: string;
}

const finitePoint = (p: readonly [number, number]) => Number.isFinite(p[0]) && Number.isFinite(p[1]);

function lineChartSvg(c: LineChart): string {
  const W = 960;
  const H = 540;
  const all = c.series.flatMap((s) => s.points.filter(finitePoint));
  if (all.length === 0) return noData(c.kind, c, c.empty, W, H);
  const ys = all.map((p) => p[1]);
  const positive = ys.filter((v) => v > 0);
  const minPos = positive.length ? minOf(positive) : 0;
  const maxPos = positive.length ? maxOf(positive) : 0;
  const log = c.logY === 'auto' ? positive.length > 0 && maxPos / minPos > 100 : c.logY && positive.length > 0;
  const visible = log ? all.filter((p) => p[1] > 0) : all;
  const xs = visible.map((p) => p[0]);
  const xScale = c.xDomain
    ? linearScale(c.xDomain[0], c.xDomain[1], { integer: c.integerX ?? false, ...(c.xFormat ? { format: c.xFormat } : {}) })
    : linearScale(minOf(xs), maxOf(xs), { integer: c.integerX ?? false, ...(c.xFormat ? { format: c.xFormat } : {}) });
  const yScale = log
    ? logScale(minPos, maxPos)
    : linearScale(c.yFromZero ? Math.min(0, minOf(ys)) : minOf(ys), c.yFromZero ? Math.max(0, maxOf(ys)) : maxOf(ys), c.yFormat ? { format: c.yFormat } : {});

  const head = header(c, W);
  const leg = legend(
    c.series.map((s) => ({ name: s.name, color: s.color, shape: 'line' })),
    80,
    head.bottom,
    W - 30,
  );
  const left = 80;
  const right = W - 30;
  const top = leg.bottom + 10;
  const bottom = H - 60;
  const px = (v: number) => project(xScale, v, left, right);
  const py = (v: number) => project(yScale, v, bottom, top);

  const body: string[] = [...head.markup, ...leg.markup];
  body.push(`<clipPath id="plot-area"><rect x="${left}" y="${n(top)}" width="${right - left}" height="${n(bottom - top)}"/></clipPath>`);
  body.push(`<g class="grid" stroke="#e6e6e6" stroke-width="1">`);
  for (const t of yScale.ticks) body.push(`<line x1="${left}" y1="${n(py(t))}" x2="${right}" y2="${n(py(t))}"/>`);
  if (log && yScale.ticks.length >= 2 && yScale.ticks[1]! / yScale.ticks[0]! < 11 && yScale.ticks.length <= 7) {
    // Minor lines at 2..9 x each decade.
    for (const t of yScale.ticks.slice(0, -1)) for (let k = 2; k <= 9; k++) body.push(`<line x1="${left}" y1="${n(py(t * k))}" x2="${right}" y2="${n(py(t * k))}" stroke="#f3f3f3"/>`);
  }
  for (const t of xScale.ticks) body.push(`<line x1="${n(px(t))}" y1="${n(top)}" x2="${n(px(t))}" y2="${bottom}"/>`);
  body.push('</g>');
  body.push(`<g class="axes" stroke="#444444" stroke-width="1"><line x1="${left}" y1="${bottom}" x2="${right}" y2="${bottom}"/><line x1="${left}" y1="${n(top)}" x2="${left}" y2="${bottom}"/></g>`);
  body.push(`<g class="y-ticks" data-scale="${log ? 'log' : 'linear'}">`);
  for (const t of yScale.ticks) body.push(text(left - 8, py(t) + 4, yScale.label(t), { size: 12, anchor: 'end', cls: 'tick' }));
  body.push('</g><g class="x-ticks">');
  for (const t of xScale.ticks) body.push(text(px(t), bottom + 18, xScale.label(t), { size: 12, anchor: 'middle', cls: 'tick' }));
  body.push('</g>');
  body.push(text((left + right) / 2, H - 16, c.xLabel, { size: 13, anchor: 'middle', cls: 'axis-label' }));
  body.push(text(22, (top + bottom) / 2, log ? `${c.yLabel} (log scale)` : c.yLabel, { size: 13, anchor: 'middle', rotate: -90, cls: 'axis-label' }));

  body.push('<g clip-path="url(#plot-area)" fill="none" stroke-linejoin="round" stroke-linecap="round">');
  for (const s of c.series) {
    const pts = [...s.points].sort((a, b) => a[0] - b[0]);
    let d = '';
    let pen = false;
    const marks: string[] = [];
    const ok = (p: readonly [number, number]) => finitePoint(p) && (!log || p[1] > 0);
    const shown = pts.filter(ok);
    for (const p of pts) {
      if (!ok(p)) {
        pen = false;
        continue;
      }
      d += `${pen ? 'L' : 'M'}${n(px(p[0]))} ${n(py(p[1]))} `;
      pen = true;
      if (shown.length <= 40) marks.push(`<circle cx="${n(px(p[0]))}" cy="${n(py(p[1]))}" r="3" fill="${s.color}" stroke="none"/>`);
    }
    if (shown.length === 0) continue;
    body.push(`<path class="series" data-series="${escapeXml(s.id)}" d="${d.trim()}" stroke="${s.color}" stroke-width="${s.width ?? 2}"/>`);
    body.push(...marks);
  }
  body.push('</g>');
  return svgDocument(W, H, body, c.kind);
}

function runSubtitle(stats: ZipStats): string {
  const parts = [
    stats.method === 'direct' ? 'direct merge (mergers fixed at 1)' : `ziplora, ${stats.steps}/${stats.maxSteps} steps, ${stats.stopReason}`,
    Number.isFinite(stats.seconds) ? `${formatStat(stats.seconds, 1)} s` : '',
    stats.provider,
    `seed ${stats.seed}`,
  ];
  return parts.filter(Boolean).join(' · ');
}

function stuckWarning(stats: ZipStats): string | undefined {
  return stats.stuck ? 'Warning: the mergers hardly moved, so this zip is effectively a direct merge.' : undefined;
}

/** Loss per step (total, subject MSE, style MSE, λ·cosine); log-scale y when the values span more than two decades. */
export function lossChartSvg(stats: ZipStats): string {
  const warning = stuckWarning(stats);
  const pick = (key: 'total' | 'subject' | 'style' | 'cosine') => stats.loss.map((l) => [l.step, l[key]] as const);
  return lineChartSvg({
    kind: 'loss',
    title: 'ZipLoRA loss per step',
    subtitle: runSubtitle(stats),
    ...(warning ? { warning } : {}),
    xLabel: 'step',
    yLabel: 'loss',
    series: [
      { id: 'total', name: 'total', color: COLORS.total, width: 2.5, points: pick('total') },
      { id: 'subject', name: 'subject MSE', color: COLORS.subject, points: pick('subject') },
      { id: 'style', name: 'style MSE', color: COLORS.style, points: pick('style') },
      { id: 'cosine', name: 'λ·cosine', color: COLORS.cosine, points: pick('cosine') },
    ],
    logY: 'auto',
    integerX: true,
    empty: stats.method === 'direct' ? 'no data (direct merge: no optimisation)' : 'no data',
  });
}

/** Fig. 3a: relative output change vs fraction of dW zeroed (smallest first), one line per LoRA. */
export function sparsityChartSvg(stats: ZipStats): string {
  const line = (points: ZipStats['sparsity']['subject']) => points.map((p) => [p.fraction, p.outputChange] as const);
  return lineChartSvg({
    kind: 'sparsity',
    title: 'Output change vs fraction of ΔW zeroed',
    subtitle: 'smallest |ΔW| entries zeroed first; change = ‖ε′ − ε‖ / ‖ε‖ on the zip inputs',
    xLabel: 'fraction of ΔW elements zeroed',
    yLabel: 'relative output change',
    series: [
      { id: 'subject', name: 'subject LoRA', color: COLORS.subject, points: line(stats.sparsity.subject) },
      { id: 'style', name: 'style LoRA', color: COLORS.style, points: line(stats.sparsity.style) },
    ],
    logY: false,
    xDomain: [0, 1],
    yFromZero: true,
    xFormat: percent,
    yFormat: percent,
    empty: 'no data (sparsity not measured)',
  });
}

// ---------------------------------------------------------------------------
// Layers

const COMPONENTS: [RegExp, number, string][] = [
  [/^unet\./, 0, ''],
  [/^text_encoder\./, 1, 'te.'],
  [/^text_encoder_2\./, 2, 'te2.'],
];

/**
 * A readable short name for a module target:
 * 'unet.down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q' -> 'down0.a0.t0.attn1.q',
 * 'text_encoder.text_model.encoder.layers.3.self_attn.q_proj' -> 'te.L3.q'. At most `max` characters.
 */
export function abbreviateTarget(target: string, max = 28): string {
  let s = target;
  let prefix = '';
  for (const [re, , short] of COMPONENTS) {
    if (re.test(s)) {
      s = s.replace(re, '');
      prefix = short;
      break;
    }
  }
  s = s
    .replace(/\bdown_blocks\.(\d+)/g, 'down$1')
    .replace(/\bup_blocks\.(\d+)/g, 'up$1')
    .replace(/\bmid_block\b/g, 'mid')
    .replace(/\battentions\.(\d+)/g, 'a$1')
    .replace(/\bresnets\.(\d+)/g, 'r$1')
    .replace(/\btransformer_blocks\.(\d+)/g, 't$1')
    .replace(/\bdownsamplers\.(\d+)\.conv\b/g, 'ds$1')
    .replace(/\bupsamplers\.(\d+)\.conv\b/g, 'us$1')
    .replace(/\bto_(q|k|v)\b/g, '$1')
    .replace(/\bto_out\.0\b/g, 'out')
    .replace(/\bff\.net\.0\.proj\b/g, 'ff.in')
    .replace(/\bff\.net\.2\b/g, 'ff.out')
    .replace(/\btext_model\.encoder\.layers\.(\d+)/g, 'L$1')
    .replace(/\bself_attn\.(q|k|v)_proj\b/g, '$1')
    .replace(/\bself_attn\.out_proj\b/g, 'out')
    .replace(/\bmlp\.(fc\d)\b/g, '$1');
  return ellipsize(prefix + s, max);
}

/** Sort key of a target in UNet execution order (down blocks, mid, up blocks; resnet j, attention j; ...). */
function orderKey(target: string): number[] {
  let s = target;
  let component = 0;
  for (const [re, rank] of COMPONENTS) {
    if (re.test(s)) {
      s = s.replace(re, '');
      component = rank;
      break;
    }
  }
  const key = [component];
  let m: RegExpExecArray | null;
  if (/^(conv_in|time_embedding|add_embedding)\b/.test(s)) key.push(0, 0);
  else if ((m = /^down_blocks\.(\d+)\./.exec(s))) key.push(1, Number(m[1]));
  else if (/^mid_block\./.test(s)) key.push(2, 0);
  else if ((m = /^up_blocks\.(\d+)\./.exec(s))) key.push(3, Number(m[1]));
  else if ((m = /layers\.(\d+)\./.exec(s))) key.push(1, Number(m[1]));
  else key.push(4, 0);
  if ((m = /\b(resnets|attentions)\.(\d+)\./.exec(s))) key.push(Number(m[2]), m[1] === 'resnets' ? 0 : 1);
  else if (/\b(down|up)samplers\./.test(s)) key.push(1e6, 0);
  else key.push(0, 0);
  if (/\bproj_in\b/.test(s)) key.push(0);
  else if ((m = /\btransformer_blocks\.(\d+)\./.exec(s))) key.push(1 + Number(m[1]));
  else if (/\bproj_out\b/.test(s)) key.push(1e6);
  else key.push(0);
  key.push(/\battn1\b|self_attn/.test(s) ? 0 : /\battn2\b/.test(s) ? 1 : /\bff\b|mlp/.test(s) ? 2 : 3);
  const proj = /\b(?:to_)?(q|k|v|out)(?:_proj)?\b|\bff\.net\.(0|2)\b|\bfc(1|2)\b/.exec(s);
  key.push(proj ? { q: 0, k: 1, v: 2, out: 3, '0': 0, '2': 1, '1': 0 }[(proj[1] ?? proj[2] ?? proj[3])!] ?? 4 : 4);
  return key;
}

/** Layers in UNet order (stable for anything the order does not know). */
export function orderLayers<T extends Pick<LayerStat, 'target'>>(layers: readonly T[]): T[] {
  const keyed = layers.map((l, i) => ({ l, i, k: orderKey(l.target) }));
  keyed.sort((a, b) => {
    for (let j = 0; j < Math.max(a.k.length, b.k.length); j++) {
      const d = (a.k[j] ?? 0) - (b.k[j] ?? 0);
      if (d !== 0) return d;
    }
    return a.i - b.i;
  });
  return keyed.map((e) => e.l);
}

/** The block a short name belongs to ('down0', 'mid', 'up1', 'te.L3', ...), for separators. */
function blockOf(short: string): string {
  const parts = short.split('.');
  return parts[0] === 'te' || parts[0] === 'te2' ? `${parts[0]}.${parts[1] ?? ''}` : (parts[0] ?? '');
}

/**
 * Fig. 3b: per-layer mean |cos(m_c, m_s)| before (grey) vs after (blue) as grouped
 * bars, layers in UNet order with abbreviated names. Many layers wrap onto several
 * rows (at most 80 per row), so hundreds of layers stay legible.
 */
export function cosineChartSvg(stats: ZipStats): string {
  const pairs = Math.max(2, stats.maxMove.length, ...stats.layers.map((l) => l.maxMove.length));
  const title = pairs <= 2 ? 'Merger cosine per layer: |cos(m_subject, m_style)|' : 'Merger cosine per layer: mean |cos(m_a, m_b)| over LoRA pairs';
  const cos = cosineMeans(stats);
  const what = stats.method === 'direct' ? 'direct merge (mergers fixed at 1)' : `ziplora, ${stats.steps}/${stats.maxSteps} steps, ${stats.stopReason}`;
  const subtitle = `mean ${formatStat(cos.before)} → ${formatStat(cos.after)} over ${cos.layers} layer${cos.layers === 1 ? '' : 's'} · ${what}`;
  const warning = stuckWarning(stats);
  const head: Header = { title, subtitle, ...(warning ? { warning } : {}) };
  const finite = stats.layers.filter((l) => Number.isFinite(l.cosBefore) || Number.isFinite(l.cosAfter));
  if (finite.length === 0) return noData('cosine', head, stats.layers.length ? 'no data (cosines are not finite)' : 'no data (no layers)');

  const layers = orderLayers(stats.layers);
  const names = layers.map((l) => abbreviateTarget(l.target));
  const count = layers.length;
  const left = 64;
  const rightPad = 24;
  const plotH = 150;
  const labelSize = 10;
  const labelH = Math.min(28, maxOf(names.map((s) => [...s].length))) * labelSize * 0.58 + 12;
  const band = 16; // block names above each row
  const rowGap = 14;
  const rowH = band + plotH + labelH + rowGap;
  const minSlot = 14;

  // Layout: at most 80 layers per row, balanced; more per row only when the height would run out.
  let perRow = Math.min(count, 80);
  const headerH = 110 + (warning ? 20 : 0);
  const maxRows = Math.max(1, Math.floor((MAX_SIDE - headerH) / rowH));
  if (Math.ceil(count / perRow) > maxRows) perRow = Math.ceil(count / maxRows);
  perRow = Math.min(perRow, Math.floor((MAX_SIDE - left - rightPad) / minSlot));
  let rows = Math.ceil(count / perRow);
  let note = '';
  if (rows > maxRows) {
    rows = maxRows;
    note = ` (showing the first ${rows * perRow} of ${count})`;
  }
  perRow = Math.ceil(Math.min(count, rows * perRow) / rows);
  const plotW = Math.max(880, perRow * minSlot);
  const slot = plotW / perRow;
  const W = left + plotW + rightPad;
  const top = header({ ...head, subtitle: subtitle + note }, W);
  const leg = legend(
    [
      { name: 'before (mergers = 1)', color: COLORS.before, shape: 'box' },
      { name: 'after optimisation', color: COLORS.after, shape: 'box' },
    ],
    left,
    top.bottom,
    W - rightPad,
  );
  const y0 = leg.bottom + 4;
  const H = y0 + rows * rowH;
  const body: string[] = [...top.markup, ...leg.markup];
  const barW = Math.min(16, slot * 0.36);

  for (let r = 0; r < rows; r++) {
    const start = r * perRow;
    const end = Math.min(count, start + perRow, rows * perRow);
    if (start >= end) break;
    const rowTop = y0 + r * rowH + band;
    const base = rowTop + plotH;
    body.push(`<g class="row" data-row="${r}">`);
    for (const t of [0, 0.25, 0.5, 0.75, 1]) {
      const ty = base - barHeight(t, plotH);
      body.push(`<line x1="${left}" y1="${n(ty)}" x2="${n(left + (end - start) * slot)}" y2="${n(ty)}" stroke="${t === 0 ? '#444444' : '#e6e6e6'}" stroke-width="1"/>`);
      body.push(text(left - 6, ty + 4, t === 0 ? '0' : t === 1 ? '1' : String(t), { size: 11, anchor: 'end', cls: 'tick' }));
    }
    body.push(text(18, rowTop + plotH / 2, '|cos|', { size: 12, anchor: 'middle', rotate: -90, cls: 'axis-label' }));
    // Block separators and names.
    let groupStart = start;
    for (let i = start; i <= end; i++) {
      if (i < end && blockOf(names[i]!) === blockOf(names[groupStart]!)) continue;
      const gx = left + (groupStart - start) * slot;
      const gw = (i - groupStart) * slot;
      if (groupStart > start) body.push(`<line x1="${n(gx)}" y1="${n(rowTop - band)}" x2="${n(gx)}" y2="${n(base)}" stroke="#999999" stroke-dasharray="3 3"/>`);
      const block = blockOf(names[groupStart]!);
      if (gw >= textWidth(block, 11) + 6) body.push(text(gx + 4, rowTop - 4, block, { size: 11, fill: '#666666', cls: 'block' }));
      groupStart = i;
    }
    for (let i = start; i < end; i++) {
      const l = layers[i]!;
      const cx = left + (i - start + 0.5) * slot;
      if (Number.isFinite(l.cosBefore)) {
        const h = barHeight(l.cosBefore, plotH);
        body.push(`<rect class="bar-before" x="${n(cx - barW - 0.5)}" y="${n(base - h)}" width="${n(barW)}" height="${n(h)}" fill="${COLORS.before}"/>`);
      }
      if (Number.isFinite(l.cosAfter)) {
        const h = barHeight(l.cosAfter, plotH);
        body.push(`<rect class="bar-after" x="${n(cx + 0.5)}" y="${n(base - h)}" width="${n(barW)}" height="${n(h)}" fill="${COLORS.after}"/>`);
      }
      body.push(text(cx + labelSize * 0.35, base + 6, names[i]!, { size: labelSize, anchor: 'end', rotate: -90, fill: '#333333', cls: 'layer' }));
    }
    body.push('</g>');
  }
  return svgDocument(W, H, body, 'cosine');
}

/** |cos| in [0, 1] -> bar height in px; values above 1 are clipped, tiny positive ones stay visible (1 px). */
function barHeight(v: number, height: number): number {
  const c = Math.min(1, Math.max(0, Math.abs(v)));
  return c > 0 ? Math.max(1, c * height) : 0;
}

// ---------------------------------------------------------------------------
// PNG

/**
 * The three charts as PNG bytes. `density` 144 (default) renders at twice the SVG
 * size for sharp text in chat; it is lowered for a chart whose longer side would
 * exceed 16000 px.
 */
export async function renderZipPlots(stats: ZipStats, options: { density?: number } = {}): Promise<{ loss: Buffer; cosine: Buffer; sparsity: Buffer }> {
  const density = options.density ?? 144;
  const render = (svg: string) => {
    const size = /^<svg [^>]*?\bwidth="(\d+)" height="(\d+)"/.exec(svg);
    const side = Math.max(1, Number(size?.[1] ?? 1), Number(size?.[2] ?? 1));
    return rasterizeSvg(svg, { density: Math.min(density, (72 * MAX_SIDE) / side) });
  };
  const [loss, cosine, sparsity] = await Promise.all([render(lossChartSvg(stats)), render(cosineChartSvg(stats)), render(sparsityChartSvg(stats))]);
  return { loss, cosine, sparsity };
}
