/**
 * Static shape, dtype and small-constant inference over a decoded ONNX graph, for
 * concrete input sizes. Every tensor (graph inputs, initializers, node outputs) gets
 * its element type and exact dims; small tensors whose values are known statically
 * (initializers, Constant outputs, and what folds from them: the Shape -> Gather ->
 * Concat -> Reshape arithmetic of exported graphs) also get their values, so that
 * Reshape, Slice, Expand, Resize, ... targets are known.
 *
 * Values are Float64Arrays (int64 dims exactly, bool as 0/1). Float-heavy ops
 * (MatMul, Conv, Softmax, normalizations) are never folded: they get dtype and shape.
 *
 * @example
 *   const info = inferGraph(model.graph, { sample: [2, 4, 16, 16], timestep: [2], encoder_hidden_states: [2, 77, 768] });
 *   info.get('out_sample');   // { dtype: 'float32', shape: [2, 4, 16, 16] }
 *   info.get('/Shape_output_0')?.value;   // Float64Array [2, 4, 16, 16]
 */
import { ZipbankError } from '../../errors/index.ts';
import { bf16ToFloat, floatToBf16, floatToHalf, halfToFloat } from '../weights/dtype.ts';
import { nodeAttrs, type NodeAttrs } from './attributes.ts';
import { readTensorValues } from './tensor-data.ts';
import { DATA_LOCATION_EXTERNAL, dtypeFromOnnx, type DType, type OnnxGraph, type OnnxNode, type OnnxTensor } from './types.ts';

export interface TensorInfo {
  dtype: DType;
  shape: number[];
  /** The values, when known statically: initializers and Constant outputs with at most 4096 elements, and anything folded from known values (shape arithmetic). Float64 holds ints exactly for dims; bool as 0/1. */
  value?: Float64Array;
}

/** Tensors with more elements than this get no `value`. */
export const MAX_VALUE_ELEMENTS = 4096;

// ---------------------------------------------------------------------------
// Small helpers

const prod = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);
const show = (s: readonly number[]) => `[${s.join(', ')}]`;

const INT_BITS: Partial<Record<DType, [number, boolean]>> = {
  int8: [8, true],
  uint8: [8, false],
  int16: [16, true],
  uint16: [16, false],
  int32: [32, true],
  uint32: [32, false],
};

const isIntType = (d: DType) => d in INT_BITS || d === 'int64' || d === 'uint64' || d === 'bool';
const isFloatType = (d: DType) => d === 'float32' || d === 'float16' || d === 'bfloat16' || d === 'float64';

/** A number as the element type stores it (float rounding, integer truncation and wrap-around, bool 0/1). */
function roundTo(dtype: DType, v: number): number {
  switch (dtype) {
    case 'float32': return Math.fround(v);
    case 'float64': return v;
    case 'float16': return halfToFloat(floatToHalf(v));
    case 'bfloat16': return bf16ToFloat(floatToBf16(v));
    case 'bool': return v !== 0 ? 1 : 0;
    case 'int64':
    case 'uint64': return Math.trunc(v) + 0; // + 0: no -0
    case 'string': return v;
    default: {
      const [bits, signed] = INT_BITS[dtype]!;
      if (!Number.isFinite(v)) return v;
      const m = 2 ** bits;
      let r = ((Math.trunc(v) % m) + m) % m;
      if (signed && r >= m / 2) r -= m;
      return r;
    }
  }
}

function strides(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i]!;
  }
  return s;
}

function unravel(flat: number, shape: readonly number[]): number[] {
  const idx = new Array<number>(shape.length);
  for (let i = shape.length - 1; i >= 0; i--) {
    const d = shape[i]!;
    idx[i] = flat % d;
    flat = Math.floor(flat / d);
  }
  return idx;
}

/** out[o] = src[at(o)] over every multi-index o of `shape` (at returns a flat index into src, or -1 for `fill`). */
function mapIndex(shape: readonly number[], src: Float64Array, at: (o: number[]) => number, fill = 0): Float64Array {
  const n = prod(shape);
  const out = new Float64Array(n);
  for (let f = 0; f < n; f++) {
    const i = at(unravel(f, shape));
    out[f] = i < 0 ? fill : src[i]!;
  }
  return out;
}

/** Flat index of multi-index `idx` in `shape`. */
function ravel(idx: readonly number[], st: readonly number[]): number {
  let f = 0;
  for (let i = 0; i < idx.length; i++) f += idx[i]! * st[i]!;
  return f;
}

// ---------------------------------------------------------------------------
// Per-node context

interface Ctx {
  readonly node: OnnxNode;
  readonly a: NodeAttrs;
  /** How many input slots the node has (including absent optional ones). */
  readonly nIn: number;
  fail(reason: string): never;
  /** Input i; fails when it is absent. */
  x(i: number): TensorInfo;
  /** Input i, or undefined when absent (no slot or empty name). */
  opt(i: number): TensorInfo | undefined;
  /** The known values of input i; fails when they are not static. */
  vals(i: number, what: string): number[];
  /** An output; its value is dropped when it is too large. */
  out(dtype: DType, shape: readonly number[], value?: Float64Array): TensorInfo;
  /** Normalised axis for a rank. */
  axis(axis: number, rank: number, what?: string): number;
}

type Rule = (c: Ctx) => (TensorInfo | undefined)[];

function broadcast(c: Ctx, shapes: readonly (readonly number[])[]): number[] {
  const rank = Math.max(0, ...shapes.map((s) => s.length));
  const out = new Array<number>(rank).fill(1);
  for (const s of shapes) {
    for (let i = 0; i < s.length; i++) {
      const j = rank - s.length + i;
      const d = s[i]!;
      if (d === out[j] || d === 1) continue;
      if (out[j] === 1) out[j] = d;
      else c.fail(`shapes ${shapes.map(show).join(' and ')} do not broadcast`);
    }
  }
  return out;
}

/** For every flat output index of `out`, the flat index into a broadcast input of shape `s`. */
function broadcastMap(out: readonly number[], s: readonly number[]): (o: number[]) => number {
  const st = strides(s);
  const off = out.length - s.length;
  return (o) => {
    let f = 0;
    for (let i = 0; i < s.length; i++) if (s[i] !== 1) f += o[i + off]! * st[i]!;
    return f;
  };
}

/** Elementwise over broadcast inputs; the value is folded when every input's value is known. */
function elementwise(c: Ctx, inputs: TensorInfo[], dtype: DType, fn?: (xs: number[]) => number | undefined): TensorInfo {
  const shape = broadcast(c, inputs.map((t) => t.shape));
  const n = prod(shape);
  if (!fn || n > MAX_VALUE_ELEMENTS || inputs.some((t) => !t.value)) return c.out(dtype, shape);
  const maps = inputs.map((t) => broadcastMap(shape, t.shape));
  const value = new Float64Array(n);
  for (let f = 0; f < n; f++) {
    const o = unravel(f, shape);
    const r = fn(inputs.map((t, k) => t.value![maps[k]!(o)]!));
    if (r === undefined) return c.out(dtype, shape);
    value[f] = roundTo(dtype, r);
  }
  return c.out(dtype, shape, value);
}

// ---------------------------------------------------------------------------
// Rules

const same: Rule = (c) => [c.out(c.x(0).dtype, c.x(0).shape)];

