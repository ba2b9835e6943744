/**
 * Message edits paced per channel: Slack allows about one message per second per
 * channel and answers 429 with Retry-After beyond that. Each channel sends one edit
 * at a time, at least `minGapMs` after the previous one (or after a new message in
 * that channel, `touch`). Edits of one message coalesce: only the latest state
 * waiting is sent, so a slow channel skips intermediate progress but never the
 * final state. A 429 waits the Retry-After it carries, then sends the latest state;
 * Slack counts chat.update per workspace, so a Retry-After holds every channel's
 * edits, not only the one that met it (`blockedUntil`). Transient failures (5xx,
 * network, Slack's internal errors) back off and retry up to `maxAttempts` times;
 * permanent ones (the message is gone) give up at once.
 *
 * `push` resolves when that state, or a newer one of the same message, has landed
 * (`sent`), was given up (`failed`), or the pacer closed first (`closed`).
 *
 * @example
 *   const pacer = new UpdatePacer({ send: ({ channel, ts }, reply) => client.chat.update({ channel, ts, ...messagePayload(reply) }) });
 *   const outcome = await pacer.push({ channel: 'C1', ts: '1700000000.000100' }, reply); // 'sent'
 *   await pacer.close();
 */
import type { Log } from '../../jobs/types.ts';
import { stripUndefined } from '../../util/objects.ts';

export interface UpdateTarget {
  channel: string;
  ts: string;
}

export type PushOutcome = 'sent' | 'failed' | 'closed';

/** How a failed send is retried: after `retryAfterMs` (a 429), with backoff (transient), or not at all. */
export type Failure = { kind: 'rate-limited'; retryAfterMs: number } | { kind: 'transient'; reason: string } | { kind: 'permanent'; reason: string };

export interface PacerOptions<P> {
  send: (target: UpdateTarget, payload: P) => Promise<unknown>;
  /** Least time between two edits in one channel (default 1000 ms). */
  minGapMs?: number;
  /** Sends of one state that fail transiently before it is given up (default 5). */
  maxAttempts?: number;
  /** First backoff after a transient failure, doubled each time (default 1000 ms). */
  backoffMs?: number;
  /** 429s one message may meet before it is given up (default 20). */
  maxRateLimited?: number;
  classify?: (e: unknown) => Failure;
  log?: Log;
}

interface Item<P> {
  payload: P;
  waiters: ((o: PushOutcome) => void)[];
  failures: number;
  limited: number;
}

interface Channel<P> {
  queue: Map<string, Item<P>>;
  nextAt: number;
  busy: boolean;
  timer: ReturnType<typeof setTimeout> | undefined;
}

export class UpdatePacer<P> {
  private readonly channels = new Map<string, Channel<P>>();
  private readonly inflight = new Set<Promise<void>>();
  private readonly o: Required<Omit<PacerOptions<P>, 'log'>>;
  private readonly log: Log;
  private closed = false;
  private blocked = 0;

  constructor(options: PacerOptions<P>) {
    this.o = { minGapMs: 1000, maxAttempts: 5, backoffMs: 1000, maxRateLimited: 20, classify: classifySlackError, ...stripUndefined(options) } as UpdatePacer<P>['o'];
    this.log = options.log ?? (() => {});
  }

  /** Edits waiting or being sent. */
  get pending(): number {
    let n = 0;
    for (const c of this.channels.values()) n += c.queue.size + (c.busy ? 1 : 0);
    return n;
  }

  /** Until when (ms since the epoch) a 429's Retry-After holds every channel's edits; 0 or past when none does. */
  get blockedUntil(): number {
    return this.blocked;
  }

  /** Send `payload` as the new state of the message at `target`, paced; see the module comment for the outcome. */
  push(target: UpdateTarget, payload: P): Promise<PushOutcome> {
    if (this.closed) return Promise.resolve('closed');
    const ch = this.channel(target.channel);
    return new Promise((resolve) => {
      const old = ch.queue.get(target.ts);
      if (old) {
        old.payload = payload;
        old.failures = 0;
        old.waiters.push(resolve);
      } else {
        ch.queue.set(target.ts, { payload, waiters: [resolve], failures: 0, limited: 0 });
      }
      this.kick(target.channel, ch);
    });
  }

  /** Something else was just posted in `channel`: its next edit waits one gap. */
  touch(channel: string): void {
    const ch = this.channel(channel);
    ch.nextAt = Math.max(ch.nextAt, Date.now() + this.o.minGapMs);
  }

  /** Stop: the edit in flight finishes; those waiting resolve `closed`. */
  async close(): Promise<void> {
    this.closed = true;
    for (const ch of this.channels.values()) {
      if (ch.timer) clearTimeout(ch.timer);
      ch.timer = undefined;
      for (const item of ch.queue.values()) for (const w of item.waiters) w('closed');
      ch.queue.clear();
    }
    await Promise.allSettled([...this.inflight]);
  }

