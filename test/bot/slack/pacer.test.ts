/** The per-channel edit pacer: gaps, coalescing to the newest state, Retry-After, retries, giving up, closing. */
import { describe, expect, it } from 'vitest';
import { classifySlackError, UpdatePacer, type UpdateTarget } from '../../../src/bot/slack/pacer.ts';

interface Sent {
  channel: string;
  ts: string;
  payload: string;
  at: number;
}

const rateLimited = (seconds: number) => Object.assign(new Error('429'), { code: 'slack_webapi_rate_limited_error', retryAfter: seconds });
const http500 = () => Object.assign(new Error('500'), { code: 'slack_webapi_http_error', statusCode: 500 });
const platform = (error: string) => Object.assign(new Error(error), { code: 'slack_webapi_platform_error', data: { ok: false, error } });

function recorder(fail: (n: number, t: UpdateTarget, p: string) => Error | undefined = () => undefined) {
  const sent: Sent[] = [];
  const tried: Sent[] = [];
  let n = 0;
  return {
    sent,
    tried,
    send: async (t: UpdateTarget, payload: string) => {
      const at = Date.now();
      tried.push({ ...t, payload, at });
      await new Promise((r) => setTimeout(r, 2));
      const e = fail(n++, t, payload);
      if (e) throw e;
      sent.push({ ...t, payload, at });
    },
  };
}

