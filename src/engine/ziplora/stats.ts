/**
 * ZipLoRA statistics: what one zip run measured (loss per step, per-layer merger
 * cosine before and after, how far the mergers moved, the sparsity sweep) and a
 * short human summary of it for the chat bot. The optimiser (./zip.ts) fills a
 * `ZipStats`; ./plots.ts draws it.
 *
 * @example
 *   const lines = summarizeStats(result.stats);
 *   // ['ziplora: 100/100 steps in 42.1 s, reached the step limit (seed 0, cuda)',
 *   //  'loss 0.231 -> 0.118 (subject MSE 0.061, style MSE 0.055, λ·cosine 0.0021)',
 *   //  'mergers moved: subject max |m-1| = 0.41, style 0.37',
 *   //  'cosine mean 1.00 -> 0.03 over 64 layers']
 */

export interface LayerStat {
  /** Module target, e.g. 'unet.down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q'. */
  target: string;
  /** |cos(m_c, m_s)| before optimisation (mergers initialised to 1 => 1.0) and after. */
  cosBefore: number;
  cosAfter: number;
  /** max |m - 1| per LoRA after optimisation (index 0 subject, 1 style, ...). */
  maxMove: number[];
}

export interface SparsityPoint {
  /** Fraction of dW elements zeroed (smallest |value| first), e.g. 0.8. */
  fraction: number;
  /** Relative change of the UNet output (||eps' - eps|| / ||eps||) on the zip's inputs. */
  outputChange: number;
}

export interface ZipStats {
  method: 'ziplora' | 'direct';
  /** Steps run. */
  steps: number;
  maxSteps: number;
  seconds: number;
  /** Loss per step: total and its parts (`cosine` is the weighted term, lambda · Σ|cos|). */
  loss: { step: number; total: number; subject: number; style: number; cosine: number }[];
  layers: LayerStat[];
  /** Max |m - 1| over all layers, per LoRA. */
  maxMove: number[];
  /** Why the loop ended: 'max-steps' | 'converged' (cosine term below threshold) | 'cancelled'. */
  stopReason: 'max-steps' | 'converged' | 'cancelled';
  /** True when the mergers hardly moved (max |m-1| below a threshold): the zip is then effectively a direct merge and must be reported as such. */
  stuck: boolean;
  sparsity: { subject: SparsityPoint[]; style: SparsityPoint[] };
  seed: number;
  provider: string;
}

/** Display name of LoRA `index` in a zip: 'subject', 'style', then 'LoRA 3', ... */
export function loraName(index: number): string {
  return index === 0 ? 'subject' : index === 1 ? 'style' : `LoRA ${index + 1}`;
}

/** Mean of the finite values (NaN when there are none). */
export function meanFinite(values: Iterable<number>): number {
  let sum = 0;
  let count = 0;
  for (const v of values) {
    if (Number.isFinite(v)) {
      sum += v;
      count++;
    }
  }
  return count ? sum / count : Number.NaN;
}

/** Mean |cos| over layers before and after, and the number of layers. */
export function cosineMeans(stats: Pick<ZipStats, 'layers'>): { before: number; after: number; layers: number } {
  return {
    before: meanFinite(stats.layers.map((l) => l.cosBefore)),
    after: meanFinite(stats.layers.map((l) => l.cosAfter)),
    layers: stats.layers.length,
  };
}

/** A number for people: 2 decimals near 1, 2 significant digits when small, 'n/a' for NaN. */
export function formatStat(v: number, digits = 2): string {
  if (!Number.isFinite(v)) return Number.isNaN(v) ? 'n/a' : v > 0 ? '∞' : '-∞';
  const a = Math.abs(v);
  if (a === 0) return '0';
  if (a >= 1e5 || a < 1e-4) return v.toExponential(1).replace('.0e', 'e');
  if (a >= 0.1) return v.toFixed(a >= 100 ? 0 : digits);
  return String(Number(v.toPrecision(digits)));
}

const STOP: Record<ZipStats['stopReason'], string> = {
  'max-steps': 'reached the step limit',
  converged: 'converged (cosine term below threshold)',
  cancelled: 'cancelled',
};

/**
 * A few lines describing a zip run for people: steps and stop reason, final loss,
 * how far the mergers moved, the cosine before -> after, the sparsity sweep when
 * measured, and a clear warning when the zip is stuck (effectively a direct merge).
 */
export function summarizeStats(stats: ZipStats): string[] {
  const lines: string[] = [];
  const where = [`seed ${stats.seed}`, stats.provider].filter(Boolean).join(', ');
  if (stats.method === 'direct') {
    lines.push(`direct merge: mergers fixed at 1, no optimisation (${where})`);
  } else {
    lines.push(`ziplora: ${stats.steps}/${stats.maxSteps} steps in ${formatStat(stats.seconds, 1)} s, ${STOP[stats.stopReason] ?? stats.stopReason} (${where})`);
  }
  const first = stats.loss[0];
  const last = stats.loss[stats.loss.length - 1];
  if (first && last) {
    lines.push(
      `loss ${formatStat(first.total, 3)} -> ${formatStat(last.total, 3)} (subject MSE ${formatStat(last.subject, 3)}, style MSE ${formatStat(last.style, 3)}, λ·cosine ${formatStat(last.cosine)})`,
    );
  }
  if (stats.maxMove.length > 0) {
    const parts = stats.maxMove.map((v, k) => (k === 0 ? `${loraName(k)} max |m-1| = ${formatStat(v)}` : `${loraName(k)} ${formatStat(v)}`));
    lines.push(`mergers moved: ${parts.join(', ')}`);
  }
  const cos = cosineMeans(stats);
  if (cos.layers > 0) {
    lines.push(`cosine mean ${formatStat(cos.before)} -> ${formatStat(cos.after)} over ${cos.layers} layer${cos.layers === 1 ? '' : 's'}`);
  } else {
    lines.push('cosine: no layers measured');
  }
  const sparsity: string[] = [];
  for (const [name, points] of [['subject', stats.sparsity.subject], ['style', stats.sparsity.style]] as const) {
    const valid = points.filter((p) => Number.isFinite(p.fraction) && Number.isFinite(p.outputChange));
    if (valid.length === 0) continue;
    const top = valid.reduce((a, b) => (b.fraction > a.fraction ? b : a));
    sparsity.push(`${name} output changes ${formatPercent(top.outputChange)} with ${formatPercent(top.fraction)} of dW zeroed`);
  }
  if (sparsity.length > 0) lines.push(`sparsity: ${sparsity.join('; ')}`);
  if (stats.stuck) {
    const moved = stats.maxMove.length ? Math.max(...stats.maxMove.map((v) => (Number.isFinite(v) ? v : 0))) : 0;
    lines.push(`WARNING: the mergers hardly moved (max |m-1| = ${formatStat(moved)}): this zip is effectively a direct merge, not a ZipLoRA.`);
  }
  return lines;
}

/** 0.8 -> '80%', 0.0123 -> '1.2%'. */
export function formatPercent(v: number): string {
  if (!Number.isFinite(v)) return 'n/a';
  const p = v * 100;
  const a = Math.abs(p);
  return `${a >= 10 || a === 0 ? p.toFixed(0) : a >= 1 ? p.toFixed(1) : p.toPrecision(2)}%`;
}
