/**
 * Following renders in flight: each followed render's message is redrawn with
 * `core.renderStatus` and handed to `update` whenever it changed, until the render
 * ends. Redraws are triggered by in-process job events (this render's progress or
 * state: at most one redraw per `intervalMs`; other jobs moving, which shifts queue
 * positions: at most one per `queueIntervalMs`) and by a poll every `pollMs` for
 * workers in other processes, whose events never reach this one. At most
 * `concurrency` redraws read the database at once.
 *
 * The pacing adapts to load: redraws for queue moves and polls of all followed
 * renders together may take at most `budget` (default 20%) of the time, so with
 * hundreds of renders queued their positions are redrawn less often, and the
 * database stays free for commands (a render's own progress keeps `intervalMs`).
 *
 * @example
 *   const follower = new RenderFollower({ status: (id) => core.renderStatus(id), events, update: async (f, reply) => edit(f.messageId, reply) });
 *   follower.follow(renderId, messageId, firstReply);
 *   await follower.close();
 */
import type { JobEvents } from '../../jobs/events.ts';
import type { Log } from '../../jobs/types.ts';
import { describeError } from '../../errors/index.ts';
import type { MessageReply } from './types.ts';
import { stripUndefined } from '../../util/objects.ts';

export interface Followed {
  renderId: string;
  messageId: string;
}

export interface FollowerOptions {
  /** The render's message as it stands (BotCore.renderStatus). */
  status: (renderId: string) => Promise<MessageReply>;
  /** Called with every changed message, in order per render. */
  update: (f: Followed, reply: MessageReply) => Promise<void>;
  events?: JobEvents | undefined;
  /** Least time between two redraws of one render (default 500 ms). */
  intervalMs?: number;
  /** Least time between redraws caused by other jobs moving (default 2 s). */
  queueIntervalMs?: number;
  /** Every followed render is redrawn at least this often (default 2 s). */
  pollMs?: number;
  /** Redraws at once (default 4). */
  concurrency?: number;
  /** Share of time queue-move and poll redraws may take together (default 0.2). */
  budget?: number;
  log?: Log;
}

interface Entry extends Followed {
  lastJson: string | undefined;
  lastAt: number;
  due: number | undefined;
  timer: ReturnType<typeof setTimeout> | undefined;
  running: boolean;
  again: boolean;
  failures: number;
}

export class RenderFollower {
  private readonly entries = new Map<string, Entry>();
  private readonly o: Required<Omit<FollowerOptions, 'events' | 'log'>> & Pick<FollowerOptions, 'events'>;
  private readonly log: Log;
  private readonly poll: ReturnType<typeof setInterval>;
  private readonly off: (() => void) | undefined;
  private readonly inflight = new Set<Promise<void>>();
  private slots: number;
  /** Moving average of one status read, in ms. */
  private avgMs = 0;
  private readonly recentEvents = new Set<string>();
  private readonly waiting: (() => void)[] = [];
  private closed = false;

  constructor(options: FollowerOptions) {
    this.o = { intervalMs: 500, queueIntervalMs: 2000, pollMs: 2000, concurrency: 4, budget: 0.2, ...stripUndefined(options) } as RenderFollower['o'];
    this.log = options.log ?? (() => {});
    this.slots = this.o.concurrency;
    this.poll = setInterval(() => {
      const gap = this.bulkGap(this.o.pollMs);
      for (const e of this.entries.values()) this.schedule(e, gap);
    }, this.o.pollMs);
    this.poll.unref?.();
    this.off = options.events?.on((ev) => {
      if (ev.type === 'cancel-requested') return;
      const renderId = ev.type === 'progress' ? ev.renderId : ev.job.renderId;
      if (renderId) this.noteEvent(renderId);
      const own = renderId ? this.entries.get(renderId) : undefined;
      if (own) this.schedule(own, this.o.intervalMs);
      if (ev.type === 'progress') return;
      const gap = this.bulkGap(this.o.queueIntervalMs);
      for (const e of this.entries.values()) if (e !== own) this.schedule(e, gap);
    });
  }

  /** Renders followed now. */
  get size(): number {
    return this.entries.size;
  }

  isFollowing(renderId: string): boolean {
    return this.entries.has(renderId);
  }

