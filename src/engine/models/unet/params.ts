/**
 * Every parameter tensor of a UNet2DConditionModel, in diffusers naming, in forward
 * order: the structural truth the graph builder and LoRA tables build on.
 *
 * @example
 *   const specs = unetParams(parseUNetConfig(json));
 *   specs.length; // 686 for SD 1.5, 1680 for SDXL base
 */
import { conv, linear, norm, resnet, type ParamSpec } from '../params.ts';
import type { UNetConfig } from './config.ts';

export function unetParams(cfg: UNetConfig): ParamSpec[] {
  const p: ParamSpec[] = [];
  const ch = cfg.blockOutChannels;
  const n = ch.length;
  const temb = cfg.timeEmbedDim;

  conv(p, 'conv_in', ch[0]!, cfg.inChannels, cfg.convInKernel);
  linear(p, 'time_embedding.linear_1', temb, ch[0]!);
  linear(p, 'time_embedding.linear_2', temb, temb);
  if (cfg.addition) {
    linear(p, 'add_embedding.linear_1', temb, cfg.addition.projectionInputDim);
    linear(p, 'add_embedding.linear_2', temb, temb);
  }

  let inCh = ch[0]!;
  for (let i = 0; i < n; i++) {
    const out = ch[i]!;
    const name = `down_blocks.${i}`;
    const attn = cfg.downBlockTypes[i] === 'CrossAttnDownBlock2D';
    for (let j = 0; j < cfg.layersPerBlock[i]!; j++) {
      resnet(p, `${name}.resnets.${j}`, j === 0 ? inCh : out, out, temb);
      if (attn) transformer2d(p, `${name}.attentions.${j}`, cfg, out, cfg.transformerLayersPerBlock[i]!, cfg.crossAttentionDim[i]!);
    }
    if (i < n - 1) conv(p, `${name}.downsamplers.0.conv`, out, out, 3);
    inCh = out;
  }

  if (cfg.midBlockType === 'UNetMidBlock2DCrossAttn') {
    const c = ch[n - 1]!;
    resnet(p, 'mid_block.resnets.0', c, c, temb);
    transformer2d(p, 'mid_block.attentions.0', cfg, c, cfg.transformerLayersPerBlock[n - 1]!, cfg.crossAttentionDim[n - 1]!);
    resnet(p, 'mid_block.resnets.1', c, c, temb);
  }

  let prevOut = ch[n - 1]!;
  for (let i = 0; i < n; i++) {
    const d = n - 1 - i;
    const out = ch[d]!;
    const skipIn = ch[Math.max(d - 1, 0)]!;
    const layers = cfg.layersPerBlock[d]! + 1;
    const name = `up_blocks.${i}`;
    const attn = cfg.upBlockTypes[i] === 'CrossAttnUpBlock2D';
    for (let j = 0; j < layers; j++) {
      const skip = j === layers - 1 ? skipIn : out;
      const resIn = j === 0 ? prevOut : out;
      resnet(p, `${name}.resnets.${j}`, resIn + skip, out, temb);
      if (attn) transformer2d(p, `${name}.attentions.${j}`, cfg, out, cfg.transformerLayersPerBlock[d]!, cfg.crossAttentionDim[d]!);
    }
    if (i < n - 1) conv(p, `${name}.upsamplers.0.conv`, out, out, 3);
    prevOut = out;
  }

  norm(p, 'conv_norm_out', ch[0]!);
  conv(p, 'conv_out', cfg.outChannels, ch[0]!, cfg.convOutKernel);
  return p;
}

/** Transformer2DModel: GroupNorm, proj_in, BasicTransformerBlocks, proj_out (inner width = channels). */
function transformer2d(p: ParamSpec[], name: string, cfg: UNetConfig, c: number, layers: number, crossDim: number): void {
  norm(p, `${name}.norm`, c);
  if (cfg.useLinearProjection) linear(p, `${name}.proj_in`, c, c);
  else conv(p, `${name}.proj_in`, c, c, 1);
  for (let k = 0; k < layers; k++) basicTransformerBlock(p, `${name}.transformer_blocks.${k}`, c, crossDim);
  if (cfg.useLinearProjection) linear(p, `${name}.proj_out`, c, c);
  else conv(p, `${name}.proj_out`, c, c, 1);
}

function basicTransformerBlock(p: ParamSpec[], name: string, dim: number, crossDim: number): void {
  norm(p, `${name}.norm1`, dim);
  attention(p, `${name}.attn1`, dim, dim);
  norm(p, `${name}.norm2`, dim);
  attention(p, `${name}.attn2`, dim, crossDim);
  norm(p, `${name}.norm3`, dim);
  const inner = 4 * dim;
  linear(p, `${name}.ff.net.0.proj`, 2 * inner, dim);
  linear(p, `${name}.ff.net.2`, dim, inner);
}

function attention(p: ParamSpec[], name: string, dim: number, kvDim: number): void {
  linear(p, `${name}.to_q`, dim, dim, false);
  linear(p, `${name}.to_k`, dim, kvDim, false);
  linear(p, `${name}.to_v`, dim, kvDim, false);
  linear(p, `${name}.to_out.0`, dim, dim);
}
