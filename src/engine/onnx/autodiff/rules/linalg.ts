/**
 * Gradient rules of the matrix products: MatMul (batched, broadcast, 1-D), Gemm,
 * Conv and ConvTranspose (any spatial rank, strides, pads, dilations, groups).
 * Products against a 2-D weight read the weight in place through Gemm's transB;
 * no transposed copy of a weight is ever made.
 *
 * @example
 *   RULES.Conv   // dX = ConvTranspose(dY, W); dW = a convolution of X by dY; dB = sum of dY
 */
import { gemm, graphOf, matmul, mul, reduceSum } from '../../ops/math.ts';
import { concat, slice, split, transpose } from '../../ops/shape.ts';
import type { Value } from '../../value.ts';
import type { GradRule, RuleContext } from '../rule.ts';
import { product, reshapeTo, unbroadcast } from './util.ts';

function swapLast(rank: number): number[] {
  const p = Array.from({ length: rank }, (_, i) => i);
  [p[rank - 1], p[rank - 2]] = [p[rank - 2]!, p[rank - 1]!];
  return p;
}

const matmulRule: GradRule = (c) => {
  const gy = c.gradOut(0)!;
  const aShape = c.inShape(0);
  const bShape = c.inShape(1);
  const a2 = aShape.length === 1 ? [1, aShape[0]!] : aShape;
  const b2 = bShape.length === 1 ? [bShape[0]!, 1] : bShape;
  const k = a2[a2.length - 1]!;
  const m = b2[b2.length - 1]!;
  const a = reshapeTo(c.input(0), a2);
  const b = reshapeTo(c.input(1), b2);
  let ga: Value | null = null;
  let gb: Value | null = null;
  if (b2.length === 2 && a2.length >= 2) {
    // The common weight case: Y[..., n, m] = A[..., n, k] @ B[k, m]; flatten the rows.
    const rows = product(a2) / k;
    const gy2 = reshapeTo(gy, [rows, m]);
    if (c.needs(0)) ga = reshapeTo(gemm(gy2, b, null, { transB: true }), aShape);
    if (c.needs(1)) gb = reshapeTo(gemm(reshapeTo(a, [rows, k]), gy2, null, { transA: true }), bShape);
    return [ga, gb];
  }
  const batch = c.outShape(0).slice(0, c.outShape(0).length - (aShape.length === 1 ? 0 : 1) - (bShape.length === 1 ? 0 : 1));
  const y2 = [...batch, a2[a2.length - 2]!, m];
  const gy2 = reshapeTo(gy, y2);
  if (c.needs(0)) ga = reshapeTo(unbroadcast(matmul(gy2, transpose(b, swapLast(b2.length))), [...batch, a2[a2.length - 2]!, k], a2), aShape);
  if (c.needs(1)) gb = reshapeTo(unbroadcast(matmul(transpose(a, swapLast(a2.length)), gy2), [...batch, k, m], b2), bShape);
  return [ga, gb];
};

const gemmRule: GradRule = (c) => {
  const gy = c.gradOut(0)!;
  const alpha = c.attrs.float('alpha', 1);
  const beta = c.attrs.float('beta', 1);
  const tA = c.attrs.int('transA', 0) === 1;
  const tB = c.attrs.int('transB', 0) === 1;
  const a = c.input(0);
  const b = c.input(1);
  const o = alpha === 1 ? {} : { alpha };
  let ga: Value | null = null;
  let gb: Value | null = null;
  if (c.needs(0)) ga = tA ? gemm(b, gy, null, { ...o, transA: tB, transB: true }) : gemm(gy, b, null, { ...o, transB: !tB });
  if (c.needs(1)) gb = tB ? gemm(gy, a, null, { ...o, transA: true, transB: tA }) : gemm(a, gy, null, { ...o, transA: !tA });
  const gc = c.needs(2) ? unbroadcast(beta === 1 ? gy : mul(gy, beta), c.outShape(0), c.inShape(2)) : null;
  return [ga, gb, gc];
};

interface Geometry {
  spatial: number;
  kernel: number[];
  strides: number[];
  dilations: number[];
  pads: number[];
  group: number;
}

function geometry(c: RuleContext, weightKernel: number[]): Geometry {
  const spatial = weightKernel.length;
  const autoPad = c.attrs.string('auto_pad', 'NOTSET');
  if (autoPad !== 'NOTSET' && autoPad !== 'VALID') c.fail(`auto_pad ${autoPad} is not supported; export with explicit pads`);
  const ones = Array.from({ length: spatial }, () => 1);
  return {
    spatial,
    kernel: weightKernel,
    strides: c.attrs.ints('strides', ones)!,
    dilations: c.attrs.ints('dilations', ones)!,
    pads: autoPad === 'VALID' ? Array.from({ length: 2 * spatial }, () => 0) : c.attrs.ints('pads', Array.from({ length: 2 * spatial }, () => 0))!,
    group: c.attrs.int('group', 1),
  };
}

const channelsFirst = (rank: number) => [1, 0, ...Array.from({ length: rank - 2 }, (_, i) => i + 2)];

/** Per group: `f(x part, gy part)` -> weight gradient part, concatenated along the output-channel axis 0. */
function perGroup(group: number, x: Value, gy: Value, f: (x: Value, gy: Value) => Value): Value {
  if (group === 1) return f(x, gy);
  const xs = split(x, group, 1);
  const gs = split(gy, group, 1);
  return concat(xs.map((xi, i) => f(xi, gs[i]!)), 0);
}

