import { describe, expect, it } from 'vitest';
import * as o from '../../../src/engine/onnx/index.ts';
import { GraphBuilder, type Dim, type Value } from '../../../src/engine/onnx/index.ts';
import { floatToHalf, halfToFloat } from '../../../src/engine/weights/dtype.ts';
import * as R from './reference.ts';
import type { Nd } from './reference.ts';
import { runGraph } from './run-graph.ts';

interface Case {
  name: string;
  /** Shapes of the float32 inputs x0, x1, ... (fed with deterministic values). */
  inputs: number[][];
  /** Declared input shapes when they differ (symbolic dims). */
  declared?: Dim[][];
  opset?: number;
  build: (xs: Value[], g: GraphBuilder) => Value | Value[];
  ref: (xs: Nd[]) => Nd | Nd[];
  tol?: number;
}

const pos = (x: Nd, add = 0.5) => R.map(x, (v) => Math.abs(v) + add);
const ew = (f: (v: number) => number) => (xs: Nd[]) => R.map(xs[0]!, f);

const cases: Case[] = [
  // math.ts
  { name: 'add broadcasts', inputs: [[2, 3, 4], [3, 1]], build: ([a, b]) => o.add(a!, b!), ref: ([a, b]) => R.broadcast(a!, b!, (x, y) => x + y) },
  { name: 'add with a number', inputs: [[2, 3]], build: ([a]) => o.add(a!, 1.5), ref: ew((v) => v + 1.5) },
  { name: 'sub with a number first', inputs: [[2, 3]], build: ([a]) => o.sub(2, a!), ref: ew((v) => 2 - v) },
  { name: 'sub broadcasts', inputs: [[2, 3], [3]], build: ([a, b]) => o.sub(a!, b!), ref: ([a, b]) => R.broadcast(a!, b!, (x, y) => x - y) },
  { name: 'mul', inputs: [[4, 1], [1, 5]], build: ([a, b]) => o.mul(a!, b!), ref: ([a, b]) => R.broadcast(a!, b!, (x, y) => x * y) },
  { name: 'div, abs', inputs: [[2, 3], [2, 3]], build: ([a, b]) => o.div(a!, o.add(o.abs(b!), 0.5)), ref: ([a, b]) => R.broadcast(a!, pos(b!), (x, y) => x / y) },
  { name: 'pow', inputs: [[2, 3]], build: ([a]) => o.pow(a!, 3), ref: ew((v) => v ** 3) },
  { name: 'neg', inputs: [[5]], build: ([a]) => o.neg(a!), ref: ew((v) => -v) },
  { name: 'sqrt', inputs: [[5]], build: ([a]) => o.sqrt(o.abs(a!)), ref: ew((v) => Math.sqrt(Math.abs(v))) },
  { name: 'exp', inputs: [[5]], build: ([a]) => o.exp(a!), ref: ew(Math.exp) },
  { name: 'log', inputs: [[5]], build: ([a]) => o.log(o.add(o.abs(a!), 0.5)), ref: ew((v) => Math.log(Math.abs(v) + 0.5)) },
  { name: 'erf', inputs: [[7]], build: ([a]) => o.erf(o.mul(a!, 2)), ref: ew((v) => R.erf(2 * v)) },
  { name: 'tanh', inputs: [[5]], build: ([a]) => o.tanh(a!), ref: ew(Math.tanh) },
  { name: 'sigmoid', inputs: [[5]], build: ([a]) => o.sigmoid(a!), ref: ew(R.sigmoid) },
  { name: 'relu', inputs: [[6]], build: ([a]) => o.relu(a!), ref: ew((v) => Math.max(0, v)) },
  { name: 'sin', inputs: [[5]], build: ([a]) => o.sin(o.mul(a!, 3)), ref: ew((v) => Math.sin(3 * v)) },
  { name: 'cos', inputs: [[5]], build: ([a]) => o.cos(o.mul(a!, 3)), ref: ew((v) => Math.cos(3 * v)) },
  { name: 'reciprocal', inputs: [[5]], build: ([a]) => o.reciprocal(o.add(o.abs(a!), 0.5)), ref: ew((v) => 1 / (Math.abs(v) + 0.5)) },
  { name: 'matmul 3-D x 2-D', inputs: [[2, 3, 4], [4, 5]], build: ([a, b]) => o.matmul(a!, b!), ref: ([a, b]) => R.matmul(a!, b!) },
  { name: 'matmul batched', inputs: [[2, 3, 4], [2, 4, 5]], build: ([a, b]) => o.matmul(a!, b!), ref: ([a, b]) => R.matmul(a!, b!) },
  {
    name: 'gemm transB alpha beta',
    inputs: [[3, 4], [5, 4], [5]],
    build: ([a, b, c]) => o.gemm(a!, b!, c!, { alpha: 0.5, beta: 2, transB: true }),
    ref: ([a, b, c]) => R.broadcast(R.map(R.matmul(a!, R.transpose(b!, [1, 0])), (v) => 0.5 * v), R.map(c!, (v) => 2 * v), (x, y) => x + y),
  },
  {
    name: 'gemm transA',
    inputs: [[4, 3], [4, 2]],
    build: ([a, b]) => o.gemm(a!, b!, null, { transA: true }),
    ref: ([a, b]) => R.matmul(R.transpose(a!, [1, 0]), b!),
  },
  {
    name: 'linear (PyTorch weight layout)',
    inputs: [[2, 3, 4], [5, 4], [5]],
    build: ([x, w, b]) => o.linear(x!, w!, b!),
    ref: ([x, w, b]) => R.broadcast(R.matmul(x!, R.transpose(w!, [1, 0])), b!, (p, q) => p + q),
  },
  { name: 'linear without bias', inputs: [[3, 4], [2, 4]], build: ([x, w]) => o.linear(x!, w!), ref: ([x, w]) => R.matmul(x!, R.transpose(w!, [1, 0])) },
  { name: 'reduceMean opset 17', inputs: [[2, 3, 4]], build: ([a]) => o.reduceMean(a!, [-1]), ref: ([a]) => reduceRef(a!, 2, 'mean', true) },
  { name: 'reduceMean opset 18', opset: 18, inputs: [[2, 3, 4]], build: ([a]) => o.reduceMean(a!, [1], false), ref: ([a]) => reduceRef(a!, 1, 'mean', false) },
  { name: 'reduceSum', inputs: [[2, 3, 4]], build: ([a]) => o.reduceSum(a!, [1], false), ref: ([a]) => reduceRef(a!, 1, 'sum', false) },
  { name: 'reduceMax opset 17', inputs: [[2, 3, 4]], build: ([a]) => o.reduceMax(a!, [0]), ref: ([a]) => reduceRef(a!, 0, 'max', true) },
  { name: 'reduceMax opset 18', opset: 18, inputs: [[2, 3, 4]], build: ([a]) => o.reduceMax(a!, [2]), ref: ([a]) => reduceRef(a!, 2, 'max', true) },
  { name: 'softmax', inputs: [[2, 3, 5]], build: ([a]) => o.softmax(o.mul(a!, 4)), ref: ([a]) => R.softmax(R.map(a!, (v) => 4 * v)) },
  // shape.ts
  { name: 'reshape with 0 and -1', inputs: [[2, 3, 4]], build: ([a]) => o.reshape(a!, [0, -1]), ref: ([a]) => ({ shape: [2, 12], data: a!.data }) },
  {
    name: 'reshape to a runtime shape (shapeOf)',
    inputs: [[2, 6], [3, 4]],
    declared: [[2, 6], ['p', 4]],
    build: ([a, b]) => {
      const y = o.reshape(a!, o.shapeOf(b!));
      expect(y.shape).toEqual(['p', 4]);
      return y;
    },
    ref: ([a]) => ({ shape: [3, 4], data: a!.data }),
  },
  {
    name: 'reshape to a shape tensor of known rank',
    inputs: [[2, 6]],
    build: ([a], g) => o.reshape(a!, g.ints([3, 4])),
    ref: ([a]) => ({ shape: [3, 4], data: a!.data }),
  },
  { name: 'transpose', inputs: [[2, 3, 4]], build: ([a]) => o.transpose(a!, [2, 0, 1]), ref: ([a]) => R.transpose(a!, [2, 0, 1]) },
  { name: 'transpose default reverses', inputs: [[2, 3]], build: ([a]) => o.transpose(a!), ref: ([a]) => R.transpose(a!, [1, 0]) },
  { name: 'concat', inputs: [[2, 3], [2, 2]], build: ([a, b]) => o.concat([a!, b!], 1), ref: ([a, b]) => concatRef(a!, b!) },
  {
    name: 'split by sizes',
    inputs: [[2, 6]],
    build: ([a]) => o.split(a!, [4, 2], 1),
    ref: ([a]) => [R.nd([2, 4], ([i, j]) => R.at(a!, [i!, j!])), R.nd([2, 2], ([i, j]) => R.at(a!, [i!, j! + 4]))],
  },
  {
    name: 'split in equal parts',
    inputs: [[4, 3]],
    build: ([a]) => o.split(a!, 2),
    ref: ([a]) => [R.nd([2, 3], ([i, j]) => R.at(a!, [i!, j!])), R.nd([2, 3], ([i, j]) => R.at(a!, [i! + 2, j!]))],
  },
  {
    name: 'slice with steps and negative ends',
    inputs: [[4, 5]],
    build: ([a]) => o.slice(a!, [1, 0], [3, -1], [0, 1], [1, 2]),
    ref: ([a]) => R.nd([2, 2], ([i, j]) => R.at(a!, [i! + 1, 2 * j!])),
  },
  { name: 'slice on one axis', inputs: [[3, 4]], build: ([a]) => o.slice(a!, [-2], [100], [1]), ref: ([a]) => R.nd([3, 2], ([i, j]) => R.at(a!, [i!, j! + 2])) },
  {
    name: 'cast to float16 and back',
    inputs: [[6]],
    build: ([a]) => o.cast(o.cast(o.mul(a!, 1000), 'float16'), 'float32'),
    ref: ew((v) => halfToFloat(floatToHalf(Math.fround(Math.fround(v) * 1000)))),
    tol: 0,
  },
  { name: 'gather rows', inputs: [[5, 3]], build: ([a]) => o.gather(a!, [4, 0, 2]), ref: ([a]) => R.nd([3, 3], ([i, j]) => R.at(a!, [[4, 0, 2][i!]!, j!])) },
  { name: 'gather one index drops the axis', inputs: [[5, 3]], build: ([a]) => o.gather(a!, 1, 1), ref: ([a]) => R.nd([5], ([i]) => R.at(a!, [i!, 1])) },
  {
    name: 'gather with an index value',
    inputs: [[5, 2]],
    build: ([a], g) => o.gather(a!, g.constant(BigInt64Array.from([3n, 3n, 1n, 0n]), { shape: [2, 2] })),
    ref: ([a]) => R.nd([2, 2, 2], ([i, j, k]) => R.at(a!, [[3, 3, 1, 0][i! * 2 + j!]!, k!])),
  },
  { name: 'unsqueeze, squeeze', inputs: [[2, 3]], build: ([a]) => o.squeeze(o.unsqueeze(a!, [0, 3]), [0]), ref: ([a]) => ({ shape: [2, 3, 1], data: a!.data }) },
  // nn.ts
  {
    name: 'conv 3x3 pads 1',
    inputs: [[1, 2, 5, 5], [3, 2, 3, 3], [3]],
    build: ([x, w, b]) => o.conv(x!, w!, b!, { pads: 1 }),
    ref: ([x, w, b]) => R.conv2d(x!, w!, b!, [1, 1, 1, 1], [1, 1]),
  },
  {
    name: 'conv stride 2, asymmetric pads (VAE downsample)',
    inputs: [[2, 2, 6, 6], [2, 2, 3, 3], [2]],
    build: ([x, w, b]) => o.conv(x!, w!, b!, { pads: [0, 0, 1, 1], strides: 2 }),
    ref: ([x, w, b]) => R.conv2d(x!, w!, b!, [0, 0, 1, 1], [2, 2]),
  },
  {
    name: 'conv 1x1 grouped, no bias',
    inputs: [[1, 4, 3, 3], [6, 2, 1, 1]],
    build: ([x, w]) => o.conv(x!, w!, null, { group: 2 }),
    ref: ([x, w]) => R.conv2d(x!, w!, null, [0, 0, 0, 0], [1, 1], 2),
  },
  {
    name: 'layerNorm',
    inputs: [[2, 3, 8], [8], [8]],
    build: ([x, s, b]) => o.layerNorm(x!, s!, b!),
    ref: ([x, s, b]) => R.layerNorm(x!, s!, b!),
  },
  {
    name: 'groupNorm (InstanceNormalization)',
    inputs: [[2, 8, 3, 3], [8], [8]],
    build: ([x, s, b]) => o.groupNorm(x!, 4, s!, b!),
    ref: ([x, s, b]) => R.groupNorm(x!, 4, s!, b!),
  },
  {
    name: 'groupNorm (ReduceMean), epsilon 1e-6',
    inputs: [[1, 6, 2, 5], [6], [6]],
    build: ([x, s, b]) => o.groupNorm(x!, 3, s!, b!, { method: 'reduce', epsilon: 1e-6 }),
    ref: ([x, s, b]) => R.groupNorm(x!, 3, s!, b!, 1e-6),
  },
  {
    name: 'groupNorm (ReduceMean) opset 18',
    opset: 18,
    inputs: [[1, 4, 3], [4], [4]],
    build: ([x, s, b]) => o.groupNorm(x!, 2, s!, b!, { method: 'reduce' }),
    ref: ([x, s, b]) => R.groupNorm(x!, 2, s!, b!),
  },
  {
    name: 'groupNorm with symbolic dims',
    inputs: [[2, 4, 3, 2], [4], [4]],
    declared: [['n', 4, 'h', 'w'], [4], [4]],
    build: ([x, s, b]) => {
      const y = o.groupNorm(x!, 2, s!, b!);
      expect(y.shape).toEqual(['n', 4, 'h', 'w']);
      return y;
    },
    ref: ([x, s, b]) => R.groupNorm(x!, 2, s!, b!),
  },
  { name: 'silu', inputs: [[7]], build: ([a]) => o.silu(o.mul(a!, 3)), ref: ew((v) => 3 * v * R.sigmoid(3 * v)) },
  { name: 'gelu (erf)', inputs: [[9]], build: ([a]) => o.gelu(o.mul(a!, 3)), ref: ew((v) => R.gelu(3 * v)) },
  { name: 'gelu (tanh)', inputs: [[9]], build: ([a]) => o.gelu(o.mul(a!, 3), 'tanh'), ref: ew((v) => R.geluTanh(3 * v)) },
  {
    name: 'geglu',
    inputs: [[2, 3, 8]],
    build: ([a]) => o.geglu(a!),
    ref: ([a]) => R.nd([2, 3, 4], ([i, j, k]) => R.at(a!, [i!, j!, k!]) * R.gelu(R.at(a!, [i!, j!, k! + 4]))),
  },
  {
    name: 'attention, self',
    inputs: [[2, 3, 8], [2, 3, 8], [2, 3, 8]],
    build: ([q, k, v]) => o.attention(q!, k!, v!, { heads: 2 }),
    ref: ([q, k, v]) => R.attention(q!, k!, v!, 2),
  },
  {
    name: 'attention, cross (longer keys)',
    inputs: [[2, 3, 8], [2, 5, 8], [2, 5, 8]],
    build: ([q, k, v]) => o.attention(q!, k!, v!, { heads: 4 }),
    ref: ([q, k, v]) => R.attention(q!, k!, v!, 4),
  },
  {
    name: 'attention with a causal mask',
    inputs: [[1, 4, 6], [1, 4, 6], [1, 4, 6]],
    build: ([q, k, v], g) => o.attention(q!, k!, v!, { heads: 3, mask: g.constant(Float32Array.from(causal(4).data), { shape: [4, 4] }) }),
    ref: ([q, k, v]) => R.attention(q!, k!, v!, 3, causal(4)),
  },
  {
    name: 'attention fused (com.microsoft MultiHeadAttention)',
    inputs: [[2, 3, 8], [2, 5, 8], [2, 5, 8]],
    build: ([q, k, v]) => o.attention(q!, k!, v!, { heads: 2, fused: true }),
    ref: ([q, k, v]) => R.attention(q!, k!, v!, 2),
  },
  {
    name: 'resizeNearest 2x',
    inputs: [[1, 2, 3, 4]],
    build: ([a]) => o.resizeNearest(a!),
    ref: ([a]) => R.nd([1, 2, 6, 8], ([n, c, y, x]) => R.at(a!, [n!, c!, Math.floor(y! / 2), Math.floor(x! / 2)])),
    tol: 0,
  },
  {
    name: 'timestepEmbedding (diffusers defaults)',
    inputs: [[3]],
    build: ([t]) => o.timestepEmbedding(o.mul(o.abs(t!), 999), 8),
    ref: ([t]) => timestepRef(R.map(t!, (v) => Math.fround(Math.abs(v) * 999)), 8, false, 1),
    tol: 2e-4,
  },
  {
    name: 'timestepEmbedding (flip, shift 0, from int64)',
    inputs: [[4]],
    build: ([t]) => o.timestepEmbedding(o.cast(o.mul(o.abs(t!), 999), 'int64'), 6, { flipSinToCos: true, freqShift: 0 }),
    ref: ([t]) => timestepRef(R.map(t!, (v) => Math.trunc(Math.fround(Math.abs(v) * 999))), 6, true, 0),
    tol: 2e-4,
  },
  {
    name: 'float16 constants and scalars',
    inputs: [[4]],
    build: ([a], g) => o.cast(o.mul(o.add(o.cast(a!, 'float16'), g.constant([0.5, 1, 2, 4], { dtype: 'float16' })), g.scalar(2, 'float16')), 'float32'),
    ref: ([a]) => fp16Ref(a!),
    // onnxruntime's CPU provider may run float16 Add/Mul in float32 between casts: allow one float16 step.
    tol: 1e-2,
  },
];

