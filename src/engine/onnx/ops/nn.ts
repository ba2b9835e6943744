/**
 * Neural-network helpers for the diffusion models, built from standard ONNX ops
 * (opset 17+) so that the same graphs run on every provider and can be
 * differentiated: Conv, LayerNorm, GroupNorm (decomposed), SiLU, GELU (erf or tanh),
 * GEGLU, multi-head attention, nearest upsampling, sinusoidal timestep embedding.
 *
 * @example
 *   let h = silu(groupNorm(x, 32, g.param('norm1.weight'), g.param('norm1.bias')));
 *   h = conv(h, g.param('conv1.weight'), g.param('conv1.bias'), { pads: 1 });
 *   const a = attention(q, k, v, { heads: 8 });
 */
import type { GraphBuilder } from '../builder.ts';
import { convShape } from '../shapes.ts';
import type { Value } from '../value.ts';
import { add, cos, div, erf, graphOf, matmul, mul, reduceMean, sigmoid, sin, softmax, sqrt, sub, tanh } from './math.ts';
import { cast, concat, reshape, shapeOf, split, transpose, unsqueeze } from './shape.ts';

export interface ConvOptions {
  /** One number for all sides, or ONNX order [x1_begin, x2_begin, ..., x1_end, x2_end, ...]. Default 0. */
  pads?: number | readonly number[];
  strides?: number | readonly number[];
  dilations?: number | readonly number[];
  group?: number;
}

/** N-d convolution; the kernel size comes from the weight [M, C/group, k...]. */
export function conv(x: Value, weight: Value, bias: Value | null = null, o: ConvOptions = {}): Value {
  const g: GraphBuilder = graphOf(x);
  if (weight.rank === undefined || weight.rank < 3) g.fail('Conv', `weight must be [out, in/group, k...], got ${weight}`);
  const n = weight.rank - 2;
  const kernel = Array.from({ length: n }, (_, i) => weight.staticDim(2 + i));
  const each = (v: number | readonly number[] | undefined, d: number, len: number) =>
    v === undefined ? Array(len).fill(d) : typeof v === 'number' ? Array(len).fill(v) : [...v];
  const pads = each(o.pads, 0, 2 * n);
  const strides = each(o.strides, 1, n);
  const dilations = each(o.dilations, 1, n);
  if (pads.length !== 2 * n || strides.length !== n || dilations.length !== n) g.fail('Conv', `geometry does not match a ${n}-d kernel`);
  const shape = convShape(x.shape, weight.staticDim(0), { kernel, strides, pads, dilations });
  const attrs = { kernel_shape: kernel, pads, strides, dilations, group: o.group ?? 1 };
  return g.op('Conv', [x, weight, bias], attrs, { output: { shape } });
}

/** LayerNormalization over the last dims from `axis` (default -1), epsilon 1e-5. */
export function layerNorm(x: Value, scale: Value, bias: Value | null, o: { axis?: number; epsilon?: number } = {}): Value {
  const g: GraphBuilder = graphOf(x);
  return g.op('LayerNormalization', [x, scale, bias], { axis: o.axis ?? -1, epsilon: o.epsilon ?? 1e-5 }, { output: { shape: x.shape } });
}

export interface GroupNormOptions {
  epsilon?: number;
  /** 'instance' (default): Reshape + InstanceNormalization; 'reduce': ReduceMean/Sub/Mul/Sqrt/Div only. */
  method?: 'instance' | 'reduce';
}

/**
 * GroupNorm over x [N, C, ...] with per-channel scale and bias [C], decomposed into
 * standard ops (the GroupNormalization op changed meaning in opset 21).
 */
export function groupNorm(x: Value, groups: number, scale: Value, bias: Value, o: GroupNormOptions = {}): Value {
  const g: GraphBuilder = graphOf(x);
  const eps = o.epsilon ?? 1e-5;
  if (x.rank === undefined || x.rank < 3) g.fail('groupNorm', `input must be [N, C, ...], got ${x}`);
  const c = x.dim(1);
  if (typeof c === 'number' && c % groups !== 0) g.fail('groupNorm', `${c} channels do not split into ${groups} groups`);
  const grouped = reshape(x, [0, groups, -1]);
  let normed: Value;
  if ((o.method ?? 'instance') === 'instance') {
    const ones = g.constant(new Float32Array(groups).fill(1), { dtype: x.dtype, name: 'gn_ones' });
    const zeros = g.constant(new Float32Array(groups), { dtype: x.dtype, name: 'gn_zeros' });
    normed = g.op('InstanceNormalization', [grouped, ones, zeros], { epsilon: eps }, { output: { shape: grouped.shape } });
  } else {
    const centred = sub(grouped, reduceMean(grouped, [2]));
    const variance = reduceMean(mul(centred, centred), [2]);
    normed = div(centred, sqrt(add(variance, eps)));
  }
  const restored = reshape(normed, x.shape!.every((d) => typeof d === 'number') ? x.staticShape() : shapeOf(x));
  const axes = Array.from({ length: x.rank - 2 }, (_, i) => i + 1);
  return add(mul(restored, unsqueeze(scale, axes)), unsqueeze(bias, axes));
}

