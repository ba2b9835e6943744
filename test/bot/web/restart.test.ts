/**
 * Renders outlive the process that shows them: a web channel started again follows
 * the renders still in flight (their messages are in the database) and edits the
 * same messages to the end; renders run by a worker in another process (whose job
 * events never reach the channel) are followed by polling.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startWebApp, type WebApp } from '../../../src/bot/web/app.ts';
import type { WebMessage } from '../../../src/bot/web/channel.ts';
import { JobEvents, JobQueue, Worker } from '../../../src/jobs/index.ts';
import { openCoreBank, seededRandom, type CoreBank } from '../core/support.ts';
import { ANN, fakeEngine, messageEvent, post, SseReader } from './support.ts';

const quiet = () => {};

describe('web channel across restarts', () => {
  let t: CoreBank;
  const apps: WebApp[] = [];
  const readers: SseReader[] = [];
  const start = async (handler: Parameters<typeof startWebApp>[0]['handler']) => {
    const app = await startWebApp({
      bank: t.bank,
      handler,
      worker: { pollMs: 20, progressThrottleMs: 0 },
      core: { renderDefaults: { sd15: { steps: 2, count: 2 } }, random: seededRandom(5) },
      channel: { follow: { intervalMs: 20, queueIntervalMs: 50, pollMs: 100 } },
      log: quiet,
    });
    apps.push(app);
    return app;
  };
  const tab = async (app: WebApp) => {
    const r = new SseReader(new URL(`/api/channel/events?userId=${ANN.id}&userName=${ANN.name}`, app.url).toString());
    readers.push(r);
    await r.ready;
    await r.next((e) => e.event === 'hello');
    return r;
  };

  beforeAll(async () => {
    t = await openCoreBank();
  });
  afterAll(async () => {
    for (const r of readers) r.close();
    for (const a of apps) await a.close();
    await t?.close();
  });

  it('picks up a render that was running when the process stopped, and edits its message to done', async () => {
    let reached!: () => void;
    const atGate = new Promise<void>((r) => (reached = r));
    const first = await start(
      fakeEngine(t.bank, {
        gate: () => {
          reached();
          return new Promise<void>(() => {}); // never lets go: the process stops first
        },
      }),
    );
    const watcher = await tab(first);
    const posted = (await post(first.url, '/api/channel/command', { user: ANN, text: '/zip subject:cat style:flower prompt:"across a restart"' })).body.message!;
    await atGate;
    await watcher.next(messageEvent((m) => m.id === posted.id && /zipping .* 2\/2/.test(m.text)));
    await first.close({ graceMs: 0 }); // the job goes back to the queue; its message stays as it was
    const stored = (await first.channel.history(10)).find((m) => m.id === posted.id)!;
    expect(stored.live).toBe(true);
    expect(stored.text).toMatch(/zipping .* 2\/2$/);

    const engine = fakeEngine(t.bank);
    const second = await start(engine);
    expect(second.resumed).toBe(1);
    const r = await tab(second);
    const end = ((await r.next(messageEvent((m) => m.id === posted.id && !m.live))).data as { message: WebMessage }).message;
    expect(end.text).toContain('“across a restart” for Ann');
    expect(end.version).toBeGreaterThan(stored.version);
    expect(end.cards[0]!.images).toHaveLength(1);
    expect((await fetch(new URL(end.cards[0]!.images[0]!, second.url))).status).toBe(200);
    expect(engine.started).toEqual([posted.renderId]);
    expect(second.channel.following).toBe(0);
    await second.close();
  });

  it('follows a render run by a worker in another process, by polling', async () => {
    const app = await start(undefined); // no worker here
    const r = await tab(app);
    const posted = (await post(app.url, '/api/channel/command', { user: ANN, text: '/zip subject:cat style:flower prompt:"elsewhere"' })).body.message!;
    expect(posted.text).toContain('queued');
    // Another process: its own queue object and its own events, nothing shared with the app.
    const other = new Worker(new JobQueue(t.bank.db), fakeEngine(t.bank), { events: new JobEvents(), log: quiet, pollMs: 20 });
    expect(await other.drain()).toBe(1);
    const end = ((await r.next(messageEvent((m) => m.id === posted.id && !m.live), 5_000)).data as { message: WebMessage }).message;
    expect(end.text).toContain('“elsewhere” for Ann');
  });
});
