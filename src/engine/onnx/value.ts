/**
 * Values: the edges of a graph under construction. A Value knows its graph, its
 * ONNX name, its element type and, when the builder could work it out, its shape.
 *
 * @example
 *   const x = g.input('sample', 'float32', ['batch', 4, 64, 64]);
 *   x.dim(1);          // 4
 *   x.dim(0);          // 'batch' (a symbolic dimension)
 *   x.staticDim(-1);   // 64
 */
import { ZipbankError } from '../../errors/index.ts';
import type { DType } from './types.ts';

/** A dimension: a number when static, a name when symbolic (a graph input's named dim), null when unknown. */
export type Dim = number | string | null;
export type Shape = readonly Dim[];

/** The part of a graph builder a Value needs (kept small to avoid an import cycle). */
export interface ValueOwner {
  readonly name: string;
}

export class Value {
  constructor(
    readonly graph: ValueOwner,
    readonly name: string,
    readonly dtype: DType,
    /** undefined when even the rank is unknown. */
    readonly shape: Shape | undefined,
  ) {}

  get rank(): number | undefined {
    return this.shape?.length;
  }

  /** Dimension `i` (negative counts from the end); null when unknown. */
  dim(i: number): Dim {
    if (!this.shape) return null;
    const j = i < 0 ? this.shape.length + i : i;
    return this.shape[j] ?? null;
  }

  /** Dimension `i` as a number; throws `onnx.dynamic-shape` when it is symbolic or unknown. */
  staticDim(i: number): number {
    const d = this.dim(i);
    if (typeof d !== 'number') {
      throw new ZipbankError('onnx.dynamic-shape', { graph: this.graph.name, value: this.name, shape: describeShape(this.shape) });
    }
    return d;
  }

  /** The whole shape as numbers; throws `onnx.dynamic-shape` unless every dimension is static. */
  staticShape(): number[] {
    const s = this.shape;
    if (!s || !s.every((d): d is number => typeof d === 'number')) {
      throw new ZipbankError('onnx.dynamic-shape', { graph: this.graph.name, value: this.name, shape: describeShape(s) });
    }
    return [...s];
  }

  toString(): string {
    return `${this.name}: ${this.dtype}${describeShape(this.shape)}`;
  }
}

export function describeShape(s: Shape | undefined): string {
  return s ? `[${s.map((d) => (d === null ? '?' : String(d))).join(', ')}]` : '[unknown rank]';
}

export function isStatic(s: Shape | undefined): s is readonly number[] {
  return !!s && s.every((d) => typeof d === 'number');
}

export function numel(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}
