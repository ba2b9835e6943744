/**
 * Every parameter tensor of a diffusers AutoencoderKL: encoder, quant convs, decoder.
 *
 * @example
 *   vaeParams(parseVaeConfig(json)).length; // 248 for the SD 1.5 / SDXL VAE
 */
import { conv, linear, norm, resnet, type ParamSpec } from '../params.ts';
import type { VaeConfig } from './config.ts';

export function vaeParams(cfg: VaeConfig): ParamSpec[] {
  const p: ParamSpec[] = [];
  const ch = cfg.blockOutChannels;
  const n = ch.length;
  const last = ch[n - 1]!;
  const z = cfg.latentChannels;

  conv(p, 'encoder.conv_in', ch[0]!, cfg.inChannels, 3);
  let inCh = ch[0]!;
  for (let i = 0; i < n; i++) {
    const out = ch[i]!;
    for (let j = 0; j < cfg.layersPerBlock; j++) resnet(p, `encoder.down_blocks.${i}.resnets.${j}`, j === 0 ? inCh : out, out, null);
    if (i < n - 1) conv(p, `encoder.down_blocks.${i}.downsamplers.0.conv`, out, out, 3);
    inCh = out;
  }
  midBlock(p, 'encoder.mid_block', last, cfg.midBlockAddAttention);
  norm(p, 'encoder.conv_norm_out', last);
  conv(p, 'encoder.conv_out', 2 * z, last, 3);

  conv(p, 'decoder.conv_in', last, z, 3);
  midBlock(p, 'decoder.mid_block', last, cfg.midBlockAddAttention);
  let prev = last;
  for (let i = 0; i < n; i++) {
    const out = ch[n - 1 - i]!;
    for (let j = 0; j <= cfg.layersPerBlock; j++) resnet(p, `decoder.up_blocks.${i}.resnets.${j}`, j === 0 ? prev : out, out, null);
    if (i < n - 1) conv(p, `decoder.up_blocks.${i}.upsamplers.0.conv`, out, out, 3);
    prev = out;
  }
  norm(p, 'decoder.conv_norm_out', ch[0]!);
  conv(p, 'decoder.conv_out', cfg.outChannels, ch[0]!, 3);

  if (cfg.useQuantConv) conv(p, 'quant_conv', 2 * z, 2 * z, 1);
  if (cfg.usePostQuantConv) conv(p, 'post_quant_conv', z, z, 1);
  return p;
}

/** UNetMidBlock2D without time embedding: resnet, single-head spatial self-attention, resnet. */
function midBlock(p: ParamSpec[], name: string, c: number, attention: boolean): void {
  resnet(p, `${name}.resnets.0`, c, c, null);
  if (attention) {
    const a = `${name}.attentions.0`;
    norm(p, `${a}.group_norm`, c);
    for (const proj of ['to_q', 'to_k', 'to_v', 'to_out.0']) linear(p, `${a}.${proj}`, c, c);
  }
  resnet(p, `${name}.resnets.1`, c, c, null);
}
