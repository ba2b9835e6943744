/**
 * The normalised LoRA representation every format reader produces.
 *
 * A module's weight update is ΔW = scale · dW, where dW is `up @ down` for LoRA
 * factors (with the `mid` core for CP-decomposed LoCon convs), the Hadamard or
 * Kronecker product for LoHa/LoKr, or the stored difference for full modules.
 * Tensors are referenced lazily (name, dtype, shape); `tensors.ts` materialises them.
 *
 * @example
 *   const lora = await readLora('corgi.safetensors');
 *   lora.format;                  // 'kohya'
 *   lora.modules[0].target;       // 'unet.down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q'
 *   lora.modules[0].scale;        // alpha / rank
 */
import type { Dtype } from '../weights/dtype.ts';
import type { BaseFamily, ModuleShape } from '../models/modules.ts';
import type { LoraMetadataSummary } from './metadata.ts';

export type { BaseFamily, ModuleShape };

export const LORA_FORMATS = [
  'kohya',
  'kohya-locon',
  'lycoris-loha',
  'lycoris-lokr',
  'lycoris-full',
  'diffusers-attnproc',
  'diffusers',
  'peft',
  'safeloras',
] as const;
export type LoraFormat = (typeof LORA_FORMATS)[number];

export type Component = 'unet' | 'text_encoder' | 'text_encoder_2';
export const COMPONENTS: readonly Component[] = ['unet', 'text_encoder', 'text_encoder_2'];

/** A tensor of the file, not yet read. */
export interface TensorRef {
  name: string;
  dtype: Dtype;
  shape: number[];
}

/**
 * The stored factors of one module.
 * - lora: down [r, in] or [r, in, kh, kw]; up [out, r] or [out, r, 1, 1]; with `mid`
 *   (CP LoCon) down is [r, in, 1, 1] and mid [r, r, kh, kw].
 * - loha: dW = (w1a @ w1b) ⊙ (w2a @ w2b); with t1/t2 (CP) each side is
 *   einsum(t [r, r, kh, kw], wa [r, out], wb [r, in]).
 * - lokr: dW = kron(W1, W2) reshaped to the weight; W1 = w1 or w1a @ w1b; W2 = w2,
 *   w2a @ w2b, or the CP form with t2.
 * - full: dW is `diff` itself.
 */
export type Factors =
  | { algo: 'lora'; down: TensorRef; up: TensorRef; mid?: TensorRef }
  | { algo: 'loha'; w1a: TensorRef; w1b: TensorRef; w2a: TensorRef; w2b: TensorRef; t1?: TensorRef; t2?: TensorRef }
  | {
      algo: 'lokr';
      w1?: TensorRef;
      w1a?: TensorRef;
      w1b?: TensorRef;
      w2?: TensorRef;
      w2a?: TensorRef;
      w2b?: TensorRef;
      t2?: TensorRef;
    }
  | { algo: 'full'; diff: TensorRef };

export type Algo = Factors['algo'];

/** How a format names the module, before the base model is known. */
export type ModuleRef =
  /** kohya underscore name, e.g. 'lora_unet_down_blocks_0_attentions_0_proj_in'. */
  | { by: 'kohya'; name: string }
  /** Dotted diffusers path inside the component, e.g. 'down_blocks.0.attentions.0.proj_in'. */
  | { by: 'path'; path: string }
  /** Position in the trainer's module walk (safeloras). */
  | { by: 'order'; index: number };

/** One module as parsed from the file's names, not yet matched to a base model. */
export interface RawModule {
  /** The module's key in the file (the common prefix of its tensors). */
  key: string;
  component: Component;
  ref: ModuleRef;
  factors: Factors;
  /** The scalar `.alpha` tensor, if the file has one. */
  alpha?: TensorRef;
}

export interface LoraModule {
  /** Component-prefixed diffusers module path, as in `moduleTable()`. */
  target: string;
  component: Component;
  /** 'lora': apply as low-rank factors; 'full': apply the dense dW (LoHa, LoKr, diff). */
  kind: 'lora' | 'full';
  algo: Algo;
  /** The factored inner dimension; 0 when the module has no low-rank factor (scale is then 1). */
  rank: number;
  alpha: number;
  /** alpha / rank (1 when rank is 0). */
  scale: number;
  down?: TensorRef;
  up?: TensorRef;
  mid?: TensorRef;
  factors: Factors;
  /** The adapted weight's shape in the base model. */
  base: ModuleShape;
  /** The module's key in the file. */
  key: string;
}

export interface TextualInversionToken {
  token: string;
  tensor: TensorRef;
}

export interface LoraFile {
  /** Display name used in messages. */
  file: string;
  path: string;
  sizeBytes: number;
  tensorCount: number;
  format: LoraFormat;
  /** 'unknown' when the tensors fit several families equally (e.g. SD 1.5 vs 2.x attention-only). */
  baseModel: BaseFamily | 'unknown';
  modules: LoraModule[];
  dtypes: Dtype[];
  metadata: Record<string, string>;
  summary: LoraMetadataSummary;
  textualInversion: TextualInversionToken[];
  warnings: string[];
}