/** x * sigmoid(x). */
export function silu(x: Value): Value {
  return mul(x, sigmoid(x));
}

/** GELU: exact 0.5 x (1 + erf(x / sqrt 2)), or the tanh approximation. */
export function gelu(x: Value, approximate: 'none' | 'tanh' = 'none'): Value {
  if (approximate === 'tanh') {
    const inner = mul(add(x, mul(mul(mul(x, x), x), 0.044715)), Math.sqrt(2 / Math.PI));
    return mul(mul(x, 0.5), add(tanh(inner), 1));
  }
  return mul(mul(x, 0.5), add(erf(mul(x, Math.SQRT1_2)), 1));
}

/** GEGLU: the last dim split in halves [h, gate] -> h * gelu(gate) (diffusers' feed-forward). */
export function geglu(x: Value): Value {
  const [h, gate] = split(x, 2, -1);
  return mul(h!, gelu(gate!));
}

export interface AttentionOptions {
  heads: number;
  /** Default 1 / sqrt(head dim). */
  scale?: number;
  /** Added to the scores [.., Sq, Sk] before Softmax (broadcast), e.g. a causal mask of -inf. */
  mask?: Value;
  /** Emit one com.microsoft MultiHeadAttention node (inference graphs; no mask). */
  fused?: boolean;
}

/** Multi-head scaled dot-product attention on q [B, Sq, H*D], k and v [B, Sk, H*D]; returns [B, Sq, H*D]. */
export function attention(q: Value, k: Value, v: Value, o: AttentionOptions): Value {
  const g: GraphBuilder = graphOf(q);
  const width = q.staticDim(-1);
  if (width % o.heads !== 0) g.fail('attention', `width ${width} does not split into ${o.heads} heads`);
  const d = width / o.heads;
  const scale = o.scale ?? 1 / Math.sqrt(d);
  const outShape = [q.dim(0), q.dim(1), width];
  if (o.fused) {
    if (o.mask) g.fail('attention', 'the fused form takes no mask');
    return g.op('MultiHeadAttention', [q, k, v], { num_heads: o.heads, scale }, { domain: 'com.microsoft', output: { shape: outShape } });
  }
  const heads = (x: Value, perm: number[]) => transpose(reshape(x, [0, 0, o.heads, d]), perm);
  let scores = mul(matmul(heads(q, [0, 2, 1, 3]), heads(k, [0, 2, 3, 1])), scale);
  if (o.mask) scores = add(scores, o.mask);
  const out = matmul(softmax(scores, -1), heads(v, [0, 2, 1, 3]));
  return reshape(transpose(out, [0, 2, 1, 3]), [0, 0, width]);
}

/** Nearest-neighbour upsampling of the spatial dims of [N, C, H, W] by an integer factor (PyTorch 'nearest'). */
export function resizeNearest(x: Value, factor = 2): Value {
  const g: GraphBuilder = graphOf(x);
  if (x.rank !== 4) g.fail('Resize', `input must be [N, C, H, W], got ${x}`);
  const scales = g.constant(new Float32Array([1, 1, factor, factor]), { name: 'resize_scales' });
  const shape = x.shape!.map((dim, i) => (i < 2 ? dim : typeof dim === 'number' ? dim * factor : null));
  const attrs = { mode: 'nearest', coordinate_transformation_mode: 'asymmetric', nearest_mode: 'floor' };
  return g.op('Resize', [x, null, scales], attrs, { output: { shape } });
}

export interface TimestepEmbeddingOptions {
  /** [cos, sin] instead of [sin, cos] (diffusers flip_sin_to_cos). Default false. */
  flipSinToCos?: boolean;
  /** diffusers downscale_freq_shift. Default 1. */
  freqShift?: number;
  scale?: number;
  maxPeriod?: number;
}

/**
 * Sinusoidal embedding of timesteps t [B] (any numeric type) into [B, dim]:
 * frequencies exp(-ln(maxPeriod) * i / (dim/2 - freqShift)) as a constant,
 * then Sin and Cos of t * freq.
 */
export function timestepEmbedding(t: Value, dim: number, o: TimestepEmbeddingOptions = {}): Value {
  const g: GraphBuilder = graphOf(t);
  if (dim % 2 !== 0) g.fail('timestepEmbedding', `dim ${dim} must be even`);
  const half = dim / 2;
  const shift = o.freqShift ?? 1;
  const freqs = new Float32Array(half);
  for (let i = 0; i < half; i++) freqs[i] = (o.scale ?? 1) * Math.exp((-Math.log(o.maxPeriod ?? 10000) * i) / (half - shift));
  const tf = unsqueeze(cast(t, 'float32'), [1]);
  const args = mul(tf, g.constant(freqs, { shape: [1, half], name: 'timestep_freqs' }));
  const parts = o.flipSinToCos ? [cos(args), sin(args)] : [sin(args), cos(args)];
  return concat(parts, -1);
}

