/**
 * Jobs: the durable queue's worker loop, scheduler and progress events. The SQL
 * lives in src/bank/jobs.ts; the engine plugs in as a `JobHandler`.
 *
 * @example
 *   const queue = new JobQueue(bank.db);
 *   const events = new JobEvents();
 *   const scheduler = new JobScheduler(queue, events);
 *   const worker = new Worker(queue, handler, { events, concurrency: 1 });
 *   worker.start();
 *   const job = await scheduler.submit({ kind: 'render', owner: { platform: 'web', userId: 'ann' }, renderId });
 *   for await (const { job: j, position } of scheduler.follow(job.id)) console.log(j.status, position?.position, j.progress);
 */
export { JobQueue, leaseOf, DEFAULT_BACKOFF } from '../bank/jobs.ts';
export type { Backoff, CancelOutcome, EnqueueInput, JobOwner, LeaseRef, QueuePosition, OwnerCounts, JobListFilter } from '../bank/jobs.ts';
export { JobEvents, type JobEvent, type JobListener } from './events.ts';
export { JobScheduler, type JobSnapshot, type FollowOptions } from './scheduler.ts';
export { Worker, type WorkerOptions } from './worker.ts';
export { handlerFor, noEngineHandler, ENGINE_KINDS, type JobFn } from './handlers.ts';
export { TERMINAL_STATUSES, type Clock, type Job, type JobContext, type JobHandler, type JobProgress, type JobStatus, type Log, type LogLevel } from './types.ts';
