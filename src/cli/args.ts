/**
 * A small argument parser for subcommands: `--flag value`, `--flag=value`, boolean
 * flags, repeated flags, and positionals. Unknown flags are errors.
 */
export interface FlagSpec {
  type: 'string' | 'boolean' | 'number';
  multiple?: boolean;
  /** For multiple string flags: keep consuming values until the next `--flag`. */
  greedy?: boolean;
}

export interface Parsed {
  flags: Record<string, string | boolean | number | string[] | number[] | undefined>;
  positionals: string[];
}

export class UsageError extends Error {
  override name = 'UsageError';
}

export function parseArgs(argv: string[], spec: Record<string, FlagSpec>): Parsed {
  const flags: Parsed['flags'] = {};
  const positionals: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (!a.startsWith('--') || a === '--') {
      positionals.push(a);
      continue;
    }
    const eq = a.indexOf('=');
    const key = a.slice(2, eq === -1 ? undefined : eq);
    const s = spec[key];
    if (!s) throw new UsageError(`unknown option --${key}`);
    const take = (): string => {
      if (eq !== -1) return a.slice(eq + 1);
      const v = argv[i + 1];
      if (v === undefined || (v.startsWith('--') && v.length > 2)) throw new UsageError(`--${key} needs a value`);
      i++;
      return v;
    };
    if (s.type === 'boolean') {
      flags[key] = eq === -1 ? true : !['false', '0', 'no'].includes(a.slice(eq + 1));
      continue;
    }
    const values: string[] = [take()];
    if (s.multiple && s.greedy && eq === -1) {
      while (i + 1 < argv.length && !argv[i + 1]!.startsWith('--')) values.push(argv[++i]!);
    }
    const conv = values.map((v) => {
      if (s.type === 'number') {
        const n = Number(v);
        if (!Number.isFinite(n)) throw new UsageError(`--${key} expects a number, got "${v}"`);
        return n;
      }
      return v;
    });
    if (s.multiple) {
      const prev = (flags[key] as (string | number)[] | undefined) ?? [];
      flags[key] = [...prev, ...conv] as string[] | number[];
    } else {
      flags[key] = conv[0];
    }
  }
  return { flags, positionals };
}

/** The value of a required string flag; a UsageError naming the flag when it is missing or empty. */
export function requireFlag(flags: Parsed['flags'], key: string): string {
  const v = flags[key];
  if (typeof v !== 'string' || v === '') throw new UsageError(`--${key} is required`);
  return v;
}