/** Same shape and dtype, folded with `fn` when the input value is known. */
const unary = (fn?: (v: number, c: Ctx) => number | undefined): Rule => (c) => {
  const x = c.x(0);
  return [elementwise(c, [x], x.dtype, fn && ((xs) => fn(xs[0]!, c)))];
};

const roundHalfEven = (x: number) => {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
};

function intDiv(a: number, b: number): number | undefined {
  if (b === 0) return undefined;
  return Math.trunc(a / b);
}

const arith = (fn: (a: number, b: number, int: boolean) => number | undefined): Rule => (c) => {
  const a = c.x(0);
  const b = c.x(1);
  const int = isIntType(a.dtype);
  return [elementwise(c, [a, b], a.dtype, (v) => fn(v[0]!, v[1]!, int))];
};

const compare = (fn: (a: number, b: number) => boolean): Rule => (c) => [
  elementwise(c, [c.x(0), c.x(1)], 'bool', (v) => (fn(v[0]!, v[1]!) ? 1 : 0)),
];

/** Variadic elementwise ops (Max, Min, Sum, Mean). */
const variadic = (fn: (xs: number[]) => number): Rule => (c) => {
  const xs = c.node.input.map((_, i) => c.x(i));
  return [elementwise(c, xs, xs[0]!.dtype, fn)];
};

function readAttrTensor(c: Ctx, t: OnnxTensor, what: string): TensorInfo {
  const dtype = dtypeFromOnnx(t.dataType);
  if (!dtype) c.fail(`its ${what} has element type ${t.dataType}, which zipbank does not handle`);
  const shape = [...t.dims];
  if (dtype === 'string' || t.dataLocation === DATA_LOCATION_EXTERNAL || prod(shape) > MAX_VALUE_ELEMENTS) return { dtype, shape };
  return c.out(dtype, shape, readTensorValues(t));
}

const constant: Rule = (c) => {
  const a = c.a;
  const t = a.tensor('value');
  if (t) return [readAttrTensor(c, t, 'value')];
  if (a.has('value_float')) return [c.out('float32', [], Float64Array.of(Math.fround(a.float('value_float'))))];
  const floats = a.floats('value_floats');
  if (floats) return [c.out('float32', [floats.length], Float64Array.from(floats, Math.fround))];
  if (a.has('value_int')) return [c.out('int64', [], Float64Array.of(a.int('value_int')))];
  const ints = a.ints('value_ints');
  if (ints) return [c.out('int64', [ints.length], Float64Array.from(ints))];
  if (a.has('value_string')) return [{ dtype: 'string', shape: [] }];
  if (a.has('value_strings')) {
    const n = c.node.attribute.find((x) => x.name === 'value_strings')?.strings?.length ?? 0;
    return [{ dtype: 'string', shape: [n] }];
  }
  if (a.has('sparse_value')) c.fail('sparse constants are not supported');
  return c.fail('it has none of the attributes value, value_float(s), value_int(s)');
};

const constantOfShape: Rule = (c) => {
  const shape = c.vals(0, 'shape');
  if (shape.some((d) => d < 0 || !Number.isInteger(d))) c.fail(`shape ${show(shape)} has a negative or non-integer dim`);
  const t = c.a.tensor('value');
  let dtype: DType = 'float32';
  let fill = 0;
  if (t) {
    const v = readAttrTensor(c, t, 'value');
    dtype = v.dtype;
    fill = v.value?.[0] ?? 0;
  }
  return [c.out(dtype, shape, prod(shape) <= MAX_VALUE_ELEMENTS ? new Float64Array(prod(shape)).fill(fill) : undefined)];
};

const shapeOp: Rule = (c) => {
  const x = c.x(0);
  const r = x.shape.length;
  const clampIdx = (v: number) => Math.min(Math.max(v < 0 ? v + r : v, 0), r);
  const start = clampIdx(c.a.int('start', 0));
  const end = c.a.has('end') ? clampIdx(c.a.int('end')) : r;
  const dims = x.shape.slice(start, Math.max(start, end));
  return [c.out('int64', [dims.length], Float64Array.from(dims))];
};

const gather: Rule = (c) => {
  const data = c.x(0);
  const idx = c.x(1);
  const r = data.shape.length;
  if (r === 0) c.fail('its data is a scalar');
  const ax = c.axis(c.a.int('axis', 0), r);
  const dim = data.shape[ax]!;
  const shape = [...data.shape.slice(0, ax), ...idx.shape, ...data.shape.slice(ax + 1)];
  if (!data.value || !idx.value || prod(shape) > MAX_VALUE_ELEMENTS) return [c.out(data.dtype, shape)];
  const iv = idx.value;
  for (const i of iv) if (i < -dim || i >= dim) c.fail(`index ${i} is out of range for axis ${ax} of size ${dim}`);
  const st = strides(data.shape);
  const ist = strides(idx.shape);
  const q = idx.shape.length;
  const value = mapIndex(shape, data.value, (o) => {
    let i = iv[ravel(o.slice(ax, ax + q), ist)]!;
    if (i < 0) i += dim;
    return ravel([...o.slice(0, ax), i, ...o.slice(ax + q)], st);
  });
  return [c.out(data.dtype, shape, value)];
};

const gatherElements: Rule = (c) => {
  const data = c.x(0);
  const idx = c.x(1);
  const r = data.shape.length;
  if (idx.shape.length !== r) c.fail(`indices rank ${idx.shape.length} differs from data rank ${r}`);
  const ax = c.axis(c.a.int('axis', 0), r);
  const dim = data.shape[ax]!;
  if (!data.value || !idx.value || prod(idx.shape) > MAX_VALUE_ELEMENTS) return [c.out(data.dtype, idx.shape)];
  const st = strides(data.shape);
  const iv = idx.value;
  const ist = strides(idx.shape);
  const value = mapIndex(idx.shape, data.value, (o) => {
    let i = iv[ravel(o, ist)]!;
    if (i < -dim || i >= dim) c.fail(`index ${i} is out of range for axis ${ax} of size ${dim}`);
    if (i < 0) i += dim;
    const at = [...o];
    at[ax] = i;
    return ravel(at, st);
  });
  return [c.out(data.dtype, idx.shape, value)];
};

const gatherND: Rule = (c) => {
  const data = c.x(0);
  const idx = c.x(1);
  const b = c.a.int('batch_dims', 0);
  const r = data.shape.length;
  const q = idx.shape.length;
  if (q < 1 || r < 1) c.fail('data and indices need rank 1 or more');
  const k = idx.shape[q - 1]!;
  if (b >= Math.min(q, r) && b > 0) c.fail(`batch_dims ${b} is too large for ranks ${r} and ${q}`);
  if (k < 1 || k > r - b) c.fail(`the last indices dim ${k} must be between 1 and ${r - b}`);
  for (let i = 0; i < b; i++) {
    if (data.shape[i] !== idx.shape[i]) c.fail(`batch dims differ: data ${show(data.shape)}, indices ${show(idx.shape)}`);
  }
  const shape = [...idx.shape.slice(0, q - 1), ...data.shape.slice(b + k)];
  if (!data.value || !idx.value || prod(shape) > MAX_VALUE_ELEMENTS) return [c.out(data.dtype, shape)];
  const st = strides(data.shape);
  const ist = strides(idx.shape);
  const iv = idx.value;
  const value = mapIndex(shape, data.value, (o) => {
    const pos = o.slice(0, q - 1);
    const at = o.slice(0, b);
    for (let j = 0; j < k; j++) {
      const dim = data.shape[b + j]!;
      let i = iv[ravel([...pos, j], ist)]!;
      if (i < -dim || i >= dim) c.fail(`index ${i} is out of range for data dim ${b + j} of size ${dim}`);
      if (i < 0) i += dim;
      at.push(i);
    }
    at.push(...o.slice(q - 1));
    return ravel(at, st);
  });
  return [c.out(data.dtype, shape, value)];
};

