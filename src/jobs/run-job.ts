/**
 * Running one claimed job: heartbeats that renew the lease, throttled progress,
 * cancellation through an AbortSignal, and the final transition (done, failed,
 * retried, dead, cancelled, or released on shutdown). Used by `Worker`.
 */
import { DEFAULT_BACKOFF, leaseOf, type Backoff, type JobFailure, type JobQueue, type LeaseState } from '../bank/jobs.ts';
import { describeError, isZipbankError, ZipbankError } from '../errors/index.ts';
import type { JobEvents } from './events.ts';
import { ProgressWriter } from './progress.ts';
import type { Clock, Job, JobContext, JobHandler, JobProgress, Log } from './types.ts';

export interface RunJobDeps {
  queue: JobQueue;
  handler: JobHandler;
  events: JobEvents;
  workerId: string;
  leaseMs: number;
  heartbeatMs: number;
  progressThrottleMs: number;
  backoff?: Backoff;
  clock?: Clock | undefined;
  /** Fires when the worker shuts down: the job is released back to the queue. */
  shutdown: AbortSignal;
  log: Log;
}

type StopReason = 'cancel' | 'lost' | 'shutdown';

/** Classify a handler's error: coded refusals fail for good, anything else is retried. */
export function failureOf(e: unknown, handler: Pick<JobHandler, 'retryable'>): JobFailure {
  const retry = handler.retryable ? handler.retryable(e) : !isZipbankError(e);
  return { message: describeError(e), code: isZipbankError(e) ? e.code : undefined, retry };
}

/** Run `job` (already claimed by this worker) to its end. Returns the job's row after, or undefined if the lease was lost. */
export async function runJob(job: Job, d: RunJobDeps): Promise<Job | undefined> {
  const ref = leaseOf(job);
  const now = () => d.clock?.now();
  const ac = new AbortController();
  let why: StopReason | undefined;
  const stop = (reason: StopReason) => {
    if (why) return;
    why = reason;
    const err =
      reason === 'cancel'
        ? new ZipbankError('jobs.cancelled', { id: job.id })
        : reason === 'lost'
          ? new ZipbankError('jobs.lease-lost', { id: job.id, workerId: d.workerId })
          : new ZipbankError('jobs.shutdown', { workerId: d.workerId });
    ac.abort(err);
  };
  const onLease = (s: LeaseState) => {
    if (!s.held) stop('lost');
    else if (s.cancelRequested) stop('cancel');
  };
  const warn = (what: string) => (e: unknown) => d.log('warn', `job ${job.id}: ${what} failed: ${describeError(e)}`);

  const beat = setInterval(() => {
    d.queue.heartbeat(ref, d.leaseMs, now()).then(onLease, warn('heartbeat'));
  }, d.heartbeatMs);
  const onShutdown = () => stop('shutdown');
  if (d.shutdown.aborted) onShutdown();
  else d.shutdown.addEventListener('abort', onShutdown, { once: true });
  const offEvents = d.events.on((e) => {
    if (e.type === 'cancel-requested' && e.jobId === job.id) stop('cancel');
  });
  const writer = new ProgressWriter({
    write: (p) => d.queue.progress(ref, p, d.leaseMs, now()),
    onLease,
    onError: warn('progress write'),
    throttleMs: d.progressThrottleMs,
    nowMs: () => (d.clock ? d.clock.now().getTime() : Date.now()),
  });
  const ctx: JobContext = {
    signal: ac.signal,
    attempt: job.attempts,
    async progress(update: JobProgress) {
      ac.signal.throwIfAborted();
      d.events.emit({ type: 'progress', jobId: job.id, renderId: job.renderId, progress: update, at: d.clock?.now() ?? new Date() });
      await writer.report(update);
      ac.signal.throwIfAborted();
    },
  };

  let after: Job | undefined;
  try {
    let result: unknown;
    let error: unknown;
    let ok = false;
    try {
      result = await d.handler.run(job, ctx);
      ok = true;
    } catch (e) {
      error = e;
    } finally {
      clearInterval(beat);
      writer.close();
    }
    if (ok) after = await d.queue.complete(ref, result, now());
    else if (why === 'cancel') after = await d.queue.finishCancelled(ref, now());
    else if (why === 'shutdown') after = await d.queue.release(ref, now());
    else if (why !== 'lost') after = await d.queue.fail(ref, failureOf(error, d.handler), d.backoff ?? DEFAULT_BACKOFF, now());
    if (!after) d.log('warn', `job ${job.id}: lease lost; another worker may run it (this run's outcome was dropped)`);
    else d.log(after.status === 'done' ? 'debug' : 'info', `job ${job.id} (${job.kind}) -> ${after.status}${after.error ? `: ${after.error}` : ''}`);
  } finally {
    d.shutdown.removeEventListener('abort', onShutdown);
    offEvents();
  }
  if (after) d.events.emit({ type: 'state', job: after });
  return after;
}
