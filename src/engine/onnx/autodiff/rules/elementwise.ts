/**
 * Gradient rules of elementwise operators (with numpy broadcasting): arithmetic,
 * activations, Where, Max/Min, Clip, Cast, Identity.
 *
 * @example
 *   RULES.Mul   // d(a*b) = (gy*b, gy*a), each summed back over its broadcast axes
 */
import { add, div, exp, graphOf, log, mul, neg, pow, sub } from '../../ops/math.ts';
import { cast } from '../../ops/shape.ts';
import type { Value } from '../../value.ts';
import type { GradRule, RuleContext } from '../rule.ts';
import { unbroadcast } from './util.ts';

/** The gradient of input i from a full-shape (output-shaped) gradient. */
function toInput(c: RuleContext, i: number, full: Value): Value {
  return unbroadcast(full, c.outShape(0), c.inShape(i));
}

function unary(f: (c: RuleContext, gy: Value) => Value): GradRule {
  return (c) => [c.needs(0) ? f(c, c.gradOut(0)!) : null];
}

const lt = (a: Value, b: Value) => graphOf(a).op('Less', [a, b], {}, { output: { dtype: 'bool', shape: undefined } });
const gt = (a: Value, b: Value) => graphOf(a).op('Greater', [a, b], {}, { output: { dtype: 'bool', shape: undefined } });
const where = (cond: Value, a: Value, b: Value, shape: readonly number[]) => graphOf(a).op('Where', [cond, a, b], {}, { output: { dtype: a.dtype, shape: [...shape] } });
/** 1 where cond holds, else 0, in `like`'s type. */
const mask = (cond: Value, like: Value) => cast(cond, like.dtype);

