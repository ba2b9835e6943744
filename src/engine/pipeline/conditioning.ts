/**
 * Prompt conditioning for Stable Diffusion pipelines, as diffusers computes it.
 *
 * - SD 1.x/2.x ('sd'): the text encoder's `last_hidden_state` (after final_layer_norm).
 * - SDXL ('sdxl'): the PENULTIMATE hidden state of every encoder (transformers'
 *   hidden_states[-2], before final_layer_norm), concatenated on the feature axis in
 *   encoder order (text_encoder then text_encoder_2: 768 + 1280 = 2048), and the
 *   pooled `text_embeds` of the last encoder (text_encoder_2's projection).
 * - Classifier-free guidance (guidance > 1) adds an unconditional branch from the
 *   negative prompt. For SDXL with an empty negative prompt and
 *   `force_zeros_for_empty_prompt` (model_index.json; true for SDXL base) the
 *   unconditional embeddings and pooled embeds are zeros, not the encoding of "".
 * - SDXL micro-conditioning `time_ids` = [orig_h, orig_w, crop_top, crop_left, target_h, target_w].
 *
 * @example
 *   const c = await buildConditioning({ family: 'sdxl', prompt: 'a corgi', negativePrompt: '', guidance: 5,
 *     forceZerosForEmptyPrompt: true, encode: (texts) => runEncoders(texts) });
 *   c.uncond!.hidden.data.every((v) => v === 0); // true
 *   sdxlTimeIds({ width: 1024, height: 768 }); // Float32Array [768, 1024, 0, 0, 768, 1024]
 */

/** A float32 tensor on the host: data in row-major order and its dims. */
export interface F32Tensor {
  data: Float32Array;
  dims: readonly number[];
}

/** 'sd' for SD 1.x/2.x-type UNets, 'sdxl' for UNets with text_time additional conditioning. */
export type PipelineFamily = 'sd' | 'sdxl';

/** What one text encoder returns for a batch of prompts (all [B, ...], float32). */
export interface EncoderOutput {
  lastHiddenState: F32Tensor;
  penultimateHiddenState: F32Tensor;
  /** Projected pooled output [B, projection_dim]; only encoders with a projection. */
  textEmbeds?: F32Tensor;
}

/** The UNet's text inputs for a batch of prompts. */
export interface Embeddings {
  /** encoder_hidden_states [B, S, D]. */
  hidden: F32Tensor;
  /** SDXL text_embeds [B, P]. */
  pooled?: F32Tensor;
}

export interface Conditioning {
  cond: Embeddings;
  /** Present when guidance > 1. */
  uncond?: Embeddings;
}

/** Concatenate [..., Di] tensors with equal leading dims along the last axis, in the given order. */
export function concatLastAxis(parts: readonly F32Tensor[]): F32Tensor {
  if (parts.length === 0) throw new RangeError('concatLastAxis: no tensors');
  const lead = parts[0]!.dims.slice(0, -1);
  const rows = lead.reduce((a, b) => a * b, 1);
  for (const p of parts) {
    if (p.dims.length !== lead.length + 1 || p.dims.slice(0, -1).some((d, i) => d !== lead[i])) {
      throw new RangeError(`concatLastAxis: shapes [${parts.map((q) => q.dims.join('x')).join('], [')}] differ before the last axis`);
    }
  }
  const widths = parts.map((p) => p.dims.at(-1)!);
  const total = widths.reduce((a, b) => a + b, 0);
  const out = new Float32Array(rows * total);
  for (let r = 0; r < rows; r++) {
    let at = r * total;
    parts.forEach((p, k) => {
      const w = widths[k]!;
      out.set(p.data.subarray(r * w, (r + 1) * w), at);
      at += w;
    });
  }
  return { data: out, dims: [...lead, total] };
}

