/**
 * Reading a LoRA file into the normalised form: header -> format -> family ->
 * modules with rank, alpha and scale. Reads the header and the scalar `.alpha`
 * tensors only (a few bytes each), never the factors.
 *
 * Alpha per module: the `.alpha` tensor; else the metadata (`ss_network_alpha`, or
 * `conv_alpha` from `ss_network_args` for k×k convs, for kohya files; the PEFT
 * config for PEFT/diffusers files); else alpha = rank. Scale = alpha / rank (1 for
 * modules without a rank).
 *
 * @example
 *   const lora = await readLora('corgi.safetensors', { families: ['sdxl'] });
 *   lora.baseModel;         // 'sdxl'
 *   lora.modules.length;    // 722
 */
import { open } from 'node:fs/promises';
import { ZipbankError } from '../../errors/index.ts';
import { toFloat32 } from '../weights/dtype.ts';
import { readSafetensorsHeader, type ReadHeaderOptions, type SafetensorsHeader } from '../weights/safetensors.ts';
import { detectFamily, parseFormat, type DetectOptions, type ParsedLora } from './detect.ts';
import { peftAlpha } from './formats/peft.ts';
import { summarizeMetadata, type LoraMetadataSummary } from './metadata.ts';
import type { LoraFile, LoraModule, RawModule } from './types.ts';

export interface ReadLoraOptions extends Omit<DetectOptions, 'claimed'> {
  /** Name used in messages (defaults to the file's base name). */
  displayName?: string;
}

const FAMILY_NAMES = { sd15: 'SD 1.5', sd2: 'SD 2.x', sdxl: 'SDXL', world: 'the world model', other: 'a non-SD model' } as const;

/** Read the scalar alpha tensors of the given modules (one small read each). */
export async function readAlphas(header: SafetensorsHeader, raws: readonly RawModule[]): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  const refs = raws.flatMap((r) => (r.alpha ? [r.alpha] : []));
  if (refs.length === 0) return out;
  const fh = await open(header.path, 'r');
  try {
    for (const a of refs) {
      const info = header.byName.get(a.name)!;
      if (a.shape.reduce((x, n) => x * n, 1) !== 1) {
        throw new ZipbankError('lora.bad-tensor', { file: header.file, tensor: a.name, reason: `has shape [${a.shape.join(', ')}]; an alpha is a single number` });
      }
      const buf = Buffer.alloc(info.end - info.begin);
      await fh.read(buf, 0, buf.length, info.begin);
      const v = toFloat32(buf, a.dtype)[0]!;
      if (!Number.isFinite(v) || v < 0) throw new ZipbankError('lora.bad-tensor', { file: header.file, tensor: a.name, reason: `holds alpha ${v}` });
      out.set(a.name, v);
    }
  } finally {
    await fh.close();
  }
  return out;
}

function metadataAlpha(raw: RawModule, kernel: number, summary: LoraMetadataSummary, metadata: Record<string, string>, path: string): number | undefined {
  if (raw.ref.by === 'kohya') {
    const conv = Number(summary.networkArgs?.['conv_alpha']);
    if (kernel > 1 && Number.isFinite(conv) && conv > 0) return conv;
    return summary.networkAlpha !== undefined && summary.networkAlpha > 0 ? summary.networkAlpha : undefined;
  }
  if (raw.ref.by === 'path') return peftAlpha(metadata, raw.component, path);
  return undefined;
}

/** Build the normalised LoRA from a validated header and its alpha values. Header-only apart from `alphas`. */
export function buildLora(
  header: SafetensorsHeader,
  alphas: ReadonlyMap<string, number>,
  opts: ReadLoraOptions = {},
  parsed: ParsedLora = parseFormat(header.file, header.tensors, header.metadata),
): LoraFile {
  const file = header.file;
  const { summary, warnings: mdWarnings } = summarizeMetadata(header.metadata);
  const choice = detectFamily(file, parsed.modules, header.metadata, { ...opts, ...(summary.claimedFamily ? { claimed: summary.claimedFamily } : {}) });
  const warnings = [...parsed.warnings, ...choice.warnings, ...mdWarnings];
  const { fit } = choice;
  const modules: LoraModule[] = parsed.modules.map((raw) => {
    const target = fit.targets.get(raw)!;
    const shape = fit.shapes.get(raw)!;
    const base = fit.bases.get(raw)!;
    const rank = shape.rank;
    const kernel = base.kernel[0] * base.kernel[1];
    const alpha =
      (raw.alpha ? alphas.get(raw.alpha.name) : undefined) ??
      metadataAlpha(raw, kernel, summary, header.metadata, target.slice(raw.component.length + 1)) ??
      rank;
    const f = raw.factors;
    return {
      target,
      component: raw.component,
      kind: f.algo === 'lora' ? 'lora' : 'full',
      algo: f.algo,
      rank,
      alpha,
      scale: rank > 0 ? alpha / rank : 1,
      ...(f.algo === 'lora' ? { down: f.down, up: f.up, ...(f.mid ? { mid: f.mid } : {}) } : {}),
      factors: f,
      base,
      key: raw.key,
    };
  });
  const detected = choice.family;
  if (summary.claimedFamily && detected !== 'unknown' && summary.claimedFamily !== detected) {
    warnings.unshift(
      `the metadata says ${FAMILY_NAMES[summary.claimedFamily]} (${summary.baseModelClaim}) but the tensors are ${FAMILY_NAMES[detected]}; using ${FAMILY_NAMES[detected]}`,
    );
  }
  if (parsed.ignored.length) {
    warnings.push(`ignored ${parsed.ignored.length} tensor(s) that are not LoRA factors (e.g. "${parsed.ignored[0]}")`);
  }
  for (const t of parsed.textualInversion) {
    const width = t.tensor.shape[t.tensor.shape.length - 1];
    const te = modules.find((m) => m.component === 'text_encoder')?.base.inFeatures;
    if (te !== undefined && width !== te) warnings.push(`embedding ${t.token} has width ${width}, the text encoder ${te}`);
  }
  return {
    file,
    path: header.path,
    sizeBytes: header.size,
    tensorCount: header.tensors.length,
    format: parsed.format,
    baseModel: detected,
    modules,
    dtypes: [...new Set(header.tensors.map((t) => t.dtype))].sort(),
    metadata: header.metadata,
    summary,
    textualInversion: parsed.textualInversion,
    warnings,
  };
}

/** Read, validate and normalise a LoRA file (header and alpha scalars only). */
export async function readLora(path: string, opts: ReadLoraOptions = {}): Promise<LoraFile> {
  const headerOpts: ReadHeaderOptions = opts.displayName ? { displayName: opts.displayName } : {};
  const header = await readSafetensorsHeader(path, headerOpts);
  const parsed = parseFormat(header.file, header.tensors, header.metadata);
  const alphas = await readAlphas(header, parsed.modules);
  return buildLora(header, alphas, opts, parsed);
}
