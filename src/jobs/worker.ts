/**
 * The worker loop: claims jobs fairly from the queue (up to `concurrency` at once),
 * runs each through a `JobHandler`, and reaps jobs whose worker died. Any number of
 * workers, in any processes on any machines, may share one database.
 *
 * @example
 *   const worker = new Worker(new JobQueue(bank.db), handler, { concurrency: 2, events });
 *   worker.start();
 *   // ... on SIGTERM:
 *   await worker.stop({ graceMs: 30_000 }); // finish running jobs for up to 30 s, then release them
 */
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { DEFAULT_BACKOFF, leaseOf, type Backoff, type JobQueue } from '../bank/jobs.ts';
import { describeError } from '../errors/index.ts';
import { JobEvents } from './events.ts';
import { runJob, type RunJobDeps } from './run-job.ts';
import type { Clock, Job, JobHandler, Log } from './types.ts';
import { stripUndefined } from '../util/objects.ts';

export interface WorkerOptions {
  /** Shown in the job rows; default `host:pid:random`. */
  id?: string;
  /** Jobs run at once by this worker (default 1). */
  concurrency?: number;
  /** A job whose lease is not renewed for this long is taken back (default 30 s). */
  leaseMs?: number;
  /** Lease renewal interval (default leaseMs / 3). */
  heartbeatMs?: number;
  /** Wait between claims when the queue is empty (default 1 s; in-process `enqueued` events wake it sooner). */
  pollMs?: number;
  /** Least time between two progress writes of one job (default 250 ms). */
  progressThrottleMs?: number;
  /** Per-user running-job cap for users whose community has no settings row (default 2). */
  defaultUserCap?: number;
  backoff?: Backoff;
  /** How often to look for expired leases of dead workers (default 5 s). */
  reapEveryMs?: number;
  clock?: Clock;
  events?: JobEvents;
  log?: Log;
}

const DEFAULTS = {
  concurrency: 1,
  leaseMs: 30_000,
  pollMs: 1_000,
  progressThrottleMs: 250,
  defaultUserCap: 2,
  reapEveryMs: 5_000,
};

const defaultLog: Log = (level, message) => {
  if (level !== 'debug') console.error(`[zipbank worker] ${level}: ${message}`);
};

interface Active {
  job: Job;
  done: Promise<void>;
}

export class Worker {
  readonly id: string;
  readonly events: JobEvents;
  private readonly o: typeof DEFAULTS & WorkerOptions & { heartbeatMs: number };
  private readonly active = new Map<string, Active>();
  private readonly shutdown = new AbortController();
  private readonly log: Log;
  private loopDone: Promise<void> | undefined;
  private stopping = false;
  private wakeUp: (() => void) | undefined;
  private lastReap = Number.NEGATIVE_INFINITY;
  private offEnqueued: (() => void) | undefined;
  private cutGrace: (() => void) | undefined;
  /** Jobs this worker has finished (any outcome). */
  finished = 0;