describe('op helpers against JS references (onnxruntime CPU)', () => {
  it.each(cases)('$name', async (c) => {
    const g = new GraphBuilder(c.name.replace(/\W+/g, '_'), { opset: c.opset ?? 17 });
    const xs = c.inputs.map((s, i) => R.f32(R.rand(s, 17 + 31 * i)));
    const values = c.inputs.map((s, i) => g.input(`x${i}`, 'float32', c.declared?.[i] ?? s));
    const built = c.build(values, g);
    const outs = Array.isArray(built) ? built : [built];
    const feeds = Object.fromEntries(xs.map((x, i) => [`x${i}`, x]));
    const got = await runGraph(g, outs, feeds);
    const expected = c.ref(xs);
    const exp = Array.isArray(expected) ? expected : [expected];
    expect(got.length).toBe(exp.length);
    got.forEach((r, i) => {
      expect(r.dims).toEqual(exp[i]!.shape);
      const inferred = outs[i]!.shape!;
      expect(inferred.length).toBe(r.dims.length);
      inferred.forEach((d, j) => {
        if (typeof d === 'number') expect(d).toBe(r.dims[j]);
      });
      expect(R.maxAbsDiff(r.data, exp[i]!.data)).toBeLessThanOrEqual(c.tol ?? 2e-5);
    });
  });
});