describe('UpdatePacer', () => {
  it('keeps a gap between edits in one channel, not across channels, and sends only the newest waiting state', async () => {
    const r = recorder();
    const pacer = new UpdatePacer<string>({ send: r.send, minGapMs: 80 });
    const a = { channel: 'C1', ts: '1' };
    const first = pacer.push(a, 'p1');
    const skipped = pacer.push({ channel: 'C1', ts: '2' }, 'q1');
    const other = pacer.push({ channel: 'C2', ts: '9' }, 'z1');
    await first;
    // While message 2 waits its turn, message 1 moves on twice: only its newest state goes.
    const mid = pacer.push(a, 'p2');
    const last = pacer.push(a, 'p3');
    expect(await Promise.all([skipped, other, mid, last])).toEqual(['sent', 'sent', 'sent', 'sent']);
    const c1 = r.sent.filter((s) => s.channel === 'C1');
    expect(c1.map((s) => `${s.ts}:${s.payload}`)).toEqual(['1:p1', '2:q1', '1:p3']);
    for (let i = 1; i < c1.length; i++) expect(c1[i]!.at - c1[i - 1]!.at).toBeGreaterThanOrEqual(78);
    // The other channel did not wait for C1.
    expect(r.sent.find((s) => s.channel === 'C2')!.at - c1[0]!.at).toBeLessThan(60);
    expect(pacer.pending).toBe(0);
    await pacer.close();
  });

  it('waits the Retry-After of a 429, then sends the newest state once', async () => {
    const r = recorder((n) => (n === 0 ? rateLimited(0.3) : undefined));
    const pacer = new UpdatePacer<string>({ send: r.send, minGapMs: 20 });
    const t = { channel: 'C1', ts: '1' };
    const first = pacer.push(t, 'progress');
    await new Promise((res) => setTimeout(res, 50));
    const final = pacer.push(t, 'final');
    expect(await Promise.all([first, final])).toEqual(['sent', 'sent']);
    expect(r.tried.map((s) => s.payload)).toEqual(['progress', 'final']);
    expect(r.sent.map((s) => s.payload)).toEqual(['final']);
    expect(r.tried[1]!.at - r.tried[0]!.at).toBeGreaterThanOrEqual(295);
    await pacer.close();
  });

  it("a Retry-After holds every channel's edits (Slack counts chat.update per workspace), then each sends its newest state", async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let limitedOnce = false;
    const tried: Sent[] = [];
    const pacer = new UpdatePacer<string>({
      minGapMs: 40,
      send: async (t, payload) => {
        tried.push({ ...t, payload, at: Date.now() });
        if (t.channel === 'C1' && !limitedOnce) {
          limitedOnce = true;
          await gate;
          throw rateLimited(0.3);
        }
      },
    });
    const limited = pacer.push({ channel: 'C1', ts: '1' }, 'a1');
    // C2 sends while C1's edit is in flight, and its next edit is timed for its gap (40 ms) ...
    expect(await pacer.push({ channel: 'C2', ts: '2' }, 'b1')).toBe('sent');
    const b2 = pacer.push({ channel: 'C2', ts: '2' }, 'b2');
    // ... when C1's edit meets the 429.
    release();
    await new Promise((r) => setImmediate(r));
    const at429 = Date.now();
    expect(pacer.blockedUntil).toBeGreaterThanOrEqual(at429 + 290);
    expect(tried.map((s) => s.payload)).toEqual(['a1', 'b1']);
    // A channel that starts during the block waits too.
    const c1 = pacer.push({ channel: 'C3', ts: '3' }, 'c1');
    expect(await Promise.all([limited, b2, c1])).toEqual(['sent', 'sent', 'sent']);
    const after = tried.slice(2);
    expect(after.map((s) => s.payload).sort()).toEqual(['a1', 'b2', 'c1']);
    // Nothing went to Slack before Retry-After passed, in any channel.
    for (const s of after) expect(s.at - at429).toBeGreaterThanOrEqual(285);
    await pacer.close();
  });

  it('retries transient failures with backoff, and gives up on permanent ones or after maxAttempts', async () => {
    const r = recorder((_n, t) => (t.ts === 'gone' ? platform('message_not_found') : t.ts === 'flaky' && r.tried.filter((x) => x.ts === 'flaky').length <= 2 ? http500() : t.ts === 'down' ? http500() : undefined));
    const logs: string[] = [];
    const pacer = new UpdatePacer<string>({ send: r.send, minGapMs: 5, backoffMs: 20, maxAttempts: 3, log: (_l, m) => logs.push(m) });
    const flaky = pacer.push({ channel: 'C1', ts: 'flaky' }, 'x');
    const gone = pacer.push({ channel: 'C2', ts: 'gone' }, 'y');
    const down = pacer.push({ channel: 'C3', ts: 'down' }, 'z');
    expect(await Promise.all([flaky, gone, down])).toEqual(['sent', 'failed', 'failed']);
    expect(r.tried.filter((x) => x.ts === 'flaky')).toHaveLength(3);
    const flakyTimes = r.tried.filter((x) => x.ts === 'flaky').map((x) => x.at);
    expect(flakyTimes[1]! - flakyTimes[0]!).toBeGreaterThanOrEqual(18);
    expect(flakyTimes[2]! - flakyTimes[1]!).toBeGreaterThanOrEqual(38);
    expect(r.tried.filter((x) => x.ts === 'gone')).toHaveLength(1);
    expect(r.tried.filter((x) => x.ts === 'down')).toHaveLength(3);
    expect(logs.filter((m) => m.includes('gave up'))).toHaveLength(2);
    await pacer.close();
  });

  it('a newer state pushed while one is failing replaces it; the older push resolves with the newer', async () => {
    let release!: () => void;
    const blocked = new Promise<void>((r) => (release = r));
    const tried: string[] = [];
    const pacer = new UpdatePacer<string>({
      minGapMs: 5,
      backoffMs: 5,
      send: async (_t, p) => {
        tried.push(p);
        if (p === 'old') {
          await blocked;
          throw http500();
        }
      },
    });
    const t = { channel: 'C1', ts: '1' };
    const old = pacer.push(t, 'old');
    await new Promise((r) => setTimeout(r, 20));
    const neu = pacer.push(t, 'new');
    release();
    expect(await Promise.all([old, neu])).toEqual(['sent', 'sent']);
    expect(tried).toEqual(['old', 'new']);
    await pacer.close();
  });

  it('on close, waiting edits resolve "closed" and nothing more is sent', async () => {
    const r = recorder();
    const pacer = new UpdatePacer<string>({ send: r.send, minGapMs: 1000 });
    const t = { channel: 'C1', ts: '1' };
    await pacer.push(t, 'a');
    const waiting = pacer.push(t, 'b');
    pacer.touch('C9');
    await pacer.close();
    expect(await waiting).toBe('closed');
    expect(await pacer.push(t, 'c')).toBe('closed');
    expect(r.sent.map((s) => s.payload)).toEqual(['a']);
  });

  it("sorts the Web API client's errors", () => {
    expect(classifySlackError(rateLimited(3))).toEqual({ kind: 'rate-limited', retryAfterMs: 3000 });
    expect(classifySlackError(http500())).toMatchObject({ kind: 'transient' });
    expect(classifySlackError(Object.assign(new Error('x'), { code: 'slack_webapi_http_error', statusCode: 404 }))).toMatchObject({ kind: 'permanent' });
    expect(classifySlackError(platform('internal_error'))).toMatchObject({ kind: 'transient' });
    expect(classifySlackError(platform('channel_not_found'))).toEqual({ kind: 'permanent', reason: 'channel_not_found' });
    expect(classifySlackError(Object.assign(new Error('reset'), { code: 'slack_webapi_request_error' }))).toMatchObject({ kind: 'transient' });
  });
});
