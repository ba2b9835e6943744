/** RenderFollower: redraws on events (throttled) and on a poll, sends only changes, stops when the render ends. */
import { afterEach, describe, expect, it } from 'vitest';
import type { MessageReply } from '../../../src/bot/core/index.ts';
import { RenderFollower } from '../../../src/bot/core/follow.ts';
import { JobEvents } from '../../../src/jobs/events.ts';
import type { Job } from '../../../src/jobs/types.ts';

const reply = (text: string, live = true): MessageReply => ({
  kind: 'message',
  text,
  ephemeral: false,
  cards: [],
  attachments: [],
  buttons: [],
  ...(live ? { follow: { renderId: 'r1' } } : {}),
});
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const progress = (renderId: string | null, step: number) => ({ type: 'progress' as const, jobId: 'j1', renderId, progress: { phase: 'zipping', step, total: 10 }, at: new Date() });

describe('RenderFollower', () => {
  let f: RenderFollower | undefined;
  afterEach(async () => f?.close());

  it('redraws on its own events at most once per interval, sends only changes, and stops when the render ends', async () => {
    const events = new JobEvents();
    let state = reply('queued');
    let reads = 0;
    const sent: string[] = [];
    f = new RenderFollower({
      events,
      intervalMs: 60,
      pollMs: 10_000,
      status: async () => {
        reads++;
        return state;
      },
      update: async (_f, r) => void sent.push(r.text),
    });
    f.follow('r1', 'm1', state);
    const t0 = Date.now();
    for (let k = 1; k <= 10; k++) {
      state = reply(`zipping ${k}/10`);
      events.emit(progress('r1', k));
      await sleep(10);
    }
    const elapsed = Date.now() - t0;
    await sleep(150);
    // One redraw per 60 ms while the events last (plus the trailing one), never one per event; the last state is sent.
    expect(reads).toBeGreaterThanOrEqual(2);
    expect(reads).toBeLessThanOrEqual(Math.min(9, Math.ceil(elapsed / 60) + 2));
    expect(sent.at(-1)).toBe('zipping 10/10');
    expect(new Set(sent).size).toBe(sent.length);
    // Events about other renders do not redraw this one through its own channel; nothing changed: nothing sent.
    const before = sent.length;
    events.emit(progress('other', 1));
    await sleep(100);
    expect(sent.length).toBe(before);
    state = reply('done', false);
    events.emit({ type: 'state', job: { id: 'j1', renderId: 'r1', status: 'done' } as Job });
    await sleep(120);
    expect(sent.at(-1)).toBe('done');
    expect(f.size).toBe(0);
  });

  it('tries a failed edit again, the final one included, until it lands once', async () => {
    let state = reply('rendering 1/2');
    const sent: string[] = [];
    let failures = 2;
    f = new RenderFollower({
      pollMs: 30,
      intervalMs: 10,
      status: async () => state,
      update: async (_f, r) => {
        if (r.text === 'done' && failures-- > 0) throw new Error('HTTP 500');
        sent.push(r.text);
      },
    });
    f.follow('r1', 'm1');
    await sleep(60);
    state = reply('done', false);
    await sleep(200);
    expect(sent).toEqual(['rendering 1/2', 'done']);
    expect(f.isFollowing('r1')).toBe(false);
  });

  it('polls for changes made by workers elsewhere', async () => {
    let state = reply('queued');
    const sent: string[] = [];
    f = new RenderFollower({ pollMs: 40, intervalMs: 10, status: async () => state, update: async (_f, r) => void sent.push(r.text) });
    f.follow('r1', 'm1', state);
    await sleep(60);
    expect(sent).toEqual([]);
    state = reply('rendering 1/2');
    await sleep(100);
    expect(sent).toEqual(['rendering 1/2']);
    state = reply('done', false);
    await sleep(100);
    expect(sent).toEqual(['rendering 1/2', 'done']);
    expect(f.isFollowing('r1')).toBe(false);
  });

  it('draws at once when followed without a current message, and keeps the message when the status cannot be read', async () => {
    const logs: string[] = [];
    let fail = true;
    const sent: string[] = [];
    f = new RenderFollower({
      pollMs: 30,
      intervalMs: 10,
      log: (_l, m) => logs.push(m),
      status: async () => (fail ? { ...reply('database down'), ephemeral: true } : reply('running')),
      update: async (_f, r) => void sent.push(r.text),
    });
    f.follow('r1', 'm1');
    await sleep(100);
    expect(sent).toEqual([]);
    expect(logs).toHaveLength(1); // said once, not at every poll
    expect(f.isFollowing('r1')).toBe(true);
    fail = false;
    await sleep(80);
    expect(sent).toEqual(['running']);
  });

  it('redraws soon a render whose job moved before it was followed; else waits for an event or the poll', async () => {
    const events = new JobEvents();
    const sent: string[] = [];
    f = new RenderFollower({ events, intervalMs: 20, pollMs: 10_000, status: async (id) => reply(`${id} running`), update: async (_f, r) => void sent.push(r.text) });
    events.emit({ type: 'state', job: { id: 'j1', renderId: 'r1', status: 'running' } as Job });
    f.follow('r1', 'm1', reply('r1 queued'));
    f.follow('r2', 'm2', reply('r2 queued'));
    await sleep(120);
    expect(sent).toEqual(['r1 running']);
  });

  it('stops redrawing when closed', async () => {
    let reads = 0;
    f = new RenderFollower({ pollMs: 20, status: async () => (reads++, reply(`x${reads}`)), update: async () => {} });
    f.follow('r1', 'm1');
    await sleep(70);
    await f.close();
    const n = reads;
    await sleep(60);
    expect(reads).toBe(n);
    expect(f.size).toBe(0);
  });
});
