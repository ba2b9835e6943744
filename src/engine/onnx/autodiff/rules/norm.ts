/**
 * Gradient rules of Softmax, LogSoftmax and the normalisations (Instance, Layer,
 * inference-mode Batch). Statistics are recomputed from the saved input in the
 * backward pass (a few reductions), so no extra activation is kept.
 *
 * @example
 *   RULES.Softmax   // dx = y * (dy - sum(dy * y, axis))
 */
import { add, div, exp, mul, reduceMean, reduceSum, sqrt, sub } from '../../ops/math.ts';
import { reshape } from '../../ops/shape.ts';
import type { Value } from '../../value.ts';
import type { GradRule, RuleContext } from '../rule.ts';
import { axisOf, unbroadcast } from './util.ts';

const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);

/**
 * The normalised input and the backward of xhat = (x - mean) * rstd over `axes`:
 * given d xhat, returns dx = rstd * (d - mean(d) - xhat * mean(d * xhat)).
 */
function normalize(x: Value, axes: number[], eps: number) {
  const mean = reduceMean(x, axes, true);
  const xc = sub(x, mean);
  const variance = reduceMean(mul(xc, xc), axes, true);
  const rstd = div(1, sqrt(add(variance, eps)));
  const xhat = mul(xc, rstd);
  return {
    xhat,
    backward: (d: Value) => mul(rstd, sub(sub(d, reduceMean(d, axes, true)), mul(xhat, reduceMean(mul(d, xhat), axes, true)))),
  };
}

function onlyFirstOutput(c: RuleContext): void {
  for (let i = 1; i < c.node.output.length; i++) if (c.node.output[i] && c.gradOut(i)) c.fail(`a gradient flows into output ${i}; only the normalised output is supported`);
}

const softmaxRule: GradRule = (c) => {
  if (!c.needs(0)) return [null];
  const rank = c.inShape(0).length;
  if (c.opset < 13) c.fail('Softmax before opset 13 flattens the input; re-export with opset 13 or later');
  const axis = axisOf(c.attrs.int('axis', -1), rank);
  const y = c.output(0);
  const gy = c.gradOut(0)!;
  return [mul(y, sub(gy, reduceSum(mul(gy, y), [axis], true)))];
};

const logSoftmaxRule: GradRule = (c) => {
  if (!c.needs(0)) return [null];
  const rank = c.inShape(0).length;
  if (c.opset < 13) c.fail('LogSoftmax before opset 13 flattens the input; re-export with opset 13 or later');
  const axis = axisOf(c.attrs.int('axis', -1), rank);
  const gy = c.gradOut(0)!;
  return [sub(gy, mul(exp(c.output(0)), reduceSum(gy, [axis], true)))];
};

const instanceNormRule: GradRule = (c) => {
  const shape = c.inShape(0);
  const rank = shape.length;
  const channels = [shape[1]!, ...range(2, rank).map(() => 1)];
  const { xhat, backward } = normalize(c.input(0), range(2, rank), c.attrs.float('epsilon', 1e-5));
  const gy = c.gradOut(0)!;
  const stat = [0, ...range(2, rank)];
  return [
    c.needs(0) ? backward(mul(gy, reshape(c.input(1), channels))) : null,
    c.needs(1) ? reduceSum(mul(gy, xhat), stat, false) : null,
    c.needs(2) ? reduceSum(gy, stat, false) : null,
  ];
};

const layerNormRule: GradRule = (c) => {
  onlyFirstOutput(c);
  const shape = c.inShape(0);
  const axis = axisOf(c.attrs.int('axis', -1), shape.length);
  const { xhat, backward } = normalize(c.input(0), range(axis, shape.length), c.attrs.float('epsilon', 1e-5));
  const gy = c.gradOut(0)!;
  return [
    c.needs(0) ? backward(mul(gy, c.input(1))) : null,
    c.needs(1) ? unbroadcast(mul(gy, xhat), shape, c.inShape(1)) : null,
    c.needs(2) ? unbroadcast(gy, shape, c.inShape(2)) : null,
  ];
};

const batchNormRule: GradRule = (c) => {
  if (c.attrs.int('training_mode', 0) === 1) c.fail('training-mode BatchNormalization is not supported');
  onlyFirstOutput(c);
  const shape = c.inShape(0);
  const per = [shape[1]!, ...range(2, shape.length).map(() => 1)];
  const eps = c.attrs.float('epsilon', 1e-5);
  const rstd = reshape(div(1, sqrt(add(c.input(4), eps))), per);
  const gy = c.gradOut(0)!;
  const stat = [0, ...range(2, shape.length)];
  const xhat = () => mul(sub(c.input(0), reshape(c.input(3), per)), rstd);
  if (c.needs(3) || c.needs(4)) c.fail('gradients with respect to the running mean and variance are not supported');
  return [
    c.needs(0) ? mul(gy, mul(rstd, reshape(c.input(1), per))) : null,
    c.needs(1) ? reduceSum(mul(gy, xhat()), stat, false) : null,
    c.needs(2) ? reduceSum(gy, stat, false) : null,
    null,
    null,
  ];
};

export const NORM: Record<string, GradRule> = {
  Softmax: softmaxRule,
  LogSoftmax: logSoftmaxRule,
  InstanceNormalization: instanceNormRule,
  LayerNormalization: layerNormRule,
  BatchNormalization: batchNormRule,
};
