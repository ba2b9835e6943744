/**
 * Configuration: every setting, its default and its environment variable in one
 * place, validated once at start-up. A bad value fails with the variable's name and
 * what to set (`ZipbankError[config.invalid]`).
 *
 * @example
 *   const config = loadConfig(process.env);
 *   config.databaseUrl; // undefined -> embedded PGlite under config.dataDir
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { ZipbankError } from './errors/index.ts';

const FAMILIES = ['sd15', 'sd2', 'sdxl', 'world'] as const;
export type BankFamily = (typeof FAMILIES)[number];

interface Setting<T> {
  env: string;
  description: string;
  /** Human-readable default for the README and errors. */
  defaultText: string;
  schema: z.ZodType<T>;
  expected: string;
}

const csv = (allowed?: readonly string[]) =>
  z
    .string()
    .transform((s) => s.split(',').map((x) => x.trim()).filter(Boolean))
    .refine((xs) => !allowed || xs.every((x) => allowed.includes(x)), { message: 'unknown entry' });

const int = (min: number, max: number) =>
  z
    .string()
    .regex(/^\d+$/)
    .transform(Number)
    .refine((n) => n >= min && n <= max);

/** The model folder that ships in the repository (models/world). */
export const BUNDLED_WORLD_MODEL = fileURLToPath(new URL('../models/world', import.meta.url));

/** `sd15=/models/a,sdxl=/models/b` -> { sd15: '/models/a', sdxl: '/models/b' } (the folder is everything after the first `=`); `none` -> {}. */
const modelMap = z
  .string()
  .transform((s) => (s.trim() === 'none' ? '' : s))
  .pipe(csv())
  .transform((xs) => xs.map((x) => (x.includes('=') ? ([x.slice(0, x.indexOf('=')).trim(), x.slice(x.indexOf('=') + 1).trim()] as const) : (['', ''] as const))))
  .refine((pairs) => pairs.every(([family, dir]) => (FAMILIES as readonly string[]).includes(family) && dir.length > 0), { message: 'bad pair' })
  .refine((pairs) => new Set(pairs.map(([f]) => f)).size === pairs.length, { message: 'family twice' })
  .transform((pairs) => Object.fromEntries(pairs) as Partial<Record<BankFamily, string>>) as unknown as z.ZodType<Partial<Record<BankFamily, string>>>;

