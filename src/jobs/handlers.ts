/**
 * Building a `JobHandler` from one function per job kind, and the handler a worker
 * uses until the engine lands: it claims `render` and `zip` jobs and fails them with
 * `jobs.no-engine` (a clear refusal, never a fake result).
 *
 * @example
 *   const handler = handlerFor({ zip: async (job, ctx) => ({ zipId: job.zipId }) });
 *   new Worker(queue, handler).start();
 */
import { ZipbankError } from '../errors/index.ts';
import type { Job, JobContext, JobHandler } from './types.ts';

export type JobFn = (job: Job, ctx: JobContext) => Promise<unknown>;

/** The job kinds the bot creates; the engine will run them. */
export const ENGINE_KINDS = ['render', 'zip'] as const;

export function handlerFor(fns: Record<string, JobFn>, retryable?: (error: unknown) => boolean): JobHandler {
  const kinds = Object.keys(fns);
  return {
    kinds,
    run(job, ctx) {
      const fn = fns[job.kind];
      if (!fn) throw new ZipbankError('jobs.unknown-kind', { kind: job.kind, known: kinds.join(', ') });
      return fn(job, ctx);
    },
    ...(retryable ? { retryable } : {}),
  };
}

/** Fails every engine job with `jobs.no-engine`; what `zipbank worker` runs until the engine is plugged in. */
export function noEngineHandler(kinds: readonly string[] = ENGINE_KINDS): JobHandler {
  const refuse: JobFn = async (job) => {
    throw new ZipbankError('jobs.no-engine', { kind: job.kind });
  };
  return handlerFor(Object.fromEntries(kinds.map((k) => [k, refuse])));
}