const concat: Rule = (c) => {
  const xs = c.node.input.map((_, i) => c.x(i)).filter((t) => !(t.shape.length === 1 && t.shape[0] === 0 && c.node.input.length > 1));
  const all = xs.length ? xs : [c.x(0)];
  const first = all[0]!;
  const r = first.shape.length;
  const ax = c.axis(c.a.int('axis'), r);
  const shape = [...first.shape];
  shape[ax] = 0;
  for (const t of all) {
    if (t.shape.length !== r || t.shape.some((d, i) => i !== ax && d !== first.shape[i])) {
      c.fail(`inputs ${all.map((u) => show(u.shape)).join(', ')} differ outside axis ${ax}`);
    }
    shape[ax] += t.shape[ax]!;
  }
  if (all.some((t) => !t.value) || prod(shape) > MAX_VALUE_ELEMENTS) return [c.out(first.dtype, shape)];
  const value = new Float64Array(prod(shape));
  for (let f = 0; f < value.length; f++) {
    const o = unravel(f, shape);
    let j = o[ax]!;
    for (const t of all) {
      const d = t.shape[ax]!;
      if (j < d) {
        const at = [...o];
        at[ax] = j;
        value[f] = t.value![ravel(at, strides(t.shape))]!;
        break;
      }
      j -= d;
    }
  }
  return [c.out(first.dtype, shape, value)];
};

/** The part of x along `ax` from `start` with `step` and `count` elements (folding the value). */
function sliceInfo(c: Ctx, x: TensorInfo, starts: number[], steps: number[], counts: number[]): TensorInfo {
  const shape = counts;
  if (!x.value || prod(shape) > MAX_VALUE_ELEMENTS) return c.out(x.dtype, shape);
  const st = strides(x.shape);
  return c.out(x.dtype, shape, mapIndex(shape, x.value, (o) => ravel(o.map((v, i) => starts[i]! + v * steps[i]!), st)));
}

const split: Rule = (c) => {
  const x = c.x(0);
  const ax = c.axis(c.a.int('axis', 0), x.shape.length);
  const dim = x.shape[ax]!;
  const n = c.node.output.length;
  let sizes: number[];
  if (c.opt(1)) sizes = c.vals(1, 'split');
  else if (c.a.ints('split')) sizes = c.a.ints('split')!;
  else if (c.a.has('num_outputs')) {
    const k = c.a.int('num_outputs');
    if (k !== n) c.fail(`num_outputs is ${k} but the node has ${n} outputs`);
    const chunk = Math.ceil(dim / k);
    sizes = Array.from({ length: k }, (_, i) => Math.max(0, Math.min(chunk, dim - i * chunk)));
  } else {
    if (dim % n !== 0) c.fail(`axis ${ax} of size ${dim} does not split evenly into ${n} outputs`);
    sizes = new Array<number>(n).fill(dim / n);
  }
  if (sizes.length !== n) c.fail(`it has ${sizes.length} split sizes but ${n} outputs`);
  if (sizes.some((s) => s < 0) || sizes.reduce((a, b) => a + b, 0) !== dim) {
    c.fail(`split sizes ${show(sizes)} do not add up to axis ${ax} of size ${dim} (input ${show(x.shape)})`);
  }
  let at = 0;
  return sizes.map((s) => {
    const starts = x.shape.map(() => 0);
    starts[ax] = at;
    at += s;
    const counts = [...x.shape];
    counts[ax] = s;
    return sliceInfo(c, x, starts, x.shape.map(() => 1), counts);
  });
};

const slice: Rule = (c) => {
  const x = c.x(0);
  const r = x.shape.length;
  let starts: number[];
  let ends: number[];
  let axes: number[] | undefined;
  let steps: number[] | undefined;
  if (c.nIn >= 3) {
    starts = c.vals(1, 'starts');
    ends = c.vals(2, 'ends');
    if (c.opt(3)) axes = c.vals(3, 'axes');
    if (c.opt(4)) steps = c.vals(4, 'steps');
  } else {
    starts = c.a.ints('starts') ?? c.fail('it has neither starts inputs nor a starts attribute');
    ends = c.a.ints('ends') ?? c.fail('it has no ends');
    axes = c.a.ints('axes');
  }
  axes ??= starts.map((_, i) => i);
  steps ??= starts.map(() => 1);
  if (ends.length !== starts.length || axes.length !== starts.length || steps.length !== starts.length) {
    c.fail(`starts, ends, axes and steps have different lengths (${starts.length}, ${ends.length}, ${axes.length}, ${steps.length})`);
  }
  const from = x.shape.map(() => 0);
  const step = x.shape.map(() => 1);
  const counts = [...x.shape];
  const seen = new Set<number>();
  axes.forEach((axis, k) => {
    const a = c.axis(axis, r);
    if (seen.has(a)) c.fail(`axis ${a} is sliced twice`);
    seen.add(a);
    const d = x.shape[a]!;
    const s = steps![k]!;
    if (s === 0) c.fail('a slice step is 0');
    let b = starts[k]!;
    let e = ends[k]!;
    if (b < 0) b += d;
    if (e < 0) e += d;
    if (s > 0) {
      b = Math.min(Math.max(b, 0), d);
      e = Math.min(Math.max(e, 0), d);
    } else {
      b = Math.min(Math.max(b, 0), d - 1);
      e = Math.min(Math.max(e, -1), d - 1);
    }
    from[a] = b;
    step[a] = s;
    counts[a] = Math.max(0, Math.ceil((e - b) / s));
  });
  return [sliceInfo(c, x, from, step, counts)];
};

const passValue = (c: Ctx, x: TensorInfo, shape: number[]) => c.out(x.dtype, shape, x.value);

const reshape: Rule = (c) => {
  const x = c.x(0);
  const target = c.vals(1, 'shape');
  const allowzero = c.a.int('allowzero', 0) === 1;
  const total = prod(x.shape);
  const shape = target.map((t, i) => {
    if (t === 0 && !allowzero) {
      if (i >= x.shape.length) c.fail(`target ${show(target)} copies dim ${i}, which input ${show(x.shape)} does not have`);
      return x.shape[i]!;
    }
    return t;
  });
  const free = shape.flatMap((d, i) => (d === -1 ? [i] : []));
  if (free.length > 1) c.fail(`target ${show(target)} has more than one -1`);
  if (shape.some((d) => d < -1 || !Number.isInteger(d))) c.fail(`target ${show(target)} has an invalid dim`);
  if (free.length === 1) {
    const rest = prod(shape.filter((_, i) => i !== free[0]));
    if (rest === 0 || total % rest !== 0) c.fail(`input ${show(x.shape)} (${total} elements) cannot take target ${show(target)}`);
    shape[free[0]!] = total / rest;
  }
  if (prod(shape) !== total) c.fail(`input ${show(x.shape)} (${total} elements) cannot take target ${show(target)} (resolved ${show(shape)})`);
  return [passValue(c, x, shape)];
};