function reduceRef(x: Nd, axis: number, kind: 'mean' | 'sum' | 'max', keep: boolean): Nd {
  const n = x.shape[axis]!;
  const shape = x.shape.map((d, i) => (i === axis ? 1 : d));
  const out = R.nd(shape, (idx) => {
    const vals = Array.from({ length: n }, (_, k) => R.at(x, idx.map((v, i) => (i === axis ? k : v))));
    if (kind === 'max') return Math.max(...vals);
    const s = vals.reduce((a, b) => a + b, 0);
    return kind === 'mean' ? s / n : s;
  });
  return keep ? out : { shape: x.shape.filter((_, i) => i !== axis), data: out.data };
}

function concatRef(a: Nd, b: Nd): Nd {
  const ca = a.shape[1]!;
  return R.nd([a.shape[0]!, ca + b.shape[1]!], ([i, j]) => (j! < ca ? R.at(a, [i!, j!]) : R.at(b, [i!, j! - ca])));
}

function causal(n: number): Nd {
  return R.nd([n, n], ([i, j]) => (j! > i! ? -1e9 : 0));
}

function timestepRef(t: Nd, dim: number, flip: boolean, shift: number): Nd {
  const half = dim / 2;
  return R.nd([t.shape[0]!, dim], ([b, j]) => {
    const freq = Math.fround(Math.exp((-Math.log(10000) * (j! % half)) / (half - shift)));
    const arg = t.data[b!]! * freq;
    const useSin = (j! < half) !== flip;
    return useSin ? Math.sin(arg) : Math.cos(arg);
  });
}

function fp16Ref(x: Nd): Nd {
  const h = (v: number) => halfToFloat(floatToHalf(v));
  const c = [0.5, 1, 2, 4];
  return { shape: x.shape, data: x.data.map((v, i) => h(h(h(v) + c[i]!) * 2)) };
}
