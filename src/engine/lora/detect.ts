/**
 * Detection from tensor names and shapes only (the header; no tensor data):
 * which architecture a LoRA is for (refusing non-SD ones), which format it is in,
 * and which SD family it fits. Metadata is a hint that breaks ties and is reported
 * when it disagrees; the tensors win.
 *
 * @example
 *   const parsed = parseFormat(header.file, header.tensors, header.metadata);
 *   parsed.format;                          // 'diffusers-attnproc'
 *   const fit = detectFamily(header.file, parsed.modules, header.metadata, {});
 *   fit.family;                             // 'sd15'
 */
import { ZipbankError } from '../../errors/index.ts';
import { moduleTable, type BaseFamily, type ModuleShape } from '../models/modules.ts';
import type { TensorInfo } from '../weights/safetensors.ts';
import { factorShape } from './factors.ts';
import { isAttnProcKey, isDiffusersKey, parseAttnProc, parseDiffusers } from './formats/diffusers.ts';
import { isKohyaKey, parseKohya } from './formats/kohya.ts';
import { isPeftKey, parsePeft } from './formats/peft.ts';
import { isSafelorasKey, parseSafeloras } from './formats/safeloras.ts';
import { isSgmKohyaName } from './keymap-sdxl.ts';
import { countNamed, resolveAgainst, type FamilyFit } from './resolve.ts';
import type { LoraFormat, RawModule, TextualInversionToken } from './types.ts';

export const FAMILIES: readonly BaseFamily[] = ['sd15', 'sd2', 'sdxl', 'world'];

const FOREIGN: readonly [RegExp, string][] = [
  [/(^|[._])(single_transformer_blocks|single_blocks|double_blocks)[._]/, 'Flux'],
  [/(^|[._])joint_blocks[._]|^lora_te3_/, 'Stable Diffusion 3'],
  [/(^|[._])blocks[._]\d+[._](cross_attn|self_attn)[._]/, 'video transformer (Wan-style)'],
  [/^(base_model\.model\.)?model\.layers\.\d+\.(self_attn|mlp)\./, 'language model (LLM)'],
  [/^(transformer|lora_transformer|diffusion_model)[._]/, 'diffusion-transformer (DiT)'],
];

const CHECKPOINT = /^(model\.diffusion_model|first_stage_model|cond_stage_model|conditioner)\./;

/** The non-SD architecture a file's tensor names belong to, if any. */
export function foreignArchitecture(names: readonly string[]): { architecture: string; evidence: string } | undefined {
  for (const [re, architecture] of FOREIGN) {
    const evidence = names.find((n) => re.test(n));
    if (evidence) return { architecture, evidence };
  }
  return undefined;
}

export interface ParsedLora {
  format: LoraFormat;
  modules: RawModule[];
  textualInversion: TextualInversionToken[];
  /** Tensors that are neither factors, alphas nor embeddings. */
  ignored: string[];
  warnings: string[];
}

type Family = 'kohya' | 'diffusers-attnproc' | 'diffusers' | 'peft' | 'safeloras';

function kohyaFormat(modules: readonly RawModule[], file: string): LoraFormat {
  const algos = new Set(modules.map((m) => m.factors.algo));
  if (algos.has('lokr')) return 'lycoris-lokr';
  if (algos.has('loha')) return 'lycoris-loha';
  if (!algos.has('lora')) return 'lycoris-full';
  const conv = modules.some((m) => {
    const s = factorShape(file, m.key, m.factors);
    return s.kernel !== undefined && s.kernel[0] * s.kernel[1] > 1;
  });
  return conv ? 'kohya-locon' : 'kohya';
}

