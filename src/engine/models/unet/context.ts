/**
 * What every UNet block builder shares: the graph (a ModelGraphBuilder over
 * `unetParams(cfg)`, whose dtype is the compute type), the config, the attention
 * form and the LoRA layer context.
 *
 * @example
 *   const g = new ModelGraphBuilder('unet', { weights, specs: unetParams(cfg), dtype: 'float16' });
 *   const ctx: UNetContext = { g, cfg, fused: false, layers: {} };
 *   const h = g.scope('norm1', () => groupNorm32(ctx, x, ctx.cfg.normEps));
 */
import type { Value } from '../../onnx/value.ts';
import type { LayerContext } from '../layers.ts';
import { groupNormF32, type ModelGraphBuilder } from '../model-graph.ts';
import type { UNetConfig } from './config.ts';

export interface UNetContext {
  g: ModelGraphBuilder;
  cfg: UNetConfig;
  /** Emit com.microsoft MultiHeadAttention (inference only). */
  fused: boolean;
  layers: LayerContext;
}

/** The scope's GroupNorm (the config's group count) in float32, returned in the compute type. */
export function groupNorm32(ctx: UNetContext, x: Value, epsilon: number): Value {
  return groupNormF32(ctx.g, x, ctx.cfg.normNumGroups, epsilon);
}
