/**
 * ModelGraphBuilder: a GraphBuilder for one model component. Every `param()` is
 * checked against the component's parameter specs (an unknown name is a bug in the
 * graph code; a stored shape that differs is `onnx.weight-shape`), recorded in
 * `used`, and cast in-graph to the compute dtype when the file stores another float
 * type (F16 or BF16 weights in a float32 graph, F32 weights in a float16 graph).
 * `unusedParams()` lists the specs the graph never pulled.
 *
 * @example
 *   const g = new ModelGraphBuilder('vae_decoder', { weights, specs: vaeParams(cfg), dtype: 'float16' });
 *   g.scope('decoder.conv_in', () => g.param('weight'));   // float16, shape-checked
 *   g.unusedParams();   // the encoder's tensors, for a decoder-only graph
 */
import { GraphBuilder, type GraphBuilderOptions } from '../onnx/builder.ts';
import type { WeightSource } from '../onnx/external.ts';
import type { DType } from '../onnx/types.ts';
import type { Value } from '../onnx/value.ts';
import type { ParamSpec } from './params.ts';

/** The float types model graphs compute in. */
export type ComputeDType = 'float32' | 'float16';

export interface ModelGraphOptions {
  weights: WeightSource;
  /** Every tensor the architecture may consume (e.g. `clipTextParams(cfg)`). */
  specs: readonly ParamSpec[];
  /** Compute type of the graph. Default 'float32'. */
  dtype?: ComputeDType;
  /** Default 17. */
  opset?: number;
  log?: (message: string) => void;
}

export class ModelGraphBuilder extends GraphBuilder {
  readonly dtype: ComputeDType;
  /** Full names of the weights the graph pulled, in first-use order. */
  readonly used = new Set<string>();
  private readonly specs: ReadonlyMap<string, readonly number[]>;

  constructor(name: string, options: ModelGraphOptions) {
    const base: GraphBuilderOptions = { weights: options.weights };
    if (options.opset !== undefined) base.opset = options.opset;
    if (options.log) base.log = options.log;
    super(name, base);
    this.dtype = options.dtype ?? 'float32';
    this.specs = new Map(options.specs.map((s) => [s.name, s.shape]));
  }

  override param(name: string, options: { shape?: readonly number[]; dtype?: DType } = {}): Value {
    const full = this.scoped(name);
    const shape = this.specs.get(full);
    if (!shape) this.fail('param', `${full} is not a parameter of this architecture`);
    this.used.add(full);
    return super.param(name, { shape: options.shape ?? shape, dtype: options.dtype ?? this.dtype });
  }

  /** Spec names the graph did not pull (in spec order). */
  unusedParams(): string[] {
    return [...this.specs.keys()].filter((n) => !this.used.has(n));
  }
}

/** A float constant in the graph's compute type. */
export function floatConst(g: ModelGraphBuilder, values: ArrayLike<number>, shape: readonly number[], name: string): Value {
  return g.constant(Float32Array.from(values), { dtype: g.dtype, shape, name });
}
