/** The job queue's SQL (src/bank/jobs.ts) on one backend: claims, fairness, caps, leases, cancel, position. */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { sql } from 'drizzle-orm';
import { openDatabase, queryRows, type OpenedDatabase } from '../../src/bank/db.ts';
import { JobQueue, leaseOf, type Backoff } from '../../src/bank/jobs.ts';
import { communities, renders } from '../../src/bank/schema.ts';
import { handlerFor, Worker, type Job } from '../../src/jobs/index.ts';
import { freshPostgresDatabase, type Backend } from '../support/bank.ts';
import { emptyQueue, FakeClock, quiet, sleep, user } from '../jobs/support.ts';

const LEASE = 1_000;
const BACKOFF: Backoff = { baseMs: 100, maxMs: 1_000 };
const USERS = ['u1', 'u2', 'u3', 'u4', 'u5'];

export function jobsSuite(backend: Backend, pgUrl: string): void {
  describe(`job queue on ${backend}`, () => {
    let opened: OpenedDatabase;
    /** A second connection pool on the same database (Postgres): another worker process. */
    let other: OpenedDatabase;
    let q: JobQueue;
    let clock: FakeClock;
    beforeAll(async () => {
      if (backend === 'pglite') {
        opened = await openDatabase({ dataDir: 'memory' });
        other = opened;
      } else {
        const url = await freshPostgresDatabase(pgUrl);
        opened = await openDatabase({ databaseUrl: url, dataDir: 'unused', poolSize: 8 });
        other = await openDatabase({ databaseUrl: url, dataDir: 'unused', poolSize: 8 });
      }
      q = new JobQueue(opened.db);
    });
    afterAll(async () => {
      if (other !== opened) await other?.close();
      await opened?.close();
    });
    beforeEach(async () => {
      clock = new FakeClock();
      await emptyQueue(opened.db);
    });

    const claim = (workerId = 'w1', extra: { defaultUserCap?: number; kinds?: string[] } = {}) =>
      q.claim({ workerId, kinds: extra.kinds ?? ['render', 'zip'], leaseMs: LEASE, now: clock.now(), ...(extra.defaultUserCap ? { defaultUserCap: extra.defaultUserCap } : {}) });
    /** The per-user running counters that caps read must match the running rows. */
    const countersMatch = async () => {
      const [r] = await queryRows<{ counters: number; rows: number }>(
        opened.db,
        sql`select (select coalesce(sum(running), 0)::int from job_owners) as counters, (select count(*)::int from jobs where status = 'running') as rows`,
      );
      expect(r!.counters).toBe(r!.rows);
      return r!.rows;
    };
    const enqueueMany = async (spec: [string, number][], kind = 'render') => {
      const out: Job[] = [];
      for (const [u, n] of spec) for (let i = 0; i < n; i++) out.push(await q.enqueue({ kind, owner: user(u), payload: { i } }, clock.now()));
      return out;
    };

    it('enqueues, claims with a lease, stores progress, completes with a result linked to its render', async () => {
      const [render] = await opened.db
        .insert(renders)
        .values({ prompt: 'a corgi', seed: 1, steps: 4, guidance: 7, width: 64, height: 64, scheduler: 'ddim', requesterPlatform: 'test', requesterId: 'u1', platform: 'test' })
        .returning();
      const job = await q.enqueue({ kind: 'render', owner: user('u1'), payload: { prompt: 'a corgi' }, renderId: render!.id, maxAttempts: 2 }, clock.now());
      expect(job).toMatchObject({ status: 'queued', attempts: 0, maxAttempts: 2, payload: { prompt: 'a corgi' }, renderId: render!.id });
      expect(await q.claim({ workerId: 'w1', kinds: ['zip'], leaseMs: LEASE, now: clock.now() })).toBeUndefined();
      const c = (await claim())!;
      expect(c).toMatchObject({ id: job.id, status: 'running', attempts: 1, workerId: 'w1' });
      expect(c.leaseExpiresAt!.getTime()).toBe(clock.ms + LEASE);
      expect(await claim()).toBeUndefined();
      expect(await q.progress(leaseOf(c), { phase: 'rendering', step: 2, total: 4 }, LEASE, clock.advance(10))).toEqual({ held: true, cancelRequested: false });
      expect((await q.forRender(render!.id))?.progress).toEqual({ phase: 'rendering', step: 2, total: 4 });
      const done = await q.complete(leaseOf(c), { gridKey: 'renders/x.png' }, clock.advance(500));
      expect(done).toMatchObject({ status: 'done', result: { gridKey: 'renders/x.png' }, leaseId: null });
      expect(done!.finishedAt!.getTime() - done!.startedAt!.getTime()).toBe(510);
      expect(await q.complete(leaseOf(c), {}, clock.now())).toBeUndefined();
      expect(await q.counts(user('u1'), clock.now())).toEqual({ queued: 0, running: 0, lastHour: 1 });
    });

    it('serves 5 users x 20 jobs round-robin, FIFO within each user', async () => {
      const jobs = await enqueueMany(USERS.map((u) => [u, 20]));
      const order: string[] = [];
      const perUser = new Map<string, number[]>();
      for (;;) {
        const c = await claim();
        if (!c) break;
        order.push(c.ownerId);
        perUser.set(c.ownerId, [...(perUser.get(c.ownerId) ?? []), c.seq]);
        await q.complete(leaseOf(c), null, clock.now());
      }
      expect(order).toEqual(Array.from({ length: 100 }, (_, i) => USERS[i % 5]));
      for (const seqs of perUser.values()) expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
      expect(order.length).toBe(jobs.length);
    });

    it('puts higher priority first and honours per-user caps (community setting, else the default)', async () => {
      await opened.db.insert(communities).values({ id: 'test:g1', platform: 'test', maxConcurrentJobsPerUser: 1 });
      for (let i = 0; i < 3; i++) await q.enqueue({ kind: 'render', owner: user('capped', 'test:g1') }, clock.now());
      for (let i = 0; i < 3; i++) await q.enqueue({ kind: 'render', owner: user('plain') }, clock.now());
      const urgent = await q.enqueue({ kind: 'zip', owner: user('late'), priority: 5 }, clock.now());
      const got: string[] = [];
      for (let c = await claim(); c; c = await claim()) got.push(c.id === urgent.id ? 'urgent' : c.ownerId);
      expect(got).toEqual(['urgent', 'capped', 'plain', 'plain']);
    });

    it('never hands one job to two concurrent claimers, and keeps caps under concurrency', async () => {
      await enqueueMany(USERS.map((u) => [u, 10]));
      const queues = [q, new JobQueue(other.db)];
      const seen: string[] = [];
      await Promise.all(
        Array.from({ length: 8 }, async (_, w) => {
          const mine = queues[w % 2]!;
          for (;;) {
            const c = await mine.claim({ workerId: `w${w}`, kinds: ['render'], leaseMs: LEASE, defaultUserCap: 100, now: clock.now() });
            if (!c) return;
            seen.push(c.id);
            await sleep(1);
            expect(await mine.complete(leaseOf(c), { by: w }, clock.now())).toBeDefined();
          }
        }),
      );
      expect(seen.length).toBe(50);
      expect(new Set(seen).size).toBe(50);
      expect((await q.list({ statuses: ['done'], limit: 100 })).length).toBe(50);
      expect(await countersMatch()).toBe(0);

      await enqueueMany([['solo', 10]], 'zip');
      const claims = await Promise.all(Array.from({ length: 10 }, (_, w) => queues[w % 2]!.claim({ workerId: `c${w}`, kinds: ['zip'], leaseMs: LEASE, now: clock.now() })));
      expect(claims.filter(Boolean).length).toBe(2);
      expect(await countersMatch()).toBe(2);
    });

    it('requeues an expired lease with backoff, fences off the old worker, and dead-letters after max attempts', async () => {
      const job = await q.enqueue({ kind: 'render', owner: user('u1'), maxAttempts: 2 }, clock.now());
      const first = (await claim('ghost'))!;
      clock.advance(LEASE / 2);
      expect((await q.heartbeat(leaseOf(first), LEASE, clock.now())).held).toBe(true);
      clock.advance(LEASE - 1);
      expect(await q.reapExpired(BACKOFF, clock.now())).toEqual([]);
      clock.advance(2);
      const [reaped] = await q.reapExpired(BACKOFF, clock.now());
      expect(reaped).toMatchObject({ id: job.id, status: 'queued', attempts: 1, errorCode: 'jobs.lease-expired' });
      expect(reaped!.runAfter.getTime()).toBe(clock.ms + BACKOFF.baseMs);
      expect(await claim('w2')).toBeUndefined();
      clock.advance(BACKOFF.baseMs);
      const second = (await claim('w2'))!;
      expect(second).toMatchObject({ id: job.id, attempts: 2, workerId: 'w2' });
      expect(await q.heartbeat(leaseOf(first), LEASE, clock.now())).toEqual({ held: false, cancelRequested: false });
      expect(await q.complete(leaseOf(first), { stale: true }, clock.now())).toBeUndefined();
      clock.advance(LEASE + 1);
      const [dead] = await q.reapExpired(BACKOFF, clock.now());
      expect(dead).toMatchObject({ id: job.id, status: 'dead', attempts: 2, errorCode: 'jobs.lease-expired' });
      expect(dead!.error).toMatch(/stopped answering/);
      expect(await claim('w3')).toBeUndefined();
      expect(await countersMatch()).toBe(0);
    });

    it.each([
      { retry: true, attempts: 1, max: 3, status: 'queued' },
      { retry: true, attempts: 3, max: 3, status: 'dead' },
      { retry: false, attempts: 1, max: 3, status: 'failed' },
    ])('a failed attempt (retry=$retry, attempt $attempts of $max) becomes $status', async ({ retry, attempts, max, status }) => {
      await q.enqueue({ kind: 'render', owner: user('u1'), maxAttempts: max }, clock.now());
      let c = (await claim())!;
      for (let a = 1; a < attempts; a++) {
        await q.fail(leaseOf(c), { message: 'flaky', retry: true }, { baseMs: 0, maxMs: 0 }, clock.now());
        c = (await claim())!;
      }
      const after = await q.fail(leaseOf(c), { message: 'boom', code: 'x.y', retry }, BACKOFF, clock.now());
      expect(after).toMatchObject({ status, attempts, error: 'boom', errorCode: 'x.y' });
      if (status === 'queued') expect(after!.runAfter.getTime()).toBe(clock.ms + BACKOFF.baseMs * 2 ** (attempts - 1));
      else expect(after!.finishedAt).not.toBeNull();
    });

    it('releases a job without spending an attempt', async () => {
      await q.enqueue({ kind: 'render', owner: user('u1') }, clock.now());
      const c = (await claim())!;
      expect(await q.release(leaseOf(c), clock.now())).toMatchObject({ status: 'queued', attempts: 0 });
      expect(await claim('w2')).toMatchObject({ attempts: 1, workerId: 'w2' });
    });

    it('cancels queued jobs at once and flags running ones for their worker', async () => {
      const [a, b] = await enqueueMany([['u1', 1], ['u2', 1]]);
      expect(await q.cancel(a!.id, clock.now())).toMatchObject({ outcome: 'cancelled', job: { status: 'cancelled' } });
      const running = (await claim())!;
      expect(running.id).toBe(b!.id);
      expect(await q.cancel(b!.id, clock.now())).toMatchObject({ outcome: 'cancelling', job: { status: 'running', cancelRequested: true } });
      expect(await q.heartbeat(leaseOf(running), LEASE, clock.now())).toEqual({ held: true, cancelRequested: true });
      expect(await q.finishCancelled(leaseOf(running), clock.now())).toMatchObject({ status: 'cancelled' });
      expect(await q.cancel(b!.id, clock.now())).toMatchObject({ outcome: 'finished' });
      expect(await q.cancel('00000000-0000-4000-8000-000000000000', clock.now())).toEqual({ outcome: 'not-found' });
      expect(await claim()).toBeUndefined();
    });

    it('predicts each queued job\'s position as the fair claim order, with an ETA from recent durations', async () => {
      for (const u of ['t1', 't2']) {
        await q.enqueue({ kind: 'render', owner: user(u) }, clock.now());
        const c = (await claim())!;
        await q.complete(leaseOf(c), null, clock.advance(2_000));
      }
      const jobs = await enqueueMany([['a', 3], ['b', 2], ['c', 1]]);
      const urgent = await q.enqueue({ kind: 'render', owner: user('b'), priority: 1 }, clock.now());
      const predicted = new Map<string, number>();
      for (const j of [...jobs, urgent]) predicted.set(j.id, (await q.position(j.id))!.ahead);
      expect(await q.position(jobs[5]!.id)).toMatchObject({ ahead: 2, position: 3, workers: 1, averageMs: 2_000, etaMs: 6_000 });
      const actual: string[] = [];
      for (let c = await claim('w', { defaultUserCap: 10 }); c; c = await claim('w', { defaultUserCap: 10 })) actual.push(c.id);
      expect(actual.map((id) => predicted.get(id))).toEqual([0, 1, 2, 3, 4, 5, 6]);
      expect(await q.position(jobs[0]!.id)).toBeUndefined();
    });

    it('runs 60 jobs on two workers (separate connections) exactly once each', async () => {
      await enqueueMany(USERS.map((u) => [u, 12]), 'zip');
      const runs: string[] = [];
      const handler = handlerFor({
        zip: async (job) => {
          runs.push(job.id);
          await sleep(1);
          return { ok: true };
        },
      });
      const opts = { concurrency: 3, defaultUserCap: 2, log: quiet, clock };
      const workers = [new Worker(q, handler, { ...opts, id: 'A' }), new Worker(new JobQueue(other.db), handler, { ...opts, id: 'B' })];
      const counts = await Promise.all(workers.map((w) => w.drain()));
      expect(runs.length).toBe(60);
      expect(new Set(runs).size).toBe(60);
      expect(counts[0]! + counts[1]!).toBe(60);
      expect((await q.list({ statuses: ['done'], limit: 100 })).length).toBe(60);
    });
  });
}
