/**
 * Throttled progress writes for one running job: the first report writes at once,
 * later ones at most every `throttleMs` (leading edge, plus a trailing write of the
 * latest report so the row never lags by more than one interval). Each write also
 * renews the lease and brings back the cancel flag.
 */
import type { LeaseState } from '../bank/jobs.ts';
import type { JobProgress } from './types.ts';

export interface ProgressWriterOptions {
  write(progress: JobProgress): Promise<LeaseState>;
  onLease(state: LeaseState): void;
  onError(e: unknown): void;
  throttleMs: number;
  nowMs(): number;
}

export class ProgressWriter {
  private last = Number.NEGATIVE_INFINITY;
  private pending: JobProgress | undefined;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private inflight: Promise<void> | undefined;
  private closed = false;
  /** Writes made (for logs and tests). */
  writes = 0;

  constructor(private readonly o: ProgressWriterOptions) {}

  /** Resolves after the write when one was due; at once when throttled. */
  async report(p: JobProgress): Promise<void> {
    if (this.closed) return;
    const now = this.o.nowMs();
    if (now - this.last >= this.o.throttleMs && !this.inflight) {
      this.pending = undefined;
      this.clearTimer();
      await this.write(p, now);
      return;
    }
    this.pending = p;
    if (!this.timer) {
      const wait = Math.max(0, Math.min(this.o.throttleMs, this.o.throttleMs - (now - this.last)));
      this.timer = setTimeout(() => this.flush(), wait);
    }
  }

  /** Stop: drop anything pending (the job's final state is written by complete/fail). */
  close(): void {
    this.closed = true;
    this.clearTimer();
    this.pending = undefined;
  }

  private flush(): void {
    this.timer = undefined;
    const p = this.pending;
    if (this.closed || !p) return;
    if (this.inflight) {
      this.timer = setTimeout(() => this.flush(), this.o.throttleMs);
      return;
    }
    this.pending = undefined;
    this.write(p, this.o.nowMs()).catch(() => {});
  }

  private write(p: JobProgress, now: number): Promise<void> {
    this.last = now;
    this.writes++;
    const run = this.o
      .write(p)
      .then(
        (s) => this.o.onLease(s),
        (e) => this.o.onError(e),
      )
      .finally(() => {
        this.inflight = undefined;
      });
    this.inflight = run;
    return run;
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }
}
