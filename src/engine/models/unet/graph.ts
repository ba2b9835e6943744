/**
 * UNet2DConditionModel as an ONNX graph, built from the parsed diffusers config so
 * one code path serves the tiny test configs, SD 1.5 and SDXL. Every weight comes
 * from the WeightSource under its diffusers name (exactly the tensors of
 * `unetParams(cfg)`), and every Linear and Conv2d goes through the LoRA-aware
 * layer helpers.
 *
 * Inputs (float32 whatever the compute type; B, H, W and S are symbolic):
 * - `sample` [B, in_channels, H, W]: latents, H and W multiples of 2^(blocks - 1)
 *   (the upsamplers always double; see `upsample`).
 * - `timestep` [B] float32: the scheduler's timestep for each sample, fed as is;
 *   fractional values (Karras sigmas mapped to timesteps) work.
 * - `encoder_hidden_states` [B, S, cross_attention_dim]: the text encoder states.
 * - SDXL ('text_time') only: `text_embeds` [B, P] (pooled text embedding) and
 *   `time_ids` [B, K] (K = 6: original size, crop top-left, target size).
 *
 * Output: `out_sample` [B, out_channels, H, W] float32.
 *
 * @example
 *   const header = await readSafetensorsHeader(`${root}/unet/diffusion_pytorch_model.safetensors`);
 *   const weights = safetensorsWeights({ header, location: 'unet/diffusion_pytorch_model.safetensors' });
 *   const { model } = buildUNetGraph(cfg, { weights, dtype: 'float16', fusedAttention: true });
 *   const session = await createSession({ model, name: 'unet', externalDataDir: root });
 *   const { out_sample } = await session.run({ sample, timestep, encoder_hidden_states });
 */
import { ZipbankError } from '../../../errors/index.ts';
import type { WeightSource } from '../../onnx/external.ts';
import { add, mul, sub } from '../../onnx/ops/math.ts';
import { silu } from '../../onnx/ops/nn.ts';
import { cast } from '../../onnx/ops/shape.ts';
import type { DType, OnnxModel } from '../../onnx/types.ts';
import type { Shape, Value } from '../../onnx/value.ts';
import { conv2dModule, type LayerContext } from '../layers.ts';
import { downBlock, midBlock, upBlock } from './blocks.ts';
import type { UNetConfig } from './config.ts';
import { ModelGraphBuilder, type ComputeDType } from '../model-graph.ts';
import { groupNorm32, type UNetContext } from './context.ts';
import { addEmbedding, timeEmbedding } from './embeddings.ts';
import { unetParams } from './params.ts';

export interface UNetGraphOptions {
  /** Where the weights come from (e.g. `safetensorsWeights` over the diffusers file). */
  weights: WeightSource;
  /** Graph name, used in messages and session caches. Default 'unet'. */
  name?: string;
  /**
   * Compute type. Default 'float32'. 'float16' casts float32 weights in-graph and takes
   * float16 weights as stored; GroupNorm statistics, the timestep sinusoids and (with
   * upcast_attention) the attention scores stay float32. Inputs and output stay float32.
   */
  dtype?: ComputeDType;
  /** Emit com.microsoft MultiHeadAttention (inference graphs; fused kernels ignore upcast_attention). Default false. */
  fusedAttention?: boolean;
  /** Module hooks (LoRA branches), called once per Linear and Conv2d. Default none. */
  layers?: LayerContext;
  /** Default ONNX opset. Default 17. */
  opset?: number;
  /** SDXL micro-conditioning numbers per sample (6 for the base model, 5 for the refiner). Default 6. */
  timeIds?: number;
  /** Told about in-graph weight casts. */
  log?: (message: string) => void;
}

export const UNET_GRAPH_DEFAULTS = {
  name: 'unet',
  dtype: 'float32',
  fusedAttention: false,
  layers: {},
  opset: 17,
  timeIds: 6,
  log: () => {},
} satisfies Required<Omit<UNetGraphOptions, 'weights'>>;

/** A graph input or output as built. */
export interface UNetIo {
  name: string;
  dtype: DType;
  shape: Shape;
}

export interface UNetGraph {
  model: OnnxModel;
  inputs: UNetIo[];
  outputs: UNetIo[];
}

/** Build the UNet graph for `cfg` (see the module comment for inputs and output). */
export function buildUNetGraph(cfg: UNetConfig, options: UNetGraphOptions): UNetGraph {
  const o = { ...UNET_GRAPH_DEFAULTS, ...options };
  const g = new ModelGraphBuilder(o.name, { weights: o.weights, specs: unetParams(cfg), dtype: o.dtype, opset: o.opset, log: o.log });
  const ctx: UNetContext = { g, cfg, fused: o.fusedAttention, layers: o.layers };
  const crossDim = singleCrossDim(cfg);
  const inputs: Value[] = [];
  const input = (name: string, shape: Shape) => {
    const v = g.input(name, 'float32', shape);
    inputs.push(v);
    return v;
  };

  const sample = input('sample', ['batch', cfg.inChannels, 'height', 'width']);
  const timestep = input('timestep', ['batch']);
  const text = cast(input('encoder_hidden_states', ['batch', 'sequence', crossDim]), o.dtype);
  let temb = timeEmbedding(ctx, timestep);
  if (cfg.addition) {
    const pooled = cfg.addition.projectionInputDim - o.timeIds * cfg.addition.timeEmbedDim;
    if (pooled <= 0) {
      throw new ZipbankError('model.inconsistent-config', {
        file: cfg.file,
        reason: `projection_class_embeddings_input_dim ${cfg.addition.projectionInputDim} leaves no room for the text embedding after ${o.timeIds} time ids of ${cfg.addition.timeEmbedDim}`,
      });
    }
    const textEmbeds = cast(input('text_embeds', ['batch', pooled]), o.dtype);
    const timeIds = input('time_ids', ['batch', o.timeIds]);
    temb = add(temb, addEmbedding(ctx, textEmbeds, timeIds));
  }
  const tembAct = silu(temb);

  let h = cast(sample, o.dtype);
  if (cfg.centerInputSample) h = sub(mul(h, 2), 1);
  h = conv2dModule(g, 'conv_in', h, { pads: (cfg.convInKernel - 1) / 2 }, o.layers);
  const skips: Value[] = [h];
  const n = cfg.blockOutChannels.length;
  for (let i = 0; i < n; i++) h = downBlock(ctx, i, h, tembAct, text, skips);
  if (cfg.midBlockType) h = midBlock(ctx, h, tembAct, text);
  for (let i = 0; i < n; i++) h = upBlock(ctx, i, h, tembAct, text, skips);
  h = g.scope('conv_norm_out', () => silu(groupNorm32(ctx, h, cfg.normEps)));
  h = conv2dModule(g, 'conv_out', h, { pads: (cfg.convOutKernel - 1) / 2 }, o.layers);

  const out = g.output(cast(h, 'float32'), 'out_sample');
  const io = (v: Value): UNetIo => ({ name: v.name, dtype: v.dtype, shape: v.shape ?? [] });
  return { model: g.build(), inputs: inputs.map(io), outputs: [io(out)] };
}

/** The one encoder width every cross-attention reads (diffusers feeds the same states to all). */
function singleCrossDim(cfg: UNetConfig): number {
  const dims = new Set(cfg.crossAttentionDim);
  if (dims.size !== 1) {
    throw new ZipbankError('model.inconsistent-config', { file: cfg.file, reason: `cross_attention_dim differs per block (${[...dims].join(', ')}); one text encoder width is supported` });
  }
  return cfg.crossAttentionDim[0]!;
}