/** The settings table. Order = README order. */
export const SETTINGS = {
  dataDir: {
    env: 'ZIPBANK_DATA_DIR',
    description: 'Folder for the embedded database, stored files and caches.',
    defaultText: './data',
    schema: z.string().min(1),
    expected: 'a folder path',
  },
  databaseUrl: {
    env: 'DATABASE_URL',
    description: 'PostgreSQL connection string. Unset: embedded PGlite in <ZIPBANK_DATA_DIR>/pglite.',
    defaultText: '(unset: PGlite)',
    schema: z.string().regex(/^postgres(ql)?:\/\//),
    expected: 'a postgres:// or postgresql:// URL',
  },
  storageDir: {
    env: 'ZIPBANK_STORAGE_DIR',
    description: 'Folder for uploaded LoRAs, reference images and renders (content-addressed).',
    defaultText: '<ZIPBANK_DATA_DIR>/files',
    schema: z.string().min(1),
    expected: 'a folder path',
  },
  port: {
    env: 'PORT',
    description: 'HTTP port of the local web page started by `npm start`.',
    defaultText: '8080',
    schema: int(0, 65535),
    expected: 'an integer port 0-65535 (0 = any free port)',
  },
  host: {
    env: 'ZIPBANK_HOST',
    description: 'Address the local web page listens on.',
    defaultText: '127.0.0.1',
    schema: z.string().min(1),
    expected: 'a host name or IP address',
  },
  device: {
    env: 'ZIPBANK_DEVICE',
    description: 'Execution provider: auto tries CUDA, then WebGPU, then CPU.',
    defaultText: 'auto',
    schema: z.enum(['auto', 'cuda', 'webgpu', 'cpu']),
    expected: 'one of auto, cuda, webgpu, cpu',
  },
  bankFamilies: {
    env: 'ZIPBANK_BANK_FAMILIES',
    description: 'Base-model families the bank accepts uploads for (comma-separated).',
    defaultText: 'sd15,sd2,sdxl,world',
    schema: csv(FAMILIES).refine((xs) => xs.length > 0) as unknown as z.ZodType<BankFamily[]>,
    expected: `a comma-separated subset of ${FAMILIES.join(', ')}`,
  },
  maxUploadMiB: {
    env: 'ZIPBANK_MAX_UPLOAD_MB',
    description: 'Largest LoRA file the bank accepts, in MiB.',
    defaultText: '1024',
    schema: int(1, 1 << 20),
    expected: 'a positive integer (MiB)',
  },
  admins: {
    env: 'ZIPBANK_ADMINS',
    description: 'Users with moderator rights everywhere, as platform:id (comma-separated). `cli:local` is the operator at the terminal.',
    defaultText: 'cli:local',
    schema: csv().refine((xs) => xs.every((x) => /^[a-z]+:.+$/.test(x))) as unknown as z.ZodType<string[]>,
    expected: 'comma-separated platform:id entries, e.g. cli:local,discord:1234',
  },
  models: {
    env: 'ZIPBANK_MODELS',
    description:
      'Model folders (diffusers layout) a worker renders with, per base-model family, as family=folder pairs (comma-separated). ' +
      'Render jobs for a family without a folder fail with a clear error. Unset: the bundled world model for the world family; `none`: no engine.',
    defaultText: 'world=<repository>/models/world',
    schema: modelMap,
    expected: `comma-separated family=folder pairs, each family once, families from ${FAMILIES.join(', ')}; e.g. sd15=/models/sd15,sdxl=/models/sdxl (or none)`,
  },
  publicUrl: {
    env: 'ZIPBANK_PUBLIC_URL',
    description: 'Address where users can reach the web channel (gallery links for images too large for a chat upload).',
    defaultText: '(unset: no links)',
    schema: z.string().regex(/^https?:\/\/[^\s]+$/).transform((s) => s.replace(/\/+$/, '')),
    expected: 'an http:// or https:// URL',
  },
  discordToken: {
    env: 'DISCORD_TOKEN',
    description: 'Discord bot token. Set: `npm start` also connects the Discord bot (see "Discord" below).',
    defaultText: '(unset: no Discord)',
    schema: z.string().min(20),
    expected: "the bot token from the Discord developer portal's Bot page",
  },
  discordApplicationId: {
    env: 'DISCORD_APPLICATION_ID',
    description: 'Discord application id (read from the API when unset).',
    defaultText: '(unset: asked from Discord)',
    schema: z.string().regex(/^\d{5,25}$/),
    expected: 'a numeric Discord id (snowflake)',
  },
  discordGuildId: {
    env: 'DISCORD_GUILD_ID',
    description: 'Register slash commands for this one server only (development: they appear at once). Unset: registered globally.',
    defaultText: '(unset: global commands)',
    schema: z.string().regex(/^\d{5,25}$/),
    expected: 'a numeric Discord server (guild) id',
  },
  discordShards: {
    env: 'DISCORD_SHARDS',
    description: "Discord shards: `auto` (Discord's recommendation) or a count. More than 1 runs discord.js's ShardingManager, one process per shard.",
    defaultText: '1',
    schema: z.union([z.literal('auto'), int(1, 4096)]) as unknown as z.ZodType<number | 'auto'>,
    expected: 'auto or a positive integer',
  },
  slackBotToken: {
    env: 'SLACK_BOT_TOKEN',
    description: 'Slack bot token (xoxb-...). Set: `npm start` also runs the Slack app (see "Slack" below).',
    defaultText: '(unset: no Slack)',
    schema: z.string().regex(/^xoxb-/),
    expected: 'a bot token starting with xoxb-',
  },
  slackMode: {
    env: 'SLACK_MODE',
    description: 'How Slack reaches the bot: socket (Socket Mode, no public URL; needs SLACK_APP_TOKEN) or http (needs SLACK_SIGNING_SECRET and a public URL).',
    defaultText: 'socket',
    schema: z.enum(['socket', 'http']),
    expected: 'socket or http',
  },
  slackAppToken: {
    env: 'SLACK_APP_TOKEN',
    description: 'Slack app-level token (xapp-..., scope connections:write) for Socket Mode.',
    defaultText: '(unset)',
    schema: z.string().regex(/^xapp-/),
    expected: 'an app-level token starting with xapp-',
  },
  slackSigningSecret: {
    env: 'SLACK_SIGNING_SECRET',
    description: "Slack signing secret (HTTP mode: every request's signature is checked with it).",
    defaultText: '(unset)',
    schema: z.string().min(8),
    expected: "the signing secret from the Slack app's Basic Information page",
  },
  slackPort: {
    env: 'SLACK_PORT',
    description: "Port of Slack's HTTP receiver (HTTP mode).",
    defaultText: '3000',
    schema: int(0, 65535),
    expected: 'an integer port 0-65535',
  },
  logLevel: {
    env: 'ZIPBANK_LOG_LEVEL',
    description: 'Log verbosity.',
    defaultText: 'info',
    schema: z.enum(['debug', 'info', 'warn', 'error']),
    expected: 'one of debug, info, warn, error',
  },
} satisfies Record<string, Setting<unknown>>;

export interface Config {
  dataDir: string;
  databaseUrl: string | undefined;
  storageDir: string;
  port: number;
  host: string;
  device: 'auto' | 'cuda' | 'webgpu' | 'cpu';
  bankFamilies: BankFamily[];
  maxUploadMiB: number;
  admins: string[];
  /** Model folder per base-model family (absolute paths); empty: no engine. */
  models: Partial<Record<BankFamily, string>>;
  /** Base URL of the web channel as users reach it (no trailing slash). */
  publicUrl: string | undefined;
  discordToken: string | undefined;
  discordApplicationId: string | undefined;
  discordGuildId: string | undefined;
  discordShards: number | 'auto';
  slackBotToken: string | undefined;
  slackMode: 'socket' | 'http';
  slackAppToken: string | undefined;
  slackSigningSecret: string | undefined;
  slackPort: number;
  logLevel: 'debug' | 'info' | 'warn' | 'error';
}

const DEFAULTS: Record<keyof typeof SETTINGS, string | undefined> = {
  dataDir: './data',
  databaseUrl: undefined,
  storageDir: undefined,
  port: '8080',
  host: '127.0.0.1',
  device: 'auto',
  bankFamilies: 'sd15,sd2,sdxl,world',
  maxUploadMiB: '1024',
  admins: 'cli:local',
  models: undefined,
  publicUrl: undefined,
  discordToken: undefined,
  discordApplicationId: undefined,
  discordGuildId: undefined,
  discordShards: '1',
  slackBotToken: undefined,
  slackMode: 'socket',
  slackAppToken: undefined,
  slackSigningSecret: undefined,
  slackPort: '3000',
  logLevel: 'info',
};

/** Read and validate the configuration from an environment (process.env by default). */
export function loadConfig(env: Record<string, string | undefined> = process.env, cwd = process.cwd()): Config {
  const out: Record<string, unknown> = {};
  for (const [key, setting] of Object.entries(SETTINGS) as [keyof typeof SETTINGS, Setting<unknown>][]) {
    const raw = env[setting.env];
    const value = raw === undefined || raw === '' ? DEFAULTS[key] : raw;
    if (value === undefined) {
      out[key] = undefined;
      continue;
    }
    const parsed = setting.schema.safeParse(value);
    if (!parsed.success) {
      throw new ZipbankError('config.invalid', { variable: setting.env, value, expected: setting.expected });
    }
    out[key] = parsed.data;
  }
  const dataDir = resolve(cwd, out.dataDir as string);
  // Unset: the bundled world model renders the world family (when it is served and present).
  if (out.models === undefined && (out.bankFamilies as BankFamily[]).includes('world') && existsSync(resolve(BUNDLED_WORLD_MODEL, 'model_index.json'))) {
    out.models = { world: BUNDLED_WORLD_MODEL };
  }
  return {
    ...(out as unknown as Config),
    dataDir,
    storageDir: out.storageDir ? resolve(cwd, out.storageDir as string) : resolve(dataDir, 'files'),
    models: Object.fromEntries(Object.entries((out.models as Config['models'] | undefined) ?? {}).map(([f, dir]) => [f, resolve(cwd, dir!)])),
  };
}
