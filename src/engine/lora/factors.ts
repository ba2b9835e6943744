/**
 * Header-only facts about a module's factors: its rank, the weight shape it implies,
 * and whether that shape fits a base-model module. Inconsistent factors are refused.
 *
 * Rank conventions (LyCORIS): LoRA/LoHa use the inner dimension of the first factor
 * pair; LoKr uses w2b's inner dimension when W2 is factored, else w1b's; a LoKr with
 * both sides full, and a full `diff`, have no rank and scale 1.
 *
 * @example
 *   const s = factorShape('x.safetensors', 'lora_unet_conv_in', factors);
 *   // { rank: 4, out: 320, inFlat: 36, kernel: [3, 3] }
 */
import { ZipbankError } from '../../errors/index.ts';
import type { ModuleShape } from '../models/modules.ts';
import type { Factors, TensorRef } from './types.ts';

export interface FactorShape {
  rank: number;
  out: number;
  /** in · kh · kw. */
  inFlat: number;
  /** Input channels, when the factors show them separately from the kernel. */
  in?: number;
  /** The kernel, when the factors show it. */
  kernel?: [number, number];
}

const prod = (s: readonly number[]): number => s.reduce((a, n) => a * n, 1);

function bad(file: string, t: TensorRef, reason: string): ZipbankError {
  return new ZipbankError('lora.bad-tensor', { file, tensor: t.name, reason });
}

function dims(file: string, t: TensorRef, allowed: number[]): void {
  if (!allowed.includes(t.shape.length)) {
    throw bad(file, t, `has shape [${t.shape.join(', ')}]; expected ${allowed.join(' or ')} dimensions`);
  }
  if (t.shape.some((n) => n === 0)) throw bad(file, t, 'is empty');
}

function rankCheck(file: string, module: string, down: TensorRef, up: TensorRef, ok: boolean): void {
  if (!ok) throw new ZipbankError('lora.rank-mismatch', { file, module, down: down.shape, up: up.shape });
}

function loraShape(file: string, key: string, f: Extract<Factors, { algo: 'lora' }>): FactorShape {
  const { down, up, mid } = f;
  dims(file, down, [2, 4]);
  dims(file, up, [2, 4]);
  const r = down.shape[0]!;
  rankCheck(file, key, down, up, up.shape[1] === r || (mid !== undefined && mid.shape[0] === up.shape[1]));
  if (up.shape.length === 4 && prod(up.shape.slice(2)) !== 1) throw bad(file, up, 'must have a 1x1 kernel');
  const out = up.shape[0]!;
  const inp = down.shape[1]!;
  if (mid) {
    dims(file, mid, [4]);
    rankCheck(file, key, down, up, mid.shape[0] === up.shape[1] && mid.shape[1] === r);
    if (prod(down.shape.slice(2)) !== 1) throw bad(file, down, 'must have a 1x1 kernel when a lora_mid core is present');
    const kernel: [number, number] = [mid.shape[2]!, mid.shape[3]!];
    return { rank: r, out, in: inp, inFlat: inp * kernel[0] * kernel[1], kernel };
  }
  if (down.shape.length === 4) {
    const kernel: [number, number] = [down.shape[2]!, down.shape[3]!];
    return { rank: r, out, in: inp, inFlat: inp * kernel[0] * kernel[1], kernel };
  }
  return { rank: r, out, in: inp, inFlat: inp };
}

/** [rows, cols] of a (possibly CP) LyCORIS product side, plus its kernel when CP. */
function side(
  file: string,
  key: string,
  a: TensorRef,
  b: TensorRef,
  t: TensorRef | undefined,
): { rows: number; cols: number; rank: number; kernel?: [number, number] } {
  dims(file, a, [2]);
  dims(file, b, [2]);
  if (t) {
    dims(file, t, [4]);
    rankCheck(file, key, b, a, t.shape[0] === a.shape[0] && t.shape[1] === b.shape[0]);
    const kernel: [number, number] = [t.shape[2]!, t.shape[3]!];
    return { rows: a.shape[1]!, cols: b.shape[1]! * kernel[0] * kernel[1], rank: b.shape[0]!, kernel };
  }
  rankCheck(file, key, b, a, a.shape[1] === b.shape[0]);
  return { rows: a.shape[0]!, cols: b.shape[1]!, rank: b.shape[0]! };
}

