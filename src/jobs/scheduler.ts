/**
 * The side of the queue the bot talks to: submit jobs, cancel them, ask where they
 * stand (status, queue position, ETA) and follow them until they end. `follow`
 * merges in-process events (fast, when the worker runs in this process) with reads
 * of the `jobs` row (workers elsewhere, a restarted bot), so the bot edits its
 * progress message the same way in every deployment.
 *
 * @example
 *   const scheduler = new JobScheduler(new JobQueue(bank.db), events);
 *   const job = await scheduler.submit({ kind: 'render', owner, renderId });
 *   for await (const snap of scheduler.follow(job.id)) await editMessage(snap);
 */
import type { CancelOutcome, EnqueueInput, JobQueue, QueuePosition } from '../bank/jobs.ts';
import { ZipbankError } from '../errors/index.ts';
import { eventJobId, JobEvents, type JobEvent } from './events.ts';
import { TERMINAL_STATUSES, type Job } from './types.ts';

export interface JobSnapshot {
  job: Job;
  /** Present while the job is queued. */
  position?: QueuePosition | undefined;
}

export interface FollowOptions {
  signal?: AbortSignal;
  /** How often to re-read the row when no event arrives (default the scheduler's pollMs, 1 s). */
  pollMs?: number;
}

export class JobScheduler {
  constructor(
    readonly queue: JobQueue,
    readonly events: JobEvents = new JobEvents(),
    private readonly options: { pollMs?: number } = {},
  ) {}

  /** Queue a job; in-process workers wake at once. */
  async submit(input: EnqueueInput): Promise<Job> {
    const job = await this.queue.enqueue(input);
    this.events.emit({ type: 'enqueued', job });
    return job;
  }

  /** Queued jobs end at once; a running job's worker is told to stop at its next step. */
  async cancel(id: string): Promise<CancelOutcome> {
    const r = await this.queue.cancel(id);
    if (r.outcome === 'cancelled') this.events.emit({ type: 'state', job: r.job });
    if (r.outcome === 'cancelling') this.events.emit({ type: 'cancel-requested', jobId: id });
    return r;
  }

  /** The job's row, plus its queue position while queued. */
  async snapshot(id: string): Promise<JobSnapshot | undefined> {
    const job = await this.queue.get(id);
    if (!job) return undefined;
    return { job, position: job.status === 'queued' ? await this.queue.position(id) : undefined };
  }

  /**
   * Yields the job's snapshot now and after every change (progress, state, queue
   * position), until it reaches done, failed, cancelled or dead.
   */
  async *follow(id: string, opts: FollowOptions = {}): AsyncGenerator<JobSnapshot> {
    const pollMs = opts.pollMs ?? this.options.pollMs ?? 1_000;
    const inbox: JobEvent[] = [];
    let notify: (() => void) | undefined;
    const off = this.events.on((e) => {
      if (eventJobId(e) !== id) return;
      inbox.push(e);
      notify?.();
    });
    const onAbort = () => notify?.();
    opts.signal?.addEventListener('abort', onAbort);
    try {
      let snap = await this.snapshot(id);
      if (!snap) throw new ZipbankError('jobs.not-found', { id });
      yield snap;
      while (!TERMINAL_STATUSES.has(snap.job.status) && !opts.signal?.aborted) {
        if (inbox.length === 0) await waitFor(pollMs, (n) => (notify = n));
        notify = undefined;
        if (opts.signal?.aborted) return;
        let next: JobSnapshot | undefined;
        if (inbox.length === 0) {
          next = await this.snapshot(id);
          if (!next || !changed(snap, next)) continue;
        } else {
          const e = inbox.shift()!;
          if (e.type === 'progress') next = { job: { ...snap.job, progress: e.progress, progressAt: e.at } };
          else if (e.type === 'state') next = { job: e.job, position: e.job.status === 'queued' ? await this.queue.position(id) : undefined };
          else continue;
        }
        snap = next;
        yield snap;
      }
    } finally {
      off();
      opts.signal?.removeEventListener('abort', onAbort);
    }
  }
}

function changed(a: JobSnapshot, b: JobSnapshot): boolean {
  return (
    a.job.status !== b.job.status ||
    a.job.updatedAt.getTime() !== b.job.updatedAt.getTime() ||
    JSON.stringify(a.job.progress) !== JSON.stringify(b.job.progress) ||
    a.position?.ahead !== b.position?.ahead
  );
}

function waitFor(ms: number, register: (wake: () => void) => void): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    register(() => {
      clearTimeout(t);
      resolve();
    });
  });
}
