/**
 * Static inference over a decoded ONNX graph for concrete input sizes: the dtype and
 * exact dims of every tensor, and the values of small tensors that can be folded
 * (initializers, Constant outputs, and shape arithmetic: Shape -> Gather -> Concat ->
 * Reshape chains). The autodiff needs this to emit fully static backward graphs.
 *
 * @example
 *   const info = inferGraph(unet.graph, { sample: [2, 4, 8, 8], timestep: [2], encoder_hidden_states: [2, 77, 32] });
 *   info.get('out_sample');   // { dtype: 'float32', shape: [2, 4, 8, 8] }
 */
import { ZipbankError } from '../../errors/index.ts';
import { nodeAttrs, type NodeAttrs } from './attributes.ts';
import { readTensorValues } from './tensor-data.ts';
import { DATA_LOCATION_EXTERNAL, dtypeFromOnnx, type DType, type OnnxGraph, type OnnxNode, type OnnxTensor } from './types.ts';

export interface TensorInfo {
  dtype: DType;
  shape: number[];
  /** Values, when known statically (at most MAX_VALUES elements). Bool as 0/1. */
  value?: Float64Array;
}

const MAX_VALUES = 4096;
const INT_TYPES = new Set<DType>(['int8', 'int16', 'int32', 'int64', 'uint8', 'uint16', 'uint32', 'uint64']);
const numel = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

class Fail extends Error {}
const fail = (reason: string): never => {
  throw new Fail(reason);
};

function tensorInfo(t: OnnxTensor): TensorInfo {
  const dtype = dtypeFromOnnx(t.dataType);
  if (!dtype) fail(`tensor ${t.name} has an unsupported element type ${t.dataType}`);
  const shape = t.dims.map(Number);
  const info: TensorInfo = { dtype: dtype!, shape };
  if (dtype !== 'string' && t.dataLocation !== DATA_LOCATION_EXTERNAL && numel(shape) <= MAX_VALUES) info.value = readTensorValues(t);
  return info;
}

function broadcast(shapes: readonly (readonly number[])[]): number[] {
  const rank = Math.max(...shapes.map((s) => s.length));
  const out: number[] = [];
  for (let i = 0; i < rank; i++) {
    let d = 1;
    for (const s of shapes) {
      const v = i < rank - s.length ? 1 : s[i - (rank - s.length)]!;
      if (v === 1) continue;
      if (d !== 1 && d !== v) fail(`shapes ${shapes.map((x) => `[${x.join(', ')}]`).join(' and ')} do not broadcast`);
      d = v;
    }
    out.push(d);
  }
  return out;
}

/** Elementwise over broadcast inputs (values known). */
function broadcastValues(infos: TensorInfo[], shape: number[], f: (xs: number[]) => number): Float64Array {
  const n = numel(shape);
  const out = new Float64Array(n);
  const strides = infos.map((t) => {
    const pad = shape.length - t.shape.length;
    const s: number[] = new Array(shape.length).fill(0);
    let acc = 1;
    for (let i = t.shape.length - 1; i >= 0; i--) {
      s[i + pad] = t.shape[i] === 1 ? 0 : acc;
      acc *= t.shape[i]!;
    }
    return s;
  });
  const idx = new Array(shape.length).fill(0);
  for (let k = 0; k < n; k++) {
    out[k] = f(infos.map((t, j) => t.value![idx.reduce((a: number, v: number, i: number) => a + v * strides[j]![i]!, 0)]!));
    for (let i = shape.length - 1; i >= 0; i--) {
      if (++idx[i] < shape[i]!) break;
      idx[i] = 0;
    }
  }
  return out;
}

const normAxis = (a: number, rank: number) => {
  const r = a < 0 ? a + rank : a;
  if (r < 0 || r >= rank) fail(`axis ${a} is out of range for rank ${rank}`);
  return r;
};

const truncInt = (dtype: DType, v: number) => (INT_TYPES.has(dtype) ? Math.trunc(v) : dtype === 'bool' ? (v ? 1 : 0) : dtype === 'float32' ? Math.fround(v) : v);

