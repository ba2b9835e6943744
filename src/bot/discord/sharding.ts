/**
 * How many gateway shards, and where they run. DISCORD_SHARDS is a count or `auto`
 * (Discord's recommendation from GET /gateway/bot). One shard: one client in this
 * process. More: on PostgreSQL, discord.js's ShardingManager runs one process per
 * shard (./shard.ts, each with its own client and database pool); otherwise (the
 * embedded PGlite belongs to one process) every shard runs inside this process's
 * client (discord.js's `shards`/`shardCount` options).
 *
 * @example
 *   const plan = await planShards({ setting: config.discordShards, driver: bank.driver, recommended: () => gatewayShards(rest) });
 *   if (plan.mode === 'processes') new ShardingManager(SHARD_SCRIPT, shardingManagerOptions({ token, count: plan.count, applicationId }));
 */
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Routes, type REST, type ShardingManagerOptions } from 'discord.js';

export type ShardPlan =
  | { mode: 'single'; count: 1 }
  /** Every shard in this process's client. */
  | { mode: 'inline'; count: number; reason: string }
  /** One process per shard (ShardingManager). */
  | { mode: 'processes'; count: number };

/** The entry script each shard process runs. */
export const SHARD_SCRIPT = fileURLToPath(new URL('./shard.ts', import.meta.url));

/** Discord's recommended shard count for this bot. */
export async function gatewayShards(rest: REST): Promise<number> {
  const info = (await rest.get(Routes.gatewayBot())) as { shards?: number };
  return Math.max(1, Math.floor(info.shards ?? 1));
}

export async function planShards(o: {
  setting: number | 'auto';
  /** The bank's database driver: only `postgres` can be shared by shard processes. */
  driver: string;
  recommended: () => Promise<number>;
  /** Force every shard into this process (default: processes on PostgreSQL). */
  inline?: boolean;
}): Promise<ShardPlan> {
  const count = o.setting === 'auto' ? await o.recommended() : o.setting;
  if (count <= 1) return { mode: 'single', count: 1 };
  if (o.driver !== 'postgres') return { mode: 'inline', count, reason: 'the embedded PGlite database belongs to one process; set DATABASE_URL for one process per shard' };
  if (o.inline) return { mode: 'inline', count, reason: 'asked for' };
  return { mode: 'processes', count };
}

/** Node flags for a shard process: TypeScript through tsx's loader, as `zipbank` itself runs. */
export function shardExecArgv(): string[] {
  return ['--import', pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href];
}

export interface ManagerSettings {
  token: string;
  count: number;
  applicationId: string;
  /** REST base URL (tests). */
  api?: string | undefined;
}

/** ShardingManager options: `count` processes of ./shard.ts, respawned when they die. */
export function shardingManagerOptions(s: ManagerSettings): ShardingManagerOptions & { totalShards: number; shardArgs: string[]; execArgv: string[] } {
  return {
    totalShards: s.count,
    mode: 'process',
    respawn: true,
    token: s.token,
    execArgv: shardExecArgv(),
    shardArgs: ['--application', s.applicationId, ...(s.api ? ['--api', s.api] : [])],
  };
}

/** The shards a ShardingManager gave this process (its SHARDS / SHARD_COUNT environment), if any. */
export function shardsFromEnv(env: Record<string, string | undefined>): { ids: number[]; count: number } | undefined {
  if (!env.SHARDS || !env.SHARD_COUNT) return undefined;
  const raw = JSON.parse(env.SHARDS) as unknown;
  const ids = (Array.isArray(raw) ? raw : [raw]).map(Number);
  const count = Number(env.SHARD_COUNT);
  if (!Number.isInteger(count) || count < 1 || ids.some((id) => !Number.isInteger(id) || id < 0 || id >= count)) return undefined;
  return { ids, count };
}

/** `--name value` from a shard process's arguments. */
export function argValue(argv: readonly string[], name: string): string | undefined {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
}