  /** Follow a render shown by `messageId`; `current` is the message as last sent (no redraw until it changes). */
  follow(renderId: string, messageId: string, current?: MessageReply): void {
    if (this.closed) return;
    const old = this.entries.get(renderId);
    if (old) {
      old.messageId = messageId;
      if (current) old.lastJson = JSON.stringify(current);
      return;
    }
    const e: Entry = {
      renderId,
      messageId,
      lastJson: current ? JSON.stringify(current) : undefined,
      lastAt: current ? Date.now() : 0,
      due: undefined,
      timer: undefined,
      running: false,
      again: false,
      failures: 0,
    };
    this.entries.set(renderId, e);
    // With the current message in hand, the next redraw comes from this render's events, or the
    // poll; unless its job already moved before it was followed (a fast in-process worker).
    this.schedule(e, !current ? 0 : this.recentEvents.has(renderId) ? this.o.intervalMs : this.bulkGap(this.o.pollMs));
  }

  unfollow(renderId: string): void {
    const e = this.entries.get(renderId);
    if (!e) return;
    if (e.timer) clearTimeout(e.timer);
    this.entries.delete(renderId);
  }

  /** Redraw one render now (tests, and after a button changed it). */
  async refresh(renderId: string): Promise<void> {
    const e = this.entries.get(renderId);
    if (!e) return;
    if (e.timer) clearTimeout(e.timer);
    e.timer = undefined;
    await this.track(this.run(e));
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.poll);
    this.off?.();
    for (const e of this.entries.values()) if (e.timer) clearTimeout(e.timer);
    this.entries.clear();
    await Promise.allSettled([...this.inflight]);
  }

  /** Renders whose jobs had events lately (the latest 256), followed or not. */
  private noteEvent(renderId: string): void {
    this.recentEvents.delete(renderId);
    this.recentEvents.add(renderId);
    if (this.recentEvents.size > 256) this.recentEvents.delete(this.recentEvents.values().next().value!);
  }

  /** Least gap for redraws of every followed render: `base`, or longer when redrawing them all would take more than the budget. */
  private bulkGap(base: number): number {
    return Math.max(base, (this.entries.size * this.avgMs) / this.o.budget);
  }

  private schedule(e: Entry, minGapMs: number): void {
    if (this.closed || this.entries.get(e.renderId) !== e) return;
    if (e.running) {
      e.again = true;
      return;
    }
    const now = Date.now();
    const at = Math.max(now, e.lastAt + minGapMs);
    if (e.timer && e.due !== undefined && e.due <= at) return;
    if (e.timer) clearTimeout(e.timer);
    e.due = at;
    e.timer = setTimeout(() => {
      e.timer = undefined;
      void this.track(this.run(e));
    }, at - now);
    e.timer.unref?.();
  }

  private track(p: Promise<void>): Promise<void> {
    this.inflight.add(p);
    return p.finally(() => this.inflight.delete(p));
  }

  private async run(e: Entry): Promise<void> {
    if (e.running) {
      e.again = true;
      return;
    }
    e.running = true;
    await this.acquire();
    try {
      if (this.closed || this.entries.get(e.renderId) !== e) return;
      const t0 = performance.now();
      const reply = await this.o.status(e.renderId);
      this.avgMs = 0.8 * this.avgMs + 0.2 * (performance.now() - t0);
      e.lastAt = Date.now();
      if (reply.ephemeral) {
        // The status could not be read (a refusal or a database failure): keep the message, try again later.
        if (e.failures++ === 0) this.log('warn', `render ${e.renderId}: status not readable: ${reply.text}`);
        if (e.failures >= 20) this.unfollow(e.renderId);
        return;
      }
      e.failures = 0;
      const json = JSON.stringify(reply);
      if (json !== e.lastJson) {
        await this.o.update({ renderId: e.renderId, messageId: e.messageId }, reply);
        // Only a delivered message counts: a failed edit (even of the final state) is tried again by the poll.
        e.lastJson = json;
      }
      if (!reply.follow) this.unfollow(e.renderId);
    } catch (err) {
      this.log('warn', `render ${e.renderId}: updating its message failed: ${describeError(err)}`);
      if (++e.failures >= 20) {
        this.log('warn', `render ${e.renderId}: giving up on its message after 20 failures`);
        this.unfollow(e.renderId);
      }
    } finally {
      this.release();
      e.running = false;
      if (e.again) {
        e.again = false;
        this.schedule(e, this.o.intervalMs);
      }
    }
  }

  private acquire(): Promise<void> {
    if (this.slots > 0) {
      this.slots--;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  private release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.slots++;
  }
}
