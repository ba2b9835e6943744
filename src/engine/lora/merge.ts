/**
 * Merging LoRAs without ever forming a dense update. For LoRAs k with factors
 * (B_k, A_k), scale s_k = alpha_k / r_k, weight w_k and per-input-column
 * coefficients m_k (ones for a direct merge):
 *
 *     dW = Σ_k w_k s_k B_k A_k diag(m_k)
 *        = [w_1 s_1 B_1 | w_2 s_2 B_2 | ...] · [A_1 diag(m_1) ; A_2 diag(m_2) ; ...]
 *
 * a LoRA of rank Σ r_k, written with alpha = rank (scale 1). With m = 1 this is the
 * paper's direct merge (Eq. 1); with ZipLoRA's mergers it is the zipped LoRA,
 * exactly; style strength w_s scales m_s, which is the same as scaling its up
 * columns. A module only some LoRAs adapt keeps just their factors. LoHa, LoKr and
 * full-difference modules cannot be concatenated and are refused (`lora.merge-algo`).
 * For convs m is per input channel. Text-encoder modules merge like the rest; merger
 * files normally cover the UNet's modules only, so those get m = 1.
 *
 * @example
 *   const merged = await mergeLoras([{ lora: corgi }, { lora: watercolor, weight: 0.8 }], { method: 'direct' });
 *   await writeLora('merged.safetensors', merged, 'kohya');
 */
import { basename } from 'node:path';
import { ZipbankError } from '../../errors/index.ts';
import type { BaseFamily } from '../models/modules.ts';
import { hashSafetensors, readSafetensorsHeader, SafetensorsFile } from '../weights/safetensors.ts';
import { checkCoefficients, scaleColumns } from './coefficients.ts';
import type { UNetLayout } from './keymap-sdxl.ts';
import type { LoraSource } from './plan.ts';
import { loraFactors } from './tensors.ts';
import type { LoraModule } from './types.ts';
import type { LoraToWrite, ModuleToWrite } from './write.ts';

export const MERGE_KEY = 'zipbank_merge';

export type MergeMethod = 'direct' | 'ziplora';

export interface MergeOptions {
  method: MergeMethod;
  /** One per source, e.g. ['subject', 'style']. Default lora0, lora1, ... */
  roles?: string[];
  /** The merger file the coefficients came from (recorded in the metadata). */
  coefficientsFile?: string;
  /** Extra metadata (kept unless a key clashes with the merge record). */
  metadata?: Record<string, string>;
  /** Storage dtype. Default F32. */
  dtype?: 'F32' | 'F16' | 'BF16';
  /** The UNet's block layout, for SDXL kohya names of a non-standard model (default SDXL's; see `layoutOf`). */
  layout?: UNetLayout;
}

/** What `__metadata__.zipbank_merge` records. */
export interface MergeRecord {
  method: MergeMethod;
  rule: string;
  sources: { role: string; file: string; tensorSha256: string; format: string; baseModel: string; weight: number; modules: number }[];
  coefficients?: { file: string; tensorSha256: string };
}

const SS_BASE: Record<BaseFamily, string> = { sd15: 'sd_v1', sd2: 'sd_v2', sdxl: 'sdxl_base_v1-0', world: 'zipbank-world' };

function mergeFamily(sources: readonly LoraSource[]): BaseFamily {
  const known = [...new Set(sources.map((s) => s.lora.baseModel).filter((f): f is BaseFamily => f !== 'unknown'))];
  if (known.length > 1) {
    throw new ZipbankError('lora.merge-family', { files: sources.map((s) => s.lora.file), families: sources.map((s) => s.lora.baseModel) });
  }
  return known[0] ?? 'sd15';
}

function concatModule(target: string, parts: { m: LoraModule; down: Float32Array; up: Float32Array; rank: number }[]): ModuleToWrite {
  const base = parts[0]!.m.base;
  const rank = parts.reduce((a, p) => a + p.rank, 0);
  const out = base.outFeatures;
  const down = new Float32Array(rank * (parts[0]!.down.length / parts[0]!.rank));
  const up = new Float32Array(out * rank);
  let offset = 0;
  for (const p of parts) {
    down.set(p.down, (offset * down.length) / rank);
    for (let o = 0; o < out; o++) for (let j = 0; j < p.rank; j++) up[o * rank + offset + j] = p.up[o * p.rank + j]!;
    offset += p.rank;
  }
  return { target, base, rank, alpha: rank, down, up };
}

