/**
 * The script each shard process runs under discord.js's ShardingManager (DISCORD_SHARDS
 * above 1 on PostgreSQL). It reads the same settings as `zipbank start` from the
 * environment, opens the bank on DATABASE_URL, and runs one client for the shard the
 * manager gave it (SHARDS / SHARD_COUNT), answering its guilds' interactions and
 * following their renders. It runs no worker: `zipbank start` and `zipbank worker`
 * processes serve the queue. SIGTERM (the manager, or `zipbank start` stopping)
 * closes it cleanly; so does the manager going away.
 *
 * @example
 *   // started by ShardingManager, not by hand:
 *   //   node --import tsx src/bot/discord/shard.ts --application 1234567890
 *   //   (environment: SHARDING_MANAGER=true SHARDS=1 SHARD_COUNT=2 DISCORD_TOKEN=... DATABASE_URL=...)
 */
import { pathToFileURL } from 'node:url';
import { JobQueue } from '../../bank/jobs.ts';
import { Bank } from '../../bank/index.ts';
import { loadConfig } from '../../config.ts';
import type { Log, LogLevel } from '../../jobs/types.ts';
import { BotCore } from '../core/index.ts';
import { startDiscordClient, type DiscordClient } from './index.ts';
import { argValue, shardsFromEnv } from './sharding.ts';

export async function runShard(env: Record<string, string | undefined> = process.env, argv: readonly string[] = process.argv.slice(2)): Promise<{ client: DiscordClient; close(): Promise<void> }> {
  const config = loadConfig(env);
  const shards = shardsFromEnv(env);
  const tag = shards ? `shard ${shards.ids.join(',')}/${shards.count}` : 'shard';
  const order: LogLevel[] = ['debug', 'info', 'warn', 'error'];
  const log: Log = (level, message) => {
    if (order.indexOf(level) >= order.indexOf(config.logLevel)) console.error(`zipbank discord ${tag}: ${level}: ${message}`);
  };
  const token = env.DISCORD_TOKEN ?? config.discordToken;
  const applicationId = argValue(argv, '--application') ?? config.discordApplicationId;
  if (!token || !applicationId) throw new Error('a shard process needs DISCORD_TOKEN and --application <id> (it is started by the ShardingManager)');
  const api = argValue(argv, '--api');
  const bank = await Bank.open(config);
  try {
    const core = new BotCore({ bank, queue: new JobQueue(bank.db), log });
    const client = await startDiscordClient({ core, bank, token, applicationId, rest: api ? { api } : undefined, shards, publicUrl: config.publicUrl, log });
    let closing: Promise<void> | undefined;
    return {
      client,
      close() {
        closing ??= client.close().finally(() => bank.close());
        return closing;
      },
    };
  } catch (e) {
    await bank.close();
    throw e;
  }
}

const isMain = !!process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href;
if (isMain) {
  try {
    const shard = await runShard();
    const stop = () => void shard.close().then(() => process.exit(0), () => process.exit(1));
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
    process.once('disconnect', stop);
  } catch (e) {
    console.error(`zipbank discord shard: ${e instanceof Error ? e.message : String(e)}`);
    process.exit(1);
  }
}
