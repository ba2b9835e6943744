/**
 * kohya-ss naming (`KohyaLora`): `lora_unet_<path with _>.lora_down.weight`,
 * `.lora_up.weight`, optional `.lora_mid.weight` (CP LoCon) and scalar `.alpha`;
 * text encoders as `lora_te_` (SD 1/2) or `lora_te1_` / `lora_te2_` (SDXL). SDXL
 * UNets use SGM block numbering (`lora_unet_input_blocks_4_1_...`). LyCORIS
 * algorithms use the same names with their own parts (see lycoris.ts); bare
 * LyCORIS networks use a `lycoris_` prefix.
 *
 * Names are resolved through a reverse map built from the base model's module
 * table, so only real modules resolve.
 *
 * @example
 *   kohyaName('unet.down_blocks.1.attentions.0.proj_in', 'sdxl');  // 'lora_unet_input_blocks_4_1_proj_in'
 *   kohyaIndex(moduleTable('sd15'), 'sd15').get('lora_te_text_model_encoder_layers_0_mlp_fc1');
 *   // 'text_encoder.text_model.encoder.layers.0.mlp.fc1'
 */
import { ZipbankError } from '../../../errors/index.ts';
import type { BaseFamily, ModuleShape } from '../../models/modules.ts';
import type { TensorInfo } from '../../weights/safetensors.ts';
import { diffusersToSgm, layoutOf, SDXL_LAYOUT, type UNetLayout } from '../keymap-sdxl.ts';
import type { Component, Factors, RawModule } from '../types.ts';
import { LYCORIS_PARTS, lycorisFactors, refuseUnsupported } from './lycoris.ts';
import { groupModules, ref, requirePair } from './shared.ts';

const KEY = /^(lora_unet|lora_te[12]?|lycoris)_([^.]+)\.(.+)$/;
const COMPONENT: Record<string, Component> = {
  lora_unet: 'unet',
  lycoris: 'unet',
  lora_te: 'text_encoder',
  lora_te1: 'text_encoder',
  lora_te2: 'text_encoder_2',
};
const DOUBLE = /^(unet|text_encoder|te[12]?|lora_unet|lora_te[12]?)_/;
const LORA_PARTS = new Set(['lora_down.weight', 'lora_up.weight', 'lora_mid.weight', 'alpha']);

export function isKohyaKey(name: string): boolean {
  return KEY.test(name);
}

export interface KohyaParse {
  modules: RawModule[];
  /** Tensors that belong to no factor set (bias differences, stray alphas), ignored. */
  ignored: string[];
}

/** Group kohya-named tensors into modules with LoRA or LyCORIS factors. */
export function parseKohya(file: string, tensors: readonly TensorInfo[]): KohyaParse {
  const groups = groupModules(tensors, (name) => {
    const m = KEY.exec(name);
    return m ? { key: `${m[1]}_${m[2]}`, part: m[3]! } : undefined;
  });
  const modules: RawModule[] = [];
  const ignored: string[] = [];
  for (const [key, parts] of groups) {
    const m = KEY.exec(`${key}.x`)!;
    const prefix = m[1]!;
    const dbl = DOUBLE.exec(m[2]!);
    if (dbl) throw new ZipbankError('lora.double-prefix', { file, prefix: `${prefix}_${dbl[0]}`, example: [...parts.values()][0]!.name });
    refuseUnsupported(file, key, parts);
    let factors: Factors | undefined;
    if (parts.has('lora_down.weight') || parts.has('lora_up.weight')) {
      requirePair(file, key, parts, 'lora_down.weight', 'lora_up.weight');
      const mid = parts.get('lora_mid.weight');
      factors = {
        algo: 'lora',
        down: ref(file, parts.get('lora_down.weight')!),
        up: ref(file, parts.get('lora_up.weight')!),
        ...(mid ? { mid: ref(file, mid) } : {}),
      };
    } else if (parts.has('lora_mid.weight')) {
      throw new ZipbankError('lora.missing-pair', { file, module: key, present: 'lora_mid.weight', missing: 'lora_down.weight + lora_up.weight' });
    } else {
      factors = lycorisFactors(file, key, parts);
    }
    const used = factors?.algo === 'lora' ? LORA_PARTS : LYCORIS_PARTS;
    for (const [part, t] of parts) {
      if (!factors || !(used.has(part) || part === 'alpha')) ignored.push(t.name);
    }
    if (!factors) continue;
    const alpha = parts.get('alpha');
    modules.push({
      key,
      component: COMPONENT[prefix]!,
      ref: { by: 'kohya', name: key },
      factors,
      ...(alpha ? { alpha: ref(file, alpha) } : {}),
    });
  }
  return { modules, ignored };
}

const us = (p: string): string => p.replace(/\./g, '_');

/** The kohya module name kohya tools write for a module-table target. */
export function kohyaName(target: string, family: BaseFamily, layout: UNetLayout = SDXL_LAYOUT): string {
  if (target.startsWith('unet.')) {
    const path = target.slice('unet.'.length);
    const sgm = family === 'sdxl' ? diffusersToSgm(path, layout) : undefined;
    return `lora_unet_${us(sgm ?? path)}`;
  }
  if (target.startsWith('text_encoder_2.')) return `lora_te2_${us(target.slice('text_encoder_2.'.length))}`;
  if (target.startsWith('text_encoder.')) {
    return `${family === 'sdxl' ? 'lora_te1' : 'lora_te'}_${us(target.slice('text_encoder.'.length))}`;
  }
  throw new RangeError(`kohyaName: "${target}" is not a component-prefixed module path`);
}

const indexCache = new WeakMap<Map<string, ModuleShape>, Map<BaseFamily, Map<string, string>>>();

/**
 * kohya module name -> target for every module of a base model, with the names
 * kohya, LyCORIS and diffusers-to-kohya converters write (for SDXL both SGM and
 * diffusers block names).
 */
export function kohyaIndex(table: Map<string, ModuleShape>, family: BaseFamily): Map<string, string> {
  let perFamily = indexCache.get(table);
  if (!perFamily) indexCache.set(table, (perFamily = new Map()));
  let index = perFamily.get(family);
  if (index) return index;
  index = new Map();
  const layout = layoutOf(table.keys());
  for (const target of table.keys()) {
    index.set(kohyaName(target, family, layout), target);
    if (target.startsWith('unet.')) {
      const path = us(target.slice('unet.'.length));
      index.set(`lora_unet_${path}`, target);
      index.set(`lycoris_${path}`, target);
    }
  }
  perFamily.set(family, index);
  return index;
}
