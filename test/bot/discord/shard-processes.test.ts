/**
 * Shards as processes (DISCORD_SHARDS=2 on PostgreSQL): discord.js's ShardingManager
 * starts two processes of src/bot/discord/shard.ts through tsx; each opens the bank on
 * the same database and connects its own shard to the fake gateway, and each answers
 * the interactions of its own guild. Skipped without a PostgreSQL server.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Bank } from '../../../src/bank/index.ts';
import { JobQueue } from '../../../src/bank/jobs.ts';
import { BotCore } from '../../../src/bot/core/index.ts';
import { startDiscordBot, type DiscordBot } from '../../../src/bot/discord/index.ts';
import { loadConfig } from '../../../src/config.ts';
import { FakeDiscord, guildIdOnShard, snowflake } from '../../support/fake-discord/index.ts';
import { freshPostgresDatabase } from '../../support/bank.ts';

const TOKEN = 'fake-bot-token-0123456789abcdef';
const pgUrl = inject('pgUrl');
const ENV_KEYS = ['DATABASE_URL', 'ZIPBANK_DATA_DIR', 'ZIPBANK_LOG_LEVEL', 'SHARDING_MANAGER', 'SHARDING_MANAGER_MODE', 'DISCORD_TOKEN'] as const;

describe.skipIf(!pgUrl)('shard processes under ShardingManager (PostgreSQL)', () => {
  const saved = Object.fromEntries(ENV_KEYS.map((k) => [k, process.env[k]]));
  let bank: Bank;
  let fake: FakeDiscord;
  let bot: DiscordBot | undefined;

  beforeAll(async () => {
    // The shard processes read the same settings as `zipbank start`, from the environment.
    process.env.DATABASE_URL = await freshPostgresDatabase(pgUrl);
    process.env.ZIPBANK_DATA_DIR = mkdtempSync(join(tmpdir(), 'zb-shards-'));
    process.env.ZIPBANK_LOG_LEVEL = 'warn';
    bank = await Bank.open(loadConfig(process.env));
    fake = await FakeDiscord.start({
      token: TOKEN,
      guilds: [
        { id: guildIdOnShard(0, 2), name: 'Shard Zero', channelId: snowflake() },
        { id: guildIdOnShard(1, 2), name: 'Shard One', channelId: snowflake() },
      ],
    });
    bot = await startDiscordBot({
      core: new BotCore({ bank, queue: new JobQueue(bank.db), log: () => {} }),
      bank,
      log: () => {},
      rest: { api: fake.api },
      spawnDelayMs: 0,
      config: { discordToken: TOKEN, discordApplicationId: undefined, discordGuildId: undefined, discordShards: 2, publicUrl: undefined },
    });
  }, 180_000);

  afterAll(async () => {
    await bot?.close();
    await fake?.close();
    await bank?.close();
    for (const k of ENV_KEYS) {
      if (saved[k] === undefined) delete process.env[k];
      else process.env[k] = saved[k];
    }
  });

  it('runs one process per shard, each answering its own guild', async () => {
    expect(bot!.shards).toEqual({ mode: 'processes', count: 2 });
    expect(bot!.client).toBeUndefined();
    const shards = [...bot!.manager!.shards.values()];
    expect(shards.map((s) => s.id).sort()).toEqual([0, 1]);
    const pids = shards.map((s) => s.process?.pid);
    expect(new Set(pids).size).toBe(2);
    expect(pids).not.toContain(process.pid);
    expect(
      fake.gatewayLog
        .filter((e) => e.type === 'identify')
        .map((e) => [e.shard, e.intents])
        .sort(),
    ).toEqual([
      [[0, 2], 1],
      [[1, 2], 1],
    ]);

    const [g0, g1] = fake.guilds;
    const a = fake.command({ name: 'bank', sub: 'top', guild: g0 });
    const b = fake.command({ name: 'zip', options: { subject: 'nope', style: 'nope', prompt: 'x' }, guild: g1 });
    await fake.waitFor(() => a.callbacks.length > 0 && b.callbacks.length > 0, 10_000, 'both answers');
    expect(a.callbacks.map((c) => c.type)).toEqual([4]);
    expect(b.callbacks[0]).toMatchObject({ type: 4, data: { flags: 64 } });
    expect(b.callbacks[0]!.data.content).toContain('no subject LoRA named "nope"');
  }, 60_000);
});
