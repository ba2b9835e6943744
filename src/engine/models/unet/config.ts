/**
 * UNet2DConditionModel config.json -> a typed, validated config with diffusers'
 * defaults filled in and per-block values spread to lists.
 *
 * @example
 *   const cfg = parseUNetConfig(JSON.parse(text), 'unet/config.json');
 *   cfg.blockOutChannels; // [320, 640, 1280, 1280]
 *   cfg.numHeads;         // [8, 8, 8, 8]
 */
import { ConfigReader } from '../config-reader.ts';

export type DownBlockType = 'CrossAttnDownBlock2D' | 'DownBlock2D';
export type UpBlockType = 'CrossAttnUpBlock2D' | 'UpBlock2D';
export type MidBlockType = 'UNetMidBlock2DCrossAttn';

export interface UNetTextTimeEmbedding {
  type: 'text_time';
  /** Sinusoidal width per micro-conditioning number (6 numbers: original size, crop, target size). */
  timeEmbedDim: number;
  /** Input width of add_embedding.linear_1: pooled text embedding + 6 * timeEmbedDim. */
  projectionInputDim: number;
}

export interface UNetConfig {
  kind: 'unet';
  file: string;
  inChannels: number;
  outChannels: number;
  sampleSize: number | null;
  centerInputSample: boolean;
  flipSinToCos: boolean;
  freqShift: number;
  downBlockTypes: DownBlockType[];
  midBlockType: MidBlockType | null;
  upBlockTypes: UpBlockType[];
  blockOutChannels: number[];
  /** Resnets per down block (up blocks have one more each, in reverse order). */
  layersPerBlock: number[];
  /** Transformer blocks per attention, per down block (the mid block uses the last). */
  transformerLayersPerBlock: number[];
  /**
   * Attention heads per down block. diffusers reads these from `attention_head_dim`
   * (a historical misnomer: the value is the head count; head width = channels / heads).
   */
  numHeads: number[];
  /** Encoder hidden-state width seen by attn2, per down block. */
  crossAttentionDim: number[];
  useLinearProjection: boolean;
  upcastAttention: boolean;
  downsamplePadding: number;
  midBlockScaleFactor: number;
  resnetOutScaleFactor: number;
  actFn: 'silu';
  normNumGroups: number;
  normEps: number;
  /** Width of the time embedding (time_embedding_dim, else 4 * blockOutChannels[0]). */
  timeEmbedDim: number;
  convInKernel: number;
  convOutKernel: number;
  addition: UNetTextTimeEmbedding | null;
}

const DOWN: readonly DownBlockType[] = ['CrossAttnDownBlock2D', 'DownBlock2D'];
const UP: readonly UpBlockType[] = ['CrossAttnUpBlock2D', 'UpBlock2D'];

const DEFAULT_DOWN: readonly DownBlockType[] = ['CrossAttnDownBlock2D', 'CrossAttnDownBlock2D', 'CrossAttnDownBlock2D', 'DownBlock2D'];
const DEFAULT_UP: readonly UpBlockType[] = ['UpBlock2D', 'CrossAttnUpBlock2D', 'CrossAttnUpBlock2D', 'CrossAttnUpBlock2D'];

/** Keys whose non-default values change the architecture in ways we do not build. */
const MUST_BE_DEFAULT: readonly [string, readonly unknown[]][] = [
  ['class_embed_type', []],
  ['num_class_embeds', []],
  ['encoder_hid_dim', []],
  ['encoder_hid_dim_type', []],
  ['time_cond_proj_dim', []],
  ['time_embedding_act_fn', []],
  ['timestep_post_act', []],
  ['num_attention_heads', []],
  ['reverse_transformer_layers_per_block', []],
  ['cross_attention_norm', []],
  ['dual_cross_attention', [false]],
  ['only_cross_attention', [false]],
  ['resnet_skip_time_act', [false]],
  ['class_embeddings_concat', [false]],
  ['resnet_time_scale_shift', ['default']],
  ['time_embedding_type', ['positional']],
  ['attention_type', ['default']],
];

