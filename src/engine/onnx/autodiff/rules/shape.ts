/**
 * Gradient rules of the data-movement operators: Reshape-likes, Transpose, Concat,
 * Split, Slice, Pad, Expand, Tile, Gather (via a one-hot product, any axis) and
 * nearest-neighbour Resize by integer factors.
 *
 * @example
 *   RULES.Transpose   // dx = Transpose(dy, inverse perm)
 */
import { gemm, graphOf, reduceSum } from '../../ops/math.ts';
import { cast, concat, reshape, slice, split, transpose } from '../../ops/shape.ts';
import type { Value } from '../../value.ts';
import type { GradRule, RuleContext } from '../rule.ts';
import { axisOf, product, reshapeTo, unbroadcast, zeros } from './util.ts';

const asShape: GradRule = (c) => [c.needs(0) ? reshapeTo(c.gradOut(0)!, c.inShape(0)) : null];

function ints(c: RuleContext, i: number, what: string): number[] | undefined {
  if (!c.hasInput(i)) return undefined;
  const v = c.constValue(i);
  if (!v) c.fail(`its ${what} must be constant (known when the graph is built)`);
  return Array.from(v!, Number);
}

const transposeRule: GradRule = (c) => {
  if (!c.needs(0)) return [null];
  const rank = c.inShape(0).length;
  const perm = c.attrs.ints('perm') ?? Array.from({ length: rank }, (_, i) => rank - 1 - i);
  const inverse = new Array<number>(rank);
  perm.forEach((p, i) => (inverse[p] = i));
  return [transpose(c.gradOut(0)!, inverse)];
};

const concatRule: GradRule = (c) => {
  const rank = c.outShape(0).length;
  const axis = axisOf(c.attrs.int('axis'), rank);
  const sizes = c.node.input.map((_, i) => c.inShape(i)[axis]!);
  const parts = split(c.gradOut(0)!, sizes, axis);
  return c.node.input.map((_, i) => (c.needs(i) ? parts[i]! : null));
};

const splitRule: GradRule = (c) => {
  if (!c.needs(0)) return [null];
  const g = graphOf(c.input(0));
  const rank = c.inShape(0).length;
  const axis = axisOf(c.attrs.int('axis', 0), rank);
  const parts = c.node.output.map((_, i) => c.gradOut(i) ?? zeros(g, c.outShape(i), c.input(0).dtype));
  return [parts.length === 1 ? parts[0]! : concat(parts, axis), null];
};

const sliceRule: GradRule = (c) => {
  if (!c.needs(0)) return [null];
  const shape = c.inShape(0);
  const rank = shape.length;
  const starts = ints(c, 1, 'starts')!;
  const ends = ints(c, 2, 'ends')!;
  const axes = ints(c, 3, 'axes') ?? starts.map((_, i) => i);
  const steps = ints(c, 4, 'steps') ?? starts.map(() => 1);
  const pads = new Array<number>(2 * rank).fill(0);
  axes.forEach((a0, i) => {
    const a = axisOf(a0, rank);
    const dim = shape[a]!;
    if (steps[i] !== 1) c.fail('slices with a step other than 1 are not supported');
    let s = starts[i]!;
    let e = ends[i]!;
    s = s < 0 ? Math.max(0, s + dim) : Math.min(s, dim);
    e = e < 0 ? Math.max(0, e + dim) : Math.min(e, dim);
    pads[a] = s;
    pads[a + rank] = dim - Math.max(s, e);
  });
  const g = graphOf(c.input(0));
  if (pads.every((p) => p === 0)) return [c.gradOut(0)!];
  return [g.op('Pad', [c.gradOut(0)!, g.ints(pads)], { mode: 'constant' }, { output: { shape } })];
};

const padRule: GradRule = (c) => {
  if (!c.needs(0)) return [null];
  const mode = c.attrs.string('mode', 'constant');
  if (mode !== 'constant') c.fail(`Pad mode ${mode} is not supported (constant only)`);
  const shape = c.inShape(0);
  const rank = shape.length;
  const pads = c.opset >= 11 ? ints(c, 1, 'pads')! : c.attrs.ints('pads')!;
  const axes = (c.opset >= 18 ? ints(c, 3, 'axes') : undefined) ?? Array.from({ length: rank }, (_, i) => i);
  const n = axes.length;
  const starts: number[] = [];
  const ends: number[] = [];
  const sliceAxes: number[] = [];
  axes.forEach((a0, i) => {
    const a = axisOf(a0, rank);
    if (pads[i]! < 0 || pads[i + n]! < 0) c.fail('negative pads (crops) are not supported');
    starts.push(pads[i]!);
    ends.push(pads[i]! + shape[a]!);
    sliceAxes.push(a);
  });
  return [slice(c.gradOut(0)!, starts, ends, sliceAxes), null, null, null];
};

