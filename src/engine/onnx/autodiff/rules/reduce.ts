/**
 * Gradient rules of the reductions (Sum, Mean, Max, Min, SumSquare, L2), with axes
 * as an attribute or an input, keepdims and noop_with_empty_axes.
 *
 * @example
 *   RULES.ReduceMean   // dx = Expand(dy with the reduced axes kept, x.shape) / count
 */
import { div, graphOf, mul } from '../../ops/math.ts';
import { cast } from '../../ops/shape.ts';
import type { Value } from '../../value.ts';
import type { GradRule, RuleContext } from '../rule.ts';
import { axisOf, expandTo, product, reshapeTo } from './util.ts';

/** The reduced axes (normalised), or null for "none: identity". */
function reducedAxes(c: RuleContext): number[] | null {
  const rank = c.inShape(0).length;
  let axes: number[] | undefined = c.attrs.ints('axes');
  if (!axes && c.hasInput(1)) {
    const v = c.constValue(1);
    if (!v) c.fail('its axes must be constant (known when the graph is built)');
    axes = Array.from(v!, Number);
  }
  if (!axes || axes.length === 0) {
    if (c.attrs.int('noop_with_empty_axes', 0) === 1) return null;
    return Array.from({ length: rank }, (_, i) => i);
  }
  return axes.map((a) => axisOf(a, rank));
}

/** dy brought back to the input's shape (broadcast over the reduced axes), and the count reduced. */
function spread(c: RuleContext, v: Value): { full: Value; count: number } {
  const shape = c.inShape(0);
  const axes = reducedAxes(c);
  if (!axes) return { full: v, count: 1 };
  const kept = shape.map((d, i) => (axes.includes(i) ? 1 : d));
  return { full: expandTo(reshapeTo(v, kept), shape), count: product(axes.map((a) => shape[a]!)) };
}

const keptY = (c: RuleContext) => spread(c, c.output(0)).full;

export const REDUCE: Record<string, GradRule> = {
  ReduceSum: (c) => [c.needs(0) ? spread(c, c.gradOut(0)!).full : null, null],
  ReduceMean: (c) => {
    if (!c.needs(0)) return [null, null];
    const { full, count } = spread(c, c.gradOut(0)!);
    return [count === 1 ? full : mul(full, 1 / count), null];
  },
  ReduceSumSquare: (c) => [c.needs(0) ? mul(spread(c, c.gradOut(0)!).full, mul(c.input(0), 2)) : null, null],
  ReduceL2: (c) => [c.needs(0) ? div(mul(spread(c, c.gradOut(0)!).full, c.input(0)), keptY(c)) : null, null],
  ReduceMax: (c) => [c.needs(0) ? picked(c) : null, null],
  ReduceMin: (c) => [c.needs(0) ? picked(c) : null, null],
};

/** Max/Min: the gradient goes to the elements equal to the result. */
function picked(c: RuleContext): Value {
  const x = c.input(0);
  const eq = graphOf(x).op('Equal', [x, keptY(c)], {}, { output: { dtype: 'bool', shape: c.inShape(0) } });
  return mul(spread(c, c.gradOut(0)!).full, cast(eq, x.dtype));
}
