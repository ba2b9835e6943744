/**
 * Sharding: the plan (one client; every shard in this process on PGlite; one
 * process per shard under ShardingManager on PostgreSQL), the manager's options
 * and the shard script's environment, which renders a shard follows after a
 * restart, shard processes stopped for good when one of them cannot start (real
 * ShardingManager, real child processes), and a real 2-shard client against the fake
 * gateway: both shards identify with the Guilds intent and each answers its own
 * guild's commands.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { REST, ShardingManager } from 'discord.js';
import type { Render } from '../../../src/bank/schema.ts';
import { BotCore, type MessageReply } from '../../../src/bot/core/index.ts';
import { DiscordAdapter, shardOf } from '../../../src/bot/discord/adapter.ts';
import { startDiscordBot, type DiscordBot } from '../../../src/bot/discord/index.ts';
import { argValue, planShards, SHARD_SCRIPT, shardingManagerOptions, shardsFromEnv, spawnShards } from '../../../src/bot/discord/sharding.ts';
import { JobQueue } from '../../../src/jobs/index.ts';
import { FakeDiscord, guildIdOnShard, snowflake } from '../../support/fake-discord/index.ts';
import { openTestBank, type TestBank } from '../../support/bank.ts';

const TOKEN = 'fake-bot-token-0123456789abcdef';
const quiet = () => {};

describe('shard plan and options', () => {
  it('runs one client, all shards inline on PGlite, or one process per shard on PostgreSQL', async () => {
    const recommended = async () => 3;
    expect(await planShards({ setting: 1, driver: 'postgres', recommended })).toEqual({ mode: 'single', count: 1 });
    expect(await planShards({ setting: 2, driver: 'pglite', recommended })).toMatchObject({ mode: 'inline', count: 2, reason: expect.stringContaining('DATABASE_URL') });
    expect(await planShards({ setting: 2, driver: 'postgres', recommended })).toEqual({ mode: 'processes', count: 2 });
    expect(await planShards({ setting: 'auto', driver: 'postgres', recommended })).toEqual({ mode: 'processes', count: 3 });
    expect(await planShards({ setting: 'auto', driver: 'postgres', recommended: async () => 1 })).toEqual({ mode: 'single', count: 1 });
    expect(await planShards({ setting: 4, driver: 'postgres', recommended, inline: true })).toMatchObject({ mode: 'inline', count: 4 });
  });

  it('gives ShardingManager the shard script, run through tsx, with the application id', () => {
    const o = shardingManagerOptions({ token: TOKEN, count: 2, applicationId: '42', api: 'http://127.0.0.1:1/api' });
    expect(o).toMatchObject({ totalShards: 2, mode: 'process', respawn: true, token: TOKEN, shardArgs: ['--application', '42', '--api', 'http://127.0.0.1:1/api'] });
    expect(o.execArgv[0]).toBe('--import');
    expect(existsSync(fileURLToPath(o.execArgv[1]!))).toBe(true);
    expect(existsSync(SHARD_SCRIPT)).toBe(true);
    expect(shardingManagerOptions({ token: TOKEN, count: 3, applicationId: '42' }).shardArgs).toEqual(['--application', '42']);
    expect(argValue(o.shardArgs, '--api')).toBe('http://127.0.0.1:1/api');

    // discord.js accepts them (its constructor writes SHARDING_MANAGER and the token to this process's environment: put them back).
    const saved = { SHARDING_MANAGER: process.env.SHARDING_MANAGER, SHARDING_MANAGER_MODE: process.env.SHARDING_MANAGER_MODE, DISCORD_TOKEN: process.env.DISCORD_TOKEN };
    try {
      const m = new ShardingManager(SHARD_SCRIPT, o);
      expect(m).toMatchObject({ file: SHARD_SCRIPT, totalShards: 2, mode: 'process', respawn: true, execArgv: o.execArgv, shardArgs: o.shardArgs });
    } finally {
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
  });

  it('reads the shards a manager gave a process from its environment', () => {
    expect(shardsFromEnv({ SHARDS: '1', SHARD_COUNT: '2' })).toEqual({ ids: [1], count: 2 });
    expect(shardsFromEnv({ SHARDS: '[0,2]', SHARD_COUNT: '4' })).toEqual({ ids: [0, 2], count: 4 });
    expect(shardsFromEnv({ SHARDS: '2', SHARD_COUNT: '2' })).toBeUndefined();
    expect(shardsFromEnv({})).toBeUndefined();
  });

  it("follows after a restart only the renders of this process's shards (DMs on shard 0)", async () => {
    const g0 = guildIdOnShard(0, 2);
    const g1 = guildIdOnShard(1, 2);
    expect([shardOf(g0, 2), shardOf(g1, 2)]).toEqual([0, 1]);
    const row = (communityId: string | null) => ({ id: snowflake(), messageId: snowflake(), channelId: snowflake(), communityId, createdAt: new Date() }) as unknown as Render;
    const rows = [row(`discord:${g0}`), row(`discord:${g1}`), row(null), row(`discord:${guildIdOnShard(1, 2, 5)}`)];
    const unreadable: MessageReply = { kind: 'message', text: 'x', ephemeral: true, cards: [], attachments: [], buttons: [] };
    const core = { activeRenders: async () => rows, renderStatus: async () => unreadable } as unknown as BotCore;
    const count = async (ids: number[]) => {
      const a = new DiscordAdapter({ core, bank: {} as never, rest: {} as REST, applicationId: '1', shards: { ids, count: 2 }, log: quiet });
      const n = await a.start();
      await a.close();
      return n;
    };
    expect(await count([0])).toBe(2);
    expect(await count([1])).toBe(2);
    expect(await count([0, 1])).toBe(4);
  });

  it('stops the shard processes already started, for good, when another cannot start', async () => {
    // Shard 0 becomes ready and keeps running; shard 1 dies at once (as a shard with a bad token or database would).
    const dir = mkdtempSync(join(tmpdir(), 'zb-shard-fail-'));
    const script = join(dir, 'shard.cjs');
    writeFileSync(script, "if (process.env.SHARDS === '0') { process.send({ _ready: true }); setInterval(() => {}, 1000); } else { process.exit(3); }\n");
    const saved = { SHARDING_MANAGER: process.env.SHARDING_MANAGER, SHARDING_MANAGER_MODE: process.env.SHARDING_MANAGER_MODE, DISCORD_TOKEN: process.env.DISCORD_TOKEN };
    const children: ChildProcess[] = [];
    try {
      const manager = new ShardingManager(script, { totalShards: 2, mode: 'process', respawn: true, token: TOKEN, execArgv: [] });
      manager.on('shardCreate', (shard) => shard.on('spawn', (child) => children.push(child as ChildProcess)));
      await expect(spawnShards(manager, { amount: 2, delay: 0, timeout: 20_000 }, 5000)).rejects.toThrow(/Shard 1/i);
      expect(manager.respawn).toBe(false);
      expect(children.length).toBeGreaterThanOrEqual(2);
      // No process is left, and none comes back.
      await new Promise((r) => setTimeout(r, 300));
      const count = children.length;
      expect(children.every((c) => c.exitCode !== null || c.signalCode !== null)).toBe(true);
      await new Promise((r) => setTimeout(r, 300));
      expect(children).toHaveLength(count);
      expect(children[0]!.signalCode).toBe('SIGTERM');
    } finally {
      for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
  });
});

describe('a 2-shard client against the fake gateway', () => {
  let t: TestBank;
  let fake: FakeDiscord;
  let bot: DiscordBot;

  beforeAll(async () => {
    t = await openTestBank('pglite', '');
    fake = await FakeDiscord.start({
      token: TOKEN,
      recommendedShards: 2,
      guilds: [
        { id: guildIdOnShard(0, 2), name: 'Shard Zero', channelId: snowflake() },
        { id: guildIdOnShard(1, 2), name: 'Shard One', channelId: snowflake() },
      ],
    });
    const core = new BotCore({ bank: t.bank, queue: new JobQueue(t.bank.db), log: quiet });
    bot = await startDiscordBot({
      core,
      bank: t.bank,
      log: quiet,
      rest: { api: fake.api },
      config: { discordToken: TOKEN, discordApplicationId: undefined, discordGuildId: undefined, discordShards: 'auto', publicUrl: undefined },
    });
  });
  afterAll(async () => {
    await bot?.close();
    await fake?.close();
    await t?.close();
  });

  it('identifies both shards in this process (PGlite) and answers each guild on its own shard', async () => {
    expect(bot.shards).toMatchObject({ mode: 'inline', count: 2 });
    expect(bot.registration).toMatchObject({ scope: 'global', registered: true });
    const ids = fake.gatewayLog.filter((e) => e.type === 'identify');
    expect(ids.map((e) => e.shard).sort()).toEqual([
      [0, 2],
      [1, 2],
    ]);
    expect(ids.every((e) => e.intents === 1)).toBe(true);
    expect(bot.client!.client.options.shards).toEqual([0, 1]);

    const [g0, g1] = fake.guilds;
    const a = fake.command({ name: 'bank', sub: 'top', guild: g0 });
    const b = fake.command({ name: 'bank', sub: 'top', guild: g1 });
    await fake.waitFor(() => a.callbacks.length > 0 && b.callbacks.length > 0, 5000, 'both answers');
    expect([a, b].map((x) => x.callbacks.map((c) => c.type))).toEqual([[4], [4]]);
    expect(fake.messages.get(b.originalId!)!.guildId).toBe(g1!.id);
  });
});
