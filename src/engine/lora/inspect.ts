/**
 * A compact, JSON-ready description of a LoRA file for the bank's upload and the
 * CLI: format, base model, adapted modules per component, ranks, alphas, dtypes and
 * a metadata summary. Header-only (plus the alpha scalars), so it is fast on large files.
 *
 * @example
 *   const info = await inspectLora('/tmp/upload.safetensors', { displayName: 'corgi.safetensors' });
 *   info.format;              // 'kohya'
 *   info.modules;             // { unet: 192, textEncoder: 72, textEncoder2: 0, total: 264 }
 *   info.metadata.triggerWords;
 */
import type { BaseFamily, ModuleShape } from '../models/modules.ts';
import type { LoraMetadataSummary } from './metadata.ts';
import { readLora } from './read.ts';
import type { Algo, LoraFile, LoraFormat } from './types.ts';

export interface LoraInspection {
  file: string;
  format: LoraFormat;
  baseModel: BaseFamily | 'unknown';
  modules: { unet: number; textEncoder: number; textEncoder2: number; total: number };
  /** Module count per algorithm (lora, loha, lokr, full). */
  algos: Partial<Record<Algo, number>>;
  /** Distinct ranks, ascending (0 = a module without a low-rank factor). */
  ranks: number[];
  /** Distinct alphas, ascending. */
  alphas: number[];
  dtypes: string[];
  sizeBytes: number;
  tensorCount: number;
  /** The metadata summary's fields that describe a LoRA to a user (see LoraMetadataSummary). */
  metadata: Pick<LoraMetadataSummary, (typeof DESCRIBED_METADATA)[number] | 'triggerWords' | 'tags' | 'hasThumbnail'>;
  warnings: string[];
  textualInversionTokens?: string[];
}

export interface InspectOptions {
  /** Name used in messages (e.g. the uploaded file's name). */
  displayName?: string;
  /** Families the caller serves; a LoRA for another one is refused. */
  families?: BaseFamily[];
  /** Module tables to use instead of the presets. */
  tables?: Partial<Record<BaseFamily, Map<string, ModuleShape>>>;
}

/** The optional metadata fields an inspection reports when present. */
const DESCRIBED_METADATA = ['title', 'author', 'description', 'license', 'baseModelClaim', 'networkModule', 'networkDim', 'networkAlpha', 'resolution', 'outputName'] as const;

const distinct = (xs: number[]) => [...new Set(xs)].sort((a, b) => a - b);

/** Describe an already-read LoRA. */
export function describeLora(lora: LoraFile): LoraInspection {
  const count = (c: string) => lora.modules.filter((m) => m.component === c).length;
  const algos: Partial<Record<Algo, number>> = {};
  for (const m of lora.modules) algos[m.algo] = (algos[m.algo] ?? 0) + 1;
  const s = lora.summary;
  const metadata: LoraInspection['metadata'] = { triggerWords: s.triggerWords, tags: s.tags, hasThumbnail: s.hasThumbnail };
  for (const k of DESCRIBED_METADATA) {
    if (s[k] !== undefined) (metadata as Record<string, unknown>)[k] = s[k];
  }
  return {
    file: lora.file,
    format: lora.format,
    baseModel: lora.baseModel,
    modules: { unet: count('unet'), textEncoder: count('text_encoder'), textEncoder2: count('text_encoder_2'), total: lora.modules.length },
    algos,
    ranks: distinct(lora.modules.map((m) => m.rank)),
    alphas: distinct(lora.modules.map((m) => m.alpha)),
    dtypes: lora.dtypes,
    sizeBytes: lora.sizeBytes,
    tensorCount: lora.tensorCount,
    metadata,
    warnings: lora.warnings,
    ...(lora.textualInversion.length ? { textualInversionTokens: lora.textualInversion.map((t) => t.token) } : {}),
  };
}

/** Read and describe a LoRA file; throws a coded error for files zipbank refuses. */
export async function inspectLora(path: string, opts: InspectOptions = {}): Promise<LoraInspection> {
  return describeLora(await readLora(path, opts));
}