  constructor(
    readonly queue: JobQueue,
    readonly handler: JobHandler,
    options: WorkerOptions = {},
  ) {
    const leaseMs = options.leaseMs ?? DEFAULTS.leaseMs;
    this.o = { ...DEFAULTS, ...stripUndefined(options), leaseMs, heartbeatMs: options.heartbeatMs ?? Math.max(10, Math.floor(leaseMs / 3)) };
    this.id = options.id ?? `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
    this.events = options.events ?? new JobEvents();
    this.log = options.log ?? defaultLog;
  }

  /** Jobs running now. */
  get running(): number {
    return this.active.size;
  }

  /** Start the background loop (claims until `stop`). */
  start(): void {
    if (this.loopDone) return;
    this.offEnqueued = this.events.on((e) => {
      if (e.type === 'enqueued' || (e.type === 'state' && e.job.status === 'queued')) this.wake();
    });
    this.loopDone = this.loop();
  }

  /**
   * Claim and run jobs until none is ready and none is running; returns how many
   * finished. For tests, benchmarks and `zipbank worker --once`; not with `start`.
   */
  async drain(): Promise<number> {
    const before = this.finished;
    this.lastReap = Number.NEGATIVE_INFINITY;
    for (;;) {
      await this.maybeReap();
      let claimed = false;
      while (this.active.size < this.o.concurrency) {
        const job = await this.claim();
        if (!job) break;
        claimed = true;
        this.launch(job);
      }
      if (this.active.size === 0 && !claimed) return this.finished - before;
      if (this.active.size > 0) await Promise.race([...this.active.values()].map((a) => a.done));
    }
  }

  /**
   * Stop claiming; let running jobs finish for up to `graceMs` (default 0), then abort
   * them and give them back to the queue without losing an attempt. Calling again
   * (a second Ctrl-C) cuts the grace short.
   */
  async stop(opts: { graceMs?: number } = {}): Promise<void> {
    if (this.stopping) {
      this.cutGrace?.();
      return;
    }
    this.stopping = true;
    this.offEnqueued?.();
    this.wake();
    await this.loopDone;
    const all = () => Promise.allSettled([...this.active.values()].map((a) => a.done));
    if (this.active.size > 0 && (opts.graceMs ?? 0) > 0) {
      await Promise.race([all(), sleep(opts.graceMs!), new Promise<void>((r) => (this.cutGrace = r))]);
    }
    this.shutdown.abort();
    await Promise.race([all(), sleep(5_000)]);
    for (const { job } of this.active.values()) {
      // The handler ignored its signal: hand the job back; its late outcome is then fenced off.
      const after = await this.queue.release(leaseOf(job), this.o.clock?.now()).catch(() => undefined);
      if (after) this.events.emit({ type: 'state', job: after });
    }
  }

  private async loop(): Promise<void> {
    while (!this.stopping) {
      await this.maybeReap();
      if (this.active.size >= this.o.concurrency) {
        await this.nap(this.o.pollMs);
        continue;
      }
      const job = await this.claim();
      if (this.stopping) {
        if (job) await this.queue.release(leaseOf(job), this.o.clock?.now()).catch(() => undefined);
        break;
      }
      if (job) this.launch(job);
      else await this.nap(this.o.pollMs);
    }
  }

  private async claim(): Promise<Job | undefined> {
    try {
      const job = await this.queue.claim({
        workerId: this.id,
        kinds: this.handler.kinds,
        leaseMs: this.o.leaseMs,
        defaultUserCap: this.o.defaultUserCap,
        now: this.o.clock?.now(),
      });
      if (job) this.events.emit({ type: 'state', job });
      return job;
    } catch (e) {
      this.log('error', `claiming a job failed: ${describeError(e)}`);
      await this.nap(this.o.pollMs);
      return undefined;
    }
  }

  private launch(job: Job): void {
    const deps: RunJobDeps = {
      queue: this.queue,
      handler: this.handler,
      events: this.events,
      workerId: this.id,
      leaseMs: this.o.leaseMs,
      heartbeatMs: this.o.heartbeatMs,
      progressThrottleMs: this.o.progressThrottleMs,
      backoff: this.o.backoff ?? DEFAULT_BACKOFF,
      clock: this.o.clock,
      shutdown: this.shutdown.signal,
      log: this.log,
    };
    const done = runJob(job, deps)
      .then(
        () => undefined,
        (e: unknown) => this.log('error', `job ${job.id}: ${describeError(e)} (its lease will expire and it will be retried)`),
      )
      .finally(() => {
        this.active.delete(job.id);
        this.finished++;
        this.wake();
      });
    this.active.set(job.id, { job, done });
  }

  private async maybeReap(): Promise<void> {
    if (Date.now() - this.lastReap < this.o.reapEveryMs) return;
    this.lastReap = Date.now();
    try {
      const reaped = await this.queue.reapExpired(this.o.backoff ?? DEFAULT_BACKOFF, this.o.clock?.now());
      for (const job of reaped) {
        this.log('warn', `job ${job.id} (${job.kind}): worker ${job.workerId} stopped answering; now ${job.status} after ${job.attempts} attempt(s)`);
        this.events.emit({ type: 'state', job });
      }
    } catch (e) {
      this.log('error', `reaping expired leases failed: ${describeError(e)}`);
    }
  }

  private nap(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(done, ms);
      const self = this;
      function done() {
        clearTimeout(t);
        if (self.wakeUp === done) self.wakeUp = undefined;
        resolve();
      }
      this.wakeUp = done;
    });
  }

  private wake(): void {
    this.wakeUp?.();
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms).unref?.());
}
