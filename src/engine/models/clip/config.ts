/**
 * transformers CLIPTextConfig (config.json of a `text_encoder` folder) -> typed,
 * validated config with transformers' defaults filled in.
 *
 * @example
 *   const cfg = parseClipTextConfig(JSON.parse(text), 'text_encoder_2/config.json');
 *   cfg.architecture; // 'CLIPTextModelWithProjection'
 */
import { ConfigReader } from '../config-reader.ts';

export type ClipTextArchitecture = 'CLIPTextModel' | 'CLIPTextModelWithProjection';
export type ClipHiddenAct = 'quick_gelu' | 'gelu';

export interface ClipTextConfig {
  kind: 'clip-text';
  file: string;
  architecture: ClipTextArchitecture;
  vocabSize: number;
  hiddenSize: number;
  intermediateSize: number;
  /** Width of text_projection's output (used only WithProjection). */
  projectionDim: number;
  numHiddenLayers: number;
  numAttentionHeads: number;
  maxPositionEmbeddings: number;
  hiddenAct: ClipHiddenAct;
  layerNormEps: number;
  padTokenId: number;
  bosTokenId: number;
  /**
   * transformers pools at the first `eosTokenId`, except for the legacy value 2
   * (old configs), where it pools at the highest token id.
   */
  eosTokenId: number;
}

const ARCHS: readonly ClipTextArchitecture[] = ['CLIPTextModel', 'CLIPTextModelWithProjection'];

export function parseClipTextConfig(json: unknown, file = 'text_encoder/config.json'): ClipTextConfig {
  const r = ConfigReader.of(json, file);
  r.requireDefault('model_type', ['clip_text_model']);
  const cfg: ClipTextConfig = {
    kind: 'clip-text',
    file,
    architecture: architecture(r),
    vocabSize: r.int('vocab_size', 49408),
    hiddenSize: r.int('hidden_size', 512),
    intermediateSize: r.int('intermediate_size', 2048),
    projectionDim: r.int('projection_dim', 512),
    numHiddenLayers: r.int('num_hidden_layers', 12),
    numAttentionHeads: r.int('num_attention_heads', 8),
    maxPositionEmbeddings: r.int('max_position_embeddings', 77),
    hiddenAct: r.oneOf<ClipHiddenAct>('hidden_act', 'quick_gelu', ['quick_gelu', 'gelu']),
    layerNormEps: r.num('layer_norm_eps', 1e-5),
    padTokenId: r.int('pad_token_id', 1, 0),
    bosTokenId: r.int('bos_token_id', 49406, 0),
    eosTokenId: r.int('eos_token_id', 49407, 0),
  };
  if (cfg.hiddenSize % cfg.numAttentionHeads !== 0) {
    throw r.inconsistent(`hidden_size ${cfg.hiddenSize} is not divisible by num_attention_heads ${cfg.numAttentionHeads}`);
  }
  return cfg;
}

function architecture(r: ConfigReader): ClipTextArchitecture {
  if (!r.has('architectures')) return 'CLIPTextModel';
  const v = r.raw['architectures'];
  if (!Array.isArray(v) || v.length !== 1 || typeof v[0] !== 'string') throw r.invalid('architectures', 'a list with one class name');
  if (!(ARCHS as readonly string[]).includes(v[0])) throw r.unsupported('architectures', ARCHS.join(', '), v[0]);
  return v[0] as ClipTextArchitecture;
}
