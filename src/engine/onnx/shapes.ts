/**
 * Static shape inference for the builder's helpers. Each function returns the
 * output shape (undefined when the input rank is unknown) or returns a reason
 * string through `fail` when the shapes cannot go together.
 *
 * @example
 *   broadcastShapes([2, 1, 'n'], [3, 1], fail);    // [2, 3, 'n']
 *   matmulShape([8, 77, 768], [768, 320], fail);  // [8, 77, 320]
 */
import type { Dim, Shape } from './value.ts';

export type Fail = (reason: string) => never;

const show = (s: Shape) => `[${s.map((d) => (d === null ? '?' : d)).join(', ')}]`;

function mergeDim(a: Dim, b: Dim): Dim | undefined {
  if (a === 1) return b;
  if (b === 1) return a;
  if (a === b) return a;
  if (typeof a === 'number' && typeof b === 'number') return undefined;
  if (typeof a === 'number') return a;
  if (typeof b === 'number') return b;
  return null;
}

/** Numpy-style multidirectional broadcasting. */
export function broadcastShapes(a: Shape | undefined, b: Shape | undefined, fail: Fail): Shape | undefined {
  if (!a || !b) return undefined;
  const n = Math.max(a.length, b.length);
  const out: Dim[] = [];
  for (let i = 0; i < n; i++) {
    const da = i < n - a.length ? 1 : a[i - (n - a.length)]!;
    const db = i < n - b.length ? 1 : b[i - (n - b.length)]!;
    const d = mergeDim(da, db);
    if (d === undefined) fail(`shapes ${show(a)} and ${show(b)} do not broadcast`);
    out.push(d);
  }
  return out;
}

export function matmulShape(a: Shape | undefined, b: Shape | undefined, fail: Fail): Shape | undefined {
  if (!a || !b) return undefined;
  if (a.length === 0 || b.length === 0) fail('MatMul needs inputs of rank 1 or more');
  const a2 = a.length === 1 ? [1, a[0]!] : a;
  const b2 = b.length === 1 ? [b[0]!, 1] : b;
  const k1 = a2[a2.length - 1]!;
  const k2 = b2[b2.length - 2]!;
  if (typeof k1 === 'number' && typeof k2 === 'number' && k1 !== k2) {
    fail(`inner dimensions differ: ${show(a)} x ${show(b)}`);
  }
  const batch = broadcastShapes(a2.slice(0, -2), b2.slice(0, -2), fail)!;
  const out = [...batch];
  if (a.length > 1) out.push(a2[a2.length - 2]!);
  if (b.length > 1) out.push(b2[b2.length - 1]!);
  return out;
}

export interface ConvGeometry {
  kernel: readonly number[];
  strides: readonly number[];
  pads: readonly number[];
  dilations: readonly number[];
}

/** Conv output shape for input [N, C, ...spatial] and weight [M, C/group, ...kernel]. */
export function convShape(x: Shape | undefined, outChannels: number, geo: ConvGeometry): Shape | undefined {
  if (!x) return undefined;
  const n = geo.kernel.length;
  const spatial = x.slice(2).map((d, i) => {
    if (typeof d !== 'number') return null;
    const span = geo.dilations[i]! * (geo.kernel[i]! - 1) + 1;
    return Math.floor((d + geo.pads[i]! + geo.pads[i + n]! - span) / geo.strides[i]!) + 1;
  });
  return [x[0]!, outChannels, ...spatial];
}

/** Reshape target with ONNX's 0 (copy) and -1 (infer) conventions. */
export function reshapeShape(x: Shape | undefined, target: readonly number[], fail: Fail): Shape {
  const out: Dim[] = target.map((t, i) => {
    if (t === 0) {
      if (!x || i >= x.length) fail(`reshape target ${show(target)}: dimension ${i} copies an input dimension that does not exist`);
      return x[i]!;
    }
    return t === -1 ? null : t;
  });
  const inferred = target.indexOf(-1);
  if (inferred >= 0 && target.indexOf(-1, inferred + 1) >= 0) fail(`reshape target ${show(target)} has more than one -1`);
  const total = x && x.every((d) => typeof d === 'number') ? (x as number[]).reduce((a, b) => a * b, 1) : null;
  const known = out.every((d, i) => i === inferred || typeof d === 'number');
  if (total !== null && known) {
    const rest = out.reduce<number>((a, d, i) => (i === inferred ? a : a * (d as number)), 1);
    if (inferred >= 0) {
      if (rest === 0 || total % rest !== 0) fail(`cannot reshape ${show(x!)} to ${show(target)}`);
      out[inferred] = total / rest;
    } else if (rest !== total) {
      fail(`cannot reshape ${show(x!)} (${total} elements) to ${show(target)}`);
    }
  }
  return out;
}

