/**
 * The contracts between the worker loop and whatever runs a job (the engine later,
 * test doubles now). Platform-independent: no chat, no SQL.
 */
import type { Job, JobProgress } from '../bank/schema.ts';

export type { Job, JobProgress, JobStatus } from '../bank/schema.ts';

/** Injected time (tests move it by hand); when a worker has none, the database's clock decides leases. */
export interface Clock {
  now(): Date;
}

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type Log = (level: LogLevel, message: string) => void;

export interface JobContext {
  /** Fires when the job is cancelled, its lease is lost, or the worker shuts down: stop at the next step. */
  readonly signal: AbortSignal;
  /** 1 for the first claim, 2 for the first retry, ... */
  readonly attempt: number;
  /**
   * Report progress (`zipping` 37/100). Listeners hear every call; the row is written
   * at most every throttle interval. Throws the abort reason once the job must stop.
   */
  progress(update: JobProgress): Promise<void>;
}

/**
 * Runs jobs of some kinds. The returned value (JSON) becomes the job's result.
 * Throwing a `ZipbankError` fails the job for good (a refusal: bad input, missing
 * LoRA, no engine); any other error is transient and retried with backoff until
 * the job's attempts are used up, then dead-lettered.
 *
 * @example
 *   const handler: JobHandler = {
 *     kinds: ['zip'],
 *     async run(job, ctx) {
 *       for (let k = 1; k <= 100; k++) { await step(); await ctx.progress({ phase: 'zipping', step: k, total: 100 }); }
 *       return { zipId: job.zipId };
 *     },
 *   };
 */
export interface JobHandler {
  readonly kinds: readonly string[];
  run(job: Job, ctx: JobContext): Promise<unknown>;
  /** Override the retry rule above for an error this handler threw. */
  retryable?(error: unknown): boolean;
}

export const TERMINAL_STATUSES: ReadonlySet<string> = new Set(['done', 'failed', 'cancelled', 'dead']);
