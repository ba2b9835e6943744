/**
 * Slash commands on Discord, built from the core's one command table (COMMANDS):
 * typed options (string, integer, number, boolean, attachment) with their ranges,
 * lengths and choices, autocomplete on bank names (subject, style, LoRA), required
 * options first. `checkDefinitions` holds them to Discord's limits (names 1-32
 * lowercase characters, descriptions 1-100, 25 options, 25 choices, 4000 characters
 * per command).
 *
 * Registration: one bulk overwrite per scope (the dev guild DISCORD_GUILD_ID, or
 * global), and only when the definitions' hash differs from the one stored in the
 * bank's bot_state for that application and scope, so restarts do not spend
 * Discord's 200 command creations per day per guild.
 *
 * @example
 *   const r = await registerCommands({ rest, applicationId, guildId: config.discordGuildId, state: bank.botState });
 *   r.registered; // false when nothing changed since the last registration
 *   console.log(inviteUrl(applicationId));
 */
import { createHash } from 'node:crypto';
import {
  ApplicationCommandOptionType,
  ApplicationCommandType,
  ApplicationIntegrationType,
  InteractionContextType,
  PermissionFlagsBits,
  Routes,
  type APIApplicationCommandBasicOption,
  type APIApplicationCommandSubcommandOption,
  type REST,
  type RESTPostAPIChatInputApplicationCommandsJSONBody,
} from 'discord.js';
import type { BotStateStore } from '../../bank/bot-state.ts';
import type { Log } from '../../jobs/types.ts';
import { COMMANDS, type OptionDef, type TopCommand } from '../core/index.ts';

export type CommandDefinition = RESTPostAPIChatInputApplicationCommandsJSONBody;

/** Bump when the mapping below changes in a way the hash of the table alone would not show. */
const MAPPING_VERSION = 1;

const TYPES = {
  string: ApplicationCommandOptionType.String,
  integer: ApplicationCommandOptionType.Integer,
  number: ApplicationCommandOptionType.Number,
  boolean: ApplicationCommandOptionType.Boolean,
  attachment: ApplicationCommandOptionType.Attachment,
} as const;

function option(o: OptionDef): APIApplicationCommandBasicOption {
  const base = { name: o.name, description: o.description, ...(o.required ? { required: true } : {}) };
  switch (o.type) {
    case 'string':
      return {
        ...base,
        type: TYPES.string,
        ...(o.minLength !== undefined ? { min_length: o.minLength } : {}),
        ...(o.maxLength !== undefined ? { max_length: o.maxLength } : {}),
        ...(o.autocomplete ? { autocomplete: true as const } : o.choices ? { choices: o.choices.map((c) => ({ name: c.name, value: c.value })) } : {}),
      };
    case 'integer':
      return { ...base, type: TYPES.integer, ...(o.min !== undefined ? { min_value: o.min } : {}), ...(o.max !== undefined ? { max_value: o.max } : {}) };
    case 'number':
      return { ...base, type: TYPES.number, ...(o.min !== undefined ? { min_value: o.min } : {}), ...(o.max !== undefined ? { max_value: o.max } : {}) };
    case 'boolean':
      return { ...base, type: TYPES.boolean };
    case 'attachment':
      return { ...base, type: TYPES.attachment };
  }
}

/** Required options first (Discord's rule), otherwise in the table's order. */
function options(defs: readonly OptionDef[]): APIApplicationCommandBasicOption[] {
  return [...defs.filter((o) => o.required), ...defs.filter((o) => !o.required)].map(option);
}

/** The application commands for a command table (default: the core's). */
export function commandDefinitions(commands: readonly TopCommand[] = COMMANDS): CommandDefinition[] {
  return commands.map((top) => ({
    type: ApplicationCommandType.ChatInput,
    name: top.name,
    description: top.description,
    // Usable in servers and in the bot's DMs, for servers that installed the bot.
    contexts: [InteractionContextType.Guild, InteractionContextType.BotDM],
    integration_types: [ApplicationIntegrationType.GuildInstall],
    options: top.subcommands
      ? top.subcommands.map(
          (s): APIApplicationCommandSubcommandOption => ({
            type: ApplicationCommandOptionType.Subcommand,
            name: s.name,
            description: s.description,
            options: options(s.options),
          }),
        )
      : options(top.options ?? []),
  }));
}