/** Group the tensors into modules by the format their names follow; refuse non-SD and non-LoRA files. */
export function parseFormat(file: string, tensors: readonly TensorInfo[], metadata: Record<string, string>): ParsedLora {
  const names = tensors.map((t) => t.name);
  const foreign = foreignArchitecture(names);
  if (foreign) throw new ZipbankError('lora.not-sd', { file, ...foreign });
  const buckets: Record<Family, TensorInfo[]> = { kohya: [], 'diffusers-attnproc': [], diffusers: [], peft: [], safeloras: [] };
  for (const t of tensors) {
    if (isKohyaKey(t.name)) buckets.kohya.push(t);
    else if (isAttnProcKey(t.name)) buckets['diffusers-attnproc'].push(t);
    else if (isDiffusersKey(t.name)) buckets.diffusers.push(t);
    else if (isPeftKey(t.name)) buckets.peft.push(t);
    else if (isSafelorasKey(t.name)) buckets.safeloras.push(t);
  }
  const present = (Object.keys(buckets) as Family[]).filter((f) => buckets[f].length > 0);
  if (present.length === 0) {
    const ckpt = names.find((n) => CHECKPOINT.test(n) || (/\.(weight|bias)$/.test(n) && !/lora|hada|lokr/.test(n)));
    throw new ZipbankError('lora.not-lora', {
      file,
      reason: ckpt
        ? `it looks like model weights, not a LoRA (tensors like "${ckpt}" and no LoRA factors)`
        : `none of its ${names.length} tensors are LoRA factors (e.g. "${names[0] ?? ''}"; expected names like lora_down/lora_up, lora_A/lora_B, hada_*, lokr_*)`,
    });
  }
  const modules: RawModule[] = [];
  const textualInversion: TextualInversionToken[] = [];
  const warnings: string[] = [];
  const formats = new Map<Family, LoraFormat>();
  for (const f of present) {
    let mods: RawModule[];
    if (f === 'kohya') {
      mods = parseKohya(file, tensors.filter((t) => isKohyaKey(t.name))).modules;
      formats.set(f, kohyaFormat(mods, file));
    } else if (f === 'safeloras') {
      const p = parseSafeloras(file, tensors, metadata);
      mods = p.modules;
      textualInversion.push(...p.textualInversion);
      warnings.push(...p.warnings);
      formats.set(f, 'safeloras');
    } else {
      mods = f === 'peft' ? parsePeft(file, tensors) : f === 'diffusers' ? parseDiffusers(file, tensors) : parseAttnProc(file, tensors);
      formats.set(f, f);
    }
    modules.push(...mods);
  }
  for (const t of tensors) {
    const m = /^bundle_emb\.([^.]+)\.string_to_param\./.exec(t.name);
    if (m && !textualInversion.some((x) => x.token === m[1])) {
      textualInversion.push({ token: m[1]!, tensor: { name: t.name, dtype: t.dtype, shape: [...t.shape] } });
    }
  }
  const main = present.reduce((a, b) => (buckets[b].length > buckets[a].length ? b : a));
  if (present.length > 1) warnings.push(`the file mixes ${present.join(' and ')} tensor names; read as ${formats.get(main)}`);
  const used = new Set<string>();
  for (const m of modules) {
    for (const r of Object.values(m.factors)) if (typeof r === 'object') used.add(r.name);
    if (m.alpha) used.add(m.alpha.name);
  }
  for (const t of textualInversion) used.add(t.tensor.name);
  const ignored = names.filter((n) => !used.has(n) && !n.startsWith('bundle_emb.'));
  if (modules.length === 0) {
    throw new ZipbankError('lora.not-lora', { file, reason: 'it names LoRA modules but none has factor tensors' });
  }
  return { format: formats.get(main)!, modules, textualInversion, ignored, warnings };
}