const BINARY: Record<string, (a: number, b: number) => number> = {
  Add: (a, b) => a + b,
  Sub: (a, b) => a - b,
  Mul: (a, b) => a * b,
  Div: (a, b) => a / b,
  Pow: (a, b) => a ** b,
  Max: (a, b) => Math.max(a, b),
  Min: (a, b) => Math.min(a, b),
  Mod: (a, b) => a - b * Math.floor(a / b),
};
const COMPARE: Record<string, (a: number, b: number) => boolean> = {
  Equal: (a, b) => a === b,
  Less: (a, b) => a < b,
  Greater: (a, b) => a > b,
  LessOrEqual: (a, b) => a <= b,
  GreaterOrEqual: (a, b) => a >= b,
  And: (a, b) => !!a && !!b,
  Or: (a, b) => !!a || !!b,
  Xor: (a, b) => !!a !== !!b,
};
const UNARY: Record<string, ((x: number) => number) | null> = {
  Identity: (x) => x,
  Neg: (x) => -x,
  Abs: Math.abs,
  Sqrt: Math.sqrt,
  Exp: Math.exp,
  Log: Math.log,
  Floor: Math.floor,
  Ceil: Math.ceil,
  Round: (x) => {
    const f = Math.floor(x);
    const d = x - f;
    return d > 0.5 ? f + 1 : d < 0.5 ? f : f % 2 === 0 ? f : f + 1;
  },
  Sign: Math.sign,
  Reciprocal: (x) => 1 / x,
  Not: (x) => (x ? 0 : 1),
  Relu: (x) => Math.max(0, x),
  Sigmoid: (x) => 1 / (1 + Math.exp(-x)),
  Tanh: Math.tanh,
  Sin: Math.sin,
  Cos: Math.cos,
  Erf: null,
  LeakyRelu: null,
  Softplus: null,
  IsNaN: null,
  IsInf: null,
};

interface Ctx {
  node: OnnxNode;
  a: NodeAttrs;
  ins: (TensorInfo | undefined)[];
  opset: number;
}

const inp = (c: Ctx, i: number): TensorInfo => c.ins[i] ?? fail(`input ${i} is missing`);
const ints = (c: Ctx, i: number, what: string): number[] | undefined => {
  const t = c.ins[i];
  if (!t) return undefined;
  if (!t.value) fail(`its ${what} (input ${i}) must be known when the graph is built`);
  return Array.from(t.value!);
};

function reduceAxes(c: Ctx, rank: number): number[] | null {
  let axes = c.a.ints('axes');
  if (!axes && c.ins[1]) axes = ints(c, 1, 'axes');
  if (!axes || axes.length === 0) return c.a.int('noop_with_empty_axes', 0) ? null : Array.from({ length: rank }, (_, i) => i);
  return axes.map((x) => normAxis(x, rank));
}

