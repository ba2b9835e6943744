/**
 * Seeding a bank from a folder of LoRAs with a `manifest.json` (the bundled world
 * model's `models/world/loras`): every entry is registered with its name, kind,
 * instance prompt, trigger words and reference images, as if uploaded by `zipbank`.
 * It runs once per manifest version: the manifest's hash is kept in `bot_state`, so
 * a LoRA an admin removed is not brought back on the next start, and a new manifest
 * adds only the names the bank does not have.
 *
 * @example
 *   const r = await seedBank(bank, 'models/world/loras');
 *   r.added; // ['corgi', 'tabby', ...] on the first start, [] afterwards
 */
import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { isZipbankError, ZipbankError } from '../errors/index.ts';
import type { Actor } from './actor.ts';
import type { Bank } from './index.ts';

/** Who the seeded LoRAs are uploaded by. */
export const SEED_ACTOR: Actor = { platform: 'zipbank', userId: 'seed', displayName: 'zipbank' };

interface ManifestEntry {
  name: string;
  kind: 'subject' | 'style';
  displayName?: string;
  description?: string;
  tags?: string[];
  instancePrompt?: string;
  triggerWords?: string[];
  file: string;
  references?: { file: string; prompt?: string }[];
}

export interface SeedResult {
  /** Names registered now. */
  added: string[];
  /** Names the bank already had (left as they are). */
  present: string[];
  /** True when this manifest version was seeded before (nothing was read). */
  alreadySeeded: boolean;
}

/** Register the manifest's LoRAs the bank lacks, once per manifest version. */
export async function seedBank(bank: Bank, dir: string, opts: { force?: boolean; log?: (line: string) => void } = {}): Promise<SeedResult> {
  const manifestPath = join(dir, 'manifest.json');
  let raw: string;
  try {
    raw = await readFile(manifestPath, 'utf8');
  } catch (e) {
    throw new ZipbankError('bank.seed-missing', { path: manifestPath }, { cause: e });
  }
  const hash = createHash('sha256').update(raw).digest('hex');
  const key = `seeded:${resolve(dir)}`;
  if (!opts.force && (await bank.botState.get<string>(key)) === hash) return { added: [], present: [], alreadySeeded: true };
  let entries: ManifestEntry[];
  try {
    entries = (JSON.parse(raw) as { loras: ManifestEntry[] }).loras;
    if (!Array.isArray(entries)) throw new Error('"loras" is not a list');
  } catch (e) {
    throw new ZipbankError('bank.seed-invalid', { path: manifestPath, reason: e instanceof Error ? e.message : String(e) });
  }
  const added: string[] = [];
  const present: string[] = [];
  for (const e of entries) {
    if (await bank.find(e.name)) {
      present.push(e.name);
      continue;
    }
    const file = join(dir, e.file);
    await stat(file).catch((err: unknown) => {
      throw new ZipbankError('bank.seed-missing', { path: file }, { cause: err });
    });
    let r: Awaited<ReturnType<Bank['add']>>;
    try {
      r = await bank.add({
        file,
        fileName: e.file,
        name: e.name,
        kind: e.kind,
        ...(e.displayName ? { displayName: e.displayName } : {}),
        ...(e.description ? { description: e.description } : {}),
        ...(e.tags ? { tags: e.tags } : {}),
        ...(e.instancePrompt ? { instancePrompt: e.instancePrompt } : {}),
        ...(e.triggerWords ? { triggerWords: e.triggerWords } : {}),
        uploader: SEED_ACTOR,
        images: (e.references ?? []).map((ref) => ({ file: join(dir, ref.file), fileName: ref.file.split('/').pop()!, ...(ref.prompt ? { prompt: ref.prompt } : {}) })),
      });
    } catch (err) {
      // Removed by a moderator (same tensors), or the name taken meanwhile: leave it so.
      if (isZipbankError(err) && (err.code === 'bank.duplicate-removed' || err.code === 'bank.name-taken')) {
        present.push(e.name);
        opts.log?.(`not seeding "${e.name}": ${err.message}`);
        continue;
      }
      throw err;
    }
    // The same tensors under another name: the bank keeps the first entry.
    if (r.duplicate) present.push(e.name);
    else added.push(e.name);
    opts.log?.(`seeded ${e.kind} "${e.name}"${r.duplicate ? ` (already in the bank as "${r.lora.name}")` : ''}`);
  }
  await bank.botState.set(key, hash);
  return { added, present, alreadySeeded: false };
}
