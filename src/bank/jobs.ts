/**
 * The durable job queue's SQL, on the bank's database (PGlite or PostgreSQL, same
 * statements). Every state change is one statement, so a crash never leaves half a
 * transition. Why a table and not pg-boss: see the comment above `jobs` in schema.ts.
 *
 * Claiming is fair: each user with ready jobs offers their head job (highest
 * priority, then oldest); among users under their concurrency cap (the community's
 * `max_concurrent_jobs_per_user`, else a default) the next job is the highest
 * priority, then the user with fewest running jobs, then the user served least
 * recently (round-robin). Users are found by a skip scan over an index, so a claim
 * costs O(users with queued jobs), not O(queued jobs). The claim locks both the job
 * and its owner row with `FOR UPDATE SKIP LOCKED`, so concurrent claimers never take
 * the same job and never push a user over their cap.
 *
 * A claim hands out a lease (`lease_id`, a fencing token, and `lease_expires_at`).
 * Every later write by the worker names the lease; a worker whose lease expired
 * (killed, frozen) finds its writes ignored, and `reapExpired` requeues the job with
 * backoff, or dead-letters it once `max_attempts` claims have been used.
 *
 * `now` arguments are for tests (an injected clock); left out, the database's clock
 * is used, which keeps workers on several machines consistent.
 *
 * @example
 *   const queue = new JobQueue(bank.db);
 *   const job = await queue.enqueue({ kind: 'render', owner: { platform: 'discord', userId: '42' }, renderId });
 *   const claimed = await queue.claim({ workerId: 'gpu-1', kinds: ['render'], leaseMs: 30_000 });
 *   if (claimed) await queue.complete(leaseOf(claimed), { gridKey: 'renders/ab.png' });
 */
import { sql, type SQL } from 'drizzle-orm';
import { ZipbankError } from '../errors/index.ts';
import { queryRows, type Database } from './db.ts';
import type { Job, JobProgress } from './schema.ts';
import { at, plusMs, toJob } from './jobs-sql.ts';
import { averageDurationMs, listJobs, ownerCounts, queuePosition, type JobListFilter, type OwnerCounts, type QueuePosition } from './jobs-read.ts';

export interface JobOwner {
  platform: string;
  userId: string;
  /** `platform:guild id`; its `communities` row sets the owner's concurrency cap. */
  communityId?: string | undefined;
}

export interface EnqueueInput {
  kind: string;
  owner: JobOwner;
  payload?: Record<string, unknown>;
  renderId?: string;
  zipId?: string;
  /** Higher first, across all users (default 0). */
  priority?: number;
  /** Claims allowed before the job is dead-lettered (default 3). */
  maxAttempts?: number;
  runAfter?: Date;
}

export interface ClaimOptions {
  workerId: string;
  /** Kinds this worker can run. */
  kinds: readonly string[];
  leaseMs: number;
  /** Concurrent running jobs per user when the job's community has no row (default 2). */
  defaultUserCap?: number;
  now?: Date;
}

/** What a worker names in every write: the job and the lease it holds. */
export interface LeaseRef {
  id: string;
  leaseId: string;
}

export interface Backoff {
  /** Delay after the first failed attempt; doubles per attempt. */
  baseMs: number;
  maxMs: number;
}

export const DEFAULT_BACKOFF: Backoff = { baseMs: 5_000, maxMs: 5 * 60_000 };

/** Answer to a heartbeat or progress write. `held: false`: the lease is gone, stop working. */
export interface LeaseState {
  held: boolean;
  cancelRequested: boolean;
}

export interface JobFailure {
  message: string;
  code?: string | undefined;
  /** Transient failure: retry with backoff (dead-letter when attempts are used up). Else fail for good. */
  retry: boolean;
}

export type CancelOutcome =
  | { outcome: 'cancelled'; job: Job }
  | { outcome: 'cancelling'; job: Job }
  | { outcome: 'finished'; job: Job }
  | { outcome: 'not-found' };

