/**
 * Renders as the bot sees them: creating a render together with its job in one
 * transaction (with a quota check under a per-user and per-community lock, so two
 * commands at once cannot both slip under a cap), reading one by id or short id,
 * its lineage (parents and children), and the few writes the bot makes (cancelled
 * while queued, the chat message that shows it). The engine writes the rest.
 *
 * @example
 *   const store = new RenderStore(bank.db);
 *   const { render, job } = await store.create(
 *     { prompt: 'a corgi surfing', seed: 7, steps: 25, guidance: 7.5, width: 512, height: 512, scheduler: 'euler-a',
 *       subjectId, styleId, requesterPlatform: 'discord', requesterId: '42', platform: 'discord' },
 *     { owner: { platform: 'discord', userId: '42' }, check: (c) => { if (c.userInFlight >= 2) throw new Error('busy'); } },
 *   );
 *   const chain = await store.ancestors(render.id); // parent first, root last
 */
import { and, asc, between, desc, eq, inArray, isNotNull, sql } from 'drizzle-orm';
import { queryRows, type Database } from './db.ts';
import { JobQueue, type JobOwner } from './jobs.ts';
import { at } from './jobs-sql.ts';
import { recordUse } from './moderation.ts';
import { renders, zips, type Job, type Render, type Zip } from './schema.ts';

export type NewRender = typeof renders.$inferInsert;

/** What counts against quotas when a render is created (jobs of every kind, per owner and per community). */
export interface RenderQuota {
  /** The owner's jobs queued or running. */
  userInFlight: number;
  /** The owner's jobs created in the hour before now. */
  userLastHour: number;
  /** When the oldest of those was created (the next slot frees an hour after it). */
  userOldestInHour: Date | undefined;
  /** 0 when the owner has no community. */
  communityInFlight: number;
  communityLastHour: number;
}

export interface CreateRenderOptions {
  /** The job's owner; `communityId` also scopes the community counts. */
  owner: JobOwner;
  priority?: number;
  /** Injected clock (tests); else the database's. */
  now?: Date;
  /**
   * Runs inside the transaction after the owner's (and community's) lock is taken,
   * with the current counts. Throw to refuse: nothing is written.
   */
  check?: (counts: RenderQuota) => void | Promise<void>;
}

/** What `find` answers: the render, several renders sharing the short id, or none. */
export type RenderRef = { render: Render } | { ambiguous: number } | { missing: true };

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** A short id is the first 8 or more hex digits of the uuid (dashes optional). */
const SHORT_RE = /^[0-9a-f]{8,32}$/;

export function isUuid(s: string): boolean {
  return UUID_RE.test(s);
}

/** The short id shown in chat: the first 8 hex digits. */
export function shortId(id: string): string {
  return id.replace(/-/g, '').slice(0, 8);
}

function asUuid(hex32: string): string {
  return `${hex32.slice(0, 8)}-${hex32.slice(8, 12)}-${hex32.slice(12, 16)}-${hex32.slice(16, 20)}-${hex32.slice(20)}`;
}

async function lock(db: Database, key: string): Promise<void> {
  await queryRows(db, sql`select pg_advisory_xact_lock(hashtext(${key}))`);
}

async function quotaCounts(db: Database, owner: JobOwner, now?: Date): Promise<RenderQuota> {
  const hourAgo = sql`(${at(now)} - interval '1 hour')`;
  const [u] = await queryRows<{ in_flight: number; last_hour: number; oldest: string | Date | null }>(
    db,
    sql`select count(*) filter (where status in ('queued', 'running'))::int as in_flight,
               count(*) filter (where created_at > ${hourAgo})::int as last_hour,
               min(created_at) filter (where created_at > ${hourAgo}) as oldest
        from jobs
        where owner_platform = ${owner.platform} and owner_id = ${owner.userId}
          and (status in ('queued', 'running') or created_at > ${hourAgo})`,
  );
  let communityInFlight = 0;
  let communityLastHour = 0;
  if (owner.communityId) {
    const [c] = await queryRows<{ in_flight: number; last_hour: number }>(
      db,
      sql`select count(*) filter (where status in ('queued', 'running'))::int as in_flight,
                 count(*) filter (where created_at > ${hourAgo})::int as last_hour
          from jobs
          where community_id = ${owner.communityId} and (status in ('queued', 'running') or created_at > ${hourAgo})`,
    );
    communityInFlight = c?.in_flight ?? 0;
    communityLastHour = c?.last_hour ?? 0;
  }
  return {
    userInFlight: u?.in_flight ?? 0,
    userLastHour: u?.last_hour ?? 0,
    userOldestInHour: u?.oldest ? new Date(u.oldest) : undefined,
    communityInFlight,
    communityLastHour,
  };
}

export class RenderStore {
  constructor(readonly db: Database) {}