export function parseUNetConfig(json: unknown, file = 'unet/config.json'): UNetConfig {
  const r = ConfigReader.of(json, file);
  const cls = r.str('_class_name', 'UNet2DConditionModel');
  if (cls !== 'UNet2DConditionModel') throw r.unsupported('_class_name', '"UNet2DConditionModel"');
  for (const [key, ok] of MUST_BE_DEFAULT) r.requireDefault(key, ok);

  const downBlockTypes = r.strList('down_block_types', DEFAULT_DOWN, DOWN);
  const upBlockTypes = r.strList('up_block_types', DEFAULT_UP, UP);
  const n = downBlockTypes.length;
  if (upBlockTypes.length !== n) {
    throw r.inconsistent(`${n} down blocks but ${upBlockTypes.length} up blocks`);
  }
  if (r.has('block_out_channels') && !Array.isArray(r.raw['block_out_channels'])) {
    throw r.invalid('block_out_channels', `a list of ${n} integers`);
  }
  const blockOutChannels = r.intPerBlock('block_out_channels', [320, 640, 1280, 1280], n);
  const midBlockType = r.raw['mid_block_type'] === null ? null : r.oneOf<MidBlockType>('mid_block_type', 'UNetMidBlock2DCrossAttn', ['UNetMidBlock2DCrossAttn']);
  if (Array.isArray(r.raw['transformer_layers_per_block']) && r.raw['transformer_layers_per_block'].some(Array.isArray)) {
    throw r.unsupported('transformer_layers_per_block', 'an integer or a list of integers, one per block');
  }
  const c0 = blockOutChannels[0]!;
  const cfg: UNetConfig = {
    kind: 'unet',
    file,
    inChannels: r.int('in_channels', 4),
    outChannels: r.int('out_channels', 4),
    sampleSize: sampleSize(r),
    centerInputSample: r.bool('center_input_sample', false),
    flipSinToCos: r.bool('flip_sin_to_cos', true),
    freqShift: r.num('freq_shift', 0),
    downBlockTypes,
    midBlockType,
    upBlockTypes,
    blockOutChannels,
    layersPerBlock: r.intPerBlock('layers_per_block', 2, n),
    transformerLayersPerBlock: r.intPerBlock('transformer_layers_per_block', 1, n),
    numHeads: r.intPerBlock('attention_head_dim', 8, n),
    crossAttentionDim: r.intPerBlock('cross_attention_dim', 1280, n),
    useLinearProjection: r.bool('use_linear_projection', false),
    upcastAttention: r.bool('upcast_attention', false),
    downsamplePadding: r.int('downsample_padding', 1, 0),
    midBlockScaleFactor: r.num('mid_block_scale_factor', 1),
    resnetOutScaleFactor: r.num('resnet_out_scale_factor', 1),
    actFn: r.oneOf('act_fn', 'silu', ['silu']),
    normNumGroups: r.int('norm_num_groups', 32),
    normEps: r.num('norm_eps', 1e-5),
    timeEmbedDim: r.int('time_embedding_dim', 4 * c0),
    convInKernel: oddKernel(r, 'conv_in_kernel'),
    convOutKernel: oddKernel(r, 'conv_out_kernel'),
    addition: addition(r),
  };
  checkUNet(r, cfg);
  return cfg;
}

function sampleSize(r: ConfigReader): number | null {
  if (Array.isArray(r.raw['sample_size'])) throw r.unsupported('sample_size', 'a single integer (square latents)');
  return r.optionalInt('sample_size');
}

function oddKernel(r: ConfigReader, key: string): number {
  const k = r.int(key, 3);
  if (k % 2 !== 1) throw r.invalid(key, 'an odd kernel size');
  return k;
}

function addition(r: ConfigReader): UNetTextTimeEmbedding | null {
  if (!r.has('addition_embed_type')) return null;
  r.oneOf('addition_embed_type', 'text_time', ['text_time']);
  return {
    type: 'text_time',
    timeEmbedDim: r.requiredInt('addition_time_embed_dim'),
    projectionInputDim: r.requiredInt('projection_class_embeddings_input_dim'),
  };
}

function checkUNet(r: ConfigReader, cfg: UNetConfig): void {
  const g = cfg.normNumGroups;
  cfg.blockOutChannels.forEach((c, i) => {
    if (c % g !== 0) throw r.inconsistent(`block_out_channels[${i}] = ${c} is not divisible by norm_num_groups = ${g}`);
  });
  const attends = (i: number) =>
    cfg.downBlockTypes[i] === 'CrossAttnDownBlock2D' || cfg.upBlockTypes[cfg.upBlockTypes.length - 1 - i] === 'CrossAttnUpBlock2D' ||
    (cfg.midBlockType !== null && i === cfg.blockOutChannels.length - 1);
  cfg.blockOutChannels.forEach((c, i) => {
    const h = cfg.numHeads[i]!;
    if (attends(i) && c % h !== 0) {
      throw r.inconsistent(`block_out_channels[${i}] = ${c} is not divisible by its ${h} attention heads (attention_head_dim)`);
    }
  });
}