/** The UNet's text inputs from the encoders' outputs (in encoder order) for one family. */
export function combineEncoderOutputs(family: PipelineFamily, outputs: readonly EncoderOutput[]): Embeddings {
  if (outputs.length === 0) throw new RangeError('combineEncoderOutputs: no encoder outputs');
  if (family === 'sd') return { hidden: outputs[0]!.lastHiddenState };
  const pooled = outputs.at(-1)!.textEmbeds;
  if (!pooled) throw new RangeError('combineEncoderOutputs: the last SDXL encoder has no text_embeds (it needs a projection)');
  return { hidden: concatLastAxis(outputs.map((o) => o.penultimateHiddenState)), pooled };
}

export interface ConditioningRequest {
  family: PipelineFamily;
  prompt: string;
  /** '' means none. */
  negativePrompt: string;
  guidance: number;
  /** SDXL: zero unconditional embeddings when the negative prompt is empty. */
  forceZerosForEmptyPrompt: boolean;
  /** Runs the text encoders on a batch of prompts and combines their outputs (see `combineEncoderOutputs`). */
  encode: (texts: string[]) => Promise<Embeddings>;
}

/** Whether guidance needs the unconditional UNet pass (diffusers: guidance_scale > 1). */
export function usesGuidance(guidance: number): boolean {
  return guidance > 1;
}

/**
 * The conditional and (with guidance) unconditional embeddings. Prompts that need
 * encoding go through `encode` in one batch, [negative, prompt] or [prompt].
 */
export async function buildConditioning(r: ConditioningRequest): Promise<Conditioning> {
  if (!usesGuidance(r.guidance)) return { cond: await r.encode([r.prompt]) };
  const zeros = r.family === 'sdxl' && r.negativePrompt === '' && r.forceZerosForEmptyPrompt;
  if (zeros) {
    const cond = await r.encode([r.prompt]);
    const uncond: Embeddings = { hidden: zerosLike(cond.hidden) };
    if (cond.pooled) uncond.pooled = zerosLike(cond.pooled);
    return { cond, uncond };
  }
  const both = await r.encode([r.negativePrompt, r.prompt]);
  const pick = (t: F32Tensor, i: number) => rowsOf(t, i, i + 1);
  const cond: Embeddings = { hidden: pick(both.hidden, 1) };
  const uncond: Embeddings = { hidden: pick(both.hidden, 0) };
  if (both.pooled) {
    cond.pooled = pick(both.pooled, 1);
    uncond.pooled = pick(both.pooled, 0);
  }
  return { cond, uncond };
}

export interface TimeIdsOptions {
  width: number;
  height: number;
  /** Default: the target size. */
  originalSize?: { width: number; height: number };
  /** Default (0, 0). */
  cropTopLeft?: { top: number; left: number };
  /** Default: (height, width). */
  targetSize?: { width: number; height: number };
}

/** SDXL add_time_ids: [orig_h, orig_w, crop_top, crop_left, target_h, target_w]. */
export function sdxlTimeIds(o: TimeIdsOptions): Float32Array {
  const target = o.targetSize ?? { width: o.width, height: o.height };
  const original = o.originalSize ?? target;
  const crop = o.cropTopLeft ?? { top: 0, left: 0 };
  return Float32Array.from([original.height, original.width, crop.top, crop.left, target.height, target.width]);
}

/** Rows [from, to) of the leading axis. */
export function rowsOf(t: F32Tensor, from: number, to: number): F32Tensor {
  const per = t.dims.slice(1).reduce((a, b) => a * b, 1);
  return { data: t.data.slice(from * per, to * per), dims: [to - from, ...t.dims.slice(1)] };
}

/** Each tensor's rows repeated `times` times, tensors stacked in order: ([u], [c], 2) -> [u, u, c, c]. */
export function stackRepeated(parts: readonly F32Tensor[], times: number): F32Tensor {
  const first = parts[0]!;
  const per = first.data.length;
  const out = new Float32Array(per * times * parts.length);
  parts.forEach((p, k) => {
    for (let i = 0; i < times; i++) out.set(p.data, (k * times + i) * per);
  });
  return { data: out, dims: [first.dims[0]! * times * parts.length, ...first.dims.slice(1)] };
}

function zerosLike(t: F32Tensor): F32Tensor {
  return { data: new Float32Array(t.data.length), dims: [...t.dims] };
}