const NAME = /^[-_'\p{L}\p{N}\p{sc=Deva}\p{sc=Thai}]{1,32}$/u;

/** Every way the definitions break Discord's limits (empty when they are fine). */
export function checkDefinitions(defs: readonly CommandDefinition[]): string[] {
  const problems: string[] = [];
  const name = (where: string, n: string) => {
    if (!NAME.test(n) || n !== n.toLowerCase()) problems.push(`${where}: name "${n}" must be 1-32 lowercase letters, digits, - or _`);
  };
  const description = (where: string, d: string) => {
    if ([...d].length < 1 || [...d].length > 100) problems.push(`${where}: description must be 1-100 characters (has ${[...d].length})`);
  };
  if (defs.length > 100) problems.push(`${defs.length} commands (at most 100)`);
  const seen = new Set<string>();
  for (const cmd of defs) {
    const where = `/${cmd.name}`;
    if (seen.has(cmd.name)) problems.push(`${where}: defined twice`);
    seen.add(cmd.name);
    name(where, cmd.name);
    description(where, cmd.description);
    let chars = [...cmd.name].length + [...cmd.description].length;
    const checkOptions = (at: string, opts: readonly { name: string; description: string; required?: boolean; type: number }[] | undefined) => {
      if (!opts) return;
      if (opts.length > 25) problems.push(`${at}: ${opts.length} options (at most 25)`);
      const names = new Set<string>();
      let optional = false;
      for (const o of opts) {
        const w = `${at} ${o.name}`;
        if (names.has(o.name)) problems.push(`${w}: option defined twice`);
        names.add(o.name);
        name(w, o.name);
        description(w, o.description);
        chars += [...o.name].length + [...o.description].length;
        if (o.type !== ApplicationCommandOptionType.Subcommand && o.type !== ApplicationCommandOptionType.SubcommandGroup) {
          if (o.required && optional) problems.push(`${w}: a required option after an optional one`);
          if (!o.required) optional = true;
        }
        const x = o as { choices?: { name: string; value: string | number }[]; autocomplete?: boolean; options?: typeof opts; max_length?: number; min_length?: number };
        if (x.choices) {
          if (x.choices.length > 25) problems.push(`${w}: ${x.choices.length} choices (at most 25)`);
          if (x.autocomplete) problems.push(`${w}: choices and autocomplete together`);
          for (const c of x.choices) {
            if ([...c.name].length < 1 || [...c.name].length > 100) problems.push(`${w}: choice name "${c.name}" must be 1-100 characters`);
            if (typeof c.value === 'string' && [...c.value].length > 100) problems.push(`${w}: choice value "${c.value}" over 100 characters`);
            chars += [...c.name].length + String(c.value).length;
          }
        }
        if (x.max_length !== undefined && (x.max_length < 1 || x.max_length > 6000)) problems.push(`${w}: max_length ${x.max_length} outside 1-6000`);
        if (x.min_length !== undefined && (x.min_length < 0 || x.min_length > 6000)) problems.push(`${w}: min_length ${x.min_length} outside 0-6000`);
        if (x.options) checkOptions(w, x.options);
      }
    };
    checkOptions(where, cmd.options);
    if (chars > 4000) problems.push(`${where}: ${chars} characters in names, descriptions and choices (at most 4000)`);
  }
  return problems;
}

/** A stable hash of the definitions (what registration compares with the stored one). */
export function definitionsHash(defs: readonly CommandDefinition[]): string {
  return createHash('sha256').update(JSON.stringify({ v: MAPPING_VERSION, defs })).digest('hex');
}

/** The bot_state key of one registration scope. */
export function registrationKey(applicationId: string, guildId?: string | undefined): string {
  return `discord:commands:${applicationId}:${guildId ? `guild:${guildId}` : 'global'}`;
}

export interface RegistrationResult {
  scope: 'guild' | 'global';
  key: string;
  hash: string;
  /** True when the definitions were sent to Discord by this call. */
  registered: boolean;
  count: number;
  /** Guilds whose earlier registration was emptied by this call. */
  cleared: string[];
}

export interface RegisterOptions {
  rest: REST;
  applicationId: string;
  /** Register for this guild only (development: shows at once); unset: globally. */
  guildId?: string | undefined;
  state: Pick<BotStateStore, 'get' | 'set' | 'keys' | 'delete'>;
  definitions?: CommandDefinition[];
  /** Register even when the stored hash matches. */
  force?: boolean;
  log?: Log;
}

interface StoredRegistration {
  hash: string;
  at: string;
  count: number;
}

/** Send the definitions to Discord (one bulk overwrite) when they differ from the last registered ones. */
export async function registerCommands(o: RegisterOptions): Promise<RegistrationResult> {
  const defs = o.definitions ?? commandDefinitions();
  const problems = checkDefinitions(defs);
  if (problems.length > 0) throw new Error(`the slash-command definitions break Discord's limits:\n- ${problems.join('\n- ')}`);
  const hash = definitionsHash(defs);
  const key = registrationKey(o.applicationId, o.guildId);
  const scope = o.guildId ? 'guild' : 'global';
  const stored = await o.state.get<StoredRegistration>(key);
  const cleared = await clearOtherGuilds(o, key);
  if (!o.force && stored?.hash === hash) {
    o.log?.('debug', `discord: slash commands unchanged (${scope}), not registered again`);
    return { scope, key, hash, registered: false, count: defs.length, cleared };
  }
  const route = o.guildId ? Routes.applicationGuildCommands(o.applicationId, o.guildId) : Routes.applicationCommands(o.applicationId);
  await o.rest.put(route, { body: defs });
  await o.state.set(key, { hash, at: new Date().toISOString(), count: defs.length } satisfies StoredRegistration);
  o.log?.('info', `discord: registered ${defs.length} slash commands ${o.guildId ? `for guild ${o.guildId}` : 'globally (they may take up to an hour to show)'}`);
  return { scope, key, hash, registered: true, count: defs.length, cleared };
}

/**
 * Guild scopes this application registered earlier (a development guild, before the
 * bot went global or moved to another guild) still hold their commands, which then show
 * twice or in an old version there: empty them (one bulk overwrite with no commands) and
 * forget them. Global commands are never cleared this way, since a development guild
 * next to a global install is a normal setup.
 */
async function clearOtherGuilds(o: RegisterOptions, current: string): Promise<string[]> {
  const prefix = `discord:commands:${o.applicationId}:guild:`;
  const cleared: string[] = [];
  for (const k of await o.state.keys(prefix)) {
    if (k === current) continue;
    const guildId = k.slice(prefix.length);
    try {
      await o.rest.put(Routes.applicationGuildCommands(o.applicationId, guildId), { body: [] });
    } catch (e) {
      // 403/404: the bot left that guild (or it is gone), and its commands with it.
      const status = (e as { status?: unknown }).status;
      if (status !== 403 && status !== 404) {
        // Anything else: try again on the next start rather than not starting.
        o.log?.('warn', `discord: could not remove the slash commands registered earlier for guild ${guildId} (${e instanceof Error ? e.message : String(e)}); will try again on the next start`);
        continue;
      }
    }
    await o.state.delete(k);
    cleared.push(guildId);
    o.log?.('info', `discord: removed the slash commands registered earlier for guild ${guildId} (now ${o.guildId ? `guild ${o.guildId}` : 'global'})`);
  }
  return cleared;
}

/**
 * Permissions the bot asks for when invited: see channels, send messages, embed
 * links, attach files, read message history (to edit its render messages with the
 * bot token after an interaction's 15 minutes).
 */
export const INVITE_PERMISSIONS =
  PermissionFlagsBits.ViewChannel | PermissionFlagsBits.SendMessages | PermissionFlagsBits.EmbedLinks | PermissionFlagsBits.AttachFiles | PermissionFlagsBits.ReadMessageHistory;

/** The URL that adds the bot to a server: scopes `bot` and `applications.commands`, the permissions above. */
export function inviteUrl(applicationId: string): string {
  const q = new URLSearchParams({ client_id: applicationId, scope: 'bot applications.commands', permissions: INVITE_PERMISSIONS.toString() });
  return `https://discord.com/oauth2/authorize?${q.toString()}`;
}