/** The merged LoRA of the sources (see the module comment), ready for `writeLora`. */
export async function mergeLoras(sources: readonly LoraSource[], o: MergeOptions): Promise<LoraToWrite> {
  if (sources.length === 0) throw new RangeError('mergeLoras: nothing to merge');
  const roles = o.roles ?? sources.map((_, k) => `lora${k}`);
  if (roles.length !== sources.length) throw new RangeError(`mergeLoras: ${roles.length} roles for ${sources.length} LoRAs`);
  const family = mergeFamily(sources);
  const byTarget = new Map<string, { m: LoraModule; down: Float32Array; up: Float32Array; rank: number }[]>();
  const record: MergeRecord = { method: o.method, rule: '', sources: [] };
  for (const [k, s] of sources.entries()) {
    const w = s.weight ?? 1;
    if (!Number.isFinite(w)) throw new RangeError(`mergeLoras: weight ${w} of ${s.lora.file} is not finite`);
    const bad = s.lora.modules.find((m) => m.kind !== 'lora');
    if (bad) throw new ZipbankError('lora.merge-algo', { file: s.lora.file, module: bad.target, algo: bad.algo });
    const header = await readSafetensorsHeader(s.lora.path, { displayName: s.lora.file });
    record.sources.push({
      role: roles[k]!,
      file: basename(s.lora.path),
      tensorSha256: (await hashSafetensors(header)).tensorSha256,
      format: s.lora.format,
      baseModel: s.lora.baseModel,
      weight: w,
      modules: s.lora.modules.length,
    });
    const st = await SafetensorsFile.open(s.lora.path, { displayName: s.lora.file });
    try {
      for (const m of s.lora.modules) {
        const f = await loraFactors(st, m);
        const k2 = w * m.scale;
        for (let i = 0; i < f.up.length; i++) f.up[i]! *= k2;
        const coeff = s.coefficients?.get(m.target);
        if (coeff) {
          checkCoefficients(m.target, coeff, m.base.inFeatures, o.coefficientsFile ?? 'coefficients');
          scaleColumns(f.down, f.rank, coeff, m.base.kernel[0] * m.base.kernel[1]);
        }
        const list = byTarget.get(m.target) ?? [];
        if (list.length && (list[0]!.m.base.outFeatures !== m.base.outFeatures || list[0]!.m.base.inFeatures !== m.base.inFeatures)) {
          throw new ZipbankError('lora.merge-family', { files: sources.map((x) => x.lora.file), families: sources.map((x) => x.lora.baseModel) });
        }
        list.push({ m, ...f });
        byTarget.set(m.target, list);
      }
    } finally {
      await st.close();
    }
  }
  record.rule =
    o.method === 'direct'
      ? 'dW = sum_k w_k * scale_k * up_k @ down_k (paper Eq. 1), factors concatenated along the rank'
      : 'dW = sum_k w_k * scale_k * up_k @ down_k @ diag(m_k) (ZipLoRA), factors concatenated along the rank';
  if (o.coefficientsFile) {
    const h = await readSafetensorsHeader(o.coefficientsFile);
    record.coefficients = { file: basename(o.coefficientsFile), tensorSha256: (await hashSafetensors(h)).tensorSha256 };
  }
  const modules = [...byTarget.keys()].sort().map((t) => concatModule(t, byTarget.get(t)!));
  const maxRank = Math.max(...modules.map((m) => m.rank));
  const metadata: Record<string, string> = {
    ...o.metadata,
    [MERGE_KEY]: JSON.stringify(record),
    ss_network_module: 'networks.lora',
    ss_network_dim: String(maxRank),
    ss_network_alpha: String(maxRank),
    ss_base_model_version: SS_BASE[family],
    ss_output_name: `${o.method}-merge_${record.sources.map((s) => s.file.replace(/\.safetensors$/, '')).join('_')}`,
    ss_training_comment: `${o.method === 'direct' ? 'direct merge' : 'ZipLoRA merge'} of ${record.sources.map((s) => `${s.role} ${s.file} (weight ${s.weight})`).join(' and ')}, written by zipbank`,
  };
  return { family, modules, metadata, ...(o.dtype ? { dtype: o.dtype } : {}), ...(o.layout ? { layout: o.layout } : {}) };
}

/** The merge record of a file written by `mergeLoras`, if any. */
export function mergeRecord(metadata: Record<string, string>): MergeRecord | undefined {
  const raw = metadata[MERGE_KEY];
  if (raw === undefined) return undefined;
  try {
    return JSON.parse(raw) as MergeRecord;
  } catch {
    return undefined;
  }
}

/**
 * Checks merger vectors against the LoRAs they are for: every module they name is
 * adapted by one of the LoRAs, with that many input features.
 */
export function checkMergersFit(file: string, vectors: ReadonlyMap<string, Float32Array[]>, sources: readonly LoraSource[]): void {
  const modules = new Map(sources.flatMap((s) => s.lora.modules.map((m) => [m.target, m] as const)));
  for (const [target, vs] of vectors) {
    const m = modules.get(target);
    if (!m) throw new ZipbankError('lora.bad-mergers', { file, reason: `it has vectors for ${target}, which none of ${sources.map((s) => s.lora.file).join(', ')} adapts` });
    for (const v of vs) checkCoefficients(target, v, m.base.inFeatures, file);
  }
}
