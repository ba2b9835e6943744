/**
 * The CLIP text encoder (transformers CLIPTextModel / CLIPTextModelWithProjection)
 * as an ONNX graph, from its config and a WeightSource.
 *
 * Input `input_ids`: int32 [batch, seqLength] (seqLength defaults to the config's
 * max_position_embeddings, 77): the `ids` of `ClipTokenizer.encodeForModel`, as is.
 * Outputs, in the compute dtype:
 * - `last_hidden_state` [batch, seq, hidden]: after final_layer_norm (SD 1.x conditioning);
 * - `penultimate_hidden_state` [batch, seq, hidden]: transformers' hidden_states[-2], the
 *   output of the second-to-last encoder layer BEFORE final_layer_norm (what the SDXL
 *   pipeline takes from both encoders, and "clip skip 2");
 * - `pooled_output` [batch, hidden]: last_hidden_state at the end-of-text position;
 * - `text_embeds` [batch, projection_dim]: pooled_output @ text_projection^T (WithProjection only).
 *
 * Pooling position, as transformers' CLIPTextTransformer: a config with the legacy
 * eos_token_id 2 (all official SD 1.x / SDXL configs) pools at argmax(input_ids), the
 * first occurrence of the largest id, which is <|endoftext|> 49407 since it is the
 * largest id in the vocabulary; any other eos_token_id pools at the first position
 * equal to it. Both give the same index for tokenizer output, whether the padding is
 * 49407 (SD tokenizer) or 0 (SDXL tokenizer_2, pad "!"); they differ only for ids
 * without an end-of-text token or with added tokens above 49407.
 *
 * @example
 *   const { model } = buildClipTextGraph(cfg, { weights: folder.components.textEncoder!.weights });
 *   const s = await createSession({ model, name: 'text_encoder', externalDataDir: folder.root });
 *   const out = await s.run({ input_ids: tensor('int32', tok.encodeForModel(prompt).ids, [1, 77]) });
 *   out.last_hidden_state!.dims; // [1, 77, 768]
 */
import type { WeightSource } from '../../onnx/external.ts';
import { add, attention, gather, graphOf, layerNorm, mul, sigmoid, gelu, slice, cast, type Value } from '../../onnx/index.ts';
import type { OnnxModel } from '../../onnx/types.ts';
import { linearModule, type LayerContext } from '../layers.ts';
import { ModelGraphBuilder, floatConst, type ComputeDType } from '../model-graph.ts';
import type { ClipTextConfig } from './config.ts';
import { clipTextParams } from './params.ts';

export interface ClipTextGraphOptions {
  weights: WeightSource;
  /** Emit `text_embeds` through text_projection. Default: the config's architecture is WithProjection. */
  withProjection?: boolean;
  /** Compute and output type. Default 'float32'. */
  dtype?: ComputeDType;
  /** Module hooks (LoRA) on every Linear, by path such as 'text_model.encoder.layers.0.self_attn.q_proj'. */
  layers?: LayerContext;
  /** Graph name. Default 'text_encoder'. */
  name?: string;
  /** Default 17. */
  opset?: number;
  /** Static sequence length, at most max_position_embeddings. Default max_position_embeddings (77). */
  seqLength?: number;
}

export interface ClipTextGraph {
  model: OnnxModel;
  /** 'input_ids' (int32 [batch, seqLength]). */
  input: string;
  /** Output names in order: last_hidden_state, penultimate_hidden_state, pooled_output[, text_embeds]. */
  outputs: string[];
  /** Weight names the graph consumes (exactly `clipTextParams(cfg, { withProjection })`). */
  params: string[];
  seqLength: number;
  dtype: ComputeDType;
  /** 'argmax' for the legacy eos_token_id 2, else 'first-eos'. */
  pooling: 'argmax' | 'first-eos';
}

/** transformers' legacy eos_token_id, pooled at argmax(input_ids). */
const LEGACY_EOS = 2;