const expandRule: GradRule = (c) => [c.needs(0) ? unbroadcast(c.gradOut(0)!, c.outShape(0), c.inShape(0)) : null, null];

const tileRule: GradRule = (c) => {
  if (!c.needs(0)) return [null];
  const shape = c.inShape(0);
  const repeats = ints(c, 1, 'repeats')!;
  const split2 = shape.flatMap((d, i) => [repeats[i]!, d]);
  const summed = reduceSum(reshape(c.gradOut(0)!, split2), shape.map((_, i) => 2 * i), false);
  return [reshapeTo(summed, shape), null];
};

const gatherRule: GradRule = (c) => {
  if (!c.needs(0)) return [null, null];
  const g = graphOf(c.input(0));
  const data = c.inShape(0);
  const idx = c.inShape(1);
  const axis = axisOf(c.attrs.int('axis', 0), data.length);
  const vocab = data[axis]!;
  const pre = data.slice(0, axis);
  const post = data.slice(axis + 1);
  const n = product(idx);
  // gy: [pre, idx, post] -> [idx, pre, post] -> [n, pre*post]
  const gy = c.gradOut(0)!;
  const q = idx.length;
  const perm = [...idx.map((_, i) => pre.length + i), ...pre.map((_, i) => i), ...post.map((_, i) => pre.length + q + i)];
  const moved = perm.every((p, i) => p === i) ? gy : transpose(gy, perm);
  const rows = reshapeTo(moved, [n, product(pre) * product(post)]);
  const flatIdx = reshapeTo(cast(c.input(1), 'int64'), [n]);
  const onehot = g.op('OneHot', [flatIdx, g.constant([vocab], { dtype: 'int64', shape: [] }), g.constant([0, 1], { dtype: gy.dtype, shape: [2] })], { axis: -1 }, { output: { dtype: gy.dtype, shape: [n, vocab] } });
  const table = gemm(onehot, rows, null, { transA: true }); // [vocab, pre*post]
  const back = reshapeTo(table, [vocab, ...pre, ...post]);
  const inv = [...pre.map((_, i) => i + 1), 0, ...post.map((_, i) => pre.length + 1 + i)];
  return [inv.every((p, i) => p === i) ? back : transpose(back, inv), null];
};

const resizeRule: GradRule = (c) => {
  if (!c.needs(0)) return [null];
  const mode = c.attrs.string('mode', 'nearest');
  const coord = c.attrs.string('coordinate_transformation_mode', 'half_pixel');
  const nearest = c.attrs.string('nearest_mode', 'round_prefer_floor');
  if (mode !== 'nearest' || coord !== 'asymmetric' || nearest !== 'floor') {
    c.fail(`only nearest/asymmetric/floor resizing by integer factors has a gradient rule (got ${mode}/${coord}/${nearest})`);
  }
  const x = c.inShape(0);
  const y = c.outShape(0);
  const factors = x.map((d, i) => y[i]! / d);
  if (factors.some((f) => !Number.isInteger(f) || f < 1)) c.fail(`the scale factors [${factors.join(', ')}] are not whole numbers`);
  const split2 = x.flatMap((d, i) => [d, factors[i]!]);
  const axes = x.map((_, i) => 2 * i + 1).filter((a) => factors[(a - 1) / 2] !== 1);
  if (axes.length === 0) return [reshapeTo(c.gradOut(0)!, x)];
  return [reshapeTo(reduceSum(reshape(c.gradOut(0)!, split2), axes, false), x)];
};

export const SHAPE: Record<string, GradRule> = {
  Reshape: asShape,
  Flatten: asShape,
  Squeeze: asShape,
  Unsqueeze: asShape,
  Transpose: transposeRule,
  Concat: concatRule,
  Split: splitRule,
  Slice: sliceRule,
  Pad: padRule,
  Expand: expandRule,
  Tile: tileRule,
  Gather: gatherRule,
  Resize: resizeRule,
};
