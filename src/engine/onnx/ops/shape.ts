/**
 * Shape and indexing helpers: Reshape, Transpose, Concat, Split, Slice, Cast,
 * Gather, Unsqueeze, Squeeze, Shape. Static arguments become shared int64
 * constants; output shapes are inferred.
 *
 * @example
 *   const heads = transpose(reshape(q, [0, 0, 8, 40]), [0, 2, 1, 3]);   // [B, S, 320] -> [B, 8, S, 40]
 *   const [h, gate] = split(x, 2, -1);
 */
import { ONNX_DTYPE, type DType } from '../types.ts';
import { concatShape, gatherShape, normAxis, reshapeShape, sliceShape, squeezeShape, transposeShape, unsqueezeShape } from '../shapes.ts';
import type { Dim, Shape, Value } from '../value.ts';
import type { GraphBuilder } from '../builder.ts';
import { graphOf } from './math.ts';

/** Shape Values made by `shapeOf`, with the shape they stand for. */
const shapeSources = new WeakMap<Value, Shape | undefined>();

/**
 * Reshape to a constant target (0 copies the input dim, -1 is inferred) or to a
 * runtime shape Value; a Value from `shapeOf(y)` gives the result y's known shape.
 */
export function reshape(x: Value, shape: readonly number[] | Value): Value {
  const g: GraphBuilder = graphOf(x);
  if (!Array.isArray(shape)) {
    const s = shape as Value;
    const rank = s.dim(0);
    const out = shapeSources.has(s) ? shapeSources.get(s) : typeof rank === 'number' ? Array.from({ length: rank }, (): Dim => null) : undefined;
    return g.op('Reshape', [x, s], {}, { output: { shape: out } });
  }
  const target = shape as readonly number[];
  return g.op('Reshape', [x, g.ints(target)], {}, { output: { shape: reshapeShape(x.shape, target, (r) => g.fail('Reshape', r)) } });
}

/** Permute dimensions (default: reverse them). */
export function transpose(x: Value, perm?: readonly number[]): Value {
  const g: GraphBuilder = graphOf(x);
  const p = perm ?? (x.rank !== undefined ? Array.from({ length: x.rank }, (_, i) => x.rank! - 1 - i) : undefined);
  if (!p) g.fail('Transpose', `the rank of ${x.name} is unknown; pass perm`);
  return g.op('Transpose', [x], { perm: [...p] }, { output: { shape: transposeShape(x.shape, p, (r) => g.fail('Transpose', r)) } });
}

export function concat(xs: readonly Value[], axis: number): Value {
  const g: GraphBuilder = graphOf(xs[0]!);
  if (xs.some((v) => v.dtype !== xs[0]!.dtype)) g.fail('Concat', `operand types differ: ${xs.join(', ')}`);
  return g.op('Concat', xs, { axis }, { output: { shape: concatShape(xs.map((v) => v.shape), axis, (r) => g.fail('Concat', r)) } });
}

/** Split along `axis` into `parts` equal pieces or pieces of the given sizes. */
export function split(x: Value, parts: number | readonly number[], axis = 0): Value[] {
  const g: GraphBuilder = graphOf(x);
  if (x.rank === undefined) g.fail('Split', `the rank of ${x.name} is unknown`);
  const a = normAxis(axis, x.rank, (r) => g.fail('Split', r));
  const total = x.dim(a);
  let sizes: number[];
  if (typeof parts === 'number') {
    if (typeof total !== 'number') g.fail('Split', `${x} has no static size on axis ${axis}; pass the sizes`);
    if (total % parts !== 0) g.fail('Split', `${total} is not divisible into ${parts} parts`);
    sizes = Array.from({ length: parts }, () => total / parts);
  } else {
    sizes = [...parts];
    const sum = sizes.reduce((p, q) => p + q, 0);
    if (typeof total === 'number' && sum !== total) g.fail('Split', `sizes ${sizes.join('+')} = ${sum}, but axis ${axis} has ${total}`);
  }
  const outputs = sizes.map((s) => ({ shape: x.shape!.map((d, i) => (i === a ? s : d)) }));
  return g.ops('Split', [x, g.ints(sizes)], { axis }, { outputs });
}

/** Slice with constant starts/ends (axes default to 0..n-1, steps to 1). */
export function slice(x: Value, starts: readonly number[], ends: readonly number[], axes?: readonly number[], steps?: readonly number[]): Value {
  const g: GraphBuilder = graphOf(x);
  const ax = axes ?? starts.map((_, i) => i);
  const st = steps ?? starts.map(() => 1);
  const shape = sliceShape(x.shape, starts, ends, ax, st, (r) => g.fail('Slice', r));
  return g.op('Slice', [x, g.ints(starts), g.ints(ends), g.ints(ax), g.ints(st)], {}, { output: { shape } });
}

export function cast(x: Value, dtype: DType): Value {
  if (x.dtype === dtype) return x;
  return graphOf(x).op('Cast', [x], { to: ONNX_DTYPE[dtype] }, { output: { dtype, shape: x.shape } });
}

/** Gather along `axis` with an index Value or constant int64 indices (a number gives a scalar index, dropping the axis). */
export function gather(x: Value, indices: Value | readonly number[] | number, axis = 0): Value {
  const g: GraphBuilder = graphOf(x);
  let idx: Value;
  if (typeof indices === 'number') idx = g.scalar(indices, 'int64');
  else if (Array.isArray(indices)) idx = g.ints(indices as number[]);
  else idx = indices as Value;
  if (idx.dtype !== 'int64' && idx.dtype !== 'int32') g.fail('Gather', `indices must be int64 or int32, got ${idx}`);
  return g.op('Gather', [x, idx], { axis }, { output: { shape: gatherShape(x.shape, idx.shape, axis, (r) => g.fail('Gather', r)) } });
}

export function unsqueeze(x: Value, axes: readonly number[]): Value {
  const g: GraphBuilder = graphOf(x);
  return g.op('Unsqueeze', [x, g.ints(axes)], {}, { output: { shape: unsqueezeShape(x.shape, axes, (r) => g.fail('Unsqueeze', r)) } });
}

export function squeeze(x: Value, axes: readonly number[]): Value {
  const g: GraphBuilder = graphOf(x);
  return g.op('Squeeze', [x, g.ints(axes)], {}, { output: { shape: squeezeShape(x.shape, axes, (r) => g.fail('Squeeze', r)) } });
}

/** The runtime shape of `x` as an int64 vector (for reshapes with symbolic dims). */
export function shapeOf(x: Value): Value {
  const v = graphOf(x).op('Shape', [x], {}, { output: { dtype: 'int64', shape: [x.rank ?? null] } });
  shapeSources.set(v, x.shape);
  return v;
}
