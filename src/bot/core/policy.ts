/**
 * A community's rules for renders: quotas (per user and per community: jobs queued
 * or running, jobs per hour), the prompt filter list, NSFW gating, and who counts
 * as a moderator. Defaults are `DEFAULT_LIMITS`; a community's row overrides the
 * per-user numbers (`max_concurrent_jobs_per_user`, `jobs_per_hour_per_user`).
 * Every check throws a `CoreRefusal` that the user reads in private.
 *
 * @example
 *   const limits = effectiveLimits(DEFAULT_LIMITS, community);
 *   checkQuota(counts, limits, new Date());
 *   checkPrompt('a corgi surfing', community?.promptFilter ?? []);
 */
import type { RenderQuota } from '../../bank/renders.ts';
import type { Community, Lora } from '../../bank/schema.ts';
import { CoreRefusal } from './messages.ts';
import type { InteractionContext } from './types.ts';

export interface Limits {
  /** Renders one user may have queued or running at once (the queue also runs at most this many of theirs at a time). */
  concurrentPerUser: number;
  jobsPerHourPerUser: number;
  /** Renders queued or running in one community. */
  concurrentPerCommunity: number;
  jobsPerHourPerCommunity: number;
}

export const DEFAULT_LIMITS = {
  concurrentPerUser: 2,
  jobsPerHourPerUser: 30,
  concurrentPerCommunity: 20,
  jobsPerHourPerCommunity: 300,
} satisfies Required<Limits>;

/** The bot's limits with the community row's per-user settings on top. */
export function effectiveLimits(base: Limits, community?: Pick<Community, 'maxConcurrentJobsPerUser' | 'jobsPerHourPerUser'>): Limits {
  if (!community) return base;
  return { ...base, concurrentPerUser: community.maxConcurrentJobsPerUser, jobsPerHourPerUser: community.jobsPerHourPerUser };
}

export function checkQuota(c: RenderQuota, limits: Limits, now: Date): void {
  if (c.userInFlight >= limits.concurrentPerUser) throw new CoreRefusal('quota.user-concurrent', { limit: limits.concurrentPerUser });
  if (c.userLastHour >= limits.jobsPerHourPerUser) {
    const frees = c.userOldestInHour ? c.userOldestInHour.getTime() + 3_600_000 - now.getTime() : 3_600_000;
    throw new CoreRefusal('quota.user-hourly', { limit: limits.jobsPerHourPerUser, minutes: Math.max(1, Math.ceil(frees / 60_000)) });
  }
  if (c.communityInFlight >= limits.concurrentPerCommunity) throw new CoreRefusal('quota.community-concurrent', { limit: limits.concurrentPerCommunity });
  if (c.communityLastHour >= limits.jobsPerHourPerCommunity) throw new CoreRefusal('quota.community-hourly', { limit: limits.jobsPerHourPerCommunity });
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * The first filter entry the prompt contains, or undefined. Entries are words or
 * phrases matched case-insensitively on word boundaries; a trailing `*` also
 * matches longer words that start with the entry (`gore*`: gore, gores, gorefest).
 */
export function filteredTerm(prompt: string, filter: readonly string[]): string | undefined {
  const text = prompt.normalize('NFKC').toLowerCase();
  for (const raw of filter) {
    const entry = raw.normalize('NFKC').trim().toLowerCase();
    if (!entry) continue;
    const prefix = entry.endsWith('*');
    const body = (prefix ? entry.slice(0, -1) : entry).trim();
    if (!body) continue;
    const pattern = body.split(/\s+/).map(escape).join('\\s+');
    const re = new RegExp(`(?<![\\p{L}\\p{N}])${pattern}${prefix ? '[\\p{L}\\p{N}]*' : '(?![\\p{L}\\p{N}])'}`, 'u');
    if (re.test(text)) return body;
  }
  return undefined;
}

export function checkPrompt(prompt: string, filter: readonly string[]): void {
  const term = filteredTerm(prompt, filter);
  if (term) throw new CoreRefusal('zip.prompt-filtered', { term });
}

/** NSFW LoRAs are refused unless the community allows them (direct messages: never). */
export function checkNsfw(loras: readonly Pick<Lora, 'name' | 'nsfw'>[], community?: Pick<Community, 'nsfwAllowed'>): void {
  const flagged = loras.filter((l) => l.nsfw).map((l) => l.name);
  if (flagged.length > 0 && !community?.nsfwAllowed) throw new CoreRefusal('zip.nsfw', { names: flagged });
}

/**
 * Moderator of the community `target` (where the render or entry belongs): a bank
 * admin anywhere, else, acting from inside that community, a user the platform
 * marks as moderator or who holds one of the community's moderator roles.
 */
export function isModeratorOf(
  ix: InteractionContext,
  target: string | null | undefined,
  community: Pick<Community, 'moderatorRoleIds'> | undefined,
  admins: readonly string[],
): boolean {
  if (admins.includes(`${ix.user.platform}:${ix.user.id}`)) return true;
  if (!target || ix.communityId !== target) return false;
  if (ix.user.isModerator) return true;
  const roles = ix.user.roleIds ?? [];
  return !!community && community.moderatorRoleIds.some((r) => roles.includes(r));
}