const flatten: Rule = (c) => {
  const x = c.x(0);
  const r = x.shape.length;
  let ax = c.a.int('axis', 1);
  if (ax < 0) ax += r;
  if (ax < 0 || ax > r) c.fail(`axis ${c.a.int('axis', 1)} is out of range for rank ${r}`);
  return [passValue(c, x, [prod(x.shape.slice(0, ax)), prod(x.shape.slice(ax))])];
};

const transpose: Rule = (c) => {
  const x = c.x(0);
  const r = x.shape.length;
  const perm = c.a.ints('perm') ?? x.shape.map((_, i) => r - 1 - i);
  if (perm.length !== r || [...perm].sort((p, q) => p - q).some((p, i) => p !== i)) c.fail(`perm ${show(perm)} is not a permutation of rank ${r}`);
  const shape = perm.map((p) => x.shape[p]!);
  if (!x.value) return [c.out(x.dtype, shape)];
  const st = strides(x.shape);
  return [c.out(x.dtype, shape, mapIndex(shape, x.value, (o) => perm.reduce((f, p, j) => f + o[j]! * st[p]!, 0)))];
};

const axesOf = (c: Ctx): number[] | undefined => (c.opt(1) ? c.vals(1, 'axes') : c.a.ints('axes'));

const squeeze: Rule = (c) => {
  const x = c.x(0);
  const r = x.shape.length;
  const axes = axesOf(c);
  const drop = new Set(axes ? axes.map((a) => c.axis(a, r)) : x.shape.flatMap((d, i) => (d === 1 ? [i] : [])));
  for (const a of drop) if (x.shape[a] !== 1) c.fail(`axis ${a} of input ${show(x.shape)} has size ${x.shape[a]}, not 1`);
  return [passValue(c, x, x.shape.filter((_, i) => !drop.has(i)))];
};

const unsqueeze: Rule = (c) => {
  const x = c.x(0);
  const axes = axesOf(c) ?? c.fail('it has no axes');
  const r = x.shape.length + axes.length;
  const add = new Set(axes.map((a) => c.axis(a, r)));
  if (add.size !== axes.length) c.fail(`axes ${show(axes)} repeat an axis`);
  const shape: number[] = [];
  let j = 0;
  for (let i = 0; i < r; i++) shape.push(add.has(i) ? 1 : x.shape[j++]!);
  return [passValue(c, x, shape)];
};

const expand: Rule = (c) => {
  const x = c.x(0);
  const target = c.vals(1, 'shape');
  const shape = broadcast(c, [x.shape, target]);
  if (!x.value || prod(shape) > MAX_VALUE_ELEMENTS) return [c.out(x.dtype, shape)];
  return [c.out(x.dtype, shape, mapIndex(shape, x.value, broadcastMap(shape, x.shape)))];
};

const tile: Rule = (c) => {
  const x = c.x(0);
  const reps = c.vals(1, 'repeats');
  if (reps.length !== x.shape.length) c.fail(`repeats ${show(reps)} do not match input rank ${x.shape.length}`);
  const shape = x.shape.map((d, i) => d * reps[i]!);
  if (!x.value || prod(shape) > MAX_VALUE_ELEMENTS) return [c.out(x.dtype, shape)];
  const st = strides(x.shape);
  return [c.out(x.dtype, shape, mapIndex(shape, x.value, (o) => ravel(o.map((v, i) => v % x.shape[i]!), st)))];
};

const pad: Rule = (c) => {
  const x = c.x(0);
  const r = x.shape.length;
  const pads = c.opt(1) ? c.vals(1, 'pads') : (c.a.ints('pads') ?? c.fail('it has no pads'));
  const axes = c.opt(3) ? c.vals(3, 'axes').map((a) => c.axis(a, r)) : x.shape.map((_, i) => i);
  if (pads.length !== 2 * axes.length) c.fail(`pads ${show(pads)} need ${2 * axes.length} numbers for input ${show(x.shape)}`);
  const before = x.shape.map(() => 0);
  const after = x.shape.map(() => 0);
  axes.forEach((a, k) => {
    before[a] = pads[k]!;
    after[a] = pads[k + axes.length]!;
  });
  const shape = x.shape.map((d, i) => d + before[i]! + after[i]!);
  if (shape.some((d) => d < 0)) c.fail(`pads ${show(pads)} crop input ${show(x.shape)} below zero`);
  const mode = c.a.string('mode', 'constant');
  const cv = c.opt(2);
  let fill = c.a.float('value', 0);
  if (cv) {
    if (!cv.value) return [c.out(x.dtype, shape)];
    fill = cv.value[0] ?? 0;
  }
  if (!x.value || prod(shape) > MAX_VALUE_ELEMENTS) return [c.out(x.dtype, shape)];
  if (mode !== 'constant' && prod(x.shape) === 0) c.fail(`mode ${mode} cannot pad an empty input`);
  const st = strides(x.shape);
  const value = mapIndex(
    shape,
    x.value,
    (o) => {
      const at: number[] = [];
      for (let i = 0; i < r; i++) {
        const n = x.shape[i]!;
        let j = o[i]! - before[i]!;
        if (j < 0 || j >= n) {
          if (mode === 'constant') return -1;
          if (mode === 'edge') j = Math.min(Math.max(j, 0), n - 1);
          else if (mode === 'wrap') j = ((j % n) + n) % n;
          else if (mode === 'reflect') {
            const period = 2 * n - 2;
            j = period === 0 ? 0 : ((j % period) + period) % period;
            if (j >= n) j = period - j;
          } else c.fail(`mode ${mode} is not an ONNX Pad mode`);
        }
        at.push(j);
      }
      return ravel(at, st);
    },
    fill,
  );
  return [c.out(x.dtype, shape, value)];
};

const range: Rule = (c) => {
  const [start] = c.vals(0, 'start');
  const [limit] = c.vals(1, 'limit');
  const [delta] = c.vals(2, 'delta');
  if (start === undefined || limit === undefined || delta === undefined) return c.fail('start, limit and delta must be scalars');
  if (delta === 0) c.fail('delta is 0');
  const dtype = c.x(0).dtype;
  const n = Math.max(Math.ceil((limit - start) / delta), 0);
  const value = n <= MAX_VALUE_ELEMENTS ? Float64Array.from({ length: n }, (_, i) => roundTo(dtype, start + i * delta)) : undefined;
  return [c.out(dtype, [n], value)];
};

const where: Rule = (c) => {
  const x = c.x(1);
  return [elementwise(c, [c.x(0), x, c.x(2)], x.dtype, (v) => (v[0] ? v[1]! : v[2]!))];
};

const cast: Rule = (c) => {
  const to = dtypeFromOnnx(c.a.int('to')) ?? c.fail(`target type ${c.a.int('to')} is not handled`);
  const x = c.x(0);
  if (to === 'string' || x.dtype === 'string') return [c.out(to, x.shape)];
  return [elementwise(c, [x], to, (v) => v[0]!)];
};

