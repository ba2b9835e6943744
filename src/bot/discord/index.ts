/**
 * The Discord bot: one entry point, `startDiscordBot`, that `zipbank start` calls when
 * DISCORD_TOKEN is set. It asks Discord for the application id when
 * DISCORD_APPLICATION_ID is unset, registers the slash commands only when their
 * definitions changed (./commands.ts), then connects to the gateway with the Guilds
 * intent alone and answers interactions on the command core (./adapter.ts). With
 * DISCORD_SHARDS above 1 (or `auto`), the shards run as processes under discord.js's
 * ShardingManager on PostgreSQL, or all in this process on PGlite (./sharding.ts).
 *
 * Workers are not started here: render jobs go to the queue like every other
 * platform's, and the worker of `zipbank start` or `zipbank worker` processes on any
 * machine with the same database run them; their progress reaches Discord through
 * the adapter's follower (job events in this process, polling for the others). A
 * render that ends while the bot is down gets its final edit at the next start (the
 * adapter's ledger in bot_state). If a shard process cannot start, those already
 * started are stopped before the error is thrown.
 *
 * @example
 *   const bot = await startDiscordBot({ core, bank, events, config, log });
 *   // ... later
 *   await bot.close();
 */
import { Client, Events, GatewayIntentBits, REST, Routes, ShardingManager, type ClientOptions } from 'discord.js';
import type { Bank } from '../../bank/index.ts';
import { SETTINGS, type Config } from '../../config.ts';
import { describeError, ZipbankError } from '../../errors/index.ts';
import type { JobEvents } from '../../jobs/events.ts';
import type { Log } from '../../jobs/types.ts';
import type { BotCore } from '../core/index.ts';
import { DiscordAdapter, type DiscordAdapterOptions } from './adapter.ts';
import { inviteUrl, registerCommands, type RegistrationResult } from './commands.ts';
import { gatewayShards, planShards, SHARD_SCRIPT, shardingManagerOptions, spawnShards, stopShards, type ShardPlan } from './sharding.ts';

export type AdapterSettings = Pick<DiscordAdapterOptions, 'follow' | 'quickMs' | 'modalMs' | 'tokenLifetimeMs' | 'autocompleteMs' | 'downloadTimeoutMs'>;

export interface DiscordClientOptions {
  core: BotCore;
  bank: Bank;
  events?: JobEvents | undefined;
  token: string;
  applicationId: string;
  /** REST base URL (`https://discord.com/api` by default; tests point it at a local fake). */
  rest?: { api: string } | undefined;
  /** The shards this client runs, of `count` (default: one shard, or what a ShardingManager set in the environment). */
  shards?: { ids: readonly number[]; count: number } | undefined;
  publicUrl?: string | undefined;
  log?: Log | undefined;
  adapter?: AdapterSettings | undefined;
  /** Extra discord.js client options (tests: timeouts). */
  client?: Partial<ClientOptions> | undefined;
}

export interface DiscordClient {
  client: Client;
  adapter: DiscordAdapter;
  /** Renders followed again at start. */
  resumed: number;
  close(): Promise<void>;
}

const defaultLog: Log = (level, message) => level !== 'debug' && console.error(`[zipbank discord] ${level}: ${message}`);

/** One discord.js client (one or more shards) answering interactions on the core. */
export async function startDiscordClient(o: DiscordClientOptions): Promise<DiscordClient> {
  const log = o.log ?? defaultLog;
  const client = new Client({
    intents: [GatewayIntentBits.Guilds],
    ...(o.rest ? { rest: { api: o.rest.api } } : {}),
    ...(o.shards ? { shards: [...o.shards.ids], shardCount: o.shards.count } : {}),
    ...o.client,
  });
  const shards = o.shards ?? (Array.isArray(client.options.shards) ? { ids: client.options.shards, count: client.options.shardCount ?? 1 } : undefined);
  const adapter = new DiscordAdapter({
    ...o.adapter,
    core: o.core,
    bank: o.bank,
    rest: client.rest,
    applicationId: o.applicationId,
    events: o.events,
    publicUrl: o.publicUrl,
    log,
    shards,
  });
  // The raw payload comes first: the member's role ids as Discord sent them, for the interaction that follows.
  client.on(Events.Raw, (packet: unknown) => adapter.noteRaw(packet));
  client.on(Events.InteractionCreate, (i) => void adapter.handle(i));
  client.on(Events.Error, (e) => log('warn', `discord client: ${describeError(e)}`));
  client.on(Events.ShardError, (e, id) => log('warn', `discord shard ${id}: ${describeError(e)}`));
  client.on(Events.ShardReconnecting, (id) => log('info', `discord shard ${id}: connection lost, reconnecting`));
  client.on(Events.ShardResume, (id, replayed) => log('info', `discord shard ${id}: resumed (${replayed} events replayed)`));
  client.on(Events.ShardDisconnect, (ev, id) => log('warn', `discord shard ${id}: disconnected for good (code ${ev.code})`));
  try {
    await client.login(o.token);
  } catch (e) {
    await adapter.close(0);
    await client.destroy();
    throw e;
  }
  const resumed = await adapter.start();
  if (resumed > 0) log('info', `discord: following ${resumed} render(s) still in flight`);
  let closing: Promise<void> | undefined;
  return {
    client,
    adapter,
    resumed,
    close() {
      closing ??= (async () => {
        await adapter.close();
        await client.destroy();
      })();
      return closing;
    },
  };
}

