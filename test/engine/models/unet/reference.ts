/**
 * Plain-JS (float64) references for the UNet's blocks, written from the diffusers
 * math on top of the checked primitives of test/engine/onnx/reference.ts. Weights
 * are looked up by full diffusers name.
 */
import {
  attention,
  broadcast,
  conv2d,
  gelu,
  groupNorm,
  layerNorm,
  map,
  matmul,
  nd,
  sigmoid,
  transpose,
  type Nd,
} from '../../onnx/reference.ts';

export type Params = (name: string) => Nd;

export const reshapeNd = (x: Nd, shape: number[]): Nd => ({ shape, data: x.data });
export const plus = (a: Nd, b: Nd): Nd => broadcast(a, b, (x, y) => x + y);
export const silu = (x: Nd): Nd => map(x, (v) => v * sigmoid(v));

/** PyTorch Linear: x @ W^T + b. */
export function linear(x: Nd, p: Params, name: string, bias = true): Nd {
  const y = matmul(x, transpose(p(`${name}.weight`), [1, 0]));
  return bias ? plus(y, p(`${name}.bias`)) : y;
}

export function conv(x: Nd, p: Params, name: string, pads: number[], strides = [1, 1]): Nd {
  return conv2d(x, p(`${name}.weight`), p(`${name}.bias`), pads, strides);
}

export function resnet(x: Nd, temb: Nd, p: Params, name: string, o: { groups: number; eps: number; outputScale: number }): Nd {
  const norm = (v: Nd, n: string) => silu(groupNorm(v, o.groups, p(`${name}.${n}.weight`), p(`${name}.${n}.bias`), o.eps));
  let h = conv(norm(x, 'norm1'), p, `${name}.conv1`, [1, 1, 1, 1]);
  const t = linear(silu(temb), p, `${name}.time_emb_proj`);
  h = plus(h, reshapeNd(t, [...t.shape, 1, 1]));
  h = conv(norm(h, 'norm2'), p, `${name}.conv2`, [1, 1, 1, 1]);
  const shortcut = x.shape[1] === h.shape[1] ? x : conv(x, p, `${name}.conv_shortcut`, [0, 0, 0, 0]);
  return map(plus(shortcut, h), (v) => v / o.outputScale);
}

function attn(x: Nd, context: Nd, p: Params, name: string, heads: number): Nd {
  const q = linear(x, p, `${name}.to_q`, false);
  const k = linear(context, p, `${name}.to_k`, false);
  const v = linear(context, p, `${name}.to_v`, false);
  return linear(attention(q, k, v, heads), p, `${name}.to_out.0`);
}

/** GEGLU: the projection's first half is the value, the second half the gate. */
function feedForward(x: Nd, p: Params, name: string): Nd {
  const proj = linear(x, p, `${name}.net.0.proj`);
  const inner = proj.shape.at(-1)! / 2;
  const gated = nd([...proj.shape.slice(0, -1), inner], (_, flat) => {
    const r = Math.floor(flat / inner);
    const i = flat % inner;
    return proj.data[r * 2 * inner + i]! * gelu(proj.data[r * 2 * inner + inner + i]!);
  });
  return linear(gated, p, `${name}.net.2`);
}

export function basicTransformerBlock(h: Nd, context: Nd, p: Params, name: string, heads: number): Nd {
  const ln = (v: Nd, n: string) => layerNorm(v, p(`${name}.${n}.weight`), p(`${name}.${n}.bias`), 1e-5);
  h = plus(h, attn(ln(h, 'norm1'), ln(h, 'norm1'), p, `${name}.attn1`, heads));
  h = plus(h, attn(ln(h, 'norm2'), context, p, `${name}.attn2`, heads));
  return plus(h, feedForward(ln(h, 'norm3'), p, `${name}.ff`));
}

export function transformer2d(
  x: Nd,
  context: Nd,
  p: Params,
  name: string,
  o: { groups: number; heads: number; layers: number; linearProjection: boolean },
): Nd {
  const [b, c, hh, ww] = x.shape as [number, number, number, number];
  const tokens = (v: Nd) => transpose(reshapeNd(v, [b, c, hh * ww]), [0, 2, 1]);
  const image = (v: Nd) => reshapeNd(transpose(v, [0, 2, 1]), [b, c, hh, ww]);
  const n = groupNorm(x, o.groups, p(`${name}.norm.weight`), p(`${name}.norm.bias`), 1e-6);
  let h = o.linearProjection ? linear(tokens(n), p, `${name}.proj_in`) : tokens(conv(n, p, `${name}.proj_in`, [0, 0, 0, 0]));
  for (let k = 0; k < o.layers; k++) h = basicTransformerBlock(h, context, p, `${name}.transformer_blocks.${k}`, o.heads);
  const out = o.linearProjection ? image(linear(h, p, `${name}.proj_out`)) : conv(image(h), p, `${name}.proj_out`, [0, 0, 0, 0]);
  return plus(out, x);
}

/** diffusers get_timestep_embedding: [sin, cos] (or [cos, sin] flipped) of t * exp(-ln(10000) i / (half - shift)). */
export function sinusoids(t: readonly number[], dim: number, flip: boolean, shift: number): Nd {
  const half = dim / 2;
  return nd([t.length, dim], ([bi, j]) => {
    const i = j! % half;
    const arg = t[bi!]! * Math.exp((-Math.log(10000) * i) / (half - shift));
    const first = j! < half;
    return first !== flip ? Math.sin(arg) : Math.cos(arg);
  });
}

export function mlp(x: Nd, p: Params, name: string): Nd {
  return linear(silu(linear(x, p, `${name}.linear_1`)), p, `${name}.linear_2`);
}

/** SDXL add embedding input: text_embeds then the sinusoids of each time id, per sample. */
export function addEmbeddingInput(textEmbeds: Nd, timeIds: Nd, width: number, flip: boolean, shift: number): Nd {
  const [b, k] = timeIds.shape as [number, number];
  const p = textEmbeds.shape[1]!;
  const s = sinusoids([...timeIds.data], width, flip, shift);
  return nd([b, p + k * width], ([bi, j]) => (j! < p ? textEmbeds.data[bi! * p + j!]! : s.data[(bi! * k) * width + (j! - p)]!));
}

/** Nearest 2x upsampling. */
export function upsampleNearest(x: Nd): Nd {
  const [b, c, h, w] = x.shape as [number, number, number, number];
  return nd([b, c, 2 * h, 2 * w], ([bi, ci, y, xx]) => x.data[((bi! * c + ci!) * h + Math.floor(y! / 2)) * w + Math.floor(xx! / 2)]!);
}