function lohaShape(file: string, key: string, f: Extract<Factors, { algo: 'loha' }>): FactorShape {
  const s1 = side(file, key, f.w1a, f.w1b, f.t1);
  const s2 = side(file, key, f.w2a, f.w2b, f.t2);
  if (s1.rows !== s2.rows || s1.cols !== s2.cols) {
    throw bad(file, f.w2a, `gives a ${s2.rows}x${s2.cols} product but hada_w1 gives ${s1.rows}x${s1.cols}`);
  }
  const kernel = s1.kernel ?? s2.kernel;
  return { rank: s1.rank, out: s1.rows, inFlat: s1.cols, ...(kernel ? { kernel, in: s1.cols / (kernel[0] * kernel[1]) } : {}) };
}

function lokrShape(file: string, key: string, f: Extract<Factors, { algo: 'lokr' }>): FactorShape {
  let a: number, c: number;
  let rank = 0;
  if (f.w1) {
    dims(file, f.w1, [2]);
    [a, c] = f.w1.shape as [number, number];
  } else if (f.w1a && f.w1b) {
    const s = side(file, key, f.w1a, f.w1b, undefined);
    [a, c, rank] = [s.rows, s.cols, s.rank];
  } else {
    throw new ZipbankError('lora.missing-pair', { file, module: key, present: 'lokr_w2', missing: 'lokr_w1 (or lokr_w1_a + lokr_w1_b)' });
  }
  let b: number, dFlat: number;
  let kernel: [number, number] | undefined;
  if (f.w2) {
    dims(file, f.w2, [2, 4]);
    b = f.w2.shape[0]!;
    dFlat = prod(f.w2.shape.slice(1));
    if (f.w2.shape.length === 4) kernel = [f.w2.shape[2]!, f.w2.shape[3]!];
  } else if (f.w2a && f.w2b) {
    const s = side(file, key, f.w2a, f.w2b, f.t2);
    [b, dFlat, rank, kernel] = [s.rows, s.cols, s.rank, s.kernel];
  } else {
    throw new ZipbankError('lora.missing-pair', { file, module: key, present: 'lokr_w1', missing: 'lokr_w2 (or lokr_w2_a + lokr_w2_b)' });
  }
  const inFlat = c * dFlat;
  return { rank, out: a * b, inFlat, ...(kernel ? { kernel, in: inFlat / (kernel[0] * kernel[1]) } : {}) };
}

/** Rank and implied weight shape of a module's factors; throws on inconsistent factors. */
export function factorShape(file: string, key: string, f: Factors): FactorShape {
  switch (f.algo) {
    case 'lora':
      return loraShape(file, key, f);
    case 'loha':
      return lohaShape(file, key, f);
    case 'lokr':
      return lokrShape(file, key, f);
    case 'full': {
      dims(file, f.diff, [2, 4]);
      const [out, inp, kh = 1, kw = 1] = f.diff.shape as number[];
      return { rank: 0, out: out!, in: inp!, inFlat: inp! * kh * kw, ...(f.diff.shape.length === 4 ? { kernel: [kh, kw] } : {}) };
    }
  }
}

/** The weight shape as people write it: [out, in] or [out, in, kh, kw]. */
export function baseShapeOf(m: ModuleShape): number[] {
  return m.kind === 'linear' ? [m.outFeatures, m.inFeatures] : [m.outFeatures, m.inFeatures, ...m.kernel];
}

export function factorShapeList(s: FactorShape): number[] {
  if (s.kernel && s.in !== undefined) return [s.out, s.in, ...s.kernel];
  return [s.out, s.inFlat];
}

/**
 * Whether factors fit a base module. `strict` also requires the layer kind to agree
 * (a 4-D 1x1 factor on a linear, or a 2-D factor on a 1x1 conv, fit only loosely).
 */
export function fitsBase(s: FactorShape, base: ModuleShape, strict = false): boolean {
  const k = base.kernel[0] * base.kernel[1];
  if (s.out !== base.outFeatures || s.inFlat !== base.inFeatures * k) return false;
  if (s.kernel && (s.kernel[0] !== base.kernel[0] || s.kernel[1] !== base.kernel[1])) return false;
  if (strict) return base.kind === 'conv' ? s.kernel !== undefined : s.kernel === undefined;
  return true;
}
