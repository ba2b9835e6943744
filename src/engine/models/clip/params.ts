/**
 * Every parameter tensor of a transformers CLIPTextModel / CLIPTextModelWithProjection
 * (position_ids is a buffer, not a weight: the official files do not store it).
 *
 * @example
 *   clipTextParams(parseClipTextConfig(json)).length;                          // 196 for CLIP ViT-L
 *   clipTextParams(cfg, { withProjection: true }).at(-1); // text_projection.weight
 */
import { linear, norm, type ParamSpec } from '../params.ts';
import type { ClipTextConfig } from './config.ts';

export interface ClipTextParamOptions {
  /** Include text_projection (default: the config's architecture says WithProjection). */
  withProjection?: boolean;
}

export function clipTextParams(cfg: ClipTextConfig, opts: ClipTextParamOptions = {}): ParamSpec[] {
  const withProjection = opts.withProjection ?? cfg.architecture === 'CLIPTextModelWithProjection';
  const h = cfg.hiddenSize;
  const p: ParamSpec[] = [
    { name: 'text_model.embeddings.token_embedding.weight', shape: [cfg.vocabSize, h] },
    { name: 'text_model.embeddings.position_embedding.weight', shape: [cfg.maxPositionEmbeddings, h] },
  ];
  for (let i = 0; i < cfg.numHiddenLayers; i++) {
    const l = `text_model.encoder.layers.${i}`;
    for (const proj of ['k_proj', 'v_proj', 'q_proj', 'out_proj']) linear(p, `${l}.self_attn.${proj}`, h, h);
    norm(p, `${l}.layer_norm1`, h);
    linear(p, `${l}.mlp.fc1`, cfg.intermediateSize, h);
    linear(p, `${l}.mlp.fc2`, h, cfg.intermediateSize);
    norm(p, `${l}.layer_norm2`, h);
  }
  norm(p, 'text_model.final_layer_norm', h);
  if (withProjection) linear(p, 'text_projection', cfg.projectionDim, h, false);
  return p;
}