const castLike: Rule = (c) => {
  const x = c.x(0);
  return [elementwise(c, [x], c.x(1).dtype, (v) => v[0]!)];
};

const clip: Rule = (c) => {
  const x = c.x(0);
  let lo: number | undefined = c.a.has('min') ? c.a.float('min') : -Infinity;
  let hi: number | undefined = c.a.has('max') ? c.a.float('max') : Infinity;
  const mn = c.opt(1);
  const mx = c.opt(2);
  if (mn) lo = mn.value?.[0];
  if (mx) hi = mx.value?.[0];
  const ok = lo !== undefined && hi !== undefined;
  return [elementwise(c, [x], x.dtype, ok ? (v) => Math.min(Math.max(v[0]!, lo!), hi!) : undefined)];
};

function matmulShape(c: Ctx, a: readonly number[], b: readonly number[]): number[] {
  if (a.length === 0 || b.length === 0) c.fail('MatMul needs inputs of rank 1 or more');
  const a2 = a.length === 1 ? [1, a[0]!] : a;
  const b2 = b.length === 1 ? [b[0]!, 1] : b;
  const k1 = a2[a2.length - 1]!;
  const k2 = b2[b2.length - 2]!;
  if (k1 !== k2) c.fail(`inner dims differ: ${show(a)} x ${show(b)}`);
  const batch = broadcast(c, [a2.slice(0, -2), b2.slice(0, -2)]);
  const out = [...batch];
  if (a.length > 1) out.push(a2[a2.length - 2]!);
  if (b.length > 1) out.push(b2[b2.length - 1]!);
  return out;
}

const matmul: Rule = (c) => [c.out(c.x(0).dtype, matmulShape(c, c.x(0).shape, c.x(1).shape))];

const gemm: Rule = (c) => {
  const a = c.x(0);
  const b = c.x(1);
  if (a.shape.length !== 2 || b.shape.length !== 2) c.fail(`A ${show(a.shape)} and B ${show(b.shape)} must be 2-D`);
  const [m, ka] = c.a.int('transA', 0) ? [a.shape[1]!, a.shape[0]!] : [a.shape[0]!, a.shape[1]!];
  const [kb, n] = c.a.int('transB', 0) ? [b.shape[1]!, b.shape[0]!] : [b.shape[0]!, b.shape[1]!];
  if (ka !== kb) c.fail(`inner dims differ: A ${show(a.shape)}, B ${show(b.shape)} (transA ${c.a.int('transA', 0)}, transB ${c.a.int('transB', 0)})`);
  const bias = c.opt(2);
  if (bias) {
    const s = broadcast(c, [bias.shape, [m, n]]);
    if (s[0] !== m || s[1] !== n) c.fail(`C ${show(bias.shape)} does not broadcast to [${m}, ${n}]`);
  }
  return [c.out(a.dtype, [m, n])];
};

interface ConvAttrs {
  kernel: number[];
  strides: number[];
  dilations: number[];
  pads: number[];
  autoPad: string;
}

function convAttrs(c: Ctx, spatial: number, weight: readonly number[]): ConvAttrs {
  const kernel = c.a.ints('kernel_shape') ?? weight.slice(2);
  if (kernel.length !== spatial) c.fail(`kernel ${show(kernel)} does not fit ${spatial} spatial dims`);
  const ones = new Array<number>(spatial).fill(1);
  const strides = c.a.ints('strides') ?? ones;
  const dilations = c.a.ints('dilations') ?? ones;
  const pads = c.a.ints('pads') ?? new Array<number>(2 * spatial).fill(0);
  if (strides.length !== spatial || dilations.length !== spatial || pads.length !== 2 * spatial) {
    c.fail(`strides ${show(strides)}, dilations ${show(dilations)} or pads ${show(pads)} do not fit ${spatial} spatial dims`);
  }
  return { kernel, strides, dilations, pads, autoPad: c.a.string('auto_pad', 'NOTSET') };
}

const conv: Rule = (c) => {
  const x = c.x(0);
  const w = c.x(1);
  const n = x.shape.length - 2;
  if (n < 1 || w.shape.length !== n + 2) c.fail(`input ${show(x.shape)} and weight ${show(w.shape)} do not fit a convolution`);
  const group = c.a.int('group', 1);
  if (x.shape[1] !== w.shape[1]! * group) c.fail(`input has ${x.shape[1]} channels, weight ${show(w.shape)} with group ${group} takes ${w.shape[1]! * group}`);
  const m = w.shape[0]!;
  const bias = c.opt(2);
  if (bias && (bias.shape.length !== 1 || bias.shape[0] !== m)) c.fail(`bias ${show(bias.shape)} is not [${m}]`);
  const g = convAttrs(c, n, w.shape);
  const spatial = x.shape.slice(2).map((d, i) => {
    const s = g.strides[i]!;
    const span = g.dilations[i]! * (g.kernel[i]! - 1) + 1;
    let o: number;
    if (g.autoPad === 'SAME_UPPER' || g.autoPad === 'SAME_LOWER') o = Math.ceil(d / s);
    else if (g.autoPad === 'VALID') o = Math.floor((d - span) / s) + 1;
    else if (g.autoPad === 'NOTSET') o = Math.floor((d + g.pads[i]! + g.pads[i + n]! - span) / s) + 1;
    else return c.fail(`auto_pad ${g.autoPad} is not an ONNX value`);
    if (o < 1) c.fail(`spatial dim ${i} of size ${d} is smaller than the kernel span ${span} after padding`);
    return o;
  });
  return [c.out(x.dtype, [x.shape[0]!, m, ...spatial])];
};

const convTranspose: Rule = (c) => {
  const x = c.x(0);
  const w = c.x(1);
  const n = x.shape.length - 2;
  if (n < 1 || w.shape.length !== n + 2) c.fail(`input ${show(x.shape)} and weight ${show(w.shape)} do not fit a transposed convolution`);
  const group = c.a.int('group', 1);
  if (x.shape[1] !== w.shape[0]) c.fail(`input has ${x.shape[1]} channels, weight ${show(w.shape)} takes ${w.shape[0]}`);
  const m = w.shape[1]! * group;
  const bias = c.opt(2);
  if (bias && (bias.shape.length !== 1 || bias.shape[0] !== m)) c.fail(`bias ${show(bias.shape)} is not [${m}]`);
  const g = convAttrs(c, n, w.shape);
  const outPad = c.a.ints('output_padding') ?? new Array<number>(n).fill(0);
  const given = c.a.ints('output_shape');
  let spatial: number[];
  if (given) {
    if (given.length !== n && given.length !== n + 2) c.fail(`output_shape ${show(given)} does not fit ${n} spatial dims`);
    spatial = given.slice(given.length - n);
  } else {
    spatial = x.shape.slice(2).map((d, i) => {
      const s = g.strides[i]!;
      if (g.autoPad === 'SAME_UPPER' || g.autoPad === 'SAME_LOWER') return d * s;
      const span = g.dilations[i]! * (g.kernel[i]! - 1) + 1;
      const pads = g.autoPad === 'VALID' ? 0 : g.pads[i]! + g.pads[i + n]!;
      if (g.autoPad !== 'VALID' && g.autoPad !== 'NOTSET') c.fail(`auto_pad ${g.autoPad} is not an ONNX value`);
      return s * (d - 1) + outPad[i]! + span - pads;
    });
  }
  if (spatial.some((d) => d < 1)) c.fail(`the output spatial dims ${show(spatial)} are not positive`);
  return [c.out(x.dtype, [x.shape[0]!, m, ...spatial])];
};

