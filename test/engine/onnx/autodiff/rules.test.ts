/**
 * Finite-difference checks of every gradient rule: each case builds a small graph
 * y = op(inputs), the loss sum(y * R) with a fixed random R, and compares the
 * directional derivative <grad, v> with the central difference of the loss along v
 * (3 random directions, eps 1e-2, float32). Tolerance: relative error 2e-3
 * (floor 1e-3 on the scale), except where a case says otherwise.
 */
import { describe, expect, it } from 'vitest';
import {
  GraphBuilder,
  abs,
  add,
  concat,
  conv,
  div,
  erf,
  exp,
  gather,
  gemm,
  layerNorm,
  log,
  matmul,
  mul,
  neg,
  pow,
  reduceMax,
  reduceMean,
  reduceSum,
  relu,
  reshape,
  resizeNearest,
  sigmoid,
  slice,
  softmax,
  split,
  sqrt,
  sub,
  tanh,
  transpose,
  unsqueeze,
  squeeze,
  groupNorm,
  type Value,
} from '../../../../src/engine/onnx/index.ts';
import { createRandom } from '../../../../src/engine/pipeline/random.ts';
import { gradCheck, randomFeed } from './gradcheck.ts';
import type { HostTensor } from '../../../../src/engine/runtime/index.ts';

interface Case {
  name: string;
  inputs: Record<string, { shape: number[]; scale?: number; offset?: number }>;
  build: (g: GraphBuilder, x: Record<string, Value>) => Value;
  tol?: number;
  /** Only these inputs are differentiated (default all). */
  wrt?: string[];
  opset?: number;
}

function lossOf(g: GraphBuilder, y: Value, seed: number): Value {
  const shape = y.staticShape();
  const n = shape.reduce((a, b) => a * b, 1);
  const r = g.constant(createRandom(seed).normals(n), { shape, name: 'R' });
  return g.output(reduceSum(mul(y, r), shape.map((_, i) => i), false), 'loss');
}

async function check(c: Case) {
  const g = new GraphBuilder(c.name, { opset: c.opset ?? 17 });
  const x: Record<string, Value> = {};
  const feeds: Record<string, HostTensor> = {};
  let seed = 11;
  for (const [name, spec] of Object.entries(c.inputs)) {
    x[name] = g.input(name, 'float32', spec.shape);
    feeds[name] = randomFeed(spec.shape, seed++, spec.scale ?? 1, spec.offset ?? 0);
  }
  const y = c.build(g, x);
  lossOf(g, y, 99);
  const r = await gradCheck(g.build(), { loss: 'loss', wrt: c.wrt ?? Object.keys(c.inputs), feeds });
  expect(r.worst, `${c.name}: ${JSON.stringify(r.directions)}`).toBeLessThan(c.tol ?? 2e-3);
  expect(r.directions.some((d) => Math.abs(d.analytic) > 1e-3)).toBe(true);
  return r;
}