/** Families the names and shapes allow, each with the reason, intersected. */
export function familyEvidence(file: string, raws: readonly RawModule[], widths = true): { allowed: Set<BaseFamily>; reasons: string[] } {
  let allowed = new Set<BaseFamily>(FAMILIES);
  const reasons: string[] = [];
  const add = (fams: BaseFamily[], reason: string) => {
    if (reasons.includes(reason)) return;
    const next = new Set(fams.filter((f) => allowed.has(f)));
    reasons.push(reason);
    if (next.size === 0) throw new ZipbankError('lora.inconsistent', { file, reason: reasons.join('; ') });
    allowed = next;
  };
  for (const r of raws) {
    const name = r.ref.by === 'kohya' ? r.ref.name : r.ref.by === 'path' ? r.ref.path : '';
    if (r.component === 'text_encoder_2') add(['sdxl'], 'a second text encoder (SDXL)');
    if (/^lora_te[12]_/.test(name)) add(['sdxl'], 'lora_te1/lora_te2 names (SDXL)');
    if (/^lora_te_/.test(name)) add(['sd15', 'sd2', 'world'], 'lora_te names (SD 1.x/2.x)');
    if (/^lora_unet_/.test(name) && isSgmKohyaName(name.slice('lora_unet_'.length))) add(['sdxl'], 'SGM block names (SDXL)');
    if (!widths) continue;
    const s = factorShape(file, r.key, r.factors);
    if (/attn2[._]to_[kv]$/.test(name)) {
      const w = s.in ?? s.inFlat;
      const fam: Record<number, BaseFamily> = { 768: 'sd15', 1024: 'sd2', 2048: 'sdxl', 64: 'world' };
      if (fam[w]) add([fam[w]!], `cross-attention width ${w}`);
    }
    if (r.component === 'text_encoder' && /self_attn[._](q|k|v|out)_proj$/.test(name)) {
      const w = s.out;
      if (w === 768) add(['sd15', 'sdxl'], 'text-encoder width 768');
      else if (w === 1024) add(['sd2'], 'text-encoder width 1024 (OpenCLIP ViT-H)');
      else if (w === 64) add(['world'], 'text-encoder width 64 (the bundled world model)');
    }
  }
  return { allowed, reasons };
}

export interface FamilyChoice {
  family: BaseFamily | 'unknown';
  fit: FamilyFit;
  warnings: string[];
}

export interface DetectOptions {
  /** Families the caller serves; a LoRA for another family is refused. Default: all. */
  families?: readonly BaseFamily[];
  /** Module tables to use instead of the built-in presets (e.g. a custom model's). */
  tables?: Partial<Record<BaseFamily, Map<string, ModuleShape>>>;
  /** The family the metadata claims, used only to break ties. */
  claimed?: BaseFamily | 'other';
}

/** Pick the family whose module table every module fits. */
export function detectFamily(file: string, raws: readonly RawModule[], metadata: Record<string, string>, opts: DetectOptions): FamilyChoice {
  const { allowed, reasons } = familyEvidence(file, raws, opts.tables === undefined);
  const table = (f: BaseFamily) => opts.tables?.[f] ?? moduleTable(f);
  const candidates = FAMILIES.filter((f) => allowed.has(f));
  const fits: FamilyFit[] = [];
  const failures: { family: BaseFamily; error: unknown; named: number }[] = [];
  for (const f of candidates) {
    try {
      fits.push(resolveAgainst(file, raws, f, table(f), metadata));
    } catch (e) {
      if (!(e instanceof ZipbankError)) throw e;
      failures.push({ family: f, error: e, named: countNamed(raws, f, table(f)) });
    }
  }
  if (fits.length === 0) {
    failures.sort((a, b) => b.named - a.named);
    throw failures[0]!.error;
  }
  const served = opts.families ?? FAMILIES;
  const warnings: string[] = [];
  const best = Math.max(...fits.map((f) => f.strict));
  let top = fits.filter((f) => f.strict === best);
  const servedTop = top.filter((f) => served.includes(f.family));
  if (servedTop.length === 0) throw new ZipbankError('lora.family-not-served', { file, family: top[0]!.family, served: [...served] });
  top = servedTop;
  if (top.length > 1) {
    const claimed = top.find((f) => f.family === opts.claimed);
    if (claimed) top = [claimed];
  }
  const fit = top[0]!;
  const family: BaseFamily | 'unknown' = top.length > 1 ? 'unknown' : fit.family;
  if (top.length > 1) {
    warnings.push(
      `the tensors fit ${top.map((f) => f.family).join(' and ')} equally (${reasons.length ? reasons.join('; ') : 'no cross-attention or text-encoder modules'}); base model unknown`,
    );
  }
  warnings.push(...fit.warnings);
  return { family, fit, warnings };
}
