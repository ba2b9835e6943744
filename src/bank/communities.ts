/**
 * Community settings (a Discord guild, a Slack workspace, the local web channel) as
 * the bot reads them, and the preview images of LoRAs for chat cards.
 *
 * @example
 *   const c = await getCommunity(bank.db, 'discord:1234'); // undefined: no row, defaults apply
 *   const previews = await previewImages(bank.db, [lora.id], 2); // Map lora id -> storage keys
 */
import { asc, eq, inArray, and, lt } from 'drizzle-orm';
import type { Database } from './db.ts';
import { communities, loraImages, type Community } from './schema.ts';

export async function getCommunity(db: Database, id: string): Promise<Community | undefined> {
  const [row] = await db.select().from(communities).where(eq(communities.id, id));
  return row;
}

/** The first `perLora` reference images of each LoRA (by position), as storage keys. */
export async function previewImages(db: Database, loraIds: readonly string[], perLora = 4): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  if (loraIds.length === 0) return out;
  const rows = await db
    .select({ loraId: loraImages.loraId, key: loraImages.storageKey })
    .from(loraImages)
    .where(and(inArray(loraImages.loraId, [...loraIds]), lt(loraImages.position, perLora)))
    .orderBy(asc(loraImages.loraId), asc(loraImages.position));
  for (const r of rows) {
    const list = out.get(r.loraId) ?? [];
    list.push(r.key);
    out.set(r.loraId, list);
  }
  return out;
}