export interface DiscordBotOptions {
  core: BotCore;
  bank: Bank;
  /** Job events of this process (progress of its in-process worker shows at once). */
  events?: JobEvents | undefined;
  config: Pick<Config, 'discordToken' | 'discordApplicationId' | 'discordGuildId' | 'discordShards' | 'publicUrl'>;
  log?: Log | undefined;
  /** REST base URL (tests: a local fake Discord). */
  rest?: { api: string } | undefined;
  adapter?: AdapterSettings | undefined;
  client?: Partial<ClientOptions> | undefined;
  /** Run every shard in this process even on PostgreSQL. */
  inlineShards?: boolean | undefined;
  /** ShardingManager: wait between two shard processes' starts (default 5.5 s, Discord's identify pacing). */
  spawnDelayMs?: number | undefined;
}

export interface DiscordBot {
  applicationId: string;
  registration: RegistrationResult;
  shards: ShardPlan;
  /** The client, unless the shards run as processes. */
  client: DiscordClient | undefined;
  manager: ShardingManager | undefined;
  close(): Promise<void>;
}

/** Register the commands when they changed, then run the gateway client(s). */
export async function startDiscordBot(o: DiscordBotOptions): Promise<DiscordBot> {
  const token = o.config.discordToken;
  if (!token) throw new ZipbankError('config.invalid', { variable: SETTINGS.discordToken.env, value: '', expected: SETTINGS.discordToken.expected });
  const log = o.log ?? defaultLog;
  const rest = new REST({ version: '10', ...(o.rest ? { api: o.rest.api } : {}) }).setToken(token);
  let applicationId: string;
  let registration: RegistrationResult;
  let plan: ShardPlan;
  try {
    applicationId = o.config.discordApplicationId ?? ((await rest.get(Routes.currentApplication())) as { id: string }).id;
    registration = await registerCommands({ rest, applicationId, guildId: o.config.discordGuildId, state: o.bank.botState, log });
    plan = await planShards({ setting: o.config.discordShards, driver: o.bank.driver, recommended: () => gatewayShards(rest), inline: o.inlineShards });
  } finally {
    rest.clearHashSweeper();
    rest.clearHandlerSweeper();
  }
  log('info', `discord: invite the bot with ${inviteUrl(applicationId)}`);

  if (plan.mode === 'processes') {
    const manager = new ShardingManager(SHARD_SCRIPT, shardingManagerOptions({ token, count: plan.count, applicationId, api: o.rest?.api }));
    manager.on('shardCreate', (shard) => {
      log('info', `discord: shard ${shard.id}/${plan.count} starting (process)`);
      shard.on('death', () => manager.respawn && log('warn', `discord: shard ${shard.id} process ended; starting it again`));
      // E.g. a respawn that failed (without a listener, Node would throw it and end this process).
      shard.on('error', (e) => log('warn', `discord: shard ${shard.id}: ${describeError(e)}`));
    });
    // A shard that cannot start stops the others too (else they would run, and respawn, unowned).
    await spawnShards(manager, { amount: plan.count, delay: o.spawnDelayMs ?? 5500, timeout: 120_000 });
    return {
      applicationId,
      registration,
      shards: plan,
      client: undefined,
      manager,
      close: () => stopShards(manager),
    };
  }

  if (plan.mode === 'inline') log('info', `discord: ${plan.count} shards in this process (${plan.reason})`);
  const shards = plan.mode === 'inline' ? { ids: Array.from({ length: plan.count }, (_, i) => i), count: plan.count } : undefined;
  const client = await startDiscordClient({
    core: o.core,
    bank: o.bank,
    events: o.events,
    token,
    applicationId,
    rest: o.rest,
    shards,
    publicUrl: o.config.publicUrl,
    log,
    adapter: o.adapter,
    client: o.client,
  });
  return { applicationId, registration, shards: plan, client, manager: undefined, close: () => client.close() };
}

export { DiscordAdapter, contextOf, modalOf, shardOf, type DiscordAdapterOptions } from './adapter.ts';
export { commandDefinitions, checkDefinitions, definitionsHash, registerCommands, registrationKey, inviteUrl, INVITE_PERMISSIONS, type RegistrationResult } from './commands.ts';
export { toDiscordMessage, replyOptions, createOptions, restPayload, DEFAULT_ATTACHMENT_LIMIT, type DiscordMessage } from './payload.ts';
export { planShards, shardingManagerOptions, spawnShards, stopShards, SHARD_SCRIPT, type ShardPlan } from './sharding.ts';
export { DiscordLedger, LEDGER_PREFIX, ledgerKey, type LedgerEntry } from './ledger.ts';
