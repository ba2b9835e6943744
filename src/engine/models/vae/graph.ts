/**
 * The diffusers AutoencoderKL as two ONNX graphs, from its config and a WeightSource.
 *
 * - Decoder: `latent_sample` [batch, latent_channels, h, w], ALREADY divided by the
 *   scaling factor (and shifted, for configs with a shift_factor) by the caller ->
 *   post_quant_conv -> decoder -> `sample` [batch, out_channels, f*h, f*w], f = vaeSpatialFactor (8).
 * - Encoder: `sample` [batch, in_channels, H, W] in [-1, 1] -> encoder -> quant_conv ->
 *   `moments` [batch, 2*latent_channels, H/f, W/f]: channels [0, lc) are the mean,
 *   [lc, 2lc) the log-variance. The caller takes the mean (or samples
 *   mean + exp(logvar / 2) * noise) and multiplies by the scaling factor.
 *
 * Resnets and norms use GroupNorm eps 1e-6; the mid-block attention is one head over
 * the h*w positions; encoder downsamplers are 3x3 stride-2 convs with the input padded
 * by one row and column at the bottom/right only (diffusers pads (0, 1, 0, 1)).
 *
 * @example
 *   const { model } = buildVaeDecoderGraph(cfg, { weights: folder.components.vae!.weights });
 *   const z = latents.map((v) => v / vaeScalingFactor(cfg));
 *   const { sample } = await session.run({ latent_sample: tensor('float32', z, [1, 4, 64, 64]) });
 *   sample!.dims; // [1, 3, 512, 512]
 */
import type { WeightSource } from '../../onnx/external.ts';
import { add, attention, cast, reshape, resizeNearest, shapeOf, silu, transpose, isStatic, type Dim, type Value } from '../../onnx/index.ts';
import type { OnnxModel } from '../../onnx/types.ts';
import { conv2dModule, linearModule, type LayerContext } from '../layers.ts';
import { ModelGraphBuilder, groupNormF32, type ComputeDType } from '../model-graph.ts';
import type { VaeConfig } from './config.ts';
import { vaeParams } from './params.ts';

export interface VaeGraphOptions {
  weights: WeightSource;
  /** Compute and output type. Default 'float32' (the SDXL VAE overflows in float16: its config says force_upcast). */
  dtype?: ComputeDType;
  /** Module hooks on every Conv2d/Linear, by path such as 'decoder.up_blocks.0.resnets.0.conv1'. */
  layers?: LayerContext;
  /** Graph name. Default 'vae_decoder' / 'vae_encoder'. */
  name?: string;
  /** Default 17. */
  opset?: number;
  /** Static spatial size of the input (latent size for the decoder, pixels for the encoder). Default symbolic. */
  height?: number;
  width?: number;
}

export interface VaeGraph {
  model: OnnxModel;
  /** 'latent_sample' (decoder) or 'sample' (encoder). */
  input: string;
  /** 'sample' (decoder) or 'moments' (encoder). */
  output: string;
  /** Weight names the graph consumes (the decoder's or the encoder's part of `vaeParams(cfg)`). */
  params: string[];
  dtype: ComputeDType;
}

const EPS = 1e-6;

/** The factor latents are scaled by before the decoder (they are divided by it): 0.18215 for SD 1.5, 0.13025 for SDXL. */
export function vaeScalingFactor(cfg: VaeConfig): number {
  return cfg.scalingFactor;
}

/** Pixels per latent along each axis: 2^(blocks - 1), 8 for SD. */
export function vaeSpatialFactor(cfg: VaeConfig): number {
  return 2 ** (cfg.blockOutChannels.length - 1);
}

/** What the block builders need; exported for tests that build one block. */
export interface VaeBlockContext {
  g: ModelGraphBuilder;
  cfg: VaeConfig;
  layers: LayerContext;
}

function start(cfg: VaeConfig, opts: VaeGraphOptions, name: string, channels: number, inputName: string): { c: VaeBlockContext; x: Value } {
  const g = new ModelGraphBuilder(opts.name ?? name, { weights: opts.weights, specs: vaeParams(cfg), dtype: opts.dtype, opset: opts.opset });
  const x = g.input(inputName, g.dtype, ['batch', channels, opts.height ?? 'height', opts.width ?? 'width']);
  return { c: { g, cfg, layers: opts.layers ?? {} }, x };
}

function finish(c: VaeBlockContext, y: Value, input: string, output: string): VaeGraph {
  c.g.output(y, output);
  const model = c.g.build({ docString: `AutoencoderKL ${c.g.name} from ${c.cfg.file}`, metadata: { dtype: c.g.dtype } });
  return { model, input, output, params: [...c.g.used], dtype: c.g.dtype };
}