const channelNorm = (paramsFrom: number, paramsTo: number): Rule => (c) => {
  const x = c.x(0);
  if (x.shape.length < 2) c.fail(`input ${show(x.shape)} has no channel dim`);
  const ch = x.shape[1]!;
  for (let i = paramsFrom; i <= paramsTo; i++) {
    const p = c.opt(i);
    if (p && (p.shape.length !== 1 || p.shape[0] !== ch)) c.fail(`input ${i} ${show(p.shape)} is not [${ch}]`);
  }
  const outs: TensorInfo[] = [c.out(x.dtype, x.shape)];
  // BatchNormalization in training mode also returns the running mean and variance.
  for (let i = 1; i < c.node.output.length; i++) outs.push(c.out(c.opt(3)?.dtype ?? x.dtype, [ch]));
  return outs;
};

const layerNorm: Rule = (c) => {
  const x = c.x(0);
  const r = x.shape.length;
  const ax = c.axis(c.a.int('axis', -1), r);
  const norm = x.shape.slice(ax);
  for (const i of [1, 2]) {
    const p = c.opt(i);
    if (p) broadcast(c, [p.shape, norm]);
  }
  const stash = c.a.int('stash_type', 1) === 1 ? 'float32' : x.dtype;
  const stats = [...x.shape.slice(0, ax), ...norm.map(() => 1)];
  return [c.out(x.dtype, x.shape), c.out(stash, stats), c.out(stash, stats)];
};

const groupNorm: Rule = (c) => {
  const x = c.x(0);
  if (x.shape.length < 2) c.fail(`input ${show(x.shape)} has no channel dim`);
  const groups = c.a.int('num_groups');
  if (x.shape[1]! % groups !== 0) c.fail(`${x.shape[1]} channels do not split into ${groups} groups`);
  return [c.out(x.dtype, x.shape)];
};

type Reducer = { init: number; step: (acc: number, v: number) => number; end?: (acc: number, n: number) => number };

const REDUCERS: Record<string, Reducer> = {
  ReduceSum: { init: 0, step: (a, v) => a + v },
  ReduceMean: { init: 0, step: (a, v) => a + v, end: (a, n) => a / n },
  ReduceMax: { init: -Infinity, step: (a, v) => Math.max(a, v) },
  ReduceMin: { init: Infinity, step: (a, v) => Math.min(a, v) },
  ReduceProd: { init: 1, step: (a, v) => a * v },
  ReduceL1: { init: 0, step: (a, v) => a + Math.abs(v) },
  ReduceL2: { init: 0, step: (a, v) => a + v * v, end: (a) => Math.sqrt(a) },
  ReduceSumSquare: { init: 0, step: (a, v) => a + v * v },
  ReduceLogSumExp: { init: 0, step: (a, v) => a + Math.exp(v), end: (a) => Math.log(a) },
  ReduceLogSum: { init: 0, step: (a, v) => a + v, end: (a) => Math.log(a) },
};

const reduce = (op: string): Rule => (c) => {
  const x = c.x(0);
  const r = x.shape.length;
  const keep = c.a.int('keepdims', 1) === 1;
  let axes = c.opt(1) ? c.vals(1, 'axes') : c.a.ints('axes');
  if (!axes || axes.length === 0) {
    if (c.a.int('noop_with_empty_axes', 0) === 1) return [c.out(x.dtype, x.shape, x.value)];
    axes = x.shape.map((_, i) => i);
  }
  const set = new Set(axes.map((a) => c.axis(a, r)));
  const shape = x.shape.flatMap((d, i) => (set.has(i) ? (keep ? [1] : []) : [d]));
  const red = REDUCERS[op]!;
  // Float means, norms and logs are left unfolded (their rounding would not match the runtime's).
  if (!x.value || (isFloatType(x.dtype) && op !== 'ReduceMax' && op !== 'ReduceMin' && op !== 'ReduceSum' && op !== 'ReduceProd')) {
    return [c.out(x.dtype, shape)];
  }
  const keptShape = x.shape.map((d, i) => (set.has(i) ? 1 : d));
  const kst = strides(keptShape);
  const n = prod(keptShape);
  const acc = new Float64Array(n).fill(red.init);
  const count = prod(x.shape) / Math.max(n, 1);
  for (let f = 0; f < x.value.length; f++) {
    const o = unravel(f, x.shape);
    const g = ravel(o.map((v, i) => (set.has(i) ? 0 : v)), kst);
    acc[g] = red.step(acc[g]!, x.value[f]!);
  }
  const value = acc.map((v) => roundTo(x.dtype, red.end ? red.end(v, count) : v));
  return [c.out(x.dtype, shape, value)];
};

const argReduce: Rule = (c) => {
  const x = c.x(0);
  const ax = c.axis(c.a.int('axis', 0), x.shape.length);
  const keep = c.a.int('keepdims', 1) === 1;
  return [c.out('int64', x.shape.flatMap((d, i) => (i === ax ? (keep ? [1] : []) : [d])))];
};

const topK: Rule = (c) => {
  const x = c.x(0);
  const [k] = c.vals(1, 'K');
  const ax = c.axis(c.a.int('axis', -1), x.shape.length);
  if (k === undefined || k < 0 || k > x.shape[ax]!) return c.fail(`K ${k} is out of range for axis ${ax} of size ${x.shape[ax]}`);
  const shape = [...x.shape];
  shape[ax] = k;
  return [c.out(x.dtype, shape), c.out('int64', shape)];
};

const resize: Rule = (c) => {
  const x = c.x(0);
  const r = x.shape.length;
  const axes = (c.a.ints('axes') ?? x.shape.map((_, i) => i)).map((a) => c.axis(a, r));
  const present = (i: number) => {
    const t = c.opt(i);
    return t !== undefined && prod(t.shape) > 0;
  };
  const [scalesAt, sizesAt] = c.nIn === 2 ? [1, -1] : [2, 3];
  const shape = [...x.shape];
  if (sizesAt > 0 && present(sizesAt)) {
    const sizes = c.vals(sizesAt, 'sizes');
    if (sizes.length !== axes.length) c.fail(`sizes ${show(sizes)} do not match ${axes.length} axes`);
    const policy = c.a.string('keep_aspect_ratio_policy', 'stretch');
    if (policy === 'stretch') axes.forEach((a, k) => (shape[a] = sizes[k]!));
    else {
      const ratios = axes.map((a, k) => sizes[k]! / x.shape[a]!);
      const s = policy === 'not_larger' ? Math.min(...ratios) : Math.max(...ratios);
      axes.forEach((a) => (shape[a] = Math.round(s * x.shape[a]!)));
    }
  } else if (present(scalesAt)) {
    const scales = c.vals(scalesAt, 'scales');
    if (scales.length !== axes.length) c.fail(`scales ${show(scales)} do not match ${axes.length} axes`);
    axes.forEach((a, k) => (shape[a] = Math.floor(Math.fround(x.shape[a]! * scales[k]!))));
  } else c.fail('it has neither scales nor sizes');
  return [c.out(x.dtype, shape)];
};