export const ELEMENTWISE: Record<string, GradRule> = {
  Identity: unary((_c, gy) => gy),
  Cast: unary((c, gy) => cast(gy, c.input(0).dtype)),
  Neg: unary((_c, gy) => neg(gy)),
  Add: (c) => {
    const gy = c.gradOut(0)!;
    return [c.needs(0) ? toInput(c, 0, gy) : null, c.needs(1) ? toInput(c, 1, gy) : null];
  },
  Sub: (c) => {
    const gy = c.gradOut(0)!;
    return [c.needs(0) ? toInput(c, 0, gy) : null, c.needs(1) ? toInput(c, 1, neg(gy)) : null];
  },
  Sum: (c) => {
    const gy = c.gradOut(0)!;
    return c.node.input.map((_, i) => (c.needs(i) ? toInput(c, i, gy) : null));
  },
  Mean: (c) => {
    const gy = mul(c.gradOut(0)!, 1 / c.inputCount);
    return c.node.input.map((_, i) => (c.needs(i) ? toInput(c, i, gy) : null));
  },
  Mul: (c) => {
    const gy = c.gradOut(0)!;
    return [c.needs(0) ? toInput(c, 0, mul(gy, c.input(1))) : null, c.needs(1) ? toInput(c, 1, mul(gy, c.input(0))) : null];
  },
  Div: (c) => {
    const gy = c.gradOut(0)!;
    const b = c.input(1);
    const ga = c.needs(0) || c.needs(1) ? div(gy, b) : null;
    // d(a/b)/db = -(a/b)/b = -y/b
    return [c.needs(0) ? toInput(c, 0, ga!) : null, c.needs(1) ? toInput(c, 1, neg(mul(ga!, c.output(0)))) : null];
  },
  Pow: (c) => {
    const gy = c.gradOut(0)!;
    const a = c.input(0);
    const b = c.input(1);
    let ga: Value | null = null;
    if (c.needs(0)) {
      const e = c.constValue(1);
      if (e && e.length === 1 && e[0] === 2) ga = mul(gy, mul(a, 2));
      else ga = mul(gy, mul(b.dtype === a.dtype ? b : cast(b, a.dtype), pow(a, sub(b.dtype === a.dtype ? b : cast(b, a.dtype), 1))));
    }
    const gb = c.needs(1) ? mul(gy, mul(c.output(0), log(a))) : null;
    return [ga ? toInput(c, 0, ga) : null, gb ? toInput(c, 1, gb) : null];
  },
  Sqrt: unary((c, gy) => div(mul(gy, 0.5), c.output(0))),
  Exp: unary((c, gy) => mul(gy, c.output(0))),
  Log: unary((c, gy) => div(gy, c.input(0))),
  Reciprocal: unary((c, gy) => neg(mul(gy, mul(c.output(0), c.output(0))))),
  Abs: unary((c, gy) => mul(gy, graphOf(gy).op('Sign', [c.input(0)], {}, { output: { shape: c.inShape(0) } }))),
  Sin: unary((c, gy) => mul(gy, graphOf(gy).op('Cos', [c.input(0)], {}, { output: { shape: c.inShape(0) } }))),
  Cos: unary((c, gy) => neg(mul(gy, graphOf(gy).op('Sin', [c.input(0)], {}, { output: { shape: c.inShape(0) } })))),
  Tanh: unary((c, gy) => mul(gy, sub(1, mul(c.output(0), c.output(0))))),
  Sigmoid: unary((c, gy) => {
    const y = c.output(0);
    return mul(gy, mul(y, sub(1, y)));
  }),
  Erf: unary((c, gy) => {
    const x = c.input(0);
    return mul(gy, mul(exp(neg(mul(x, x))), 2 / Math.sqrt(Math.PI)));
  }),
  Relu: unary((c, gy) => mul(gy, mask(gt(c.input(0), graphOf(gy).scalar(0, c.input(0).dtype)), gy))),
  LeakyRelu: unary((c, gy) => {
    const alpha = c.attrs.float('alpha', 0.01);
    const pos = mask(gt(c.input(0), graphOf(gy).scalar(0, c.input(0).dtype)), gy);
    return mul(gy, add(pos, mul(sub(1, pos), alpha)));
  }),
  Softplus: unary((c, gy) => mul(gy, graphOf(gy).op('Sigmoid', [c.input(0)], {}, { output: { shape: c.inShape(0) } }))),
  Where: (c) => {
    const gy = c.gradOut(0)!;
    const g = graphOf(gy);
    const zero = g.scalar(0, gy.dtype);
    const shape = c.outShape(0);
    return [
      null,
      c.needs(1) ? toInput(c, 1, where(c.input(0), gy, zero, shape)) : null,
      c.needs(2) ? toInput(c, 2, where(c.input(0), zero, gy, shape)) : null,
    ];
  },
  // Max/Min: the gradient goes to the operand that was picked (ties: to each equal operand).
  Max: (c) => pickRule(c),
  Min: (c) => pickRule(c),
  Clip: (c) => {
    const gy = c.gradOut(0)!;
    const x = c.input(0);
    let keep: Value | null = null;
    const g = graphOf(gy);
    const and = (a: Value, b: Value) => g.op('And', [a, b], {}, { output: { dtype: 'bool' } });
    const notOp = (a: Value) => g.op('Not', [a], {}, { output: { dtype: 'bool' } });
    if (c.hasInput(1)) keep = notOp(lt(x, c.input(1)));
    if (c.hasInput(2)) {
      const upper = notOp(gt(x, c.input(2)));
      keep = keep ? and(keep, upper) : upper;
    }
    const gx = keep ? mul(gy, mask(keep, gy)) : gy;
    return [c.needs(0) ? gx : null, null, null];
  },
};

function pickRule(c: RuleContext): (Value | null)[] {
  const gy = c.gradOut(0)!;
  const y = c.output(0);
  const g = graphOf(gy);
  return c.node.input.map((_, i) => {
    if (!c.needs(i)) return null;
    const eq = g.op('Equal', [c.input(i), y], {}, { output: { dtype: 'bool' } });
    return toInput(c, i, mul(gy, mask(eq, gy)));
  });
}

