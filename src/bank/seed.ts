/**
 * Seeding a bank from a folder of LoRAs with a `manifest.json` (the bundled world
 * model's `models/world/loras`): every entry is registered with its name, kind,
 * instance prompt, trigger words and reference images, as if uploaded by `zipbank`.
 * It runs once per manifest version: the manifest's hash is kept in `bot_state`, so
 * a LoRA an admin removed is not brought back on the next start. A new manifest adds
 * the names the bank does not have, and replaces the seeded LoRAs whose file changed
 * (retrained for a retrained base model): the old entry is marked removed, so renders
 * that used it keep their history. Entries users uploaded under a seeded name, and
 * seeded entries a moderator removed, are left alone.
 *
 * @example
 *   const r = await seedBank(bank, 'models/world/loras');
 *   r.added; // ['corgi', 'tabby', ...] on the first start, [] afterwards
 */
import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { and, eq, sql } from 'drizzle-orm';
import { isZipbankError, ZipbankError } from '../errors/index.ts';
import { actorKey, type Actor } from './actor.ts';
import type { Bank } from './index.ts';
import { loras } from './schema.ts';

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
  /** Names whose seeded LoRA was replaced by the manifest's newer file. */
  updated: string[];
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
  if (!opts.force && (await bank.botState.get<string>(key)) === hash) return { added: [], updated: [], present: [], alreadySeeded: true };
  let entries: ManifestEntry[];
  try {
    entries = (JSON.parse(raw) as { loras: ManifestEntry[] }).loras;
    if (!Array.isArray(entries)) throw new Error('"loras" is not a list');
  } catch (e) {
    throw new ZipbankError('bank.seed-invalid', { path: manifestPath, reason: e instanceof Error ? e.message : String(e) });
  }
  const added: string[] = [];
  const updated: string[] = [];
  const present: string[] = [];
  const seedKey = actorKey(SEED_ACTOR);
  for (const e of entries) {
    const file = join(dir, e.file);
    await stat(file).catch((err: unknown) => {
      throw new ZipbankError('bank.seed-missing', { path: file }, { cause: err });
    });
    const live = await bank.find(e.name);
    let replacing: typeof live;
    if (live) {
      const seeded = live.uploaderPlatform === SEED_ACTOR.platform && live.uploaderId === SEED_ACTOR.userId;
      if (!seeded || live.fileSha256 === createHash('sha256').update(await readFile(file)).digest('hex')) {
        present.push(e.name);
        continue;
      }
      replacing = live;
    } else if (await removedByOthers(bank, e.name, seedKey)) {
      present.push(e.name);
      opts.log?.(`not seeding "${e.name}": a moderator removed it`);
      continue;
    }
    if (replacing) await bank.remove(e.name, SEED_ACTOR, 'replaced by a newer seeded version');
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
      // The old version comes back rather than leaving the name empty.
      if (replacing) await restore(bank, replacing.id, e.name, opts.log);
      // Removed by a moderator (same tensors), or the name taken meanwhile: leave it so.
      if (isZipbankError(err) && (err.code === 'bank.duplicate-removed' || err.code === 'bank.name-taken')) {
        present.push(e.name);
        opts.log?.(`not seeding "${e.name}": ${err.message}`);
        continue;
      }
      throw err;
    }
    // The same tensors under another name: the bank keeps the first entry (and a replaced seeded entry comes back).
    if (r.duplicate && replacing) await restore(bank, replacing.id, e.name, opts.log);
    if (r.duplicate) present.push(e.name);
    else (replacing ? updated : added).push(e.name);
    opts.log?.(`${replacing ? 'updated' : 'seeded'} ${e.kind} "${e.name}"${r.duplicate ? ` (already in the bank as "${r.lora.name}")` : ''}`);
  }
  await bank.botState.set(key, hash);
  return { added, updated, present, alreadySeeded: false };
}

/** True when a seeded entry with this name was removed by someone other than the seeding itself. */
async function removedByOthers(bank: Bank, name: string, seedKey: string): Promise<boolean> {
  const rows = await bank.db
    .select({ reason: loras.statusReason })
    .from(loras)
    .where(and(eq(loras.name, name), eq(loras.status, 'removed'), eq(loras.uploaderPlatform, SEED_ACTOR.platform), eq(loras.uploaderId, SEED_ACTOR.userId)));
  return rows.some((r) => !(r.reason ?? '').startsWith(`${seedKey}:`));
}

async function restore(bank: Bank, id: string, name: string, log?: (line: string) => void): Promise<void> {
  await bank.db
    .update(loras)
    .set({ status: 'active', statusReason: null, updatedAt: sql`now()` })
    .where(eq(loras.id, id))
    .catch((err: unknown) => log?.(`could not restore the previous "${name}": ${err instanceof Error ? err.message : String(err)}`));
}
