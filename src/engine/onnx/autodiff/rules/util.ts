/**
 * Shape helpers shared by the gradient rules: summing a broadcast gradient back to
 * an operand's shape, zeros, and static reshapes.
 *
 * @example
 *   unbroadcast(gy, [4, 1, 8], [8]);     // ReduceSum over axes 0 and 1, then Reshape to [8]
 */
import { graphOf, reduceSum } from '../../ops/math.ts';
import { reshape } from '../../ops/shape.ts';
import type { DType } from '../../types.ts';
import type { Value } from '../../value.ts';
import type { GraphBuilder } from '../../builder.ts';

const same = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((d, i) => d === b[i]);

/** The static shape of a value built by the rules (they always know it). */
export function shapeOf(v: Value): number[] {
  return v.staticShape();
}

/** Sum `grad` (of shape `from`) over the axes that broadcasting expanded, giving shape `to`. */
export function unbroadcast(grad: Value, from: readonly number[], to: readonly number[]): Value {
  if (same(from, to)) return grad;
  const lead = from.length - to.length;
  const axes: number[] = [];
  for (let i = 0; i < from.length; i++) {
    if (i < lead) axes.push(i);
    else if (to[i - lead] === 1 && from[i] !== 1) axes.push(i);
  }
  const summed = axes.length ? reduceSum(grad, axes, true) : grad;
  return reshapeTo(summed, to);
}

/** Reshape to a static shape (no-op when equal). */
export function reshapeTo(v: Value, to: readonly number[]): Value {
  if (v.shape && v.shape.length === to.length && v.shape.every((d, i) => d === to[i])) return v;
  return reshape(v, [...to]);
}

/** Broadcast `v` to `shape` (Expand). */
export function expandTo(v: Value, shape: readonly number[]): Value {
  const g = graphOf(v);
  if (v.shape && v.shape.length === shape.length && v.shape.every((d, i) => d === shape[i])) return v;
  return g.op('Expand', [v, g.ints(shape)], {}, { output: { shape: [...shape] } });
}

/** Zeros of a static shape. */
export function zeros(g: GraphBuilder, shape: readonly number[], dtype: DType): Value {
  return g.op('Expand', [g.scalar(0, dtype), g.ints(shape)], {}, { name: 'zeros', output: { shape: [...shape] } });
}

/** Normalise a possibly negative axis. */
export function axisOf(axis: number, rank: number): number {
  return axis < 0 ? axis + rank : axis;
}

export function product(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}