export function leaseOf(job: Pick<Job, 'id' | 'leaseId'>): LeaseRef {
  if (!job.leaseId) throw new TypeError(`job ${job.id} holds no lease`);
  return { id: job.id, leaseId: job.leaseId };
}

function backoffMs(b: Backoff): SQL {
  return sql`least(${b.maxMs}::double precision, ${b.baseMs}::double precision * power(2, greatest(j.attempts - 1, 0)))`;
}

export class JobQueue {
  constructor(readonly db: Database) {}

  async enqueue(input: EnqueueInput, now?: Date): Promise<Job> {
    const o = input.owner;
    const rows = await queryRows<Record<string, unknown>>(
      this.db,
      sql`with owner as (
            insert into job_owners (platform, user_id) values (${o.platform}, ${o.userId}) on conflict do nothing
          )
          insert into jobs (kind, payload, owner_platform, owner_id, community_id, render_id, zip_id, priority, max_attempts, run_after, created_at, updated_at)
          values (${input.kind}, ${JSON.stringify(input.payload ?? {})}::jsonb, ${o.platform}, ${o.userId}, ${o.communityId ?? null},
                  ${input.renderId ?? null}, ${input.zipId ?? null}, ${input.priority ?? 0}, ${input.maxAttempts ?? 3},
                  ${input.runAfter ? at(input.runAfter) : at(now)}, ${at(now)}, ${at(now)})
          returning *`,
    );
    return toJob(rows[0]!);
  }

  /** Take the next job this worker may run, fairly across users; undefined when none is ready. */
  async claim(opts: ClaimOptions): Promise<Job | undefined> {
    if (opts.kinds.length === 0) return undefined;
    const { now } = opts;
    const kinds = sql.join(opts.kinds.map((k) => sql`${k}`), sql`, `);
    // \`heads\`: each user's next ready job. \`cand\` locks the best head and its owner row, and
    // re-checks status and cap on rows a concurrent claimer just changed. Heads are
    // fetched by primary key (\`= any(array(...))\`, \`status::text\`) so that the planner,
    // even without statistics (PGlite never analyzes), never scans the whole queue.
    const rows = await queryRows<Record<string, unknown>>(
      this.db,
      sql`with recursive owners as (
            (select owner_platform as p, owner_id as u from jobs where status = 'queued' order by owner_platform, owner_id limit 1)
            union all
            select n.p, n.u from owners cross join lateral (
              select owner_platform as p, owner_id as u from jobs
              where status = 'queued' and (owner_platform, owner_id) > (owners.p, owners.u)
              order by owner_platform, owner_id limit 1) n
          ), heads as materialized (
            select h.id from owners cross join lateral (
              select id from jobs
              where status = 'queued' and owner_platform = owners.p and owner_id = owners.u
                and run_after <= ${at(now)} and kind in (${kinds})
              order by priority desc nulls last, seq limit 1) h
          ), cand as (
            select j.id, j.owner_platform, j.owner_id
            from jobs j
            join job_owners o on o.platform = j.owner_platform and o.user_id = j.owner_id
            left join communities c on c.id = j.community_id
            where j.id = any(array(select id from heads)) and j.status::text = 'queued' and o.running < coalesce(c.max_concurrent_jobs_per_user, ${opts.defaultUserCap ?? 2})
            order by j.priority desc, o.running, o.last_served, j.seq
            limit 1
            for update of j, o skip locked
          ), owner as (
            update job_owners o set running = o.running + 1, last_served = nextval('job_serve_seq'), last_served_at = ${at(now)}
            from cand where o.platform = cand.owner_platform and o.user_id = cand.owner_id
          )
          update jobs j set status = 'running', attempts = j.attempts + 1, worker_id = ${opts.workerId},
            lease_id = gen_random_uuid(), lease_expires_at = ${plusMs(now, opts.leaseMs)}, heartbeat_at = ${at(now)},
            started_at = ${at(now)}, finished_at = null, updated_at = ${at(now)}
          from cand where j.id = cand.id
          returning j.*`,
    );
    return rows[0] ? toJob(rows[0]) : undefined;
  }

