/**
 * The UNet's conditioning vector: the sinusoidal timestep projection (time_proj)
 * through time_embedding, plus, for SDXL ('text_time'), the micro-conditioning
 * numbers and the pooled text embedding through add_embedding.
 *
 * @example
 *   let temb = timeEmbedding(ctx, timestep);                       // [B, T]
 *   if (cfg.addition) temb = add(temb, addEmbedding(ctx, textEmbeds, timeIds));
 */
import { concat, reshape, cast } from '../../onnx/ops/shape.ts';
import { silu, timestepEmbedding } from '../../onnx/ops/nn.ts';
import type { Value } from '../../onnx/value.ts';
import { linearModule } from '../layers.ts';
import type { UNetContext } from './context.ts';

/**
 * diffusers Timesteps: [sin, cos] of t * exp(-ln(10000) i / (half - freq_shift)),
 * as [cos, sin] when flip_sin_to_cos. Computed in float32, returned in the compute type.
 */
export function timeProjection(ctx: UNetContext, t: Value, dim: number): Value {
  const e = timestepEmbedding(t, dim, { flipSinToCos: ctx.cfg.flipSinToCos, freqShift: ctx.cfg.freqShift });
  return cast(e, ctx.g.dtype);
}

/** time_proj(timestep [B] float32) -> time_embedding: linear_1, SiLU, linear_2 -> [B, T]. */
export function timeEmbedding(ctx: UNetContext, timestep: Value): Value {
  const { g, cfg, layers } = ctx;
  const projected = timeProjection(ctx, timestep, cfg.blockOutChannels[0]!);
  return g.scope('time_embedding', () => {
    const h = silu(linearModule(g, 'linear_1', projected, {}, layers));
    return linearModule(g, 'linear_2', h, {}, layers);
  });
}

/**
 * SDXL: each of the `time_ids` [B, K] numbers through add_time_proj (width
 * addition_time_embed_dim), flattened to [B, K * width], after `textEmbeds`
 * [B, P]; then add_embedding: linear_1, SiLU, linear_2 -> [B, T].
 */
export function addEmbedding(ctx: UNetContext, textEmbeds: Value, timeIds: Value): Value {
  const { g, cfg, layers } = ctx;
  const width = cfg.addition!.timeEmbedDim;
  const ids = timeIds.staticDim(1);
  const perId = timeProjection(ctx, reshape(timeIds, [-1]), width);
  const timeEmbeds = reshape(perId, [-1, ids * width]);
  const joined = concat([textEmbeds, timeEmbeds], -1);
  return g.scope('add_embedding', () => {
    const h = silu(linearModule(g, 'linear_1', joined, {}, layers));
    return linearModule(g, 'linear_2', h, {}, layers);
  });
}
