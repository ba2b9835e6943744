/**
 * What a gradient rule sees: the forward node, its inputs and outputs as Values of
 * the backward builder (with static shapes), the gradients flowing into its
 * outputs, and which inputs need a gradient. A rule returns one entry per input:
 * a Value of exactly that input's shape and type, or null where none is needed.
 * Invariant kept everywhere: the gradient of a tensor has the tensor's shape.
 *
 * @example
 *   const sigmoidRule: GradRule = (c) => [mul(c.gradOut(0)!, mul(c.output(0), sub(1, c.output(0))))];
 */
import { ZipbankError } from '../../../errors/index.ts';
import type { NodeAttrs } from '../attributes.ts';
import type { GraphBuilder } from '../builder.ts';
import type { TensorInfo } from '../infer.ts';
import type { OnnxNode } from '../types.ts';
import type { Value } from '../value.ts';

export interface RuleContext {
  readonly g: GraphBuilder;
  readonly node: OnnxNode;
  readonly attrs: NodeAttrs;
  readonly opset: number;
  /** Number of inputs given to the node (optional trailing ones may be absent). */
  readonly inputCount: number;
  /** Forward input i (throws when absent). */
  input(i: number): Value;
  /** Whether input i is given. */
  hasInput(i: number): boolean;
  /** Forward output i. */
  output(i: number): Value;
  /** The static shape of input i. */
  inShape(i: number): number[];
  outShape(i: number): number[];
  /** A statically known value (constants, folded shape arithmetic), if any. */
  constValue(i: number): Float64Array | undefined;
  /** The gradient flowing into output i, or null when none does. */
  gradOut(i: number): Value | null;
  /** Whether input i needs a gradient. */
  needs(i: number): boolean;
  /** A clear refusal: this node cannot be differentiated, and why. */
  fail(reason: string): never;
}

export type GradRule = (c: RuleContext) => (Value | null | undefined)[];

export function ruleFailure(node: OnnxNode, reason: string): ZipbankError {
  return new ZipbankError('onnx.no-gradient', { op: node.opType, node: node.name ?? node.output[0] ?? '?', reason });
}

export type { TensorInfo };