export function buildVaeDecoderGraph(cfg: VaeConfig, opts: VaeGraphOptions): VaeGraph {
  const { c, x } = start(cfg, opts, 'vae_decoder', cfg.latentChannels, 'latent_sample');
  const { g } = c;
  const z = cfg.usePostQuantConv ? conv2dModule(g, 'post_quant_conv', x, {}, c.layers) : x;
  const ch = cfg.blockOutChannels;
  const y = g.scope('decoder', () => {
    let h = conv2dModule(g, 'conv_in', z, { pads: 1 }, c.layers);
    h = g.scope('mid_block', () => midBlock(c, h));
    let prev = ch.at(-1)!;
    for (let i = 0; i < ch.length; i++) {
      const out = ch[ch.length - 1 - i]!;
      h = g.scope(`up_blocks.${i}`, () => {
        let u = h;
        for (let j = 0; j <= cfg.layersPerBlock; j++) u = resnet(c, `resnets.${j}`, u, j === 0 ? prev : out, out);
        if (i < ch.length - 1) u = conv2dModule(g, 'upsamplers.0.conv', resizeNearest(u, 2), { pads: 1 }, c.layers);
        return u;
      });
      prev = out;
    }
    h = g.scope('conv_norm_out', () => silu(norm(c, h)));
    return conv2dModule(g, 'conv_out', h, { pads: 1 }, c.layers);
  });
  return finish(c, y, 'latent_sample', 'sample');
}

export function buildVaeEncoderGraph(cfg: VaeConfig, opts: VaeGraphOptions): VaeGraph {
  const { c, x } = start(cfg, opts, 'vae_encoder', cfg.inChannels, 'sample');
  const { g } = c;
  const ch = cfg.blockOutChannels;
  const h = g.scope('encoder', () => {
    let h = conv2dModule(g, 'conv_in', x, { pads: 1 }, c.layers);
    let prev = ch[0]!;
    for (let i = 0; i < ch.length; i++) {
      const out = ch[i]!;
      h = g.scope(`down_blocks.${i}`, () => {
        let d = h;
        for (let j = 0; j < cfg.layersPerBlock; j++) d = resnet(c, `resnets.${j}`, d, j === 0 ? prev : out, out);
        // [top, left, bottom, right]: one extra row and column at the end, none at the start.
        if (i < ch.length - 1) d = conv2dModule(g, 'downsamplers.0.conv', d, { pads: [0, 0, 1, 1], strides: 2 }, c.layers);
        return d;
      });
      prev = out;
    }
    h = g.scope('mid_block', () => midBlock(c, h));
    h = g.scope('conv_norm_out', () => silu(norm(c, h)));
    return conv2dModule(g, 'conv_out', h, { pads: 1 }, c.layers);
  });
  const moments = cfg.useQuantConv ? conv2dModule(g, 'quant_conv', h, {}, c.layers) : h;
  return finish(c, moments, 'sample', 'moments');
}

/** ResnetBlock2D without time embedding: x + conv2(silu(gn2(conv1(silu(gn1(x)))))), 1x1 conv_shortcut when channels change. */
export function resnet(c: VaeBlockContext, name: string, x: Value, inCh: number, outCh: number): Value {
  const { g, layers } = c;
  return g.scope(name, () => {
    let h = conv2dModule(g, 'conv1', g.scope('norm1', () => silu(norm(c, x))), { pads: 1 }, layers);
    h = conv2dModule(g, 'conv2', g.scope('norm2', () => silu(norm(c, h))), { pads: 1 }, layers);
    const skip = inCh !== outCh ? conv2dModule(g, 'conv_shortcut', x, {}, layers) : x;
    return add(skip, h);
  });
}

/**
 * GroupNorm (eps 1e-6) with the scope's weight and bias. A float16 graph computes it
 * in float32: the variances of float16 activations overflow.
 */
function norm(c: VaeBlockContext, x: Value): Value {
  return groupNormF32(c.g, x, c.cfg.normNumGroups, EPS);
}

/** UNetMidBlock2D: resnet, [attention], resnet. */
function midBlock(c: VaeBlockContext, x: Value): Value {
  const channels = c.cfg.blockOutChannels.at(-1)!;
  let h = resnet(c, 'resnets.0', x, channels, channels);
  if (c.cfg.midBlockAddAttention) h = c.g.scope('attentions.0', () => spatialAttention(c, h, channels));
  return resnet(c, 'resnets.1', h, channels, channels);
}

/** Single-head self-attention (scores and softmax in float32, as diffusers upcasts them) over the h*w positions of a group-normed [B, C, h, w], plus the input. */
export function spatialAttention(c: VaeBlockContext, x: Value, channels: number): Value {
  const { g, layers } = c;
  const normed = g.scope('group_norm', () => norm(c, x));
  const seq = transpose(reshape(normed, [0, channels, -1]), [0, 2, 1]);
  const [q, k, v] = (['to_q', 'to_k', 'to_v'] as const).map((n) => cast(linearModule(g, n, seq, {}, layers), 'float32'));
  const attended = cast(attention(q!, k!, v!, { heads: 1 }), g.dtype);
  const o = linearModule(g, 'to_out.0', attended, {}, layers);
  const back = transpose(o, [0, 2, 1]);
  const shape: readonly Dim[] | undefined = x.shape;
  return add(reshape(back, isStatic(shape) ? [...shape] : shapeOf(x)), x);
}
