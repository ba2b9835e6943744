/** The worker loop with fake handlers (test doubles for the engine), on PGlite in memory. */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { openDatabase, type OpenedDatabase } from '../../src/bank/db.ts';
import { JobQueue, handlerFor, JobEvents, noEngineHandler, Worker, type Job, type JobContext, type WorkerOptions } from '../../src/jobs/index.ts';
import { deferred, emptyQueue, FakeClock, quiet, sleep, until, user } from './support.ts';

const USERS = ['u1', 'u2', 'u3', 'u4', 'u5'];

describe('Worker', () => {
  let opened: OpenedDatabase;
  let queue: JobQueue;
  let clock: FakeClock;
  beforeAll(async () => {
    opened = await openDatabase({ dataDir: 'memory' });
    queue = new JobQueue(opened.db);
  });
  afterAll(async () => opened?.close());
  beforeEach(async () => {
    clock = new FakeClock();
    await emptyQueue(opened.db);
  });

  const worker = (handler: ConstructorParameters<typeof Worker>[1], o: WorkerOptions = {}) =>
    new Worker(queue, handler, { clock, log: quiet, leaseMs: 1_000, backoff: { baseMs: 1_000, maxMs: 10_000 }, ...o });
  const enqueue = (u: string, kind = 'render', extra: { maxAttempts?: number } = {}) => queue.enqueue({ kind, owner: user(u), ...extra }, clock.now());

  it.each([1, 4])('serves 5 users x 20 jobs interleaved with a fast fake handler (concurrency %i)', async (concurrency) => {
    for (const u of USERS) for (let i = 0; i < 20; i++) await enqueue(u);
    const started: string[] = [];
    const w = worker(handlerFor({ render: async (job) => void started.push(job.ownerId) }), { concurrency, defaultUserCap: 2 });
    expect(await w.drain()).toBe(100);
    if (concurrency === 1) expect(started).toEqual(Array.from({ length: 100 }, (_, i) => USERS[i % 5]));
    const counts = new Map(USERS.map((u) => [u, 0]));
    for (const u of started) {
      counts.set(u, counts.get(u)! + 1);
      expect(Math.max(...counts.values()) - Math.min(...counts.values())).toBeLessThanOrEqual(2);
    }
  });

  it('fails engine jobs with jobs.no-engine (no fake results), without retrying', async () => {
    const job = await enqueue('u1', 'zip');
    expect(await worker(noEngineHandler()).drain()).toBe(1);
    expect(await queue.get(job.id)).toMatchObject({ status: 'failed', attempts: 1, errorCode: 'jobs.no-engine', result: null });
    expect((await queue.get(job.id))!.error).toMatch(/no engine for "zip" jobs yet/);
  });

  it('retries a transient error with growing backoff, then dead-letters it with the last error', async () => {
    const job = await enqueue('u1', 'render', { maxAttempts: 3 });
    let calls = 0;
    const w = worker(handlerFor({ render: async () => { calls++; throw new Error(`gpu fell over #${calls}`); } }));
    const delays: number[] = [];
    for (let round = 0; round < 3; round++) {
      await w.drain();
      const row = (await queue.get(job.id))!;
      if (row.status === 'queued') {
        delays.push(row.runAfter.getTime() - clock.ms);
        expect(await w.drain()).toBe(0);
        clock.advance(row.runAfter.getTime() - clock.ms);
      }
    }
    expect(delays).toEqual([1_000, 2_000]);
    expect(await queue.get(job.id)).toMatchObject({ status: 'dead', attempts: 3, error: 'unexpected error: gpu fell over #3' });
  });

  it('a killed worker\'s job is taken over by another worker once its lease expires; the dead worker\'s late result is dropped', async () => {
    const job = await enqueue('u1');
    const hang = deferred();
    const killed = worker(handlerFor({ render: async () => { await hang.promise; return { from: 'killed' }; } }), { heartbeatMs: 3_600_000, id: 'killed' });
    const killedRun = killed.drain();
    await until(async () => (await queue.get(job.id))?.status === 'running');
    const rescuer = worker(handlerFor({ render: async (_j, ctx) => ({ from: 'rescuer', attempt: ctx.attempt }) }), { id: 'rescuer' });
    expect(await rescuer.drain()).toBe(0);
    clock.advance(1_001);
    await rescuer.drain();
    expect(await queue.get(job.id)).toMatchObject({ status: 'queued', attempts: 1, errorCode: 'jobs.lease-expired' });
    clock.advance(1_000);
    expect(await rescuer.drain()).toBe(1);
    expect(await queue.get(job.id)).toMatchObject({ status: 'done', attempts: 2, workerId: 'rescuer', result: { from: 'rescuer', attempt: 2 } });
    hang.resolve();
    await killedRun;
    expect((await queue.get(job.id))!.result).toEqual({ from: 'rescuer', attempt: 2 });
  });

  it('dead-letters a job whose workers keep dying, after max attempts', async () => {
    const job = await enqueue('u1', 'render', { maxAttempts: 2 });
    const reaper = worker(handlerFor({ render: async () => 'never' }), { id: 'reaper' });
    for (let attempt = 1; attempt <= 2; attempt++) {
      clock.advance(10_000);
      expect(await queue.claim({ workerId: `doomed-${attempt}`, kinds: ['render'], leaseMs: 1_000, now: clock.now() })).toMatchObject({ attempts: attempt });
      clock.advance(1_001);
      expect(await reaper.drain()).toBe(0);
    }
    expect(await queue.get(job.id)).toMatchObject({ status: 'dead', attempts: 2, errorCode: 'jobs.lease-expired' });
  });

  it.each([
    { via: 'in-process event', sharedEvents: true },
    { via: 'the cancel flag read back at a progress write', sharedEvents: false },
  ])('cancels a running job at its next step ($via)', async ({ sharedEvents }) => {
    const job = await enqueue('u1');
    const workerEvents = new JobEvents();
    const schedulerEvents = sharedEvents ? workerEvents : new JobEvents();
    const { JobScheduler } = await import('../../src/jobs/scheduler.ts');
    const scheduler = new JobScheduler(queue, schedulerEvents);
    let steps = 0;
    let sawCancelled = false;
    const handler = handlerFor({
      render: async (_j: Job, ctx: JobContext) => {
        for (let k = 1; k <= 200; k++) {
          await sleep(2);
          steps = k;
          if (k === 10) void scheduler.cancel(job.id);
          await ctx.progress({ phase: 'rendering', step: k, total: 200 });
        }
        return 'finished';
      },
    });
    const w = worker(handler, { events: workerEvents, progressThrottleMs: 0 });
    w.events.on((e) => e.type === 'state' && e.job.status === 'cancelled' && (sawCancelled = true));
    await w.drain();
    expect(await queue.get(job.id)).toMatchObject({ status: 'cancelled', result: null });
    expect(sawCancelled).toBe(true);
    expect(steps).toBeGreaterThanOrEqual(10);
    expect(steps).toBeLessThan(30);
  });

  it('the handler sees its AbortSignal fire when cancelled between progress reports', async () => {
    const job = await enqueue('u1');
    const events = new JobEvents();
    const { JobScheduler } = await import('../../src/jobs/scheduler.ts');
    const scheduler = new JobScheduler(queue, events);
    const w = worker(
      handlerFor({
        render: (_j, ctx) =>
          new Promise((_, reject) => {
            ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason));
            void scheduler.cancel(job.id);
          }),
      }),
      { events },
    );
    await w.drain();
    expect((await queue.get(job.id))!.status).toBe('cancelled');
  });

  it('persists throttled progress in the row, readable by a process that heard no event', async () => {
    const job = await enqueue('u1');
    const gate = deferred();
    const heard: number[] = [];
    const handler = handlerFor({
      render: async (_j, ctx) => {
        for (let k = 1; k <= 50; k++) await ctx.progress({ phase: 'zipping', step: k, total: 100 });
        await gate.promise;
        return { ok: true };
      },
    });
    const w = worker(handler, { progressThrottleMs: 100 });
    w.events.on((e) => e.type === 'progress' && heard.push(e.progress.step!));
    const run = w.drain();
    const row = await until(async () => {
      const r = await queue.get(job.id);
      return r?.progress?.step === 50 ? r : undefined;
    });
    expect(row).toMatchObject({ status: 'running', progress: { phase: 'zipping', step: 50, total: 100 } });
    expect(heard).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    gate.resolve();
    await run;
    expect(await queue.get(job.id)).toMatchObject({ status: 'done', result: { ok: true } });
  });

  it.each([
    { graceMs: 0, status: 'queued', attempts: 0 },
    { graceMs: 2_000, status: 'done', attempts: 1 },
  ])('on shutdown with grace $graceMs ms the running job ends $status', async ({ graceMs, status, attempts }) => {
    const job = await enqueue('u1');
    const handler = handlerFor({
      render: async (_j, ctx) => {
        for (let k = 0; k < 20; k++) {
          ctx.signal.throwIfAborted();
          await sleep(10);
        }
        return 'finished';
      },
    });
    const w = worker(handler, { pollMs: 20 });
    w.start();
    await until(async () => (await queue.get(job.id))?.status === 'running');
    await w.stop({ graceMs });
    expect(await queue.get(job.id)).toMatchObject({ status, attempts });
    expect(w.running).toBe(0);
  });

  it('a started worker wakes on an in-process enqueue and runs the job', async () => {
    const events = new JobEvents();
    const w = worker(handlerFor({ render: async () => 'ok' }), { events, pollMs: 60_000 });
    w.start();
    await sleep(20);
    const { JobScheduler } = await import('../../src/jobs/scheduler.ts');
    const job = await new JobScheduler(queue, events).submit({ kind: 'render', owner: user('u1') });
    await until(async () => (await queue.get(job.id))?.status === 'done');
    await w.stop();
  });
});
