/**
 * Arithmetic helpers: broadcasting binary ops (a plain number becomes a scalar of
 * the other operand's dtype), unary ops, MatMul/Gemm/Linear, reductions, Softmax.
 *
 * @example
 *   const y = add(mul(x, 0.5), 1);                // 0.5 * x + 1
 *   const h = linear(x, g.param('weight'), g.param('bias'));   // x @ W^T + b (PyTorch Linear)
 *   const m = reduceMean(h, [-1], true);
 */
import { GraphBuilder } from '../builder.ts';
import { broadcastShapes, matmulShape, normAxis, reduceShape } from '../shapes.ts';
import type { Value } from '../value.ts';

export type Operand = Value | number;

/** The builder that owns a value. */
export function graphOf(v: Value): GraphBuilder {
  if (!(v.graph instanceof GraphBuilder)) throw new TypeError(`${v.name} does not belong to a GraphBuilder`);
  return v.graph;
}

function operands(op: string, a: Operand, b: Operand): [Value, Value, GraphBuilder] {
  if (typeof a === 'number' && typeof b === 'number') throw new TypeError(`${op}: at least one operand must be a Value`);
  const ref = (typeof a === 'number' ? b : a) as Value;
  const g: GraphBuilder = graphOf(ref);
  const va = typeof a === 'number' ? g.scalar(a, ref.dtype) : a;
  const vb = typeof b === 'number' ? g.scalar(b, ref.dtype) : b;
  if (va.dtype !== vb.dtype) g.fail(op, `operand types differ: ${va} and ${vb}`);
  return [va, vb, g];
}

function binary(type: string, a: Operand, b: Operand): Value {
  const [va, vb, g] = operands(type, a, b);
  const shape = broadcastShapes(va.shape, vb.shape, (r) => g.fail(type, r));
  return g.op(type, [va, vb], {}, { output: { shape } });
}

export const add = (a: Operand, b: Operand): Value => binary('Add', a, b);
export const sub = (a: Operand, b: Operand): Value => binary('Sub', a, b);
export const mul = (a: Operand, b: Operand): Value => binary('Mul', a, b);
export const div = (a: Operand, b: Operand): Value => binary('Div', a, b);
export const pow = (a: Operand, b: Operand): Value => binary('Pow', a, b);

function unary(type: string, x: Value): Value {
  return graphOf(x).op(type, [x], {}, { output: { shape: x.shape } });
}

export const neg = (x: Value): Value => unary('Neg', x);
export const sqrt = (x: Value): Value => unary('Sqrt', x);
export const exp = (x: Value): Value => unary('Exp', x);
export const log = (x: Value): Value => unary('Log', x);
export const erf = (x: Value): Value => unary('Erf', x);
export const tanh = (x: Value): Value => unary('Tanh', x);
export const sigmoid = (x: Value): Value => unary('Sigmoid', x);
export const relu = (x: Value): Value => unary('Relu', x);
export const sin = (x: Value): Value => unary('Sin', x);
export const cos = (x: Value): Value => unary('Cos', x);
export const abs = (x: Value): Value => unary('Abs', x);
export const reciprocal = (x: Value): Value => unary('Reciprocal', x);

/** Numpy matmul (batch dims broadcast). */
export function matmul(a: Value, b: Value): Value {
  const g: GraphBuilder = graphOf(a);
  if (a.dtype !== b.dtype) g.fail('MatMul', `operand types differ: ${a} and ${b}`);
  return g.op('MatMul', [a, b], {}, { output: { shape: matmulShape(a.shape, b.shape, (r) => g.fail('MatMul', r)) } });
}

export interface GemmOptions {
  alpha?: number;
  beta?: number;
  transA?: boolean;
  transB?: boolean;
}

/** alpha * A' @ B' + beta * C for 2-D A and B. */
export function gemm(a: Value, b: Value, c: Value | null = null, o: GemmOptions = {}): Value {
  const g: GraphBuilder = graphOf(a);
  if (a.rank !== 2 || b.rank !== 2) g.fail('Gemm', `needs 2-D inputs, got ${a} and ${b}`);
  const m = o.transA ? a.dim(1) : a.dim(0);
  const n = o.transB ? b.dim(0) : b.dim(1);
  const attrs = { alpha: o.alpha, beta: o.beta, transA: o.transA ? 1 : undefined, transB: o.transB ? 1 : undefined };
  return g.op('Gemm', [a, b, c], attrs, { output: { shape: [m, n] } });
}

/**
 * PyTorch Linear: x @ weight^T + bias, for weight [out, in] and x [..., in]. The
 * transpose of a constant weight is folded by onnxruntime at load.
 */
export function linear(x: Value, weight: Value, bias: Value | null = null): Value {
  const g: GraphBuilder = graphOf(x);
  if (weight.rank !== 2) g.fail('linear', `weight must be [out, in], got ${weight}`);
  const wt = g.op('Transpose', [weight], { perm: [1, 0] }, { output: { shape: [weight.dim(1), weight.dim(0)] } });
  const y = matmul(x, wt);
  return bias ? add(y, bias) : y;
}

function reduce(type: string, x: Value, axes: readonly number[], keepdims: boolean, axesAsInput: boolean): Value {
  const g: GraphBuilder = graphOf(x);
  const shape = reduceShape(x.shape, axes, keepdims, (r) => g.fail(type, r));
  const keep = keepdims ? 1 : 0;
  if (axesAsInput) return g.op(type, [x, g.ints(axes)], { keepdims: keep }, { output: { shape } });
  return g.op(type, [x], { axes: [...axes], keepdims: keep }, { output: { shape } });
}

/** Mean over `axes` (axes are an attribute before opset 18 and an input from 18). */
export function reduceMean(x: Value, axes: readonly number[], keepdims = true): Value {
  return reduce('ReduceMean', x, axes, keepdims, graphOf(x).opset >= 18);
}

export function reduceSum(x: Value, axes: readonly number[], keepdims = true): Value {
  return reduce('ReduceSum', x, axes, keepdims, true);
}

export function reduceMax(x: Value, axes: readonly number[], keepdims = true): Value {
  return reduce('ReduceMax', x, axes, keepdims, graphOf(x).opset >= 18);
}

export function softmax(x: Value, axis = -1): Value {
  const g: GraphBuilder = graphOf(x);
  if (x.rank !== undefined) normAxis(axis, x.rank, (r) => g.fail('Softmax', r));
  return g.op('Softmax', [x], { axis }, { output: { shape: x.shape } });
}