function convOut(c: Ctx, x: number[], kernel: number[], transposed: boolean, outCh: number): number[] {
  const n = kernel.length;
  const ones = kernel.map(() => 1);
  const strides = c.a.ints('strides', ones)!;
  const dil = c.a.ints('dilations', ones)!;
  const autoPad = c.a.string('auto_pad', 'NOTSET');
  let pads = c.a.ints('pads', new Array(2 * n).fill(0))!;
  if (!transposed && (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER')) {
    return [x[0]!, outCh, ...x.slice(2).map((d, i) => Math.ceil(d / strides[i]!))];
  }
  if (autoPad === 'VALID') pads = new Array(2 * n).fill(0);
  if (transposed) {
    const given = c.a.ints('output_shape');
    if (given) return [x[0]!, outCh, ...given.slice(-n)];
    const op = c.a.ints('output_padding', ones.map(() => 0))!;
    return [x[0]!, outCh, ...x.slice(2).map((d, i) => strides[i]! * (d - 1) + op[i]! + ((kernel[i]! - 1) * dil[i]! + 1) - pads[i]! - pads[i + n]!)];
  }
  return [x[0]!, outCh, ...x.slice(2).map((d, i) => Math.floor((d + pads[i]! + pads[i + n]! - ((kernel[i]! - 1) * dil[i]! + 1)) / strides[i]!) + 1)];
}

/** Output infos of one node. */
function inferNode(c: Ctx): TensorInfo[] {
  const op = c.node.opType;
  const domain = c.node.domain ?? '';
  if (domain === 'com.microsoft' && op === 'MultiHeadAttention') {
    const q = inp(c, 0);
    const v = inp(c, 2);
    return [{ dtype: q.dtype, shape: [q.shape[0]!, q.shape[1]!, v.shape[2]!] }];
  }
  if (domain && domain !== 'ai.onnx') fail(`operators of domain ${domain} are not supported here`);
  if (op in BINARY) {
    const [x, y] = [inp(c, 0), inp(c, 1)];
    const shape = broadcast([x.shape, y.shape]);
    const out: TensorInfo = { dtype: x.dtype, shape };
    if (x.value && y.value && numel(shape) <= MAX_VALUES) {
      const f = BINARY[op]!;
      out.value = broadcastValues([x, y], shape, ([p, q]) => truncInt(x.dtype, INT_TYPES.has(x.dtype) && op === 'Div' ? Math.trunc(p! / q!) : f(p!, q!)));
    }
    return [out];
  }
  if (op in COMPARE) {
    const [x, y] = [inp(c, 0), inp(c, 1)];
    const shape = broadcast([x.shape, y.shape]);
    const out: TensorInfo = { dtype: 'bool', shape };
    if (x.value && y.value && numel(shape) <= MAX_VALUES) out.value = broadcastValues([x, y], shape, ([p, q]) => (COMPARE[op]!(p!, q!) ? 1 : 0));
    return [out];
  }
  if (op in UNARY) {
    const x = inp(c, 0);
    const f = UNARY[op];
    const out: TensorInfo = { dtype: op === 'IsNaN' || op === 'IsInf' ? 'bool' : x.dtype, shape: [...x.shape] };
    if (f && x.value) out.value = x.value.map((v) => truncInt(x.dtype, f(v)));
    return [out];
  }
  switch (op) {
    case 'Sum':
    case 'Mean': {
      const xs = c.ins.map((_, i) => inp(c, i));
      return [{ dtype: xs[0]!.dtype, shape: broadcast(xs.map((x) => x.shape)) }];
    }
    case 'Where': {
      const [cond, x, y] = [inp(c, 0), inp(c, 1), inp(c, 2)];
      const shape = broadcast([cond.shape, x.shape, y.shape]);
      const out: TensorInfo = { dtype: x.dtype, shape };
      if (cond.value && x.value && y.value && numel(shape) <= MAX_VALUES) out.value = broadcastValues([cond, x, y], shape, ([k, p, q]) => (k ? p! : q!));
      return [out];
    }
    case 'Clip':
      return [{ dtype: inp(c, 0).dtype, shape: [...inp(c, 0).shape] }];
    case 'Cast': {
      const x = inp(c, 0);
      const dtype = dtypeFromOnnx(c.a.int('to')) ?? fail(`Cast to type ${c.a.int('to')} is not supported`);
      const out: TensorInfo = { dtype, shape: [...x.shape] };
      if (x.value) out.value = x.value.map((v) => truncInt(dtype, v));
      return [out];
    }
    case 'Constant': {
      const t = c.a.tensor('value');
      if (t) return [tensorInfo(t)];
      if (c.a.has('value_float')) return [{ dtype: 'float32', shape: [], value: Float64Array.of(c.a.float('value_float')) }];
      if (c.a.has('value_floats')) {
        const v = c.a.floats('value_floats')!;
        return [{ dtype: 'float32', shape: [v.length], value: Float64Array.from(v) }];
      }
      if (c.a.has('value_int')) return [{ dtype: 'int64', shape: [], value: Float64Array.of(c.a.int('value_int')) }];
      if (c.a.has('value_ints')) {
        const v = c.a.ints('value_ints')!;
        return [{ dtype: 'int64', shape: [v.length], value: Float64Array.from(v) }];
      }
      return fail('this Constant form is not supported (use value, value_float(s) or value_int(s))');
    }
    case 'ConstantOfShape': {
      const shape = ints(c, 0, 'shape')!;
      const t = c.a.tensor('value');
      const fill = t ? tensorInfo(t) : { dtype: 'float32' as DType, shape: [1], value: Float64Array.of(0) };
      const out: TensorInfo = { dtype: fill.dtype, shape };
      if (numel(shape) <= MAX_VALUES && fill.value) out.value = new Float64Array(numel(shape)).fill(fill.value[0]!);
      return [out];
    }
    case 'Shape': {
      const x = inp(c, 0);
      const r = x.shape.length;
      const clampAxis = (v: number) => Math.min(Math.max(v < 0 ? v + r : v, 0), r);
      const s = x.shape.slice(clampAxis(c.a.int('start', 0)), clampAxis(c.a.int('end', r)));
      return [{ dtype: 'int64', shape: [s.length], value: Float64Array.from(s) }];
    }
    case 'Size':
      return [{ dtype: 'int64', shape: [], value: Float64Array.of(numel(inp(c, 0).shape)) }];
    case 'Range': {
      const [s, l, d] = [ints(c, 0, 'start')![0]!, ints(c, 1, 'limit')![0]!, ints(c, 2, 'delta')![0]!];
      const n = Math.max(Math.ceil((l - s) / d), 0);
      return [{ dtype: inp(c, 0).dtype, shape: [n], value: Float64Array.from({ length: n }, (_, i) => s + i * d) }];
    }
    case 'Gather': {
      const [x, idx] = [inp(c, 0), inp(c, 1)];
      const axis = normAxis(c.a.int('axis', 0), x.shape.length);
      const shape = [...x.shape.slice(0, axis), ...idx.shape, ...x.shape.slice(axis + 1)];
      const out: TensorInfo = { dtype: x.dtype, shape };
      if (x.value && idx.value && numel(shape) <= MAX_VALUES) {
        const outer = numel(x.shape.slice(0, axis));
        const inner = numel(x.shape.slice(axis + 1));
        const dim = x.shape[axis]!;
        const v = new Float64Array(numel(shape));
        let k = 0;
        for (let o = 0; o < outer; o++) {
          for (const i0 of idx.value) {
            const i = i0 < 0 ? i0 + dim : i0;
            for (let j = 0; j < inner; j++) v[k++] = x.value[(o * dim + i) * inner + j]!;
          }
        }
        out.value = v;
      }
      return [out];
    }
    case 'GatherElements':
      return [{ dtype: inp(c, 0).dtype, shape: [...inp(c, 1).shape] }];
    case 'GatherND': {
      const [x, idx] = [inp(c, 0), inp(c, 1)];
      const b = c.a.int('batch_dims', 0);
      const last = idx.shape[idx.shape.length - 1]!;
      return [{ dtype: x.dtype, shape: [...idx.shape.slice(0, -1), ...x.shape.slice(b + last)] }];
    }
    case 'ScatterND':
    case 'ScatterElements':
      return [{ dtype: inp(c, 0).dtype, shape: [...inp(c, 0).shape] }];
    case 'OneHot': {
      const idx = inp(c, 0);
      const depth = ints(c, 1, 'depth')![0]!;
      const rank = idx.shape.length + 1;
      const axis = normAxis(c.a.int('axis', -1), rank);
      const shape = [...idx.shape];
      shape.splice(axis, 0, depth);
      return [{ dtype: inp(c, 2).dtype, shape }];
    }
    case 'Concat': {
      const xs = c.ins.map((_, i) => inp(c, i));
      const rank = xs[0]!.shape.length;
      const axis = normAxis(c.a.int('axis'), rank);
      const shape = [...xs[0]!.shape];
      shape[axis] = xs.reduce((a, x) => a + x.shape[axis]!, 0);
      for (const x of xs) if (x.shape.length !== rank || x.shape.some((d, i) => i !== axis && d !== shape[i])) fail(`inputs [${xs.map((y) => y.shape.join('x')).join('], [')}] cannot be concatenated on axis ${axis}`);
      const out: TensorInfo = { dtype: xs[0]!.dtype, shape };
      if (xs.every((x) => x.value) && numel(shape) <= MAX_VALUES) {
        const outer = numel(shape.slice(0, axis));
        const v: number[] = [];
        for (let o = 0; o < outer; o++) for (const x of xs) {
          const chunk = numel(x.shape.slice(axis));
          for (let j = 0; j < chunk; j++) v.push(x.value![o * chunk + j]!);
        }
        out.value = Float64Array.from(v);
      }
      return [out];
    }
    case 'Split': {
      const x = inp(c, 0);
      const axis = normAxis(c.a.int('axis', 0), x.shape.length);
      const count = c.node.output.length;
      let sizes = c.opset >= 13 ? ints(c, 1, 'split') : c.a.ints('split');
      if (!sizes) {
        const dim = x.shape[axis]!;
        const parts = c.a.int('num_outputs', count);
        const each = Math.ceil(dim / parts);
        sizes = Array.from({ length: count }, (_, i) => Math.max(0, Math.min(each, dim - i * each)));
      }
      return sizes.map((s) => {
        const shape = [...x.shape];
        shape[axis] = s;
        return { dtype: x.dtype, shape };
      });
    }
    case 'Slice': {
      const x = inp(c, 0);
      const r = x.shape.length;
      const starts = c.opset >= 10 ? ints(c, 1, 'starts')! : c.a.ints('starts')!;
      const ends = c.opset >= 10 ? ints(c, 2, 'ends')! : c.a.ints('ends')!;
      const axes = (c.opset >= 10 ? ints(c, 3, 'axes') : c.a.ints('axes')) ?? starts.map((_, i) => i);
      const steps = (c.opset >= 10 ? ints(c, 4, 'steps') : undefined) ?? starts.map(() => 1);
      const shape = [...x.shape];
      const ranges = x.shape.map((d) => ({ s: 0, step: 1, n: d }));
      axes.forEach((a0, k) => {
        const a = normAxis(a0, r);
        const d = x.shape[a]!;
        const step = steps[k]!;
        if (step === 0) fail('slice step 0');
        let s = starts[k]!;
        let e = ends[k]!;
        s = s < 0 ? s + d : s;
        e = e < 0 ? e + d : e;
        if (step > 0) {
          s = Math.min(Math.max(s, 0), d);
          e = Math.min(Math.max(e, 0), d);
        } else {
          s = Math.min(Math.max(s, 0), d - 1);
          e = Math.min(Math.max(e, -1), d - 1);
        }
        const n = Math.max(0, Math.ceil((e - s) / step));
        shape[a] = n;
        ranges[a] = { s, step, n };
      });
      const out: TensorInfo = { dtype: x.dtype, shape };
      if (x.value && numel(shape) <= MAX_VALUES) {
        const v = new Float64Array(numel(shape));
        const strides = x.shape.map((_, i) => numel(x.shape.slice(i + 1)));
        const idx = new Array(r).fill(0);
        for (let k = 0; k < v.length; k++) {
          let off = 0;
          for (let i = 0; i < r; i++) off += (ranges[i]!.s + idx[i] * ranges[i]!.step) * strides[i]!;
          v[k] = x.value[off]!;
          for (let i = r - 1; i >= 0; i--) {
            if (++idx[i] < shape[i]!) break;
            idx[i] = 0;
          }
        }
        out.value = v;
      }
      return [out];
    }
    case 'Reshape': {
      const x = inp(c, 0);
      const target = ints(c, 1, 'shape')!;
      const allowZero = c.a.int('allowzero', 0) === 1;
      const shape = target.map((t, i) => (t === 0 && !allowZero ? x.shape[i] ?? fail(`reshape target [${target.join(', ')}] copies dimension ${i}, which the input does not have`) : t));
      const inferred = shape.indexOf(-1);
      const total = numel(x.shape);
      if (inferred >= 0) {
        const rest = shape.reduce((a, d, i) => (i === inferred ? a : a * d), 1);
        if (rest === 0 || total % rest !== 0) fail(`cannot reshape [${x.shape.join(', ')}] to [${target.join(', ')}]`);
        shape[inferred] = total / rest;
      } else if (numel(shape) !== total) fail(`cannot reshape [${x.shape.join(', ')}] (${total} elements) to [${target.join(', ')}]`);
      return [{ dtype: x.dtype, shape, ...(x.value ? { value: x.value } : {}) }];
    }
    case 'Flatten': {
      const x = inp(c, 0);
      const axis = c.a.int('axis', 1);
      const a = axis < 0 ? axis + x.shape.length : axis;
      return [{ dtype: x.dtype, shape: [numel(x.shape.slice(0, a)), numel(x.shape.slice(a))], ...(x.value ? { value: x.value } : {}) }];
    }
    case 'Squeeze': {
      const x = inp(c, 0);
      const axes = (c.opset >= 13 ? ints(c, 1, 'axes') : c.a.ints('axes'))?.map((a) => normAxis(a, x.shape.length));
      const shape = x.shape.filter((d, i) => (axes ? !axes.includes(i) : d !== 1));
      return [{ dtype: x.dtype, shape, ...(x.value ? { value: x.value } : {}) }];
    }
    case 'Unsqueeze': {
      const x = inp(c, 0);
      const raw = (c.opset >= 13 ? ints(c, 1, 'axes') : c.a.ints('axes')) ?? fail('axes are missing');
      const rank = x.shape.length + raw.length;
      const axes = raw.map((a) => normAxis(a, rank));
      const shape: number[] = [];
      let j = 0;
      for (let i = 0; i < rank; i++) shape.push(axes.includes(i) ? 1 : x.shape[j++]!);
      return [{ dtype: x.dtype, shape, ...(x.value ? { value: x.value } : {}) }];
    }
    case 'Transpose': {
      const x = inp(c, 0);
      const perm = c.a.ints('perm') ?? x.shape.map((_, i) => x.shape.length - 1 - i);
      return [{ dtype: x.dtype, shape: perm.map((p) => x.shape[p]!) }];
    }
    case 'Expand': {
      const x = inp(c, 0);
      const shape = broadcast([x.shape, ints(c, 1, 'shape')!]);
      const out: TensorInfo = { dtype: x.dtype, shape };
      if (x.value && numel(shape) <= MAX_VALUES) out.value = broadcastValues([x], shape, ([p]) => p!);
      return [out];
    }
    case 'Tile': {
      const x = inp(c, 0);
      const reps = ints(c, 1, 'repeats')!;
      return [{ dtype: x.dtype, shape: x.shape.map((d, i) => d * reps[i]!) }];
    }
    case 'Pad': {
      const x = inp(c, 0);
      const r = x.shape.length;
      const pads = c.opset >= 11 ? ints(c, 1, 'pads')! : c.a.ints('pads')!;
      const axes = (c.opset >= 18 ? ints(c, 3, 'axes') : undefined)?.map((a) => normAxis(a, r)) ?? x.shape.map((_, i) => i);
      const shape = [...x.shape];
      axes.forEach((a, k) => (shape[a] = shape[a]! + pads[k]! + pads[k + axes.length]!));
      return [{ dtype: x.dtype, shape }];
    }
    case 'MatMul': {
      const [x, y] = [inp(c, 0), inp(c, 1)];
      const a = x.shape.length === 1 ? [1, x.shape[0]!] : x.shape;
      const b = y.shape.length === 1 ? [y.shape[0]!, 1] : y.shape;
      if (a[a.length - 1] !== b[b.length - 2]) fail(`inner dimensions differ: [${x.shape.join(', ')}] x [${y.shape.join(', ')}]`);
      const shape = broadcast([a.slice(0, -2), b.slice(0, -2)]);
      if (x.shape.length > 1) shape.push(a[a.length - 2]!);
      if (y.shape.length > 1) shape.push(b[b.length - 1]!);
      return [{ dtype: x.dtype, shape }];
    }
    case 'Gemm': {
      const [x, y] = [inp(c, 0), inp(c, 1)];
      const m = c.a.int('transA', 0) ? x.shape[1]! : x.shape[0]!;
      const n = c.a.int('transB', 0) ? y.shape[0]! : y.shape[1]!;
      return [{ dtype: x.dtype, shape: [m, n] }];
    }
    case 'Conv': {
      const [x, w] = [inp(c, 0), inp(c, 1)];
      return [{ dtype: x.dtype, shape: convOut(c, x.shape, w.shape.slice(2), false, w.shape[0]!) }];
    }
    case 'ConvTranspose': {
      const [x, w] = [inp(c, 0), inp(c, 1)];
      return [{ dtype: x.dtype, shape: convOut(c, x.shape, w.shape.slice(2), true, w.shape[1]! * c.a.int('group', 1)) }];
    }
    case 'Softmax':
    case 'LogSoftmax':
    case 'InstanceNormalization':
    case 'GroupNormalization':
      return [{ dtype: inp(c, 0).dtype, shape: [...inp(c, 0).shape] }];
    case 'LayerNormalization': {
      const x = inp(c, 0);
      const axis = normAxis(c.a.int('axis', -1), x.shape.length);
      const stat = x.shape.map((d, i) => (i < axis ? d : 1));
      const stash = dtypeFromOnnx(c.a.int('stash_type', 1)) ?? 'float32';
      return [{ dtype: x.dtype, shape: [...x.shape] }, { dtype: stash, shape: stat }, { dtype: stash, shape: stat }];
    }
    case 'BatchNormalization': {
      const x = inp(c, 0);
      const ch = [x.shape[1]!];
      return [{ dtype: x.dtype, shape: [...x.shape] }, { dtype: x.dtype, shape: ch }, { dtype: x.dtype, shape: ch }];
    }
    case 'ReduceMean':
    case 'ReduceSum':
    case 'ReduceMax':
    case 'ReduceMin':
    case 'ReduceProd':
    case 'ReduceL2':
    case 'ReduceL1':
    case 'ReduceSumSquare':
    case 'ReduceLogSumExp': {
      const x = inp(c, 0);
      const axes = reduceAxes(c, x.shape.length);
      if (!axes) return [{ dtype: x.dtype, shape: [...x.shape] }];
      const keep = c.a.int('keepdims', 1) === 1;
      const shape = x.shape.flatMap((d, i) => (axes.includes(i) ? (keep ? [1] : []) : [d]));
      return [{ dtype: x.dtype, shape }];
    }
    case 'ArgMax':
    case 'ArgMin': {
      const x = inp(c, 0);
      const axis = normAxis(c.a.int('axis', 0), x.shape.length);
      const keep = c.a.int('keepdims', 1) === 1;
      return [{ dtype: 'int64', shape: x.shape.flatMap((d, i) => (i === axis ? (keep ? [1] : []) : [d])) }];
    }
    case 'CumSum':
      return [{ dtype: inp(c, 0).dtype, shape: [...inp(c, 0).shape] }];
    case 'Resize':
    case 'Upsample': {
      const x = inp(c, 0);
      const sizesIdx = op === 'Upsample' ? -1 : 3;
      const scalesIdx = op === 'Upsample' ? 1 : 2;
      const sizes = sizesIdx > 0 && c.ins[sizesIdx] ? ints(c, sizesIdx, 'sizes') : undefined;
      if (sizes && sizes.length) return [{ dtype: x.dtype, shape: sizes }];
      const scales = c.ins[scalesIdx] ? ints(c, scalesIdx, 'scales') : undefined;
      if (!scales || scales.length === 0) fail('needs scales or sizes');
      return [{ dtype: x.dtype, shape: x.shape.map((d, i) => Math.floor(d * scales![i]!)) }];
    }
  }
  return fail(`no shape rule for ${op}`);
}

/** Infer every tensor of `graph` (see the module comment). */
export function inferGraph(graph: OnnxGraph, inputShapes: Record<string, readonly number[]> = {}, opset = 17): Map<string, TensorInfo> {
  const info = new Map<string, TensorInfo>();
  const error = (node: string, op: string, reason: string) => new ZipbankError('onnx.infer-failed', { graph: graph.name, node, op, reason });
  for (const t of graph.initializer) {
    try {
      if (t.name) info.set(t.name, tensorInfo(t));
    } catch (e) {
      throw error(t.name ?? '?', 'initializer', (e as Error).message);
    }
  }
  for (const i of graph.input) {
    if (info.has(i.name)) continue;
    const tt = i.type?.tensorType;
    const dtype = tt?.elemType !== undefined ? dtypeFromOnnx(tt.elemType) : undefined;
    if (!dtype) throw error(i.name, 'input', 'it is not a tensor of a supported type');
    const declared = tt?.shape?.dim.map((d) => (d.dimValue !== undefined ? Number(d.dimValue) : null));
    const given = inputShapes[i.name];
    let shape: number[];
    if (given) {
      if (declared && (declared.length !== given.length || declared.some((d, k) => d !== null && d !== given[k]))) {
        throw error(i.name, 'input', `the given size [${given.join(', ')}] does not fit its declared shape [${declared.map((d) => d ?? '?').join(', ')}]`);
      }
      shape = [...given];
    } else if (declared && declared.every((d): d is number => d !== null)) shape = declared;
    else throw error(i.name, 'input', `its shape [${(declared ?? []).map((d) => d ?? '?').join(', ')}] has symbolic dimensions; pass its concrete size`);
    info.set(i.name, { dtype, shape });
  }
  for (const node of graph.node) {
    const name = node.name || node.output[0] || '?';
    let outs: TensorInfo[];
    try {
      outs = inferNode({ node, a: nodeAttrs(node), ins: node.input.map((x) => (x ? info.get(x) ?? fail(`input ${x} is not defined before this node`) : undefined)), opset });
    } catch (e) {
      if (e instanceof Fail || e instanceof RangeError) throw error(name, node.opType, e.message);
      throw e;
    }
    node.output.forEach((o, k) => {
      if (o && outs[k]) info.set(o, outs[k]!);
    });
  }
  return info;
}
