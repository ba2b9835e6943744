/**
 * Node attributes from plain JS values. Integers become INT/INTS, other numbers
 * FLOAT/FLOATS, strings STRING/STRINGS; names that ONNX defines as floats
 * (epsilon, alpha, scale, ...) are FLOAT even when the value is whole. Wrap a value
 * with `attr.float`, `attr.int`, ... to force a type.
 *
 * @example
 *   toAttributes({ pads: [1, 1, 1, 1], epsilon: 1, mode: 'nearest', transB: true });
 *   // pads INTS, epsilon FLOAT 1.0, mode STRING, transB INT 1
 *   toAttributes({ value: attr.tensor(t), ratios: attr.floats([1, 2]) });
 */
import { ZipbankError } from '../../errors/index.ts';
import { ATTR_TYPE, type OnnxAttribute, type OnnxGraph, type OnnxTensor } from './types.ts';

/** Attribute names that are FLOAT (or FLOATS) in the ONNX and com.microsoft operator sets. */
const FLOAT_NAMES = new Set([
  'alpha',
  'beta',
  'gamma',
  'epsilon',
  'scale',
  'scales',
  'lambd',
  'bias',
  'ratio',
  'min',
  'max',
  'seed',
  'mean',
  'high',
  'low',
  'value_float',
  'value_floats',
  'extrapolation_value',
  'cubic_coeff_a',
  'mask_filter_value',
  'spatial_scale',
]);

const tag = Symbol('typed attribute');

export interface TypedAttr {
  readonly [tag]: true;
  readonly type: number;
  readonly value: unknown;
}

const typed = (type: number, value: unknown): TypedAttr => ({ [tag]: true, type, value });

/** Explicitly typed attribute values. */
export const attr = {
  float: (v: number) => typed(ATTR_TYPE.FLOAT, v),
  int: (v: number | bigint) => typed(ATTR_TYPE.INT, v),
  string: (v: string) => typed(ATTR_TYPE.STRING, v),
  floats: (v: ArrayLike<number>) => typed(ATTR_TYPE.FLOATS, Array.from(v)),
  ints: (v: ArrayLike<number | bigint>) => typed(ATTR_TYPE.INTS, Array.from(v)),
  strings: (v: readonly string[]) => typed(ATTR_TYPE.STRINGS, v),
  tensor: (v: OnnxTensor) => typed(ATTR_TYPE.TENSOR, v),
  graph: (v: OnnxGraph) => typed(ATTR_TYPE.GRAPH, v),
};

export type AttrValue = number | bigint | boolean | string | readonly number[] | readonly string[] | Float32Array | TypedAttr;

/** Attributes by name; undefined entries are left out. */
export type Attrs = Record<string, AttrValue | undefined>;

const utf8 = new TextEncoder();

function fromTyped(name: string, a: TypedAttr): OnnxAttribute {
  const out: OnnxAttribute = { name, type: a.type };
  const v = a.value;
  switch (a.type) {
    case ATTR_TYPE.FLOAT: out.f = v as number; break;
    case ATTR_TYPE.INT: out.i = v as number | bigint; break;
    case ATTR_TYPE.STRING: out.s = utf8.encode(v as string); break;
    case ATTR_TYPE.FLOATS: out.floats = v as number[]; break;
    case ATTR_TYPE.INTS: out.ints = v as (number | bigint)[]; break;
    case ATTR_TYPE.STRINGS: out.strings = (v as string[]).map((s) => utf8.encode(s)); break;
    case ATTR_TYPE.TENSOR: out.t = v as OnnxTensor; break;
    case ATTR_TYPE.GRAPH: out.g = v as OnnxGraph; break;
  }
  return out;
}

/** One attribute from a plain value. */
export function toAttribute(name: string, value: AttrValue): OnnxAttribute {
  if (typeof value === 'object' && value !== null && tag in value) return fromTyped(name, value);
  const isFloat = FLOAT_NAMES.has(name);
  if (typeof value === 'boolean') return { name, type: ATTR_TYPE.INT, i: value ? 1 : 0 };
  if (typeof value === 'bigint') return { name, type: ATTR_TYPE.INT, i: value };
  if (typeof value === 'number') {
    return isFloat || !Number.isInteger(value) ? { name, type: ATTR_TYPE.FLOAT, f: value } : { name, type: ATTR_TYPE.INT, i: value };
  }
  if (typeof value === 'string') return fromTyped(name, attr.string(value));
  if (value instanceof Float32Array) return fromTyped(name, attr.floats(value));
  if (Array.isArray(value)) {
    if (value.length === 0) return fromTyped(name, isFloat ? attr.floats([]) : attr.ints([]));
    if (value.every((v) => typeof v === 'string')) return fromTyped(name, attr.strings(value as string[]));
    if (value.every((v) => typeof v === 'number')) {
      const nums = value as number[];
      return isFloat || !nums.every(Number.isInteger) ? fromTyped(name, attr.floats(nums)) : fromTyped(name, attr.ints(nums));
    }
  }
  throw new ZipbankError('onnx.bad-attribute', { name, value: String(value) });
}

export function toAttributes(attrs: Attrs | undefined): OnnxAttribute[] {
  if (!attrs) return [];
  return Object.entries(attrs)
    .filter((e): e is [string, AttrValue] => e[1] !== undefined)
    .map(([k, v]) => toAttribute(k, v));
}

const utf8Decoder = new TextDecoder();

/**
 * Typed reads of a decoded node's attributes, with defaults.
 *
 * @example
 *   const a = nodeAttrs(node);
 *   a.int('axis', -1); a.ints('perm'); a.float('epsilon', 1e-5); a.string('mode', 'nearest');
 */
export function nodeAttrs(node: { attribute: readonly OnnxAttribute[] }) {
  const get = (name: string) => node.attribute.find((a) => a.name === name);
  return {
    has: (name: string): boolean => get(name) !== undefined,
    int(name: string, fallback?: number): number {
      const a = get(name);
      if (a?.i !== undefined) return Number(a.i);
      if (fallback === undefined) throw new RangeError(`attribute ${name} is missing`);
      return fallback;
    },
    ints(name: string, fallback?: readonly number[]): number[] | undefined {
      const a = get(name);
      if (a?.ints) return a.ints.map(Number);
      return fallback ? [...fallback] : undefined;
    },
    float(name: string, fallback?: number): number {
      const a = get(name);
      if (a?.f !== undefined) return a.f;
      if (fallback === undefined) throw new RangeError(`attribute ${name} is missing`);
      return fallback;
    },
    floats(name: string): number[] | undefined {
      return get(name)?.floats?.slice();
    },
    string(name: string, fallback?: string): string {
      const a = get(name);
      if (a?.s !== undefined) return utf8Decoder.decode(a.s);
      if (fallback === undefined) throw new RangeError(`attribute ${name} is missing`);
      return fallback;
    },
    tensor(name: string): OnnxTensor | undefined {
      return get(name)?.t;
    },
  };
}
export type NodeAttrs = ReturnType<typeof nodeAttrs>;
