/** Submitting, cancelling and following jobs, as the bot does, on PGlite in memory. */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { openDatabase, type OpenedDatabase } from '../../src/bank/db.ts';
import { handlerFor, JobEvents, JobQueue, JobScheduler, Worker, type JobSnapshot } from '../../src/jobs/index.ts';
import { isZipbankError } from '../../src/errors/index.ts';
import { deferred, emptyQueue, quiet, user } from './support.ts';

describe('JobScheduler', () => {
  let opened: OpenedDatabase;
  let queue: JobQueue;
  beforeAll(async () => {
    opened = await openDatabase({ dataDir: 'memory' });
    queue = new JobQueue(opened.db);
  });
  afterAll(async () => opened?.close());
  beforeEach(() => emptyQueue(opened.db));

  const summary = (s: JobSnapshot) =>
    s.job.status === 'queued' ? `queued #${s.position?.position}` : s.job.progress && s.job.status === 'running' ? `${s.job.progress.phase} ${s.job.progress.step}/${s.job.progress.total}` : s.job.status;

  it.each([
    { who: 'the bot process running the worker (events)', shared: true },
    { who: 'a restarted bot reading the table (polling)', shared: false },
  ])('follows a job from queued to done: $who', async ({ shared }) => {
    const workerEvents = new JobEvents();
    const scheduler = new JobScheduler(queue, shared ? workerEvents : new JobEvents(), { pollMs: 20 });
    const other = await scheduler.submit({ kind: 'render', owner: user('first') });
    const job = await scheduler.submit({ kind: 'render', owner: user('ann'), payload: { prompt: 'a corgi' } });
    const gates = [deferred(), deferred()];
    const w = new Worker(
      queue,
      handlerFor({
        render: async (j, ctx) => {
          if (j.id === other.id) return 'other';
          for (let k = 1; k <= 2; k++) {
            await ctx.progress({ phase: 'rendering', step: k, total: 2 });
            await gates[k - 1]!.promise;
          }
          return { grid: 'g.png' };
        },
      }),
      { events: workerEvents, log: quiet, progressThrottleMs: 0 },
    );
    const seen: string[] = [];
    const following = (async () => {
      for await (const snap of scheduler.follow(job.id)) {
        const line = summary(snap);
        if (seen.at(-1) !== line) seen.push(line);
        if (line === 'rendering 1/2') gates[0]!.resolve();
        if (line === 'rendering 2/2') gates[1]!.resolve();
        if (snap.job.status === 'done') expect(snap.job.result).toEqual({ grid: 'g.png' });
      }
    })();
    await new Promise((r) => setTimeout(r, 50));
    const drained = w.drain();
    await following;
    await drained;
    expect(seen[0]).toBe('queued #2');
    expect(seen.slice(-3)).toEqual(['rendering 1/2', 'rendering 2/2', 'done']);
  });

  it('cancels a queued job at once and reports unknown jobs with a coded error', async () => {
    const job = await scheduler().submit({ kind: 'zip', owner: user('bob') });
    expect(await scheduler().cancel(job.id)).toMatchObject({ outcome: 'cancelled' });
    const snaps: JobSnapshot[] = [];
    for await (const s of scheduler().follow(job.id)) snaps.push(s);
    expect(snaps.map((s) => s.job.status)).toEqual(['cancelled']);
    await expect(scheduler().follow('00000000-0000-4000-8000-000000000000').next()).rejects.toSatisfy((e) => isZipbankError(e, 'jobs.not-found'));
  });

  const scheduler = () => new JobScheduler(queue);
});
