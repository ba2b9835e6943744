/**
 * AutoencoderKL config.json -> typed, validated config with diffusers' defaults.
 *
 * @example
 *   const cfg = parseVaeConfig(JSON.parse(text), 'vae/config.json');
 *   cfg.scalingFactor; // 0.18215 for SD 1.5, 0.13025 for SDXL
 */
import { ConfigReader } from '../config-reader.ts';

export interface VaeConfig {
  kind: 'vae';
  file: string;
  inChannels: number;
  outChannels: number;
  blockOutChannels: number[];
  /** Resnets per encoder block; decoder blocks have one more. */
  layersPerBlock: number;
  latentChannels: number;
  normNumGroups: number;
  actFn: 'silu';
  sampleSize: number | null;
  scalingFactor: number;
  shiftFactor: number | null;
  forceUpcast: boolean;
  useQuantConv: boolean;
  usePostQuantConv: boolean;
  midBlockAddAttention: boolean;
}

export function parseVaeConfig(json: unknown, file = 'vae/config.json'): VaeConfig {
  const r = ConfigReader.of(json, file);
  const cls = r.str('_class_name', 'AutoencoderKL');
  if (cls !== 'AutoencoderKL') throw r.unsupported('_class_name', '"AutoencoderKL"');
  r.requireDefault('latents_mean');
  r.requireDefault('latents_std');
  const down = r.strList('down_block_types', ['DownEncoderBlock2D'], ['DownEncoderBlock2D']);
  const up = r.strList('up_block_types', ['UpDecoderBlock2D'], ['UpDecoderBlock2D']);
  const n = down.length;
  if (up.length !== n) throw r.inconsistent(`${n} down blocks but ${up.length} up blocks`);
  if (r.has('block_out_channels') && !Array.isArray(r.raw['block_out_channels'])) {
    throw r.invalid('block_out_channels', `a list of ${n} integers`);
  }
  if (Array.isArray(r.raw['sample_size'])) throw r.unsupported('sample_size', 'a single integer');
  const cfg: VaeConfig = {
    kind: 'vae',
    file,
    inChannels: r.int('in_channels', 3),
    outChannels: r.int('out_channels', 3),
    blockOutChannels: r.intPerBlock('block_out_channels', [64], n),
    layersPerBlock: r.int('layers_per_block', 1),
    latentChannels: r.int('latent_channels', 4),
    normNumGroups: r.int('norm_num_groups', 32),
    actFn: r.oneOf('act_fn', 'silu', ['silu']),
    sampleSize: r.optionalInt('sample_size'),
    scalingFactor: r.num('scaling_factor', 0.18215),
    shiftFactor: r.optionalNum('shift_factor'),
    forceUpcast: r.bool('force_upcast', true),
    useQuantConv: r.bool('use_quant_conv', true),
    usePostQuantConv: r.bool('use_post_quant_conv', true),
    midBlockAddAttention: r.bool('mid_block_add_attention', true),
  };
  cfg.blockOutChannels.forEach((c, i) => {
    if (c % cfg.normNumGroups !== 0) {
      throw r.inconsistent(`block_out_channels[${i}] = ${c} is not divisible by norm_num_groups = ${cfg.normNumGroups}`);
    }
  });
  return cfg;
}
