/**
 * Read-side queries of the job queue: listings, per-user counts, queue position and
 * ETA. `JobQueue` (./jobs.ts) exposes them; nothing here changes a row.
 */
import { sql, type SQL } from 'drizzle-orm';
import { queryRows, type Database } from './db.ts';
import type { Job, JobStatus } from './schema.ts';
import { at, toJob } from './jobs-sql.ts';

export interface JobListFilter {
  statuses?: readonly JobStatus[];
  owner?: { platform: string; userId: string };
  kind?: string;
  /** Only jobs changed at or after this instant (a restarted bot catching up). */
  updatedSince?: Date;
  limit?: number;
}

export interface OwnerCounts {
  queued: number;
  running: number;
  /** Jobs created in the hour before `now`. */
  lastHour: number;
}

export interface QueuePosition {
  /** Queued jobs expected to start before this one, given priority and round-robin fairness. */
  ahead: number;
  /** `ahead + 1`, for display ("#3 in queue"). */
  position: number;
  /** Workers currently running jobs (at least 1). */
  workers: number;
  /** Recent average run time of this job's kind; undefined before any has finished. */
  averageMs: number | undefined;
  /** Expected time until this job is done; undefined without an average. */
  etaMs: number | undefined;
}

export async function listJobs(db: Database, f: JobListFilter): Promise<Job[]> {
  const where: SQL[] = [sql`true`];
  if (f.statuses?.length) where.push(sql`status in (${sql.join(f.statuses.map((s) => sql`${s}`), sql`, `)})`);
  if (f.owner) where.push(sql`owner_platform = ${f.owner.platform} and owner_id = ${f.owner.userId}`);
  if (f.kind) where.push(sql`kind = ${f.kind}`);
  if (f.updatedSince) where.push(sql`updated_at >= ${at(f.updatedSince)}`);
  const rows = await queryRows<Record<string, unknown>>(
    db,
    sql`select * from jobs where ${sql.join(where, sql` and `)} order by seq limit ${f.limit ?? 100}`,
  );
  return rows.map(toJob);
}

export async function ownerCounts(db: Database, owner: { platform: string; userId: string }, now?: Date): Promise<OwnerCounts> {
  const hourAgo = sql`(${at(now)} - interval '1 hour')`;
  const [row] = await queryRows<{ queued: number; running: number; last_hour: number }>(
    db,
    sql`select count(*) filter (where status = 'queued')::int as queued,
               count(*) filter (where status = 'running')::int as running,
               count(*) filter (where created_at > ${hourAgo})::int as last_hour
        from jobs
        where owner_platform = ${owner.platform} and owner_id = ${owner.userId}
          and (status in ('queued', 'running') or created_at > ${hourAgo})`,
  );
  return { queued: row?.queued ?? 0, running: row?.running ?? 0, lastHour: row?.last_hour ?? 0 };
}

export async function averageDurationMs(db: Database, kind: string, sample = 20): Promise<number | undefined> {
  const [row] = await queryRows<{ ms: number | string | null }>(
    db,
    sql`select avg(extract(epoch from (finished_at - started_at)) * 1000)::float8 as ms
        from (select finished_at, started_at from jobs
              where kind = ${kind} and status = 'done' and started_at is not null
              order by finished_at desc limit ${sample}) s`,
  );
  return row?.ms === null || row?.ms === undefined ? undefined : Number(row.ms);
}

interface OwnerQueue {
  key: string;
  running: number;
  lastServed: number;
  higher: number;
  same: number;
  sameBefore: number;
  headSeq: number;
}

/**
 * Estimate for a queued job: all queued jobs of higher priority start first; at its
 * own priority, owners are served round-robin in claim order (fewest running, least
 * recently served, oldest head job), so if k of its owner's jobs are ahead of it, each
 * other owner gets min(their queued, k or k + 1) turns first. Owners with higher-priority
 * jobs queued are served those first and so come last in the round. Caps, backoff
 * delays and jobs finishing out of order are ignored. Undefined when the job is not queued.
 */
export async function queuePosition(db: Database, id: string): Promise<QueuePosition | undefined> {
  const [target] = await queryRows<{ kind: string; owner_platform: string; owner_id: string }>(
    db,
    sql`select kind, owner_platform, owner_id from jobs where id = ${id} and status = 'queued'`,
  );
  if (!target) return undefined;
  const raw = await queryRows<Record<string, string | number>>(
    db,
    sql`with t as (select priority, seq from jobs where id = ${id})
        select q.owner_platform || ':' || q.owner_id as key,
               coalesce(o.running, 0)::int as running, coalesce(o.last_served, 0)::float8 as last_served,
               (count(*) filter (where q.priority > t.priority))::int as higher,
               (count(*) filter (where q.priority = t.priority))::int as same,
               (count(*) filter (where q.priority = t.priority and q.seq < t.seq))::int as same_before,
               coalesce(min(q.seq) filter (where q.priority = t.priority), 0)::float8 as head_seq
        from jobs q cross join t
        left join job_owners o on o.platform = q.owner_platform and o.user_id = q.owner_id
        where q.status = 'queued'
        group by q.owner_platform, q.owner_id, o.running, o.last_served`,
  );
  const owners: OwnerQueue[] = raw.map((r) => ({
    key: String(r.key),
    running: Number(r.running),
    lastServed: Number(r.last_served),
    higher: Number(r.higher),
    same: Number(r.same),
    sameBefore: Number(r.same_before),
    headSeq: Number(r.head_seq),
  }));
  // Claimed between the two queries: no longer queued, so no position.
  const mine = owners.find((o) => o.key === `${target.owner_platform}:${target.owner_id}`);
  if (!mine) return undefined;
  // An owner with higher-priority jobs is served those first, which sends it to the back of the round.
  const served = (o: OwnerQueue) => (o.higher > 0 ? Number.MAX_SAFE_INTEGER / 2 + o.lastServed : o.lastServed);
  const before = (a: OwnerQueue, b: OwnerQueue) =>
    a.running !== b.running ? a.running < b.running : served(a) !== served(b) ? served(a) < served(b) : a.headSeq < b.headSeq;
  const k = mine.sameBefore;
  let ahead = 0;
  for (const o of owners) {
    ahead += o.higher;
    if (o === mine) ahead += k;
    else ahead += Math.min(o.same, k + (before(o, mine) ? 1 : 0));
  }
  const [w] = await queryRows<{ n: number }>(db, sql`select count(distinct worker_id)::int as n from jobs where status = 'running'`);
  const workers = Math.max(1, Number(w?.n ?? 0));
  const averageMs = await averageDurationMs(db, target.kind);
  const etaMs = averageMs === undefined ? undefined : Math.round((Math.floor(ahead / workers) + 1) * averageMs);
  return { ahead, position: ahead + 1, workers, averageMs, etaMs };
}
