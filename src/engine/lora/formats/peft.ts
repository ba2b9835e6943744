/**
 * PEFT naming (`PeftLora`), as diffusers >= 0.21 and most new trainers save it:
 * `<component>.<module>.lora_A.weight` (down, [r, in]) and `.lora_B.weight` (up,
 * [out, r]), optionally with an adapter name (`lora_A.default.weight`) or PEFT's
 * `base_model.model.` prefix. Alpha comes from a `<module>.alpha` tensor, else from
 * the PEFT config diffusers stores in the `lora_adapter_metadata` metadata key
 * (`<component>.lora_alpha`, `<component>.alpha_pattern`), else alpha = rank.
 *
 * @example
 *   isPeftKey('unet.mid_block.attentions.0.proj_in.lora_A.weight'); // true
 *   peftAlpha(metadata, 'unet', 'mid_block.attentions.0.proj_in');  // 8 | undefined
 */
import { ZipbankError } from '../../../errors/index.ts';
import type { TensorInfo } from '../../weights/safetensors.ts';
import type { Component, RawModule } from '../types.ts';
import { groupModules, ref, requirePair, splitComponent } from './shared.ts';

const PEFT = /^(.+?)\.lora_(A|B)(?:\.[\w-]+)?\.weight$/;

export function isPeftKey(name: string): boolean {
  return PEFT.test(name);
}

/** Modules of the PEFT layout. */
export function parsePeft(file: string, tensors: readonly TensorInfo[]): RawModule[] {
  const magnitude = tensors.find((t) => /\.lora_magnitude_vector(\.[\w-]+)?(\.weight)?$/.test(t.name));
  if (magnitude) throw new ZipbankError('lora.unsupported-algo', { file, algo: 'DoRA (weight-decomposed LoRA)', example: magnitude.name });
  const groups = groupModules(tensors, (name) => {
    const m = PEFT.exec(name);
    return m ? { key: m[1]!, part: m[2]! } : undefined;
  });
  const byName = new Map(tensors.map((t) => [t.name, t]));
  const out: RawModule[] = [];
  for (const [key, parts] of groups) {
    requirePair(file, key, parts, 'A', 'B');
    const where = splitComponent(file, key);
    if (!where) throw new ZipbankError('lora.unknown-module', { file, family: 'Stable Diffusion', modules: [key] });
    const alpha = byName.get(`${key}.alpha`);
    out.push({
      key,
      component: where.component,
      ref: { by: 'path', path: where.path },
      factors: { algo: 'lora', down: ref(file, parts.get('A')!), up: ref(file, parts.get('B')!) },
      ...(alpha ? { alpha: ref(file, alpha) } : {}),
    });
  }
  return out;
}

interface PeftConfig {
  alpha?: number;
  pattern: Record<string, number>;
}

function num(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) && v > 0 ? v : undefined;
}

/** The PEFT alpha settings for one component, from diffusers' `lora_adapter_metadata` (packed with `<component>.` prefixes). */
export function peftConfig(metadata: Record<string, string>, component: Component): PeftConfig | undefined {
  const raw = metadata['lora_adapter_metadata'];
  if (!raw) return undefined;
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    return undefined;
  }
  if (typeof json !== 'object' || json === null) return undefined;
  const o = json as Record<string, unknown>;
  const pick = (k: string) => o[`${component}.${k}`] ?? o[k];
  const pattern: Record<string, number> = {};
  const p = pick('alpha_pattern');
  if (typeof p === 'object' && p !== null) {
    for (const [k, v] of Object.entries(p)) if (num(v) !== undefined) pattern[k] = v as number;
  }
  const alpha = num(pick('lora_alpha'));
  return alpha === undefined && Object.keys(pattern).length === 0 ? undefined : { ...(alpha !== undefined ? { alpha } : {}), pattern };
}

/** Alpha for a module path from the PEFT config: the longest `alpha_pattern` key that ends the path, else `lora_alpha`. */
export function peftAlpha(metadata: Record<string, string>, component: Component, path: string): number | undefined {
  const cfg = peftConfig(metadata, component);
  if (!cfg) return undefined;
  let best: [string, number] | undefined;
  for (const [k, v] of Object.entries(cfg.pattern)) {
    if ((path === k || path.endsWith(`.${k}`)) && (!best || k.length > best[0].length)) best = [k, v];
  }
  return best ? best[1] : cfg.alpha;
}
