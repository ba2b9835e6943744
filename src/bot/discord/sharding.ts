/**
 * How many gateway shards, and where they run. DISCORD_SHARDS is a count or `auto`
 * (Discord's recommendation from GET /gateway/bot). One shard: one client in this
 * process. More: on PostgreSQL, discord.js's ShardingManager runs one process per
 * shard (./shard.ts, each with its own client and database pool); otherwise (the
 * embedded PGlite belongs to one process) every shard runs inside this process's
 * client (discord.js's `shards`/`shardCount` options). `spawnShards` starts the
 * processes; if that fails, the ones already started are stopped (and not respawned)
 * before the error goes on, as `stopShards` does at shutdown.
 *
 * @example
 *   const plan = await planShards({ setting: config.discordShards, driver: bank.driver, recommended: () => gatewayShards(rest) });
 *   if (plan.mode === 'processes') {
 *     const manager = new ShardingManager(SHARD_SCRIPT, shardingManagerOptions({ token, count: plan.count, applicationId }));
 *     await spawnShards(manager, { amount: plan.count, delay: 5500, timeout: 120_000 });
 *     // ... later
 *     await stopShards(manager);
 *   }
 */
import type { ChildProcess } from 'node:child_process';
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

/** What `spawnShards` and `stopShards` use of a ShardingManager (process mode). */
export interface ShardProcesses {
  respawn: boolean;
  readonly shards: ReadonlyMap<
    number,
    { readonly process: ChildProcess | null; listenerCount(event: 'error'): number; on(event: 'error', listener: (error: Error) => void): unknown }
  >;
  spawn(o: { amount: number; delay: number; timeout: number }): Promise<unknown>;
}

/** Stop every shard process for good: no respawn, SIGTERM, then SIGKILL after `graceMs` (default 10 s). */
export async function stopShards(m: ShardProcesses, graceMs = 10_000): Promise<void> {
  m.respawn = false;
  // A respawn under way when its process is killed ends in the shard's 'error' event, which Node throws without a listener.
  for (const shard of m.shards.values()) if (shard.listenerCount('error') === 0) shard.on('error', () => {});
  await Promise.all(
    [...m.shards.values()].map(
      (shard) =>
        new Promise<void>((resolve) => {
          const child = shard.process;
          if (!child || child.exitCode !== null || child.signalCode !== null) return resolve();
          const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
          child.once('exit', () => {
            clearTimeout(timer);
            resolve();
          });
          child.kill('SIGTERM');
        }),
    ),
  );
}

/** Start the shard processes; when one fails to start, stop those already running (they would respawn forever) and throw. */
export async function spawnShards(m: ShardProcesses, o: { amount: number; delay: number; timeout: number }, graceMs?: number): Promise<void> {
  try {
    await m.spawn(o);
  } catch (e) {
    await stopShards(m, graceMs);
    throw e;
  }
}
