/**
 * What every UNet block builder shares: the graph, the config, the compute type,
 * the attention form and the LoRA layer context; plus the float32-islands the
 * float16 graph keeps (GroupNorm statistics, upcast attention).
 *
 * @example
 *   const g = new ComputeGraphBuilder('unet', { weights }, 'float16');
 *   const ctx: UNetContext = { g, cfg, dtype: 'float16', fused: false, layers: {} };
 *   const h = g.scope('norm1', () => groupNorm32(ctx, x, ctx.cfg.normEps));
 */
import { GraphBuilder, type GraphBuilderOptions } from '../../onnx/builder.ts';
import { groupNorm } from '../../onnx/ops/nn.ts';
import { cast } from '../../onnx/ops/shape.ts';
import type { DType } from '../../onnx/types.ts';
import type { Value } from '../../onnx/value.ts';
import type { LayerContext } from '../layers.ts';
import type { UNetConfig } from './config.ts';

export type ComputeDtype = 'float32' | 'float16';

/**
 * A GraphBuilder whose `param()` hands out weights in the compute type unless the
 * caller asks for another (float16 files feed a float32 graph and the reverse,
 * through in-graph Casts that onnxruntime folds at load). This is how weights that
 * `linearModule` / `conv2dModule` pull arrive in the right type.
 */
export class ComputeGraphBuilder extends GraphBuilder {
  constructor(
    name: string,
    options: GraphBuilderOptions,
    readonly computeDtype: ComputeDtype,
  ) {
    super(name, options);
  }

  override param(name: string, options: { shape?: readonly number[]; dtype?: DType } = {}): Value {
    return super.param(name, { ...options, dtype: options.dtype ?? this.computeDtype });
  }
}

export interface UNetContext {
  g: GraphBuilder;
  cfg: UNetConfig;
  dtype: ComputeDtype;
  /** Emit com.microsoft MultiHeadAttention (inference only). */
  fused: boolean;
  layers: LayerContext;
}

/**
 * GroupNorm with the current scope's `weight` and `bias`, computed in float32
 * (variances of float16 activations overflow) and returned in the compute type.
 */
export function groupNorm32(ctx: UNetContext, x: Value, epsilon: number): Value {
  const { g } = ctx;
  const y = groupNorm(cast(x, 'float32'), ctx.cfg.normNumGroups, g.param('weight', { dtype: 'float32' }), g.param('bias', { dtype: 'float32' }), {
    epsilon,
  });
  return cast(y, ctx.dtype);
}
