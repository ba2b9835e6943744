/**
 * Transformer2DModel (continuous input) and its BasicTransformerBlocks, as the
 * diffusers UNet uses them: GroupNorm (eps 1e-6), proj_in (1x1 conv, or linear
 * with use_linear_projection), blocks of self-attention, cross-attention over the
 * text states and a GEGLU feed-forward, proj_out, residual.
 *
 * @example
 *   h = transformer2d(ctx, 'down_blocks.0.attentions.0', h, text, { heads: 8, layers: 1 });
 */
import { add } from '../../onnx/ops/math.ts';
import { attention, geglu, layerNorm } from '../../onnx/ops/nn.ts';
import { cast, reshape, shapeOf, transpose } from '../../onnx/ops/shape.ts';
import type { Value } from '../../onnx/value.ts';
import { conv2dModule, linearModule } from '../layers.ts';
import { groupNorm32, type UNetContext } from './context.ts';

/** diffusers' Transformer2DModel builds its GroupNorm with this epsilon, whatever norm_eps says. */
const TRANSFORMER_GROUP_NORM_EPS = 1e-6;
/** ... and its BasicTransformerBlocks' LayerNorms with this one. */
const LAYER_NORM_EPS = 1e-5;

export interface TransformerOptions {
  /** Attention heads (head width = channels / heads). */
  heads: number;
  /** BasicTransformerBlocks in this transformer. */
  layers: number;
}

/** x [B, C, H, W] and the text states [B, S, D] -> [B, C, H, W]. */
export function transformer2d(ctx: UNetContext, name: string, x: Value, context: Value, o: TransformerOptions): Value {
  const { g, cfg, layers } = ctx;
  return g.scope(name, () => {
    const c = x.staticDim(1);
    const normed = g.scope('norm', () => groupNorm32(ctx, x, TRANSFORMER_GROUP_NORM_EPS));
    const toTokens = (v: Value) => transpose(reshape(v, [0, c, -1]), [0, 2, 1]);
    const toImage = (v: Value) => reshape(transpose(v, [0, 2, 1]), shapeOf(x));
    let h = cfg.useLinearProjection
      ? linearModule(g, 'proj_in', toTokens(normed), {}, layers)
      : toTokens(conv2dModule(g, 'proj_in', normed, {}, layers));
    for (let k = 0; k < o.layers; k++) h = basicTransformerBlock(ctx, `transformer_blocks.${k}`, h, context, o.heads);
    const out = cfg.useLinearProjection ? toImage(linearModule(g, 'proj_out', h, {}, layers)) : conv2dModule(g, 'proj_out', toImage(h), {}, layers);
    return add(out, x);
  });
}

/**
 * norm1 -> self-attention -> residual; norm2 -> cross-attention over `context` ->
 * residual; norm3 -> GEGLU feed-forward -> residual. h [B, N, C].
 */
export function basicTransformerBlock(ctx: UNetContext, name: string, h: Value, context: Value, heads: number): Value {
  const { g } = ctx;
  return g.scope(name, () => {
    const norm = (n: string, v: Value) => g.scope(n, () => layerNorm(v, g.param('weight'), g.param('bias'), { epsilon: LAYER_NORM_EPS }));
    let n = norm('norm1', h);
    h = add(attentionModule(ctx, 'attn1', n, n, heads), h);
    n = norm('norm2', h);
    h = add(attentionModule(ctx, 'attn2', n, context, heads), h);
    n = norm('norm3', h);
    return add(feedForward(ctx, 'ff', n), h);
  });
}

/** diffusers Attention: to_q(x), to_k(context), to_v(context) (no biases), scaled dot-product attention, to_out.0. */
export function attentionModule(ctx: UNetContext, name: string, x: Value, context: Value, heads: number): Value {
  const { g, layers } = ctx;
  return g.scope(name, () => {
    const q = linearModule(g, 'to_q', x, { bias: false }, layers);
    const k = linearModule(g, 'to_k', context, { bias: false }, layers);
    const v = linearModule(g, 'to_v', context, { bias: false }, layers);
    let a: Value;
    if (ctx.fused) a = attention(q, k, v, { heads, fused: true });
    else if (ctx.cfg.upcastAttention && ctx.g.dtype !== 'float32') {
      a = cast(attention(cast(q, 'float32'), cast(k, 'float32'), cast(v, 'float32'), { heads }), ctx.g.dtype);
    } else a = attention(q, k, v, { heads });
    return linearModule(g, 'to_out.0', a, {}, layers);
  });
}

/** FeedForward with GEGLU: net.0.proj to 2 x inner, first half * GELU(second half), net.2 back to C. */
export function feedForward(ctx: UNetContext, name: string, x: Value): Value {
  const { g, layers } = ctx;
  return g.scope(name, () => {
    const projected = linearModule(g, 'net.0.proj', x, {}, layers);
    return linearModule(g, 'net.2', geglu(projected), {}, layers);
  });
}