  /** Renew the lease; tells the worker whether it still holds the job and whether cancel was asked. */
  heartbeat(ref: LeaseRef, leaseMs: number, now?: Date): Promise<LeaseState> {
    return this.touch(ref, leaseMs, sql``, now);
  }

  /** Store progress (callers throttle) and renew the lease, like `heartbeat`. */
  progress(ref: LeaseRef, progress: JobProgress, leaseMs: number, now?: Date): Promise<LeaseState> {
    return this.touch(ref, leaseMs, sql`, progress = ${JSON.stringify(progress)}::jsonb, progress_at = ${at(now)}`, now);
  }

  private async touch(ref: LeaseRef, leaseMs: number, extra: SQL, now?: Date): Promise<LeaseState> {
    const rows = await queryRows<{ cancel_requested: boolean }>(
      this.db,
      sql`update jobs set heartbeat_at = ${at(now)}, lease_expires_at = ${plusMs(now, leaseMs)}, updated_at = ${at(now)} ${extra}
          where id = ${ref.id} and lease_id = ${ref.leaseId} and status = 'running'
          returning cancel_requested`,
    );
    const row = rows[0];
    return row ? { held: true, cancelRequested: row.cancel_requested } : { held: false, cancelRequested: false };
  }

  /** Mark done with its result. Undefined when the lease was lost (another worker owns the job now). */
  complete(ref: LeaseRef, result: unknown, now?: Date): Promise<Job | undefined> {
    return this.leaveRunning(
      ref,
      sql`status = 'done', result = ${JSON.stringify(result ?? null)}::jsonb, error = null, error_code = null, finished_at = ${at(now)}`,
      now,
    );
  }

  /** A failed attempt: back to the queue with backoff, dead-lettered, or failed for good. */
  fail(ref: LeaseRef, failure: JobFailure, backoff: Backoff = DEFAULT_BACKOFF, now?: Date): Promise<Job | undefined> {
    const next = sql`(case when j.cancel_requested then 'cancelled'
                           when ${failure.retry}::boolean and j.attempts < j.max_attempts then 'queued'
                           when ${failure.retry}::boolean then 'dead' else 'failed' end)`;
    return this.leaveRunning(
      ref,
      sql`status = ${next}::job_status, error = ${failure.message}, error_code = ${failure.code ?? null},
          run_after = case when ${next} = 'queued' then ${plusMs(now, backoffMs(backoff))} else j.run_after end,
          finished_at = case when ${next} = 'queued' then null else ${at(now)} end`,
      now,
    );
  }

  /** The worker stopped the job because cancel was asked. */
  finishCancelled(ref: LeaseRef, now?: Date): Promise<Job | undefined> {
    return this.leaveRunning(ref, sql`status = 'cancelled', finished_at = ${at(now)}`, now);
  }

  /** Give the job back (worker shutting down): queued again at once, the attempt not counted. */
  release(ref: LeaseRef, now?: Date): Promise<Job | undefined> {
    return this.leaveRunning(
      ref,
      sql`status = (case when j.cancel_requested then 'cancelled' else 'queued' end)::job_status,
          attempts = greatest(j.attempts - 1, 0), run_after = ${at(now)},
          finished_at = case when j.cancel_requested then ${at(now)} else null end`,
      now,
    );
  }

  private async leaveRunning(ref: LeaseRef, set: SQL, now?: Date): Promise<Job | undefined> {
    const rows = await queryRows<Record<string, unknown>>(
      this.db,
      sql`with moved as (
            update jobs j set ${set}, lease_id = null, lease_expires_at = null, updated_at = ${at(now)}
            where j.id = ${ref.id} and j.lease_id = ${ref.leaseId} and j.status = 'running'
            returning j.*
          ), owner as (
            update job_owners o set running = greatest(o.running - 1, 0)
            from moved where o.platform = moved.owner_platform and o.user_id = moved.owner_id
          )
          select * from moved`,
    );
    return rows[0] ? toJob(rows[0]) : undefined;
  }

