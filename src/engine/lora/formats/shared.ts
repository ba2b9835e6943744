/**
 * Helpers shared by the format readers: tensor references, grouping tensors into
 * modules by key, and splitting dotted diffusers/PEFT names into component + path.
 *
 * @example
 *   splitComponent('x.safetensors', 'unet.down_blocks.0.attentions.0.proj_in');
 *   // { component: 'unet', path: 'down_blocks.0.attentions.0.proj_in' }
 */
import { ZipbankError } from '../../../errors/index.ts';
import { FLOAT_DTYPES } from '../../weights/dtype.ts';
import type { TensorInfo } from '../../weights/safetensors.ts';
import type { Component, TensorRef } from '../types.ts';

export function ref(file: string, t: TensorInfo): TensorRef {
  if (!FLOAT_DTYPES.includes(t.dtype)) {
    throw new ZipbankError('lora.bad-tensor', { file, tensor: t.name, reason: `has dtype ${t.dtype}; LoRA factors must be F32, F16, BF16 or F64` });
  }
  return { name: t.name, dtype: t.dtype, shape: [...t.shape] };
}

/** Module key -> (part -> tensor), for every tensor whose name `split` accepts. */
export function groupModules(
  tensors: readonly TensorInfo[],
  split: (name: string) => { key: string; part: string } | undefined,
): Map<string, Map<string, TensorInfo>> {
  const groups = new Map<string, Map<string, TensorInfo>>();
  for (const t of tensors) {
    const s = split(t.name);
    if (!s) continue;
    let g = groups.get(s.key);
    if (!g) groups.set(s.key, (g = new Map()));
    g.set(s.part, t);
  }
  return groups;
}

/** Refuse a module that has only one of its two factors. */
export function requirePair(file: string, module: string, parts: Map<string, unknown>, a: string, b: string): void {
  const hasA = parts.has(a);
  const hasB = parts.has(b);
  if (hasA !== hasB) {
    throw new ZipbankError('lora.missing-pair', { file, module, present: hasA ? a : b, missing: hasA ? b : a });
  }
}

const COMPONENT_PREFIXES: readonly [string, Component][] = [
  ['unet.', 'unet'],
  ['text_encoder_2.', 'text_encoder_2'],
  ['text_encoder.', 'text_encoder'],
];
const UNET_ROOT = /^(down_blocks|mid_block|up_blocks|conv_in|conv_out|conv_norm_out|time_embedding|add_embedding)\./;
const UNET_ROOT_EXACT = /^(conv_in|conv_out|conv_norm_out)$/;

/**
 * Component and in-component path of a dotted module name, accepting `unet.`,
 * `text_encoder.`, `text_encoder_2.` and PEFT's `base_model.model.` prefixes, or bare
 * UNet/CLIP paths. A repeated component prefix is a broken conversion and refused.
 */
export function splitComponent(file: string, name: string): { component: Component; path: string } | undefined {
  let rest = name.startsWith('base_model.model.') ? name.slice('base_model.model.'.length) : name;
  let component: Component | undefined;
  for (const [p, c] of COMPONENT_PREFIXES) {
    if (rest.startsWith(p)) {
      component = c;
      rest = rest.slice(p.length);
      break;
    }
  }
  for (const [p] of COMPONENT_PREFIXES) {
    if (rest.startsWith(p)) throw new ZipbankError('lora.double-prefix', { file, prefix: `${name.slice(0, name.length - rest.length)}${p}`, example: name });
  }
  if (!component) {
    if (UNET_ROOT.test(rest) || UNET_ROOT_EXACT.test(rest)) component = 'unet';
    else if (rest.startsWith('text_model.')) component = 'text_encoder';
    else return undefined;
  }
  return { component, path: rest };
}