const oneHot: Rule = (c) => {
  const idx = c.x(0);
  const [depth] = c.vals(1, 'depth');
  const values = c.x(2);
  if (depth === undefined || depth < 1) return c.fail(`depth ${depth} is not a positive number`);
  const r = idx.shape.length;
  let ax = c.a.int('axis', -1);
  if (ax < 0) ax += r + 1;
  if (ax < 0 || ax > r) c.fail(`axis ${c.a.int('axis', -1)} is out of range for output rank ${r + 1}`);
  const shape = [...idx.shape];
  shape.splice(ax, 0, Math.trunc(depth));
  return [c.out(values.dtype, shape)];
};

const cumSum: Rule = (c) => {
  const x = c.x(0);
  const [axis] = c.vals(1, 'axis');
  const ax = c.axis(axis ?? 0, x.shape.length);
  if (!x.value) return [c.out(x.dtype, x.shape)];
  const exclusive = c.a.int('exclusive', 0) === 1;
  const reverse = c.a.int('reverse', 0) === 1;
  const st = strides(x.shape);
  const d = x.shape[ax]!;
  const value = new Float64Array(x.value.length);
  for (let f = 0; f < value.length; f++) {
    const o = unravel(f, x.shape);
    const i = o[ax]!;
    let s = 0;
    for (let j = 0; j < d; j++) {
      const inRange = reverse ? (exclusive ? j > i : j >= i) : exclusive ? j < i : j <= i;
      if (inRange) s += x.value[f + (j - i) * st[ax]!]!;
    }
    value[f] = roundTo(x.dtype, s);
  }
  return [c.out(x.dtype, x.shape, value)];
};

const multiHeadAttention: Rule = (c) => {
  const q = c.x(0);
  const k = c.opt(1);
  const v = c.opt(2);
  if (c.node.output.slice(1).some((o) => o)) c.fail('only its first output (the attention result) is supported');
  let width: number;
  if (q.shape.length === 5) width = q.shape[2]! * q.shape[4]!;
  else if (q.shape.length !== 3) return c.fail(`query ${show(q.shape)} must be [B, S, D] or packed [B, S, N, 3, H]`);
  else if (v && v.shape.length === 3) width = v.shape[2]!;
  else if (v && v.shape.length === 4) width = v.shape[1]! * v.shape[3]!;
  else if (!v && k && k.shape.length === 5) width = k.shape[2]! * k.shape[4]!;
  else return c.fail('its value input has a layout zipbank does not handle');
  return [c.out(q.dtype, [q.shape[0]!, q.shape[1]!, width])];
};

const dropout: Rule = (c) => {
  const x = c.x(0);
  return [c.out(x.dtype, x.shape, x.value), c.out('bool', x.shape)];
};

const boolUnary = (fn: (v: number) => boolean): Rule => (c) => [elementwise(c, [c.x(0)], 'bool', (v) => (fn(v[0]!) ? 1 : 0))];

const RULES: Record<string, Rule> = {
  Identity: (c) => [passValue(c, c.x(0), c.x(0).shape)],
  Cast: cast,
  CastLike: castLike,
  Constant: constant,
  ConstantOfShape: constantOfShape,
  Shape: shapeOp,
  Size: (c) => [c.out('int64', [], Float64Array.of(prod(c.x(0).shape)))],
  Gather: gather,
  GatherND: gatherND,
  GatherElements: gatherElements,
  Concat: concat,
  Split: split,
  Slice: slice,
  Reshape: reshape,
  Flatten: flatten,
  Transpose: transpose,
  Squeeze: squeeze,
  Unsqueeze: unsqueeze,
  Expand: expand,
  Tile: tile,
  Pad: pad,
  Range: range,
  Where: where,
  Add: arith((a, b) => a + b),
  Sub: arith((a, b) => a - b),
  Mul: arith((a, b) => a * b),
  Div: arith((a, b, int) => (int ? intDiv(a, b) : a / b)),
  Pow: arith((a, b) => a ** b),
  Mod: (c) => {
    const fmod = c.a.int('fmod', 0) === 1;
    return arith((a, b, int) => {
      if (int && b === 0) return undefined;
      const r = a % b;
      return !fmod && r !== 0 && r < 0 !== b < 0 ? r + b : r;
    })(c);
  },
  Max: variadic((xs) => Math.max(...xs)),
  Min: variadic((xs) => Math.min(...xs)),
  Sum: variadic((xs) => xs.reduce((a, b) => a + b, 0)),
  Mean: variadic((xs) => xs.reduce((a, b) => a + b, 0) / xs.length),
  Equal: compare((a, b) => a === b),
  Less: compare((a, b) => a < b),
  Greater: compare((a, b) => a > b),
  LessOrEqual: compare((a, b) => a <= b),
  GreaterOrEqual: compare((a, b) => a >= b),
  And: compare((a, b) => a !== 0 && b !== 0),
  Or: compare((a, b) => a !== 0 || b !== 0),
  Xor: compare((a, b) => (a !== 0) !== (b !== 0)),
  Not: boolUnary((v) => v === 0),
  IsNaN: boolUnary(Number.isNaN),
  IsInf: (c) => {
    const pos = c.a.int('detect_positive', 1) === 1;
    const neg = c.a.int('detect_negative', 1) === 1;
    return boolUnary((v) => (pos && v === Infinity) || (neg && v === -Infinity))(c);
  },
  Neg: unary((v) => -v),
  Abs: unary(Math.abs),
  Sqrt: unary(Math.sqrt),
  Exp: unary(Math.exp),
  Log: unary(Math.log),
  Erf: unary(),
  Tanh: unary(Math.tanh),
  Sigmoid: unary((v) => 1 / (1 + Math.exp(-v))),
  Relu: unary((v) => Math.max(v, 0)),
  LeakyRelu: unary((v, c) => (v < 0 ? v * c.a.float('alpha', 0.01) : v)),
  Sin: unary(Math.sin),
  Cos: unary(Math.cos),
  Reciprocal: unary((v) => 1 / v),
  Floor: unary(Math.floor),
  Ceil: unary(Math.ceil),
  Round: unary(roundHalfEven),
  Sign: unary(Math.sign),
  Clip: clip,
  Softmax: same,
  LogSoftmax: same,
  Gelu: same,
  Elu: same,
  Selu: same,
  Softplus: same,
  Softsign: same,
  HardSigmoid: same,
  HardSwish: same,
  Mish: same,
  Trilu: same,
  PRelu: (c) => [elementwise(c, [c.x(0), c.x(1)], c.x(0).dtype)],
  Dropout: dropout,
  MatMul: matmul,
  Gemm: gemm,
  Conv: conv,
  ConvTranspose: convTranspose,
  InstanceNormalization: channelNorm(1, 2),
  BatchNormalization: channelNorm(1, 4),
  LayerNormalization: layerNorm,
  GroupNormalization: groupNorm,
  ArgMax: argReduce,
  ArgMin: argReduce,
  TopK: topK,
  Resize: resize,
  OneHot: oneHot,
  ScatterND: same,
  ScatterElements: same,
  CumSum: cumSum,
  ...Object.fromEntries(Object.keys(REDUCERS).map((op) => [op, reduce(op)])),
};