  /**
   * The render row (status queued) and its `render` job, in one transaction, after
   * `check` accepted the counts. The two LoRAs' use counts go up in the same
   * transaction. Either everything is written or nothing.
   */
  async create(input: NewRender, o: CreateRenderOptions): Promise<{ render: Render; job: Job }> {
    return this.db.transaction(async (tx) => {
      const db = tx as unknown as Database;
      await lock(db, `zipbank:owner:${o.owner.platform}:${o.owner.userId}`);
      if (o.owner.communityId) await lock(db, `zipbank:community:${o.owner.communityId}`);
      if (o.check) await o.check(await quotaCounts(db, o.owner, o.now));
      const stamp = o.now ? { createdAt: o.now, updatedAt: o.now } : {};
      const [render] = await tx
        .insert(renders)
        .values({ ...input, status: 'queued', ...stamp })
        .returning();
      const job = await new JobQueue(db).enqueue(
        {
          kind: 'render',
          owner: o.owner,
          renderId: render!.id,
          payload: { renderId: render!.id },
          ...(o.priority !== undefined ? { priority: o.priority } : {}),
        },
        o.now,
      );
      const used = [input.subjectId, input.styleId].filter((x): x is string => !!x);
      await recordUse(db, used);
      return { render: render!, job };
    });
  }

  async get(id: string): Promise<Render | undefined> {
    if (!isUuid(id)) return undefined;
    const [row] = await this.db.select().from(renders).where(eq(renders.id, id));
    return row;
  }

  /** By full uuid or short id (8+ hex digits); a short id two renders share is reported as ambiguous. */
  async find(ref: string): Promise<RenderRef> {
    const s = ref.trim().toLowerCase().replace(/^#/, '');
    if (isUuid(s)) {
      const r = await this.get(s);
      return r ? { render: r } : { missing: true };
    }
    const hex = s.replace(/-/g, '');
    if (!SHORT_RE.test(hex)) return { missing: true };
    const rows = await this.db
      .select()
      .from(renders)
      .where(between(renders.id, asUuid(hex.padEnd(32, '0')), asUuid(hex.padEnd(32, 'f'))))
      .orderBy(asc(renders.id))
      .limit(2);
    if (rows.length === 0) return { missing: true };
    if (rows.length > 1) return { ambiguous: rows.length };
    return { render: rows[0]! };
  }

  /** Parent first, then its parent, up to the root (at most `maxDepth` renders). */
  async ancestors(id: string, maxDepth = 25): Promise<Render[]> {
    if (!isUuid(id)) return [];
    const ids = await queryRows<{ id: string; depth: number }>(
      this.db,
      sql`with recursive up(id, parent_id, depth) as (
            select id, parent_id, 0 from renders where id = ${id}
            union all
            select p.id, p.parent_id, up.depth + 1 from renders p join up on p.id = up.parent_id where up.depth < ${maxDepth}
          ) select id, depth from up where depth > 0 order by depth`,
    );
    if (ids.length === 0) return [];
    const rows = await this.db.select().from(renders).where(inArray(renders.id, ids.map((r) => r.id)));
    const byId = new Map(rows.map((r) => [r.id, r]));
    return ids.map((r) => byId.get(r.id)).filter((r): r is Render => !!r);
  }

  /** Direct children, oldest first. */
  children(id: string, limit = 50): Promise<Render[]> {
    if (!isUuid(id)) return Promise.resolve([]);
    return this.db.select().from(renders).where(eq(renders.parentId, id)).orderBy(asc(renders.createdAt), asc(renders.id)).limit(limit);
  }

  async countChildren(id: string): Promise<number> {
    const [row] = await this.db
      .select({ n: sql<number>`count(*)::int` })
      .from(renders)
      .where(eq(renders.parentId, id));
    return row?.n ?? 0;
  }

  /** Mark a render cancelled unless it already ended (its job was cancelled before a worker took it). */
  async markCancelled(id: string, now?: Date): Promise<Render | undefined> {
    const when = now ?? sql`now()`;
    const [row] = await this.db
      .update(renders)
      .set({ status: 'cancelled', finishedAt: when, updatedAt: when })
      .where(and(eq(renders.id, id), inArray(renders.status, ['queued', 'running'])))
      .returning();
    return row;
  }

  /** Remember the chat message that shows this render, so a restarted bot can edit it. */
  async bindMessage(id: string, where: { channelId?: string | undefined; messageId: string }): Promise<void> {
    await this.db
      .update(renders)
      .set({ messageId: where.messageId, ...(where.channelId ? { channelId: where.channelId } : {}), updatedAt: sql`now()` })
      .where(eq(renders.id, id));
  }

  /** Renders not yet ended that a chat message shows, oldest first (what a restarted bot follows again). */
  active(filter: { platform?: string; limit?: number } = {}): Promise<Render[]> {
    const where = [inArray(renders.status, ['queued', 'running'] as const), isNotNull(renders.messageId)];
    if (filter.platform) where.push(eq(renders.platform, filter.platform));
    return this.db
      .select()
      .from(renders)
      .where(and(...where))
      .orderBy(asc(renders.createdAt))
      .limit(filter.limit ?? 500);
  }

  /** The user's latest renders, newest first. */
  byRequester(platform: string, userId: string, limit = 10): Promise<Render[]> {
    return this.db
      .select()
      .from(renders)
      .where(and(eq(renders.requesterPlatform, platform), eq(renders.requesterId, userId)))
      .orderBy(desc(renders.createdAt))
      .limit(limit);
  }

  async zip(id: string): Promise<Zip | undefined> {
    if (!isUuid(id)) return undefined;
    const [row] = await this.db.select().from(zips).where(eq(zips.id, id));
    return row;
  }
}
