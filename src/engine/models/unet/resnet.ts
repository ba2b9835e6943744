/**
 * ResnetBlock2D (time-conditioned), Downsample2D and Upsample2D of the diffusers
 * UNet, under the caller's scope and module names.
 *
 * @example
 *   const tembAct = silu(temb);                       // shared by every resnet
 *   h = resnetBlock(ctx, 'down_blocks.0.resnets.0', h, tembAct, 1);
 *   h = downsample(ctx, 'down_blocks.0.downsamplers.0', h);
 */
import { add, div } from '../../onnx/ops/math.ts';
import { resizeNearest, silu } from '../../onnx/ops/nn.ts';
import { unsqueeze } from '../../onnx/ops/shape.ts';
import type { Value } from '../../onnx/value.ts';
import { conv2dModule, linearModule } from '../layers.ts';
import { groupNorm32, type UNetContext } from './context.ts';

/**
 * norm1 -> SiLU -> conv1 -> + time_emb_proj(SiLU(temb)) per channel -> norm2 -> SiLU
 * -> conv2, plus the input (through the 1x1 conv_shortcut when the width changes),
 * divided by `outputScale`. `tembAct` is SiLU(temb) [B, T] (the same for every block).
 */
export function resnetBlock(ctx: UNetContext, name: string, x: Value, tembAct: Value, outputScale: number): Value {
  const { g, cfg, layers } = ctx;
  return g.scope(name, () => {
    const inCh = x.staticDim(1);
    const outCh = g.param('conv1.weight').staticDim(0);
    let h = g.scope('norm1', () => silu(groupNorm32(ctx, x, cfg.normEps)));
    h = conv2dModule(g, 'conv1', h, { pads: 1 }, layers);
    const t = linearModule(g, 'time_emb_proj', tembAct, {}, layers);
    h = add(h, unsqueeze(t, [2, 3]));
    h = g.scope('norm2', () => silu(groupNorm32(ctx, h, cfg.normEps)));
    h = conv2dModule(g, 'conv2', h, { pads: 1 }, layers);
    const shortcut = inCh === outCh ? x : conv2dModule(g, 'conv_shortcut', x, {}, layers);
    const out = add(shortcut, h);
    return outputScale === 1 ? out : div(out, outputScale);
  });
}

/** Conv 3x3 with stride 2 (diffusers downsample_padding; 0 pads the bottom and right by one, as diffusers does). */
export function downsample(ctx: UNetContext, name: string, x: Value): Value {
  const p = ctx.cfg.downsamplePadding;
  const pads = p === 0 ? [0, 0, 1, 1] : p;
  return ctx.g.scope(name, () => conv2dModule(ctx.g, 'conv', x, { pads, strides: 2 }, ctx.layers));
}

/**
 * Nearest 2x then conv 3x3. Always exactly 2x: diffusers resizes to the skip's
 * size instead when the latent height or width is not a multiple of
 * 2^(number of upsamplers) (8 for SD 1.5, 4 for SDXL); such sizes are not supported.
 */
export function upsample(ctx: UNetContext, name: string, x: Value): Value {
  return ctx.g.scope(name, () => conv2dModule(ctx.g, 'conv', resizeNearest(x, 2), { pads: 1 }, ctx.layers));
}