const MS_RULES: Record<string, Rule> = {
  MultiHeadAttention: multiHeadAttention,
};

// ---------------------------------------------------------------------------
// The graph walk

function fail(graph: OnnxGraph, node: string, op: string, reason: string): never {
  throw new ZipbankError('onnx.infer-failed', { graph: graph.name, node, op, reason });
}

function nodeLabel(n: OnnxNode, index: number): string {
  return n.name || `#${index} -> ${n.output.find((o) => o) ?? '?'}`;
}

function initializerInfo(t: OnnxTensor, graph: OnnxGraph): TensorInfo {
  const dtype = dtypeFromOnnx(t.dataType) ?? fail(graph, t.name ?? '?', 'initializer', `element type ${t.dataType} is not handled`);
  const shape = [...t.dims];
  if (dtype === 'string' || t.dataLocation === DATA_LOCATION_EXTERNAL || prod(shape) > MAX_VALUE_ELEMENTS) return { dtype, shape };
  return { dtype, shape, value: readTensorValues(t) };
}

/**
 * Infer every tensor of `graph` (inputs, initializers, node outputs). `inputShapes`
 * gives concrete dims for graph inputs (required when an input's declared shape has
 * symbolic/unknown dims; must agree with static declared dims). Throws
 * ZipbankError('onnx.infer-failed', { graph, node, op, reason }) for an unsupported op
 * or inconsistent shapes.
 */
export function inferGraph(graph: OnnxGraph, inputShapes: Record<string, readonly number[]> = {}): Map<string, TensorInfo> {
  const info = new Map<string, TensorInfo>();
  for (const t of graph.initializer) if (t.name) info.set(t.name, initializerInfo(t, graph));

  const inputNames = new Set(graph.input.map((i) => i.name));
  for (const name of Object.keys(inputShapes)) {
    if (!inputNames.has(name)) {
      fail(graph, name, 'graph input', `there is no graph input "${name}" (the inputs are ${[...inputNames].join(', ')})`);
    }
  }
  const symbols = new Map<string, [number, string]>();
  for (const input of graph.input) {
    const given = inputShapes[input.name];
    if (info.has(input.name) && !given) continue; // an initializer listed as an input (IR < 4)
    const bad = (reason: string): never => fail(graph, input.name, 'graph input', reason);
    const tt = input.type?.tensorType;
    if (!tt) return bad('it is not a tensor');
    const dtype = dtypeFromOnnx(tt.elemType) ?? bad(`element type ${tt.elemType} is not handled`);
    const declared = tt.shape?.dim;
    let shape: number[];
    if (given) {
      if (given.some((d) => !Number.isInteger(d) || d < 0)) bad(`given size [${given.join(', ')}] has a dim that is not a whole number >= 0`);
      if (declared) {
        if (declared.length !== given.length) bad(`given size [${given.join(', ')}] has rank ${given.length}, the graph declares rank ${declared.length}`);
        declared.forEach((d, i) => {
          if (d.dimValue !== undefined && d.dimValue !== given[i]) bad(`given size [${given.join(', ')}] differs from the declared dim ${i} = ${d.dimValue}`);
          if (d.dimParam) {
            const seen = symbols.get(d.dimParam);
            if (seen && seen[0] !== given[i]) {
              bad(`dim ${i} ("${d.dimParam}") is ${given[i]}, but "${d.dimParam}" is ${seen[0]} in input ${seen[1]}`);
            }
            symbols.set(d.dimParam, [given[i]!, input.name]);
          }
        });
      }
      shape = [...given];
    } else {
      if (!declared) return bad('the graph does not declare its shape; give its size');
      const sym = declared.findIndex((d) => d.dimValue === undefined);
      if (sym >= 0) bad(`dim ${sym} is ${declared[sym]!.dimParam ? `symbolic ("${declared[sym]!.dimParam}")` : 'unknown'}; give a concrete size for this input`);
      shape = declared.map((d) => d.dimValue!);
    }
    info.set(input.name, { dtype, shape });
  }

  // Nodes in dependency order (graphs are topologically sorted; this also copes with ones that are not).
  let pending = graph.node.map((node, index) => ({ node, index }));
  while (pending.length) {
    const later: typeof pending = [];
    for (const p of pending) {
      if (p.node.input.some((i) => i && !info.has(i))) later.push(p);
      else inferNode(graph, p.node, p.index, info);
    }
    if (later.length === pending.length) {
      const p = later[0]!;
      const missing = p.node.input.find((i) => i && !info.has(i))!;
      fail(graph, nodeLabel(p.node, p.index), p.node.opType, `its input "${missing}" is not a graph input, an initializer or the output of any node (or the graph has a cycle)`);
    }
    pending = later;
  }
  return info;
}

function inferNode(graph: OnnxGraph, node: OnnxNode, index: number, info: Map<string, TensorInfo>): void {
  const label = nodeLabel(node, index);
  const domain = node.domain && node.domain !== 'ai.onnx' ? node.domain : '';
  const opName = domain ? `${domain}.${node.opType}` : node.opType;
  const failHere = (reason: string): never => fail(graph, label, opName, reason);
  const rule = domain === '' ? RULES[node.opType] : domain === 'com.microsoft' ? MS_RULES[node.opType] : undefined;
  if (!rule || !Object.hasOwn(domain === '' ? RULES : MS_RULES, node.opType)) return failHere('this op is not supported by the shape inference');
  if (node.attribute.some((a) => a.g || a.graphs?.length)) failHere('ops with subgraphs are not supported');
  const opt = (i: number) => {
    const name = node.input[i];
    return name ? info.get(name) : undefined;
  };
  const c: Ctx = {
    node,
    a: nodeAttrs(node),
    nIn: node.input.length,
    fail: failHere,
    opt,
    x(i) {
      return opt(i) ?? failHere(`its input ${i} is missing`);
    },
    vals(i, what) {
      const t = c.x(i);
      if (!t.value) return failHere(`its ${what} input "${node.input[i]}" is not known statically (it depends on data), so its output size cannot be inferred`);
      return Array.from(t.value);
    },
    out(dtype, shape, value) {
      const n = prod(shape);
      if (shape.some((d) => !Number.isInteger(d) || d < 0)) failHere(`it would make a tensor of shape ${show(shape)}`);
      if (value && value.length !== n) failHere(`internal: folded ${value.length} values for shape ${show(shape)}`);
      return value && n <= MAX_VALUE_ELEMENTS ? { dtype, shape: [...shape], value } : { dtype, shape: [...shape] };
    },
    axis(axis, rank, what = 'axis') {
      const a = axis < 0 ? axis + rank : axis;
      if (!Number.isInteger(a) || a < 0 || a >= rank) failHere(`${what} ${axis} is out of range for rank ${rank}`);
      return a;
    },
  };
  let outs: (TensorInfo | undefined)[];
  try {
    outs = rule(c);
  } catch (e) {
    if (e instanceof ZipbankError) throw e;
    if (e instanceof RangeError) failHere(e.message); // a missing required attribute
    throw e;
  }
  node.output.forEach((name, i) => {
    if (!name) return;
    const t = outs[i] ?? failHere(`its output ${i} ("${name}") is not supported`);
    info.set(name, t);
  });
}
