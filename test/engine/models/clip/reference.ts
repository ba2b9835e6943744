/**
 * Plain-JS CLIP text transformer written from the math (float64 loops), for checking
 * the graph: pre-norm layers, causal attention with scale head_dim^-0.5, quick_gelu
 * or erf gelu, final layer norm, pooling at the end-of-text position. Rows are
 * positions; weights are PyTorch layouts (Linear weight [out, in]).
 */
import type { ClipTextConfig } from '../../../../src/engine/models/clip/config.ts';
import { gelu, sigmoid } from '../../onnx/reference.ts';

export type Params = ReadonlyMap<string, Float32Array>;
type Rows = Float64Array[];

function linear(x: Rows, w: Float32Array, b: Float32Array | undefined, out: number): Rows {
  return x.map((row) => {
    const y = new Float64Array(out);
    for (let o = 0; o < out; o++) {
      let s = b ? b[o]! : 0;
      for (let i = 0; i < row.length; i++) s += w[o * row.length + i]! * row[i]!;
      y[o] = s;
    }
    return y;
  });
}

function layerNorm(x: Rows, w: Float32Array, b: Float32Array, eps: number): Rows {
  return x.map((row) => {
    const n = row.length;
    const mean = row.reduce((a, v) => a + v, 0) / n;
    const variance = row.reduce((a, v) => a + (v - mean) ** 2, 0) / n;
    return row.map((v, i) => ((v - mean) / Math.sqrt(variance + eps)) * w[i]! + b[i]!);
  });
}

const addRows = (a: Rows, b: Rows): Rows => a.map((r, i) => r.map((v, j) => v + b[i]![j]!));

function causalAttention(q: Rows, k: Rows, v: Rows, heads: number): Rows {
  const width = q[0]!.length;
  const d = width / heads;
  return q.map((qi, i) => {
    const out = new Float64Array(width);
    for (let h = 0; h < heads; h++) {
      const scores: number[] = [];
      for (let j = 0; j <= i; j++) {
        let s = 0;
        for (let t = 0; t < d; t++) s += qi[h * d + t]! * k[j]![h * d + t]!;
        scores.push(s * d ** -0.5);
      }
      const mx = Math.max(...scores);
      const e = scores.map((s) => Math.exp(s - mx));
      const sum = e.reduce((a, b) => a + b, 0);
      for (let j = 0; j <= i; j++) for (let t = 0; t < d; t++) out[h * d + t] = out[h * d + t]! + (e[j]! / sum) * v[j]![h * d + t]!;
    }
    return out;
  });
}

/** One CLIPEncoderLayer on rows x [seq][hidden]. */
export function clipLayerRef(cfg: ClipTextConfig, p: Params, prefix: string, x: Rows): Rows {
  const get = (n: string) => p.get(`${prefix}.${n}`)!;
  const h = cfg.hiddenSize;
  const n1 = layerNorm(x, get('layer_norm1.weight'), get('layer_norm1.bias'), cfg.layerNormEps);
  const proj = (name: string, rows: Rows) => linear(rows, get(`self_attn.${name}.weight`), get(`self_attn.${name}.bias`), h);
  const attn = causalAttention(proj('q_proj', n1), proj('k_proj', n1), proj('v_proj', n1), cfg.numAttentionHeads);
  const x1 = addRows(x, proj('out_proj', attn));
  const n2 = layerNorm(x1, get('layer_norm2.weight'), get('layer_norm2.bias'), cfg.layerNormEps);
  const act = cfg.hiddenAct === 'quick_gelu' ? (v: number) => v * sigmoid(1.702 * v) : gelu;
  const up = linear(n2, get('mlp.fc1.weight'), get('mlp.fc1.bias'), cfg.intermediateSize).map((r) => r.map(act));
  return addRows(x1, linear(up, get('mlp.fc2.weight'), get('mlp.fc2.bias'), h));
}

export interface ClipRefOutput {
  last: Rows;
  penultimate: Rows;
  eosIndex: number;
  pooled: Float64Array;
  textEmbeds?: Float64Array;
}

/** The whole text model for one sequence of ids. */
export function clipTextRef(cfg: ClipTextConfig, p: Params, ids: readonly number[], withProjection: boolean): ClipRefOutput {
  const h = cfg.hiddenSize;
  const tok = p.get('text_model.embeddings.token_embedding.weight')!;
  const pos = p.get('text_model.embeddings.position_embedding.weight')!;
  let x: Rows = ids.map((id, s) => Float64Array.from({ length: h }, (_, j) => tok[id * h + j]! + pos[s * h + j]!));
  const hidden: Rows[] = [x];
  for (let i = 0; i < cfg.numHiddenLayers; i++) hidden.push((x = clipLayerRef(cfg, p, `text_model.encoder.layers.${i}`, x)));
  const last = layerNorm(x, p.get('text_model.final_layer_norm.weight')!, p.get('text_model.final_layer_norm.bias')!, cfg.layerNormEps);
  const eosIndex = cfg.eosTokenId === 2 ? ids.indexOf(Math.max(...ids)) : Math.max(0, ids.indexOf(cfg.eosTokenId));
  const pooled = last[eosIndex]!;
  const out: ClipRefOutput = { last, penultimate: hidden.at(-2)!, eosIndex, pooled };
  if (withProjection) out.textEmbeds = linear([pooled], p.get('text_projection.weight')!, undefined, cfg.projectionDim)[0]!;
  return out;
}

export const flat = (rows: Rows): Float64Array => Float64Array.from(rows.flatMap((r) => [...r]));
