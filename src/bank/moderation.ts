/**
 * Ratings, reports and removal. Removal is allowed to the uploader, a moderator of
 * the community the LoRA was uploaded from (by role id, from the community's
 * settings), or a configured admin. Removed entries leave search but keep their
 * row and file, so existing zips and renders stay explainable.
 */
import { and, eq, sql } from 'drizzle-orm';
import { ZipbankError } from '../errors/index.ts';
import { communities, loras, ratings, reports, type Lora } from './schema.ts';
import type { Database } from './db.ts';
import { actorKey, type Actor } from './actor.ts';

export const REPORT_REASONS = ['nsfw-unmarked', 'copyright', 'broken', 'spam', 'impersonation', 'other'] as const;
export type ReportReason = (typeof REPORT_REASONS)[number];

export function isUploader(lora: Pick<Lora, 'uploaderPlatform' | 'uploaderId'>, actor: Actor): boolean {
  return lora.uploaderPlatform === actor.platform && lora.uploaderId === actor.userId;
}

export async function isModerator(db: Database, lora: Pick<Lora, 'communityId'>, actor: Actor, admins: string[]): Promise<boolean> {
  if (admins.includes(actorKey(actor))) return true;
  if (!lora.communityId || actor.communityId !== lora.communityId || !actor.roleIds?.length) return false;
  const [c] = await db
    .select({ roles: communities.moderatorRoleIds })
    .from(communities)
    .where(eq(communities.id, lora.communityId));
  return !!c && c.roles.some((r) => actor.roleIds!.includes(r));
}

export interface RatingResult {
  stars: number;
  ratingCount: number;
  ratingMean: number;
}

/** One rating per user per LoRA (a second rating replaces the first); the aggregate is updated in the same transaction. */
export async function rateLora(db: Database, lora: Lora, actor: Actor, stars: number): Promise<RatingResult> {
  if (!Number.isInteger(stars) || stars < 1 || stars > 5) throw new ZipbankError('bank.invalid-rating', { stars });
  if (isUploader(lora, actor)) throw new ZipbankError('bank.own-rating', { name: lora.name });
  return db.transaction(async (tx) => {
    await tx
      .insert(ratings)
      .values({ loraId: lora.id, platform: actor.platform, userId: actor.userId, stars })
      .onConflictDoUpdate({
        target: [ratings.loraId, ratings.platform, ratings.userId],
        set: { stars, updatedAt: sql`now()` },
      });
    const [agg] = await tx
      .update(loras)
      .set({
        ratingCount: sql`(select count(*) from ${ratings} where ${ratings.loraId} = ${lora.id})::int`,
        ratingMean: sql`coalesce((select avg(${ratings.stars}) from ${ratings} where ${ratings.loraId} = ${lora.id}), 0)::float8`,
        updatedAt: sql`now()`,
      })
      .where(eq(loras.id, lora.id))
      .returning({ ratingCount: loras.ratingCount, ratingMean: loras.ratingMean });
    return { stars, ratingCount: agg!.ratingCount, ratingMean: agg!.ratingMean };
  });
}

export async function reportLora(db: Database, lora: Lora, actor: Actor, reason: string, details = ''): Promise<{ id: string; openReports: number }> {
  if (!(REPORT_REASONS as readonly string[]).includes(reason)) {
    throw new ZipbankError('bank.invalid-report', { reason, allowed: REPORT_REASONS.join(', ') });
  }
  const [row] = await db
    .insert(reports)
    .values({ loraId: lora.id, reporterPlatform: actor.platform, reporterId: actor.userId, reason, details: details.slice(0, 2000) })
    .returning({ id: reports.id });
  const [count] = await db
    .select({ n: sql<number>`count(*)::int` })
    .from(reports)
    .where(and(eq(reports.loraId, lora.id), eq(reports.status, 'open')));
  return { id: row!.id, openReports: count!.n };
}

export async function removeLora(db: Database, lora: Lora, actor: Actor, admins: string[], reason: string): Promise<Lora> {
  if (!isUploader(lora, actor) && !(await isModerator(db, lora, actor, admins))) {
    throw new ZipbankError('bank.forbidden', { action: 'remove', name: lora.name });
  }
  return db.transaction(async (tx) => {
    const [row] = await tx
      .update(loras)
      .set({ status: 'removed', statusReason: `${actorKey(actor)}: ${reason}`.slice(0, 500), updatedAt: sql`now()` })
      .where(eq(loras.id, lora.id))
      .returning();
    await tx
      .update(reports)
      .set({ status: 'resolved', resolvedBy: actorKey(actor), resolvedAt: sql`now()` })
      .where(and(eq(reports.loraId, lora.id), eq(reports.status, 'open')));
    return row!;
  });
}

/** Count a use (a render with this LoRA): drives the "popular" sort. */
export async function recordUse(db: Database, ids: string[]): Promise<void> {
  for (const id of ids) {
    await db.update(loras).set({ usesCount: sql`${loras.usesCount} + 1` }).where(eq(loras.id, id));
  }
}
