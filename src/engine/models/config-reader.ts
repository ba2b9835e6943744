/**
 * Typed reads of one diffusers/transformers config.json with defaults. A `null` value
 * counts as absent (diffusers writes `null` for `None`), so the default applies.
 * Wrong types are `model.invalid-config`; values we cannot build are
 * `engine.unsupported-config`.
 *
 * @example
 *   const r = ConfigReader.of(json, 'unet/config.json');
 *   const groups = r.int('norm_num_groups', 32);
 */
import { ZipbankError } from '../../errors/index.ts';

export class ConfigReader {
  private constructor(
    readonly file: string,
    readonly raw: Readonly<Record<string, unknown>>,
  ) {}

  static of(json: unknown, file: string): ConfigReader {
    if (typeof json !== 'object' || json === null || Array.isArray(json)) {
      throw new ZipbankError('model.invalid-config', { file, key: '(root)', value: typeof json, expected: 'a JSON object' });
    }
    return new ConfigReader(file, json as Record<string, unknown>);
  }

  has(key: string): boolean {
    return this.raw[key] !== undefined && this.raw[key] !== null;
  }

  invalid(key: string, expected: string): ZipbankError {
    return new ZipbankError('model.invalid-config', { file: this.file, key, value: this.raw[key], expected });
  }

  unsupported(key: string, supported: string, value: unknown = this.raw[key]): ZipbankError {
    return new ZipbankError('engine.unsupported-config', { file: this.file, key, value, supported });
  }

  inconsistent(reason: string): ZipbankError {
    return new ZipbankError('model.inconsistent-config', { file: this.file, reason });
  }

  /** A positive integer (or >= `min`). */
  int(key: string, def: number, min = 1): number {
    if (!this.has(key)) return def;
    return this.checkInt(key, this.raw[key], min);
  }

  /** A positive integer that must be present. */
  requiredInt(key: string, min = 1): number {
    if (!this.has(key)) throw this.invalid(key, `an integer >= ${min}`);
    return this.checkInt(key, this.raw[key], min);
  }

  optionalInt(key: string, min = 1): number | null {
    return this.has(key) ? this.checkInt(key, this.raw[key], min) : null;
  }

  num(key: string, def: number): number {
    if (!this.has(key)) return def;
    const v = this.raw[key];
    if (typeof v !== 'number' || !Number.isFinite(v)) throw this.invalid(key, 'a finite number');
    return v;
  }

  optionalNum(key: string): number | null {
    return this.has(key) ? this.num(key, 0) : null;
  }

  bool(key: string, def: boolean): boolean {
    if (!this.has(key)) return def;
    const v = this.raw[key];
    if (typeof v !== 'boolean') throw this.invalid(key, 'true or false');
    return v;
  }

  str(key: string, def: string): string {
    if (!this.has(key)) return def;
    const v = this.raw[key];
    if (typeof v !== 'string') throw this.invalid(key, 'a string');
    return v;
  }

  /** A string restricted to `allowed` (anything else is unsupported). */
  oneOf<T extends string>(key: string, def: T, allowed: readonly T[]): T {
    const v = this.str(key, def);
    if (!(allowed as readonly string[]).includes(v)) throw this.unsupported(key, allowed.map((a) => JSON.stringify(a)).join(', '));
    return v as T;
  }

  /** An integer or a list of `n` integers, spread to a list of `n`. */
  intPerBlock(key: string, def: number | readonly number[], n: number, min = 1): number[] {
    const v = this.has(key) ? this.raw[key] : def;
    if (typeof v === 'number') return Array.from({ length: n }, () => this.checkInt(key, v, min));
    if (!Array.isArray(v)) throw this.invalid(key, `an integer or a list of ${n} integers`);
    if (v.length !== n) throw this.invalid(key, `a list of ${n} integers (one per block)`);
    return v.map((x) => this.checkInt(key, x, min));
  }

  /** A non-empty list of strings from `allowed`. */
  strList<T extends string>(key: string, def: readonly T[], allowed: readonly T[]): T[] {
    const v = this.has(key) ? this.raw[key] : def;
    if (!Array.isArray(v) || v.length === 0 || !v.every((x) => typeof x === 'string')) {
      throw this.invalid(key, 'a non-empty list of block type names');
    }
    for (const x of v as string[]) {
      if (!(allowed as readonly string[]).includes(x)) throw this.unsupported(key, allowed.join(', '), x);
    }
    return v as T[];
  }

  /** Refuses a key unless it is absent/null or one of `ok` (the values with no effect on the architecture). */
  requireDefault(key: string, ok: readonly unknown[] = []): void {
    if (!this.has(key)) return;
    const v = this.raw[key];
    if (!ok.some((o) => o === v)) {
      throw this.unsupported(key, ['null', ...ok.map((o) => JSON.stringify(o))].join(' or '));
    }
  }

  private checkInt(key: string, v: unknown, min: number): number {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min) throw this.invalid(key, `an integer >= ${min}`);
    return v;
  }
}
