/**
 * In-process fan-out of job events (progress, state changes, new jobs, cancel
 * requests) from workers and the scheduler to listeners such as the bot's message
 * editor. Listeners run synchronously; one that throws does not stop the others.
 * Events are a fast path only: the `jobs` table holds the same state for processes
 * that were not listening (other machines, a restarted bot).
 *
 * @example
 *   const events = new JobEvents();
 *   const off = events.on((e) => { if (e.type === 'progress') console.log(e.progress.phase, e.progress.step); });
 *   off();
 */
import type { Job, JobProgress } from './types.ts';

export type JobEvent =
  | { type: 'enqueued'; job: Job }
  | { type: 'progress'; jobId: string; renderId: string | null; progress: JobProgress; at: Date }
  /** After every transition: claimed (running), done, failed, dead, cancelled, queued again (retry, release). */
  | { type: 'state'; job: Job }
  | { type: 'cancel-requested'; jobId: string };

export type JobListener = (event: JobEvent) => void;

export class JobEvents {
  private readonly listeners = new Set<JobListener>();

  constructor(private readonly onListenerError: (e: unknown) => void = () => {}) {}

  /** Subscribe; returns the unsubscribe function. */
  on(listener: JobListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  emit(event: JobEvent): void {
    for (const l of [...this.listeners]) {
      try {
        l(event);
      } catch (e) {
        this.onListenerError(e);
      }
    }
  }

  get listenerCount(): number {
    return this.listeners.size;
  }
}

/** The job id an event is about. */
export function eventJobId(e: JobEvent): string {
  return e.type === 'progress' || e.type === 'cancel-requested' ? e.jobId : e.job.id;
}
