/**
 * Legacy diffusers LoRA layouts (`DiffusersLora`):
 * - attention processors (diffusers < 0.14): `<attn>.processor.to_q_lora.down.weight`,
 *   `to_k_lora`, `to_v_lora`, `to_out_lora` (the last adapts `to_out.0`); text-encoder
 *   patches use the same names without `.processor` on CLIP attentions;
 * - LoRA-compatible layers (diffusers 0.17-0.20): `unet.<module>.lora.down.weight` /
 *   `.lora.up.weight`, text encoders as `<module>.lora_linear_layer.down.weight`.
 * Both store no alpha unless converted from kohya (`<module>.alpha`).
 *
 * @example
 *   isAttnProcKey('down_blocks.0.attentions.0.transformer_blocks.0.attn1.processor.to_q_lora.up.weight'); // true
 */
import { ZipbankError } from '../../../errors/index.ts';
import type { TensorInfo } from '../../weights/safetensors.ts';
import type { Component, RawModule } from '../types.ts';
import { groupModules, ref, requirePair, splitComponent } from './shared.ts';

const ATTN_PROC = /^(.+?\.(?:processor\.)?(?:to_q|to_k|to_v|to_out)_lora)\.(down|up)\.weight$/;
const LORA_LAYER = /^(.+?)\.(lora|lora_linear_layer)\.(down|up)\.weight$/;

const UNET_PROJ: Record<string, string> = { to_q: 'to_q', to_k: 'to_k', to_v: 'to_v', to_out: 'to_out.0' };
const CLIP_PROJ: Record<string, string> = { to_q: 'q_proj', to_k: 'k_proj', to_v: 'v_proj', to_out: 'out_proj' };

export function isAttnProcKey(name: string): boolean {
  return ATTN_PROC.test(name);
}

export function isDiffusersKey(name: string): boolean {
  return LORA_LAYER.test(name);
}

function place(file: string, path: string): { component: Component; path: string } {
  const s = splitComponent(file, path);
  if (!s) throw new ZipbankError('lora.unknown-module', { file, family: 'Stable Diffusion', modules: [path] });
  return s;
}

function build(
  file: string,
  groups: Map<string, Map<string, TensorInfo>>,
  target: (key: string) => { component: Component; path: string },
  alphas: ReadonlyMap<string, TensorInfo>,
): RawModule[] {
  const out: RawModule[] = [];
  for (const [key, parts] of groups) {
    requirePair(file, key, parts, 'down', 'up');
    const { component, path } = target(key);
    const alpha = alphas.get(key);
    out.push({
      key,
      component,
      ref: { by: 'path', path },
      factors: { algo: 'lora', down: ref(file, parts.get('down')!), up: ref(file, parts.get('up')!) },
      ...(alpha ? { alpha: ref(file, alpha) } : {}),
    });
  }
  return out;
}

/** Modules of the attention-processor layout. */
export function parseAttnProc(file: string, tensors: readonly TensorInfo[]): RawModule[] {
  const groups = groupModules(tensors, (name) => {
    const m = ATTN_PROC.exec(name);
    return m ? { key: m[1]!, part: m[2]! } : undefined;
  });
  return build(
    file,
    groups,
    (key) => {
      const m = /^(.+?)\.(?:processor\.)?(to_q|to_k|to_v|to_out)_lora$/.exec(key)!;
      const where = place(file, m[1]!);
      const proj = (where.component === 'unet' ? UNET_PROJ : CLIP_PROJ)[m[2]!]!;
      return { component: where.component, path: `${where.path}.${proj}` };
    },
    new Map(),
  );
}

/** Modules of the `unet.<module>.lora.down.weight` layout. */
export function parseDiffusers(file: string, tensors: readonly TensorInfo[]): RawModule[] {
  const groups = groupModules(tensors, (name) => {
    const m = LORA_LAYER.exec(name);
    return m ? { key: m[1]!, part: m[3]! } : undefined;
  });
  const alphas = new Map<string, TensorInfo>();
  for (const t of tensors) {
    const m = /^(.+?)(?:\.lora)?\.alpha$/.exec(t.name);
    if (m && groups.has(m[1]!)) alphas.set(m[1]!, t);
  }
  return build(file, groups, (key) => place(file, key), alphas);
}

