/**
 * A test rig for the Discord adapter: a PGlite bank with real LoRAs, the command
 * core, a real Worker running an engine double (whose renders can be held at a gate
 * until the test lets them go), the fake Discord on loopback, and `startBot` that
 * starts the real bot (discord.js client) against it with quick redraw pacing.
 */
import { JobEvents, JobQueue, Worker, type Log } from '../../../src/jobs/index.ts';
import { BotCore } from '../../../src/bot/core/index.ts';
import { startDiscordBot, type DiscordBot, type DiscordBotOptions } from '../../../src/bot/discord/index.ts';
import { FakeDiscord, type FakeDiscordOptions } from '../../support/fake-discord/index.ts';
import { openCoreBank, seededRandom, type CoreBank } from '../core/support.ts';
import { fakeEngine, type FakeEngine } from '../web/support.ts';

export const TOKEN = 'fake-bot-token-0123456789abcdef';

export interface Rig {
  t: CoreBank;
  fake: FakeDiscord;
  events: JobEvents;
  queue: JobQueue;
  core: BotCore;
  engine: FakeEngine;
  worker: Worker;
  logs: string[];
  /** Hold renders after zipping until `release()` (set before the command). */
  hold(): void;
  release(): void;
  startBot(o?: Partial<DiscordBotOptions> & { config?: Partial<DiscordBotOptions['config']> }): Promise<DiscordBot>;
  close(): Promise<void>;
}

export async function openRig(o: { fake?: Partial<FakeDiscordOptions>; stepMs?: number } = {}): Promise<Rig> {
  const t = await openCoreBank();
  const fake = await FakeDiscord.start({ token: TOKEN, ...o.fake });
  const logs: string[] = [];
  const log: Log = (level, message) => void logs.push(`${level}: ${message}`);
  const events = new JobEvents();
  const queue = new JobQueue(t.bank.db);
  const core = new BotCore({ bank: t.bank, queue, events, renderDefaults: { sd15: { steps: 3, count: 4, width: 64, height: 64 } }, random: seededRandom(3), log });
  let gate: Promise<void> | undefined;
  let open: (() => void) | undefined;
  const engine = fakeEngine(t.bank, { stepMs: o.stepMs ?? 30, gate: () => gate ?? Promise.resolve() });
  const worker = new Worker(queue, engine, { events, log, pollMs: 20, progressThrottleMs: 0 });
  worker.start();
  const bots: DiscordBot[] = [];
  return {
    t,
    fake,
    events,
    queue,
    core,
    engine,
    worker,
    logs,
    hold() {
      gate = new Promise<void>((r) => (open = r));
    },
    release() {
      open?.();
      gate = undefined;
    },
    async startBot(over = {}) {
      const { config, ...rest } = over;
      const bot = await startDiscordBot({
        core,
        bank: t.bank,
        events,
        log,
        rest: { api: fake.api },
        adapter: { follow: { intervalMs: 30, queueIntervalMs: 100, pollMs: 150 }, ...rest.adapter },
        ...rest,
        config: { discordToken: TOKEN, discordApplicationId: undefined, discordGuildId: fake.guilds[0]!.id, discordShards: 1, publicUrl: undefined, ...config },
      });
      bots.push(bot);
      return bot;
    },
    async close() {
      open?.();
      for (const b of bots) await b.close().catch(() => {});
      await worker.stop({ graceMs: 0 });
      await fake.close();
      await t.close();
    },
  };
}

/** Button custom id by label in a fake message's components. */
export function buttonId(components: { components?: { label?: string; custom_id?: string }[] }[], label: string): string {
  const b = components.flatMap((r) => r.components ?? []).find((c) => c.label === label);
  if (!b?.custom_id) throw new Error(`no button "${label}" in ${JSON.stringify(components.map((r) => (r.components ?? []).map((c) => c.label)))}`);
  return b.custom_id;
}

export function labels(components: { components?: { label?: string }[] }[]): string[] {
  return components.flatMap((r) => r.components ?? []).map((c) => c.label ?? '');
}