  /**
   * Running jobs whose lease expired (their worker died or froze): requeued with
   * backoff, dead-lettered when out of attempts, or cancelled if cancel was asked.
   * Any worker may call this; concurrent callers skip each other's rows.
   */
  async reapExpired(backoff: Backoff = DEFAULT_BACKOFF, now?: Date): Promise<Job[]> {
    const next = sql`(case when j.cancel_requested then 'cancelled' when j.attempts < j.max_attempts then 'queued' else 'dead' end)`;
    const { message } = new ZipbankError('jobs.lease-expired', {});
    const rows = await queryRows<Record<string, unknown>>(
      this.db,
      sql`with expired as (
            select id from jobs where status = 'running' and lease_expires_at < ${at(now)}
            for update skip locked
          ), moved as (
            update jobs j set status = ${next}::job_status, error = ${message}, error_code = 'jobs.lease-expired',
              run_after = case when ${next} = 'queued' then ${plusMs(now, backoffMs(backoff))} else j.run_after end,
              finished_at = case when ${next} = 'queued' then null else ${at(now)} end,
              lease_id = null, lease_expires_at = null, updated_at = ${at(now)}
            from expired where j.id = expired.id
            returning j.*
          ), gone as (
            select owner_platform, owner_id, count(*)::int as n from moved group by owner_platform, owner_id
          ), owner as (
            update job_owners o set running = greatest(o.running - gone.n, 0)
            from gone where o.platform = gone.owner_platform and o.user_id = gone.owner_id
          )
          select * from moved order by seq`,
    );
    return rows.map(toJob);
  }

  /** Queued: cancelled at once. Running: flagged; its worker stops at the next step. */
  async cancel(id: string, now?: Date): Promise<CancelOutcome> {
    const rows = await queryRows<Record<string, unknown>>(
      this.db,
      sql`update jobs set cancel_requested = true, updated_at = ${at(now)},
            status = (case when status = 'queued' then 'cancelled' else status::text end)::job_status,
            finished_at = case when status = 'queued' then ${at(now)} else finished_at end
          where id = ${id} and status in ('queued', 'running')
          returning *`,
    );
    if (rows[0]) {
      const job = toJob(rows[0]);
      return job.status === 'cancelled' ? { outcome: 'cancelled', job } : { outcome: 'cancelling', job };
    }
    const job = await this.get(id);
    return job ? { outcome: 'finished', job } : { outcome: 'not-found' };
  }

  async get(id: string): Promise<Job | undefined> {
    const rows = await queryRows<Record<string, unknown>>(this.db, sql`select * from jobs where id = ${id}`);
    return rows[0] ? toJob(rows[0]) : undefined;
  }

  /** The latest job for a render row (its progress and result survive restarts). */
  async forRender(renderId: string): Promise<Job | undefined> {
    const rows = await queryRows<Record<string, unknown>>(
      this.db,
      sql`select * from jobs where render_id = ${renderId} order by seq desc limit 1`,
    );
    return rows[0] ? toJob(rows[0]) : undefined;
  }

  list(filter: JobListFilter = {}): Promise<Job[]> {
    return listJobs(this.db, filter);
  }

  /** Where a queued job stands: jobs that will start before it (given fairness) and an ETA. */
  position(id: string): Promise<QueuePosition | undefined> {
    return queuePosition(this.db, id);
  }

  /** Queued, running, and created in the last hour, for one user (quota checks). */
  counts(owner: Pick<JobOwner, 'platform' | 'userId'>, now?: Date): Promise<OwnerCounts> {
    return ownerCounts(this.db, owner, now);
  }

  averageDurationMs(kind: string, sample?: number): Promise<number | undefined> {
    return averageDurationMs(this.db, kind, sample);
  }
}

export type { JobListFilter, OwnerCounts, QueuePosition } from './jobs-read.ts';
