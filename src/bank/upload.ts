/**
 * Adding a LoRA to the bank: validate the file (safetensors structure, LoRA format,
 * base model from the tensors), deduplicate on the tensor-data hash, store the file
 * and reference images content-addressed, and insert the rows in one transaction.
 * A failure anywhere leaves neither rows nor newly stored files behind.
 */
import { stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { eq, or } from 'drizzle-orm';
import { hashSafetensors, readSafetensorsHeader } from '../engine/weights/safetensors.ts';
import { inspectLora, type LoraInspection } from '../engine/lora/index.ts';
import { normalizeImage } from '../engine/image/index.ts';
import { ZipbankError } from '../errors/index.ts';
import { loraImages, loras, type Lora, type LoraImage, type NewLora } from './schema.ts';
import type { Database } from './db.ts';
import type { FileStore } from './storage.ts';
import type { Actor } from './actor.ts';
import { uniqueViolation } from './errors.ts';
import type { BankFamily } from '../config.ts';

export const NAME_RE = /^[a-z0-9][a-z0-9_-]{1,31}$/;
export const MAX_REFERENCE_IMAGES = 10;
const FAMILY_LABEL: Record<string, string> = { sd15: 'SD 1.x', sd2: 'SD 2.x', sdxl: 'SDXL', unknown: 'unknown' };

export type LoraKind = 'subject' | 'style' | 'other';

export interface LicenseInput {
  name?: string;
  allowNoCredit?: boolean;
  allowCommercialUse?: 'none' | 'image' | 'rent' | 'sell';
  allowDerivatives?: boolean;
}

export interface AddLoraInput {
  /** Path of the uploaded file (a temporary file is fine: it is copied). */
  file: string;
  /** The name the user gave the file, for messages. */
  fileName?: string;
  name: string;
  kind: LoraKind;
  displayName?: string;
  description?: string;
  tags?: string[];
  instancePrompt?: string;
  triggerWords?: string[];
  nsfw?: boolean;
  license?: LicenseInput;
  visibility?: 'public' | 'community';
  uploader: Actor;
  /** Reference images (the subject's training photos, the style image) with their prompts. */
  images?: { file: string; prompt?: string; fileName?: string }[];
}

export interface AddLoraResult {
  lora: Lora;
  images: LoraImage[];
  /** True when the same tensors were already in the bank: the existing entry is returned unchanged. */
  duplicate: boolean;
  inspection: LoraInspection;
}

export interface UploadContext {
  db: Database;
  store: FileStore;
  families: BankFamily[];
  maxUploadBytes: number;
}

export function validateName(name: string): void {
  if (!NAME_RE.test(name)) throw new ZipbankError('bank.invalid-name', { name });
}

export function normalizeTags(tags: string[] | undefined): string[] {
  const out = new Set<string>();
  for (const t of tags ?? []) {
    const v = t.trim().toLowerCase().replace(/\s+/g, '-');
    if (!v) continue;
    if (v.length > 32) throw new ZipbankError('bank.invalid-tag', { tag: t });
    out.add(v);
  }
  if (out.size > 20) throw new ZipbankError('bank.too-many', { what: 'tags', count: out.size, limit: 20 });
  return [...out];
}

export async function addLora(ctx: UploadContext, input: AddLoraInput): Promise<AddLoraResult> {
  const fileName = input.fileName ?? basename(input.file);
  validateName(input.name);
  if (!['subject', 'style', 'other'].includes(input.kind)) throw new ZipbankError('bank.invalid-kind', { kind: String(input.kind) });
  const tags = normalizeTags(input.tags);
  const images = input.images ?? [];
  if (images.length > MAX_REFERENCE_IMAGES) {
    throw new ZipbankError('bank.too-many', { what: 'reference images', count: images.length, limit: MAX_REFERENCE_IMAGES });
  }
  if (input.visibility === 'community' && !input.uploader.communityId) {
    throw new ZipbankError('bank.community-required', {});
  }

  let size: number;
  try {
    size = (await stat(input.file)).size;
  } catch (e) {
    throw new ZipbankError('safetensors.io', { file: fileName, reason: (e as NodeJS.ErrnoException).code ?? String(e) }, { cause: e });
  }
  if (size > ctx.maxUploadBytes) throw new ZipbankError('bank.file-too-large', { file: fileName, size, limit: ctx.maxUploadBytes });

  // 1. Structure, then format and base model from the tensors (never from metadata alone).
  const header = await readSafetensorsHeader(input.file, { displayName: fileName });
  const inspection = await inspectLora(input.file, { displayName: fileName });
  if (inspection.baseModel === 'unknown' || !ctx.families.includes(inspection.baseModel as BankFamily)) {
    throw new ZipbankError('bank.family-not-served', {
      file: fileName,
      family: FAMILY_LABEL[inspection.baseModel] ?? inspection.baseModel,
      served: ctx.families.map((f) => FAMILY_LABEL[f] ?? f).join(', '),
    });
  }

  // 2. Dedup on the tensor data; the name must be free.
  const hashes = await hashSafetensors(header);
  const existing = await ctx.db
    .select()
    .from(loras)
    .where(or(eq(loras.tensorSha256, hashes.tensorSha256), eq(loras.name, input.name)));
  const same = existing.find((r) => r.tensorSha256 === hashes.tensorSha256);
  if (same) {
    if (same.status === 'removed') throw new ZipbankError('bank.duplicate-removed', { name: same.name });
    const imgs = await ctx.db.select().from(loraImages).where(eq(loraImages.loraId, same.id)).orderBy(loraImages.position);
    return { lora: same, images: imgs, duplicate: true, inspection };
  }
  if (existing.some((r) => r.name === input.name && r.status !== 'removed')) {
    throw new ZipbankError('bank.name-taken', { name: input.name });
  }

  // 3. Validate the images before storing anything.
  const normalized: (Awaited<ReturnType<typeof normalizeImage>> & { prompt: string | null; position: number })[] = [];
  for (const [i, img] of images.entries()) {
    const n = await normalizeImage(img.file, { displayName: img.fileName ?? basename(img.file), maxBytes: 20 << 20 });
    normalized.push({ ...n, prompt: img.prompt ?? input.instancePrompt ?? null, position: i });
  }

  // 4. Store files, then insert rows in one transaction; undo new files on failure.
  const created: string[] = [];
  try {
    const put = await ctx.store.putFile(input.file, 'loras', 'safetensors', hashes.sha256);
    if (put.created) created.push(put.key);
    const imageKeys: string[] = [];
    for (const n of normalized) {
      const p = await ctx.store.putBuffer(n.png, 'images', 'png');
      if (p.created) created.push(p.key);
      imageKeys.push(p.key);
    }
    const meta = inspection.metadata;
    const triggerWords = dedupe(input.triggerWords ?? meta.triggerWords ?? []);
    const row: NewLora = {
      name: input.name,
      displayName: (input.displayName ?? meta.title ?? meta.outputName ?? input.name).slice(0, 100),
      kind: input.kind,
      baseModel: inspection.baseModel as BankFamily,
      format: inspection.format,
      ranks: inspection.ranks,
      alphas: inspection.alphas,
      moduleCount: inspection.modules.total,
      unetModules: inspection.modules.unet,
      textEncoderModules: inspection.modules.textEncoder + inspection.modules.textEncoder2,
      instancePrompt: input.instancePrompt ?? null,
      triggerWords,
      description: input.description ?? meta.description ?? '',
      tags: tags.length ? tags : normalizeTags(meta.tags ?? []).slice(0, 20),
      licenseName: input.license?.name ?? meta.license ?? null,
      allowNoCredit: input.license?.allowNoCredit ?? true,
      allowCommercialUse: input.license?.allowCommercialUse ?? 'sell',
      allowDerivatives: input.license?.allowDerivatives ?? true,
      nsfw: input.nsfw ?? false,
      uploaderPlatform: input.uploader.platform,
      uploaderId: input.uploader.userId,
      uploaderName: input.uploader.displayName ?? null,
      visibility: input.visibility ?? 'public',
      communityId: input.uploader.communityId ?? null,
      fileSha256: hashes.sha256,
      tensorSha256: hashes.tensorSha256,
      sizeBytes: size,
      storageKey: put.key,
      metadata: header.metadata,
      warnings: inspection.warnings,
      keywords: keywordsOf(tags, triggerWords, input.instancePrompt),
    };
    const result = await ctx.db.transaction(async (tx) => {
      const [lora] = await tx.insert(loras).values(row).returning();
      const imgs = normalized.length
        ? await tx
            .insert(loraImages)
            .values(
              normalized.map((n, i) => ({
                loraId: lora!.id,
                position: n.position,
                storageKey: imageKeys[i]!,
                prompt: n.prompt,
                width: n.width,
                height: n.height,
                source: 'upload',
              })),
            )
            .returning()
        : [];
      return { lora: lora!, images: imgs };
    });
    return { ...result, duplicate: false, inspection };
  } catch (e) {
    await Promise.all(created.map((k) => ctx.store.delete(k).catch(() => {})));
    const constraint = uniqueViolation(e);
    if (constraint === 'loras_name_live_uq') throw new ZipbankError('bank.name-taken', { name: input.name }, { cause: e });
    if (constraint === 'loras_tensor_sha256_uq') {
      // A concurrent upload of the same tensors won the race: return that entry.
      const [lora] = await ctx.db.select().from(loras).where(eq(loras.tensorSha256, hashes.tensorSha256));
      if (lora && lora.status !== 'removed') {
        const imgs = await ctx.db.select().from(loraImages).where(eq(loraImages.loraId, lora.id));
        return { lora, images: imgs, duplicate: true, inspection };
      }
    }
    throw e;
  }
}

function dedupe(xs: string[]): string[] {
  return [...new Set(xs.map((x) => x.trim()).filter(Boolean))].slice(0, 20);
}

export function keywordsOf(tags: string[], triggerWords: string[], instancePrompt?: string | null): string {
  return [...tags.map((t) => t.replace(/-/g, ' ')), ...triggerWords, instancePrompt ?? ''].join(' ').trim();
}