const CASES: Case[] = [
  { name: 'Add broadcast', inputs: { a: { shape: [2, 3, 4] }, b: { shape: [3, 1] } }, build: (_g, x) => add(x.a!, x.b!) },
  { name: 'Sub broadcast leading', inputs: { a: { shape: [4] }, b: { shape: [2, 3, 4] } }, build: (_g, x) => sub(x.a!, x.b!) },
  { name: 'Mul broadcast both', inputs: { a: { shape: [2, 1, 4] }, b: { shape: [3, 1] } }, build: (_g, x) => mul(x.a!, x.b!) },
  { name: 'Div', inputs: { a: { shape: [2, 3] }, b: { shape: [3], offset: 3 } }, build: (_g, x) => div(x.a!, x.b!) },
  { name: 'Pow square (constant exponent)', inputs: { a: { shape: [2, 3] } }, build: (_g, x) => pow(x.a!, 2) },
  { name: 'Pow general', inputs: { a: { shape: [2, 3], scale: 0.2, offset: 2 }, b: { shape: [3], scale: 0.3, offset: 1.5 } }, build: (_g, x) => pow(x.a!, x.b!) },
  { name: 'Sqrt', inputs: { a: { shape: [5], scale: 0.3, offset: 2 } }, build: (_g, x) => sqrt(x.a!) },
  { name: 'Exp', inputs: { a: { shape: [5], scale: 0.5 } }, build: (_g, x) => exp(x.a!) },
  { name: 'Log', inputs: { a: { shape: [5], scale: 0.3, offset: 2 } }, build: (_g, x) => log(x.a!) },
  { name: 'Neg', inputs: { a: { shape: [5] } }, build: (_g, x) => neg(x.a!) },
  { name: 'Abs', inputs: { a: { shape: [6], offset: 0.5 } }, build: (_g, x) => abs(x.a!), tol: 5e-3 },
  { name: 'Erf (GELU part)', inputs: { a: { shape: [6] } }, build: (_g, x) => erf(x.a!) },
  { name: 'Tanh', inputs: { a: { shape: [6] } }, build: (_g, x) => tanh(x.a!) },
  { name: 'Sigmoid (SiLU part)', inputs: { a: { shape: [6] } }, build: (_g, x) => mul(x.a!, sigmoid(x.a!)) },
  { name: 'Relu', inputs: { a: { shape: [8] } }, build: (_g, x) => relu(x.a!), tol: 5e-3 },
  { name: 'Sin/Cos', inputs: { a: { shape: [6] } }, build: (g, x) => add(g.op('Sin', [x.a!], {}, { output: { shape: [6] } }), g.op('Cos', [x.a!], {}, { output: { shape: [6] } })) },
  { name: 'Reciprocal', inputs: { a: { shape: [4], scale: 0.2, offset: 2 } }, build: (g, x) => g.op('Reciprocal', [x.a!], {}, { output: { shape: [4] } }) },
  { name: 'Where', inputs: { a: { shape: [2, 3] }, b: { shape: [3] } }, build: (g, x) => g.op('Where', [g.op('Greater', [x.a!, g.scalar(0)], {}, { output: { dtype: 'bool', shape: [2, 3] } }), x.a!, x.b!], {}, { output: { dtype: 'float32', shape: [2, 3] } }), tol: 5e-3 },
  { name: 'Max/Min', inputs: { a: { shape: [2, 3] }, b: { shape: [3] } }, build: (g, x) => add(g.op('Max', [x.a!, x.b!], {}, { output: { shape: [2, 3] } }), g.op('Min', [x.a!, x.b!], {}, { output: { shape: [2, 3] } })), tol: 5e-3 },
  { name: 'Clip', inputs: { a: { shape: [8] } }, build: (g, x) => g.op('Clip', [x.a!, g.scalar(-0.5), g.scalar(0.7)], {}, { output: { shape: [8] } }), tol: 5e-3 },
  { name: 'MatMul batched broadcast', inputs: { a: { shape: [2, 3, 4, 5] }, b: { shape: [3, 5, 2] } }, build: (_g, x) => matmul(x.a!, x.b!) },
  { name: 'MatMul weight (Gemm path)', inputs: { a: { shape: [2, 3, 4] }, b: { shape: [4, 5] } }, build: (_g, x) => matmul(x.a!, x.b!) },
  { name: 'MatMul 1-D', inputs: { a: { shape: [4] }, b: { shape: [2, 4, 3] } }, build: (_g, x) => matmul(x.a!, x.b!) },
  { name: 'MatMul by 1-D', inputs: { a: { shape: [2, 3, 4] }, b: { shape: [4] } }, build: (_g, x) => matmul(x.a!, x.b!) },
  { name: 'Gemm transA transB alpha beta', inputs: { a: { shape: [4, 3] }, b: { shape: [5, 4] }, c: { shape: [5] } }, build: (_g, x) => gemm(x.a!, x.b!, x.c!, { transA: true, transB: true, alpha: 0.7, beta: 1.3 }) },
  { name: 'Gemm plain', inputs: { a: { shape: [3, 4] }, b: { shape: [4, 5] }, c: { shape: [3, 5] } }, build: (_g, x) => gemm(x.a!, x.b!, x.c!) },
  { name: 'Conv 3x3 pad 1', inputs: { x: { shape: [2, 3, 5, 5] }, w: { shape: [4, 3, 3, 3] }, b: { shape: [4] } }, build: (_g, x) => conv(x.x!, x.w!, x.b!, { pads: 1 }) },
  { name: 'Conv stride 2 asymmetric pad (odd size)', inputs: { x: { shape: [1, 2, 7, 6] }, w: { shape: [3, 2, 3, 3] } }, build: (_g, x) => conv(x.x!, x.w!, null, { pads: [0, 0, 1, 1], strides: 2 }) },
  { name: 'Conv dilation 2 and groups', inputs: { x: { shape: [1, 4, 7, 7] }, w: { shape: [6, 2, 3, 3] } }, build: (_g, x) => conv(x.x!, x.w!, null, { pads: 2, dilations: 2, group: 2 }) },
  { name: 'Conv 1x1', inputs: { x: { shape: [2, 3, 4, 4] }, w: { shape: [5, 3, 1, 1] } }, build: (_g, x) => conv(x.x!, x.w!) },
  {
    name: 'ConvTranspose stride 2 output_padding',
    inputs: { x: { shape: [2, 3, 4, 4] }, w: { shape: [3, 2, 3, 3] }, b: { shape: [2] } },
    build: (g, x) => g.op('ConvTranspose', [x.x!, x.w!, x.b!], { strides: [2, 2], pads: [1, 1, 1, 1], output_padding: [1, 1] }, { output: { shape: [2, 2, 8, 8] } }),
  },
  {
    name: 'ConvTranspose kernel 4 stride 2 (DDPM-like)',
    inputs: { x: { shape: [1, 4, 3, 3] }, w: { shape: [4, 2, 4, 4] } },
    build: (g, x) => g.op('ConvTranspose', [x.x!, x.w!], { strides: [2, 2], pads: [1, 1, 1, 1] }, { output: { shape: [1, 2, 6, 6] } }),
  },
  { name: 'Softmax last axis', inputs: { a: { shape: [2, 3, 5] } }, build: (_g, x) => softmax(x.a!, -1) },
  { name: 'Softmax middle axis', inputs: { a: { shape: [2, 4, 3] } }, build: (_g, x) => softmax(x.a!, 1) },
  { name: 'LogSoftmax', inputs: { a: { shape: [3, 5] } }, build: (g, x) => g.op('LogSoftmax', [x.a!], { axis: -1 }, { output: { shape: [3, 5] } }) },
  { name: 'LayerNormalization', inputs: { a: { shape: [2, 3, 8] }, s: { shape: [8] }, b: { shape: [8] } }, build: (_g, x) => layerNorm(x.a!, x.s!, x.b!) },
  { name: 'LayerNormalization axis -2', inputs: { a: { shape: [2, 3, 4] }, s: { shape: [3, 4] }, b: { shape: [3, 4] } }, build: (_g, x) => layerNorm(x.a!, x.s!, x.b!, { axis: -2 }) },
  { name: 'InstanceNormalization', inputs: { a: { shape: [2, 3, 4, 4] }, s: { shape: [3] }, b: { shape: [3] } }, build: (g, x) => g.op('InstanceNormalization', [x.a!, x.s!, x.b!], { epsilon: 1e-5 }, { output: { shape: [2, 3, 4, 4] } }) },
  { name: 'GroupNorm (engine helper: Reshape + InstanceNorm)', inputs: { a: { shape: [2, 8, 3, 3] }, s: { shape: [8] }, b: { shape: [8] } }, build: (_g, x) => groupNorm(x.a!, 4, x.s!, x.b!) },
  {
    name: 'BatchNormalization (inference)',
    inputs: { a: { shape: [2, 3, 2, 2] }, s: { shape: [3] }, b: { shape: [3] } },
    wrt: ['a', 's', 'b'],
    build: (g, x) => g.op('BatchNormalization', [x.a!, x.s!, x.b!, g.constant(new Float32Array([0.1, -0.2, 0.3]), { shape: [3] }), g.constant(new Float32Array([1.5, 0.5, 2]), { shape: [3] })], { epsilon: 1e-5 }, { output: { shape: [2, 3, 2, 2] } }),
  },
  { name: 'ReduceSum axes', inputs: { a: { shape: [2, 3, 4] } }, build: (_g, x) => reduceSum(x.a!, [0, 2], false) },
  { name: 'ReduceMean negative axes keepdims', inputs: { a: { shape: [2, 3, 4] } }, build: (_g, x) => reduceMean(x.a!, [-1, -2], true) },
  { name: 'ReduceMax', inputs: { a: { shape: [3, 5] } }, build: (_g, x) => reduceMax(x.a!, [1], false), tol: 5e-3 },
  { name: 'ReduceSumSquare and L2', inputs: { a: { shape: [3, 4] } }, build: (g, x) => add(g.op('ReduceSumSquare', [x.a!], { axes: [1], keepdims: 0 }, { output: { shape: [3] } }), g.op('ReduceL2', [x.a!], { axes: [1], keepdims: 0 }, { output: { shape: [3] } })) },
  { name: 'Reshape + Transpose', inputs: { a: { shape: [2, 3, 4] } }, build: (_g, x) => transpose(reshape(x.a!, [2, 12]), [1, 0]) },
  { name: 'Unsqueeze/Squeeze', inputs: { a: { shape: [3, 4] } }, build: (_g, x) => squeeze(mul(unsqueeze(x.a!, [0, 2]), unsqueeze(x.a!, [0, 2])), [0]) },
  { name: 'Flatten', inputs: { a: { shape: [2, 3, 4] } }, build: (g, x) => g.op('Flatten', [x.a!], { axis: 1 }, { output: { shape: [2, 12] } }) },
  { name: 'Concat', inputs: { a: { shape: [2, 3] }, b: { shape: [2, 2] } }, build: (_g, x) => concat([x.a!, x.b!, x.a!], 1) },
  { name: 'Split (one output unused)', inputs: { a: { shape: [2, 6] } }, build: (_g, x) => { const [p, , r] = split(x.a!, [1, 2, 3], 1); return concat([mul(p!, p!), r!], 1); } },
  { name: 'Slice negative and clamped ends', inputs: { a: { shape: [4, 6] } }, build: (_g, x) => slice(x.a!, [1, -4], [100, -1], [0, 1]) },
  { name: 'Pad constant', inputs: { a: { shape: [2, 3] } }, build: (g, x) => g.op('Pad', [x.a!, g.ints([1, 0, 0, 2])], { mode: 'constant' }, { output: { shape: [3, 5] } }) },
  { name: 'Expand', inputs: { a: { shape: [3, 1] } }, build: (g, x) => g.op('Expand', [x.a!, g.ints([2, 3, 4])], {}, { output: { shape: [2, 3, 4] } }) },
  { name: 'Tile', inputs: { a: { shape: [2, 3] } }, build: (g, x) => g.op('Tile', [x.a!, g.ints([2, 1])], {}, { output: { shape: [4, 3] } }) },
  { name: 'Gather rows (embedding)', inputs: { a: { shape: [5, 3] } }, build: (g, x) => gather(x.a!, g.constant(new BigInt64Array([4n, 0n, 4n, 2n]), { shape: [2, 2] }), 0) },
  { name: 'Gather axis 1', inputs: { a: { shape: [2, 5, 3] } }, build: (g, x) => gather(x.a!, g.constant(new BigInt64Array([1n, 3n, 1n]), { shape: [3] }), 1) },
  { name: 'Resize nearest x2', inputs: { a: { shape: [1, 2, 3, 3] } }, build: (_g, x) => resizeNearest(x.a!, 2) },
  { name: 'Identity/Cast chain', inputs: { a: { shape: [3] } }, build: (g, x) => g.op('Cast', [g.op('Identity', [x.a!], {}, { output: { shape: [3] } })], { to: 1 }, { output: { shape: [3] } }) },
];

describe('gradient rules match finite differences', () => {
  for (const c of CASES) it(c.name, () => check(c));
});

export { CASES };