const convRule: GradRule = (c) => {
  const gy = c.gradOut(0)!;
  const g = graphOf(gy);
  const xShape = c.inShape(0);
  const wShape = c.inShape(1);
  const geo = geometry(c, wShape.slice(2));
  const rank = xShape.length;
  let gx: Value | null = null;
  let gw: Value | null = null;
  if (c.needs(0)) {
    const yShape = c.outShape(0);
    const outputPadding = geo.kernel.map((k, i) => {
      const natural = (yShape[i + 2]! - 1) * geo.strides[i]! - geo.pads[i]! - geo.pads[i + geo.spatial]! + geo.dilations[i]! * (k - 1) + 1;
      return xShape[i + 2]! - natural;
    });
    if (outputPadding.some((p, i) => p < 0 || p >= Math.max(geo.strides[i]!, geo.dilations[i]!))) c.fail(`cannot invert the geometry of input [${xShape.join(', ')}]`);
    gx = g.op(
      'ConvTranspose',
      [gy, c.input(1)],
      { strides: geo.strides, pads: geo.pads, dilations: geo.dilations, group: geo.group, output_padding: outputPadding.some((p) => p) ? outputPadding : undefined },
      { output: { shape: xShape } },
    );
  }
  if (c.needs(1)) {
    const perm = channelsFirst(rank);
    gw = perGroup(geo.group, c.input(0), gy, (x, gyPart) => {
      const xt = transpose(x, perm); // [C, N, ...]
      const gt = transpose(gyPart, perm); // [M, N, ...]
      const cin = x.staticDim(1);
      const mout = gyPart.staticDim(1);
      const r = g.op('Conv', [xt, gt], { strides: geo.dilations, dilations: geo.strides, pads: geo.pads }, { output: { shape: undefined } });
      const rShape = [cin, mout, ...geo.kernel.map((_, i) => {
        const len = xShape[i + 2]! + geo.pads[i]! + geo.pads[i + geo.spatial]!;
        return Math.floor((len - geo.strides[i]! * (c.outShape(0)[i + 2]! - 1) - 1) / geo.dilations[i]!) + 1;
      })];
      const rv = g.op('Identity', [r], {}, { output: { shape: rShape } });
      const cut = rShape.slice(2).some((d, i) => d !== geo.kernel[i]) ? slice(rv, geo.kernel.map(() => 0), geo.kernel, geo.kernel.map((_, i) => i + 2)) : rv;
      return transpose(cut, perm); // [M, C, k...]
    });
  }
  const gb = c.needs(2) ? reduceSum(gy, [0, ...Array.from({ length: rank - 2 }, (_, i) => i + 2)], false) : null;
  return [gx, gw, gb];
};

const convTransposeRule: GradRule = (c) => {
  const gy = c.gradOut(0)!;
  const g = graphOf(gy);
  const xShape = c.inShape(0);
  const wShape = c.inShape(1);
  const geo = geometry(c, wShape.slice(2));
  if (c.attrs.has('output_shape')) c.fail('output_shape is not supported; export with pads and output_padding');
  const outPad = c.attrs.ints('output_padding', geo.kernel.map(() => 0))!;
  const rank = xShape.length;
  let gx: Value | null = null;
  let gw: Value | null = null;
  if (c.needs(0)) {
    gx = g.op('Conv', [gy, c.input(1)], { strides: geo.strides, pads: geo.pads, dilations: geo.dilations, group: geo.group }, { output: { shape: xShape } });
  }
  if (c.needs(1)) {
    const perm = channelsFirst(rank);
    const yShape = c.outShape(0);
    const pads = [...geo.pads.slice(0, geo.spatial), ...geo.pads.slice(geo.spatial).map((p, i) => Math.max(0, p - outPad[i]!))];
    gw = perGroup(geo.group, gy, c.input(0), (gyPart, x) => {
      const gt = transpose(gyPart, perm); // [M, N, ...]
      const xt = transpose(x, perm); // [C, N, ...]
      const rShape = [gyPart.staticDim(1), x.staticDim(1), ...geo.kernel.map((_, i) => {
        const len = yShape[i + 2]! + pads[i]! + pads[i + geo.spatial]!;
        return Math.floor((len - geo.strides[i]! * (xShape[i + 2]! - 1) - 1) / geo.dilations[i]!) + 1;
      })];
      const r = g.op('Conv', [gt, xt], { strides: geo.dilations, dilations: geo.strides, pads }, { output: { shape: rShape } });
      const cut = rShape.slice(2).some((d, i) => d !== geo.kernel[i]) ? slice(r, geo.kernel.map(() => 0), geo.kernel, geo.kernel.map((_, i) => i + 2)) : r;
      return transpose(cut, perm); // [C, M, k...]
    });
  }
  const gb = c.needs(2) ? reduceSum(gy, [0, ...Array.from({ length: rank - 2 }, (_, i) => i + 2)], false) : null;
  return [gx, gw, gb];
};

export const LINALG: Record<string, GradRule> = {
  MatMul: matmulRule,
  Gemm: gemmRule,
  Conv: convRule,
  ConvTranspose: convTransposeRule,
};