/** Normalise a possibly negative axis for a given rank. */
export function normAxis(axis: number, rank: number, fail: Fail): number {
  const a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) fail(`axis ${axis} is out of range for rank ${rank}`);
  return a;
}

export function transposeShape(x: Shape | undefined, perm: readonly number[], fail: Fail): Shape | undefined {
  if (!x) return undefined;
  if (perm.length !== x.length || [...perm].sort((a, b) => a - b).some((p, i) => p !== i)) {
    fail(`perm ${show(perm)} is not a permutation of rank ${x.length}`);
  }
  return perm.map((p) => x[p]!);
}

export function concatShape(xs: (Shape | undefined)[], axis: number, fail: Fail): Shape | undefined {
  if (xs.some((s) => !s)) return undefined;
  const shapes = xs as Shape[];
  const first = shapes[0]!;
  const a = normAxis(axis, first.length, fail);
  const out: Dim[] = [...first];
  for (const s of shapes.slice(1)) {
    if (s.length !== first.length) fail(`concat of ranks ${first.length} and ${s.length}`);
    for (let i = 0; i < s.length; i++) {
      if (i === a) continue;
      const d = s[i]!;
      if (typeof d === 'number' && typeof out[i] === 'number' && d !== out[i]) {
        fail(`concat on axis ${axis}: ${show(first)} and ${show(s)} differ outside the axis`);
      }
      if (out[i] === null || typeof out[i] === 'string') out[i] = typeof d === 'number' ? d : out[i]!;
    }
  }
  const sizes = shapes.map((s) => s[a]!);
  out[a] = sizes.every((d) => typeof d === 'number') ? (sizes as number[]).reduce((p, q) => p + q, 0) : null;
  return out;
}

/** Slice output dims along the given axes (ONNX clamping rules for static dims). */
export function sliceShape(
  x: Shape | undefined,
  starts: readonly number[],
  ends: readonly number[],
  axes: readonly number[],
  steps: readonly number[],
  fail: Fail,
): Shape | undefined {
  if (!x) return undefined;
  const out: Dim[] = [...x];
  axes.forEach((axis, k) => {
    const a = normAxis(axis, x.length, fail);
    const d = x[a]!;
    const step = steps[k]!;
    if (step === 0) fail('slice step 0');
    if (typeof d !== 'number') {
      out[a] = null;
      return;
    }
    const clamp = (v: number, lo: number, hi: number) => Math.min(Math.max(v, lo), hi);
    let s = starts[k]! < 0 ? starts[k]! + d : starts[k]!;
    let e = ends[k]! < 0 ? ends[k]! + d : ends[k]!;
    if (step > 0) {
      s = clamp(s, 0, d);
      e = clamp(e, 0, d);
      out[a] = Math.max(0, Math.ceil((e - s) / step));
    } else {
      s = clamp(s, 0, d - 1);
      e = clamp(e, -1, d - 1);
      out[a] = Math.max(0, Math.ceil((e - s) / step));
    }
  });
  return out;
}

export function reduceShape(x: Shape | undefined, axes: readonly number[], keepdims: boolean, fail: Fail): Shape | undefined {
  if (!x) return undefined;
  const set = new Set(axes.map((a) => normAxis(a, x.length, fail)));
  const out: Dim[] = [];
  x.forEach((d, i) => {
    if (!set.has(i)) out.push(d);
    else if (keepdims) out.push(1);
  });
  return out;
}

export function unsqueezeShape(x: Shape | undefined, axes: readonly number[], fail: Fail): Shape | undefined {
  if (!x) return undefined;
  const rank = x.length + axes.length;
  const set = new Set(axes.map((a) => normAxis(a, rank, fail)));
  const out: Dim[] = [];
  let j = 0;
  for (let i = 0; i < rank; i++) out.push(set.has(i) ? 1 : x[j++]!);
  return out;
}

export function squeezeShape(x: Shape | undefined, axes: readonly number[], fail: Fail): Shape | undefined {
  if (!x) return undefined;
  const set = new Set(axes.map((a) => normAxis(a, x.length, fail)));
  for (const a of set) if (typeof x[a] === 'number' && x[a] !== 1) fail(`cannot squeeze axis ${a} of size ${x[a]}`);
  return x.filter((_, i) => !set.has(i));
}

export function gatherShape(x: Shape | undefined, indices: Shape | undefined, axis: number, fail: Fail): Shape | undefined {
  if (!x || !indices) return undefined;
  const a = normAxis(axis, x.length, fail);
  return [...x.slice(0, a), ...indices, ...x.slice(a + 1)];
}