  private channel(id: string): Channel<P> {
    let ch = this.channels.get(id);
    if (!ch) {
      if (this.channels.size > 1000) this.prune();
      ch = { queue: new Map(), nextAt: 0, busy: false, timer: undefined };
      this.channels.set(id, ch);
    }
    return ch;
  }

  /** Forget idle channels whose gap has long passed. */
  private prune(): void {
    const old = Date.now() - 60_000;
    for (const [id, ch] of this.channels) if (!ch.busy && !ch.timer && ch.queue.size === 0 && ch.nextAt < old) this.channels.delete(id);
  }

  private kick(id: string, ch: Channel<P>): void {
    if (this.closed || ch.busy || ch.timer || ch.queue.size === 0) return;
    ch.timer = setTimeout(
      () => {
        ch.timer = undefined;
        // A Retry-After that arrived (from another channel) after this timer was set.
        if (this.blocked > Date.now()) return this.kick(id, ch);
        const p = this.drain(id, ch);
        this.inflight.add(p);
        void p.finally(() => this.inflight.delete(p));
      },
      Math.max(0, ch.nextAt - Date.now(), this.blocked - Date.now()),
    );
  }

  private async drain(id: string, ch: Channel<P>): Promise<void> {
    const first = ch.queue.entries().next();
    if (this.closed || first.done) return;
    const [ts, item] = first.value;
    ch.queue.delete(ts);
    ch.busy = true;
    try {
      await this.o.send({ channel: id, ts }, item.payload);
      ch.nextAt = Date.now() + this.o.minGapMs;
      for (const w of item.waiters) w('sent');
    } catch (e) {
      const f = this.o.classify(e);
      let retry = false;
      if (f.kind === 'rate-limited') {
        ch.nextAt = Date.now() + Math.max(f.retryAfterMs, this.o.minGapMs);
        // The limit is the workspace's: every channel waits.
        this.blocked = Math.max(this.blocked, Date.now() + f.retryAfterMs);
        retry = ++item.limited <= this.o.maxRateLimited;
        this.log('debug', `slack: edit in ${id} rate limited; next in ${Math.round(f.retryAfterMs)} ms`);
      } else if (f.kind === 'transient') {
        item.failures++;
        retry = item.failures < this.o.maxAttempts;
        ch.nextAt = Date.now() + Math.max(this.o.minGapMs, this.o.backoffMs * 2 ** (item.failures - 1));
        this.log('debug', `slack: edit of ${id}/${ts} failed (${f.reason}); attempt ${item.failures} of ${this.o.maxAttempts}`);
      } else {
        ch.nextAt = Date.now() + this.o.minGapMs;
      }
      if (retry && !this.closed) {
        const newer = ch.queue.get(ts);
        if (newer) newer.waiters.unshift(...item.waiters);
        else ch.queue.set(ts, item);
      } else {
        this.log('warn', `slack: gave up editing message ${ts} in ${id}: ${f.kind === 'rate-limited' ? 'rate limited too often' : f.reason}`);
        for (const w of item.waiters) w(this.closed ? 'closed' : 'failed');
      }
    } finally {
      ch.busy = false;
      this.kick(id, ch);
    }
  }
}

/** Slack Web API errors that may pass on retry (besides 429s). */
const TRANSIENT_PLATFORM = new Set(['internal_error', 'fatal_error', 'service_unavailable', 'request_timeout', 'ratelimited', 'rate_limited']);

/** Sorts an error thrown by @slack/web-api's WebClient (codes from its `ErrorCode`). */
export function classifySlackError(e: unknown): Failure {
  const err = (e ?? {}) as { code?: string; retryAfter?: number; statusCode?: number; data?: { error?: string }; message?: string };
  switch (err.code) {
    case 'slack_webapi_rate_limited_error':
      return { kind: 'rate-limited', retryAfterMs: Math.max(0, Number(err.retryAfter ?? 1)) * 1000 };
    case 'slack_webapi_request_error':
      return { kind: 'transient', reason: err.message ?? 'request failed' };
    case 'slack_webapi_http_error':
      return (err.statusCode ?? 0) >= 500 || err.statusCode === 408
        ? { kind: 'transient', reason: `HTTP ${err.statusCode}` }
        : { kind: 'permanent', reason: `HTTP ${err.statusCode}` };
    case 'slack_webapi_platform_error': {
      const reason = err.data?.error ?? 'unknown error';
      return TRANSIENT_PLATFORM.has(reason) ? { kind: 'transient', reason } : { kind: 'permanent', reason };
    }
    default:
      return { kind: 'transient', reason: e instanceof Error ? e.message : String(e) };
  }
}

/** The Slack error name of a Web API platform error (`not_in_channel`), else undefined. */
export function slackErrorOf(e: unknown): string | undefined {
  const err = (e ?? {}) as { code?: string; data?: { error?: string } };
  return err.code === 'slack_webapi_platform_error' ? err.data?.error : undefined;
}
