/**
 * The UNet's down, mid and up blocks (CrossAttnDownBlock2D / DownBlock2D,
 * UNetMidBlock2DCrossAttn, CrossAttnUpBlock2D / UpBlock2D), driven by the parsed
 * config. Down blocks push their outputs onto the skip stack; up blocks pop one
 * skip per resnet and concatenate it after the hidden state on the channel axis.
 *
 * @example
 *   const skips = [h];
 *   for (let i = 0; i < n; i++) h = downBlock(ctx, i, h, tembAct, text, skips);
 *   h = midBlock(ctx, h, tembAct, text);
 *   for (let i = 0; i < n; i++) h = upBlock(ctx, i, h, tembAct, text, skips);
 */
import { ZipbankError } from '../../../errors/index.ts';
import { concat } from '../../onnx/ops/shape.ts';
import type { Value } from '../../onnx/value.ts';
import type { UNetContext } from './context.ts';
import { downsample, resnetBlock, upsample } from './resnet.ts';
import { transformer2d } from './transformer.ts';

function attentionOptions(ctx: UNetContext, level: number): { heads: number; layers: number } {
  return { heads: ctx.cfg.numHeads[level]!, layers: ctx.cfg.transformerLayersPerBlock[level]! };
}

/** down_blocks.{i}: resnets (and attentions), then a downsampler except on the last level. */
export function downBlock(ctx: UNetContext, i: number, x: Value, tembAct: Value, text: Value, skips: Value[]): Value {
  const { cfg } = ctx;
  const name = `down_blocks.${i}`;
  const attends = cfg.downBlockTypes[i] === 'CrossAttnDownBlock2D';
  let h = x;
  for (let j = 0; j < cfg.layersPerBlock[i]!; j++) {
    h = resnetBlock(ctx, `${name}.resnets.${j}`, h, tembAct, cfg.resnetOutScaleFactor);
    if (attends) h = transformer2d(ctx, `${name}.attentions.${j}`, h, text, attentionOptions(ctx, i));
    skips.push(h);
  }
  if (i < cfg.blockOutChannels.length - 1) {
    h = downsample(ctx, `${name}.downsamplers.0`, h);
    skips.push(h);
  }
  return h;
}

/** mid_block: resnet, attention, resnet (heads and depth of the last level; resnets scaled by mid_block_scale_factor). */
export function midBlock(ctx: UNetContext, x: Value, tembAct: Value, text: Value): Value {
  const { cfg } = ctx;
  const last = cfg.blockOutChannels.length - 1;
  let h = resnetBlock(ctx, 'mid_block.resnets.0', x, tembAct, cfg.midBlockScaleFactor);
  h = transformer2d(ctx, 'mid_block.attentions.0', h, text, attentionOptions(ctx, last));
  return resnetBlock(ctx, 'mid_block.resnets.1', h, tembAct, cfg.midBlockScaleFactor);
}

/** up_blocks.{i} (level n-1-i): layers_per_block + 1 resnets, each after concatenating a skip; then an upsampler except last. */
export function upBlock(ctx: UNetContext, i: number, x: Value, tembAct: Value, text: Value, skips: Value[]): Value {
  const { cfg } = ctx;
  const n = cfg.blockOutChannels.length;
  const level = n - 1 - i;
  const name = `up_blocks.${i}`;
  const attends = cfg.upBlockTypes[i] === 'CrossAttnUpBlock2D';
  let h = x;
  for (let j = 0; j < cfg.layersPerBlock[level]! + 1; j++) {
    const skip = skips.pop();
    if (!skip) throw new ZipbankError('model.inconsistent-config', { file: cfg.file, reason: `${name} has more resnets than there are skip connections` });
    h = resnetBlock(ctx, `${name}.resnets.${j}`, concat([h, skip], 1), tembAct, cfg.resnetOutScaleFactor);
    if (attends) h = transformer2d(ctx, `${name}.attentions.${j}`, h, text, attentionOptions(ctx, level));
  }
  if (i < n - 1) h = upsample(ctx, `${name}.upsamplers.0`, h);
  return h;
}