export function buildClipTextGraph(cfg: ClipTextConfig, opts: ClipTextGraphOptions): ClipTextGraph {
  const withProjection = opts.withProjection ?? cfg.architecture === 'CLIPTextModelWithProjection';
  const seq = opts.seqLength ?? cfg.maxPositionEmbeddings;
  const g = new ModelGraphBuilder(opts.name ?? 'text_encoder', {
    weights: opts.weights,
    specs: clipTextParams(cfg, { withProjection }),
    dtype: opts.dtype,
    opset: opts.opset,
  });
  if (!Number.isInteger(seq) || seq < 2 || seq > cfg.maxPositionEmbeddings) {
    g.fail('input_ids', `sequence length ${seq} must be an integer from 2 to max_position_embeddings ${cfg.maxPositionEmbeddings}`);
  }
  const ctx = opts.layers ?? {};
  const ids = g.input('input_ids', 'int32', ['batch', seq]);
  const pooling = cfg.eosTokenId === LEGACY_EOS ? 'argmax' : 'first-eos';

  const { last, penultimate, pooled } = g.scope('text_model', () => {
    const embeddings = g.scope('embeddings', () => {
      const tokens = gather(g.param('token_embedding.weight'), ids, 0);
      let positions = g.param('position_embedding.weight');
      if (seq < cfg.maxPositionEmbeddings) positions = slice(positions, [0], [seq], [0]);
      return add(tokens, positions);
    });
    const mask = causalMask(g, seq);
    const hidden: Value[] = [embeddings];
    g.scope('encoder', () => {
      for (let i = 0; i < cfg.numHiddenLayers; i++) {
        hidden.push(g.scope(`layers.${i}`, () => encoderLayer(g, cfg, hidden[i]!, mask, ctx)));
      }
    });
    const last = g.scope('final_layer_norm', () => layerNorm(hidden.at(-1)!, g.param('weight'), g.param('bias'), { epsilon: cfg.layerNormEps }));
    return { last, penultimate: hidden.at(-2)!, pooled: poolAtEos(g, last, ids, cfg.eosTokenId, pooling) };
  });

  const outputs = [
    g.output(last, 'last_hidden_state').name,
    g.output(penultimate, 'penultimate_hidden_state').name,
    g.output(pooled, 'pooled_output').name,
  ];
  if (withProjection) outputs.push(g.output(linearModule(g, 'text_projection', pooled, { bias: false }, ctx), 'text_embeds').name);
  const model = g.build({ docString: `${cfg.architecture} from ${cfg.file}`, metadata: { pooling, dtype: g.dtype } });
  return { model, input: 'input_ids', outputs, params: [...g.used], seqLength: seq, dtype: g.dtype, pooling };
}

/**
 * One CLIPEncoderLayer (pre-norm): h + attn(ln1(h)), then h + mlp(ln2(h)), the
 * attention causal with scale head_dim^-0.5.
 */
export function encoderLayer(g: ModelGraphBuilder, cfg: ClipTextConfig, x: Value, mask: Value, ctx: LayerContext): Value {
  const eps = { epsilon: cfg.layerNormEps };
  const normed1 = g.scope('layer_norm1', () => layerNorm(x, g.param('weight'), g.param('bias'), eps));
  const attended = g.scope('self_attn', () => {
    const q = linearModule(g, 'q_proj', normed1, {}, ctx);
    const k = linearModule(g, 'k_proj', normed1, {}, ctx);
    const v = linearModule(g, 'v_proj', normed1, {}, ctx);
    const heads = cfg.numAttentionHeads;
    const o = attention(q, k, v, { heads, scale: (cfg.hiddenSize / heads) ** -0.5, mask });
    return linearModule(g, 'out_proj', o, {}, ctx);
  });
  const h = add(x, attended);
  const normed2 = g.scope('layer_norm2', () => layerNorm(h, g.param('weight'), g.param('bias'), eps));
  const mlp = g.scope('mlp', () => {
    const up = linearModule(g, 'fc1', normed2, {}, ctx);
    return linearModule(g, 'fc2', activation(up, cfg.hiddenAct), {}, ctx);
  });
  return add(h, mlp);
}

/** quick_gelu is x * sigmoid(1.702 x); gelu is the exact erf form. */
function activation(x: Value, act: ClipTextConfig['hiddenAct']): Value {
  return act === 'quick_gelu' ? mul(x, sigmoid(mul(x, 1.702))) : gelu(x);
}

/** [seq, seq]: 0 on and below the diagonal, the dtype's lowest finite value above it (as transformers). */
export function causalMask(g: ModelGraphBuilder, seq: number): Value {
  const lowest = g.dtype === 'float16' ? -65504 : -3.4028234663852886e38;
  const m = new Float32Array(seq * seq);
  for (let i = 0; i < seq; i++) for (let j = i + 1; j < seq; j++) m[i * seq + j] = lowest;
  return floatConst(g, m, [seq, seq], 'causal_mask');
}

function poolAtEos(g: ModelGraphBuilder, last: Value, ids: Value, eos: number, pooling: 'argmax' | 'first-eos'): Value {
  const scores = pooling === 'argmax' ? ids : cast(g.op('Equal', [ids, g.scalar(eos, 'int32')], {}, { output: { dtype: 'bool', shape: ids.shape } }), 'int32');
  const index = g.op('ArgMax', [scores], { axis: 1, keepdims: 1 }, { name: 'eos_index', output: { dtype: 'int64', shape: [ids.dim(0), 1] } });
  return graphOf(last).op('GatherND', [last, index], { batch_dims: 1 }, { name: 'pooled', output: { shape: [last.dim(0), last.dim(2)] } });
}
