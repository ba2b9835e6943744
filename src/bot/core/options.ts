/**
 * Checking a command's options against its definition (./commands.ts): names,
 * required options, types (Slack text arrives as strings: "2" becomes 2), choices
 * (case-insensitive), numeric ranges and string lengths. Every adapter's input goes
 * through here, so a refusal says the same thing on every platform.
 *
 * @example
 *   const v = validateOptions(findCommand('zip')!, { subject: 'corgi', style: 'watercolor', prompt: 'a corgi', count: '2' });
 *   v.count; // 2
 */
import type { LeafCommand, OptionDef } from './commands.ts';
import { CoreRefusal } from './messages.ts';
import type { AttachmentInput, OptionValue, RawOptions } from './types.ts';

export type OptionValues = Record<string, OptionValue>;

const TRUE = new Set(['true', 'yes', 'y', 'on', '1']);
const FALSE = new Set(['false', 'no', 'n', 'off', '0']);

function isAttachment(v: unknown): v is AttachmentInput {
  return typeof v === 'object' && v !== null && typeof (v as AttachmentInput).filename === 'string' && (v as AttachmentInput).data instanceof Uint8Array;
}

function shown(v: OptionValue): string {
  return isAttachment(v) ? v.filename : String(v);
}

function convert(def: OptionDef, raw: OptionValue): OptionValue {
  const bad = (expected: string) => new CoreRefusal('option.type', { option: def.name, value: shown(raw).slice(0, 60), expected });
  switch (def.type) {
    case 'string': {
      if (isAttachment(raw)) throw bad('text');
      const s = String(raw).trim();
      const length = [...s].length;
      if ((def.maxLength !== undefined && length > def.maxLength) || (def.minLength !== undefined && length < def.minLength)) {
        throw new CoreRefusal('option.length', { option: def.name, length, min: def.minLength, max: def.maxLength });
      }
      return s;
    }
    case 'integer':
    case 'number': {
      const n = typeof raw === 'number' ? raw : typeof raw === 'string' && /^\s*[+-]?(\d+\.?\d*|\.\d+)\s*$/.test(raw) ? Number(raw) : Number.NaN;
      if (!Number.isFinite(n) || (def.type === 'integer' && !Number.isInteger(n))) throw bad(def.type === 'integer' ? 'a whole number' : 'a number');
      if ((def.min !== undefined && n < def.min) || (def.max !== undefined && n > def.max)) {
        throw new CoreRefusal('option.range', { option: def.name, value: n, min: def.min, max: def.max });
      }
      return n;
    }
    case 'boolean': {
      if (typeof raw === 'boolean') return raw;
      const s = String(raw).trim().toLowerCase();
      if (TRUE.has(s)) return true;
      if (FALSE.has(s)) return false;
      throw bad('true or false');
    }
    case 'attachment':
      if (!isAttachment(raw)) throw bad('an attached file');
      return raw;
  }
}

function choose(def: OptionDef, value: OptionValue): OptionValue {
  if (!def.choices) return value;
  const s = String(value).toLowerCase();
  const hit = def.choices.find((c) => c.value.toLowerCase() === s || c.name.toLowerCase() === s);
  if (!hit) throw new CoreRefusal('option.choice', { option: def.name, value: String(value), allowed: def.choices.map((c) => c.value) });
  return hit.value;
}

/** Typed, checked option values; absent optional options are left out. */
export function validateOptions(cmd: LeafCommand, raw: RawOptions): OptionValues {
  const out: OptionValues = {};
  const byName = new Map(cmd.options.map((o) => [o.name, o]));
  for (const [name, value] of Object.entries(raw)) {
    if (value === undefined) continue;
    const def = byName.get(name.toLowerCase());
    if (!def) throw new CoreRefusal('option.unknown', { command: cmd.path, option: name, allowed: cmd.options.map((o) => o.name) });
    if (value === '' && !def.required && def.type !== 'string') continue;
    out[def.name] = choose(def, convert(def, value));
  }
  for (const def of cmd.options) {
    if (def.required && out[def.name] === undefined) {
      throw new CoreRefusal('option.missing', { command: cmd.path, option: def.name, description: def.description });
    }
  }
  return out;
}

export function stringOf(v: OptionValues, name: string): string | undefined {
  const x = v[name];
  return typeof x === 'string' ? x : undefined;
}

export function numberOf(v: OptionValues, name: string): number | undefined {
  const x = v[name];
  return typeof x === 'number' ? x : undefined;
}

export function booleanOf(v: OptionValues, name: string): boolean | undefined {
  const x = v[name];
  return typeof x === 'boolean' ? x : undefined;
}

export function attachmentOf(v: OptionValues, name: string): AttachmentInput | undefined {
  const x = v[name];
  return isAttachment(x) ? x : undefined;
}
