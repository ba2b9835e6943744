/**
 * Configuration: every setting, its default and its environment variable in one
 * place, validated once at start-up. A bad value fails with the variable's name and
 * what to set (`ZipbankError[config.invalid]`).
 *
 * @example
 *   const config = loadConfig(process.env);
 *   config.databaseUrl; // undefined -> embedded PGlite under config.dataDir
 */
import { resolve } from 'node:path';
import { z } from 'zod';
import { ZipbankError } from './errors/index.ts';

const FAMILIES = ['sd15', 'sd2', 'sdxl'] as const;
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

/** `sd15=/models/a,sdxl=/models/b` -> { sd15: '/models/a', sdxl: '/models/b' } (the folder is everything after the first `=`). */
const modelMap = csv()
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
    defaultText: 'sd15,sd2,sdxl',
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
      'Render jobs for a family without a folder fail with a clear error; with none at all the worker has no engine.',
    defaultText: '(unset: no engine)',
    schema: modelMap,
    expected: `comma-separated family=folder pairs, each family once, families from ${FAMILIES.join(', ')}; e.g. sd15=/models/sd15,sdxl=/models/sdxl`,
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
  logLevel: 'debug' | 'info' | 'warn' | 'error';
}

const DEFAULTS: Record<keyof typeof SETTINGS, string | undefined> = {
  dataDir: './data',
  databaseUrl: undefined,
  storageDir: undefined,
  port: '8080',
  host: '127.0.0.1',
  device: 'auto',
  bankFamilies: 'sd15,sd2,sdxl',
  maxUploadMiB: '1024',
  admins: 'cli:local',
  models: undefined,
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
  return {
    ...(out as unknown as Config),
    dataDir,
    storageDir: out.storageDir ? resolve(cwd, out.storageDir as string) : resolve(dataDir, 'files'),
    models: Object.fromEntries(Object.entries((out.models as Config['models'] | undefined) ?? {}).map(([f, dir]) => [f, resolve(cwd, dir!)])),
  };
}
