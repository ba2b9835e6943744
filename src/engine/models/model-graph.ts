/**
 * ModelGraphBuilder: the one GraphBuilder every model component (UNet, CLIP, VAE)
 * is built with. Every `param()` is checked against the component's parameter
 * specs (an unknown name is a bug in the graph code; a stored shape that differs is
 * `onnx.weight-shape`), recorded in `used`, and handed out in the compute dtype
 * unless the caller asks for another: weights stored as another float type
 * (F16 or BF16 in a float32 graph, F32 in a float16 graph) go through in-graph
 * Casts that onnxruntime folds at load. `unusedParams()` lists the specs the graph
 * never pulled.
 *
 * @example
 *   const g = new ModelGraphBuilder('vae_decoder', { weights, specs: vaeParams(cfg), dtype: 'float16' });
 *   g.scope('decoder.conv_in', () => g.param('weight'));   // float16, shape-checked
 *   g.scope('decoder.conv_norm_out', () => groupNormF32(g, h, 32, 1e-6));
 *   g.unusedParams();   // the encoder's tensors, for a decoder-only graph
 */
import { GraphBuilder, type GraphBuilderOptions } from '../onnx/builder.ts';
import type { WeightSource } from '../onnx/external.ts';
import { groupNorm } from '../onnx/ops/nn.ts';
import { cast } from '../onnx/ops/shape.ts';
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
  /** Told about in-graph weight casts. */
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

/**
 * GroupNorm with the current scope's `weight` and `bias`, computed in float32
 * (variances of float16 activations overflow) and returned in the compute type.
 */
export function groupNormF32(g: ModelGraphBuilder, x: Value, groups: number, epsilon: number): Value {
  const y = groupNorm(cast(x, 'float32'), groups, g.param('weight', { dtype: 'float32' }), g.param('bias', { dtype: 'float32' }), { epsilon });
  return cast(y, g.dtype);
}
