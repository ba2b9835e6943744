/**
 * Writing LoRA files in kohya or PEFT naming, for tests, benchmarks and exports.
 * kohya: `lora_unet_…` (SGM block names for SDXL, as kohya's SDXL tools write),
 * `lora_te_` / `lora_te1_` / `lora_te2_`, `.lora_down.weight`, `.lora_up.weight`
 * and a scalar `.alpha`. PEFT: `<component>.<module>.lora_A.weight` / `.lora_B.weight`
 * with alphas and ranks in diffusers' `lora_adapter_metadata` (`<component>.lora_alpha`,
 * `<component>.alpha_pattern`, `<component>.r`, `<component>.rank_pattern`).
 * Conv modules get down [r, in, kh, kw] and up [out, r, 1, 1].
 *
 * @example
 *   await writeLora('out.safetensors', { family: 'sd15', modules: [{ target, base, rank: 4, alpha: 4, down, up }] }, 'kohya');
 */
import { writeFile } from 'node:fs/promises';
import type { BaseFamily, ModuleShape } from '../models/modules.ts';
import { fromFloat32 } from '../weights/dtype.ts';
import { encodeSafetensors, type TensorToWrite } from '../weights/safetensors.ts';
import { kohyaName } from './formats/kohya.ts';
import { SDXL_LAYOUT, type UNetLayout } from './keymap-sdxl.ts';
import { COMPONENTS, type Component } from './types.ts';

export type WriteFormat = 'kohya' | 'peft';

export interface ModuleToWrite {
  /** Component-prefixed diffusers module path. */
  target: string;
  base: ModuleShape;
  rank: number;
  alpha: number;
  /** [rank, in·kh·kw], row-major. */
  down: Float32Array;
  /** [out, rank], row-major. */
  up: Float32Array;
}

export interface LoraToWrite {
  family: BaseFamily;
  modules: ModuleToWrite[];
  metadata?: Record<string, string>;
  /** Storage dtype of the factors (default F32). */
  dtype?: 'F32' | 'F16' | 'BF16';
  /** SGM layout for SDXL kohya names (default SDXL's). */
  layout?: UNetLayout;
}

function shapes(m: ModuleToWrite): { down: number[]; up: number[] } {
  const b = m.base;
  const k = b.kernel[0] * b.kernel[1];
  if (m.down.length !== m.rank * b.inFeatures * k || m.up.length !== b.outFeatures * m.rank) {
    throw new RangeError(`writeLora: ${m.target}: factor sizes ${m.down.length}/${m.up.length} do not match rank ${m.rank} and ${b.kind} ${b.outFeatures}x${b.inFeatures}`);
  }
  return b.kind === 'conv'
    ? { down: [m.rank, b.inFeatures, ...b.kernel], up: [b.outFeatures, m.rank, 1, 1] }
    : { down: [m.rank, b.inFeatures], up: [b.outFeatures, m.rank] };
}

function componentOf(target: string): { component: Component; path: string } {
  for (const c of [...COMPONENTS].sort((a, b) => b.length - a.length)) {
    if (target.startsWith(`${c}.`)) return { component: c, path: target.slice(c.length + 1) };
  }
  throw new RangeError(`writeLora: "${target}" is not a component-prefixed module path`);
}

function mostCommon(xs: number[]): number {
  const n = new Map<number, number>();
  for (const x of xs) n.set(x, (n.get(x) ?? 0) + 1);
  return [...n].sort((a, b) => b[1] - a[1] || a[0] - b[0])[0]![0];
}

function peftMetadata(modules: ModuleToWrite[]): string {
  const out: Record<string, unknown> = {};
  for (const c of COMPONENTS) {
    const mods = modules.map((m) => ({ m, ...componentOf(m.target) })).filter((x) => x.component === c);
    if (mods.length === 0) continue;
    const alpha = mostCommon(mods.map((x) => x.m.alpha));
    const r = mostCommon(mods.map((x) => x.m.rank));
    out[`${c}.r`] = r;
    out[`${c}.lora_alpha`] = alpha;
    out[`${c}.alpha_pattern`] = Object.fromEntries(mods.filter((x) => x.m.alpha !== alpha).map((x) => [x.path, x.m.alpha]));
    out[`${c}.rank_pattern`] = Object.fromEntries(mods.filter((x) => x.m.rank !== r).map((x) => [x.path, x.m.rank]));
    out[`${c}.target_modules`] = mods.map((x) => x.path);
  }
  return JSON.stringify(out);
}

/** Serialise a LoRA to safetensors bytes. */
export function encodeLora(lora: LoraToWrite, format: WriteFormat): Buffer {
  const dtype = lora.dtype ?? 'F32';
  const tensors: TensorToWrite[] = [];
  const metadata = { ...(lora.metadata ?? {}) };
  for (const m of lora.modules) {
    const s = shapes(m);
    if (format === 'kohya') {
      const key = kohyaName(m.target, lora.family, lora.layout ?? SDXL_LAYOUT);
      tensors.push({ name: `${key}.alpha`, dtype, shape: [], data: fromFloat32(Float32Array.of(m.alpha), dtype) });
      tensors.push({ name: `${key}.lora_down.weight`, dtype, shape: s.down, data: fromFloat32(m.down, dtype) });
      tensors.push({ name: `${key}.lora_up.weight`, dtype, shape: s.up, data: fromFloat32(m.up, dtype) });
    } else {
      componentOf(m.target);
      tensors.push({ name: `${m.target}.lora_A.weight`, dtype, shape: s.down, data: fromFloat32(m.down, dtype) });
      tensors.push({ name: `${m.target}.lora_B.weight`, dtype, shape: s.up, data: fromFloat32(m.up, dtype) });
    }
  }
  if (format === 'peft') metadata['lora_adapter_metadata'] = peftMetadata(lora.modules);
  tensors.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return encodeSafetensors(tensors, metadata);
}

/** Write a LoRA file in kohya or PEFT naming. */
export async function writeLora(file: string, lora: LoraToWrite, format: WriteFormat): Promise<void> {
  await writeFile(file, encodeLora(lora, format));
}
